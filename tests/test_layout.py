"""The package is laid out by stage, and each stage imports only the stages before it.

    config -> data -> model -> training -> evaluation -> serving -> ui

`guide/__init__.py` (the public API) and `guide/__main__.py` (the CLI) sit on top and may import any
stage. `guide.evaluation.metrics` and `guide.evaluation.ranking` are pure numpy (they import nothing from
`guide`), so training may use them to score its validation checks without depending on the evaluation stage.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("config", "data", "model", "training", "evaluation", "serving", "ui")
ENTRY_POINTS = {"__init__", "__main__"}
PURE_LEAVES = {"guide.evaluation.metrics", "guide.evaluation.ranking"}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _guide_imports(path: Path) -> set[str]:
    """Every `guide...` module the file imports, at top level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "guide"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "guide":
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from guide.x import y` may be a module
    return found


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted((ROOT / "guide").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        out.append((".".join(p for p in rel.parts if p != "__init__") or "guide", path))
    return out


def test_every_module_lives_in_a_stage_folder():
    for module, path in _modules():
        stage = _stage(module)
        assert stage in STAGES or stage in ENTRY_POINTS, f"{path}: expected a module in one of {STAGES}"


@pytest.mark.parametrize(("module", "path"), _modules(), ids=lambda value: str(value))
def test_each_stage_imports_only_earlier_stages(module, path):
    own = _stage(module)
    if own in ENTRY_POINTS or module == "guide":
        return
    for target in _guide_imports(path):
        if target == "guide" or any(target == leaf or target.startswith(leaf + ".") for leaf in PURE_LEAVES):
            continue
        other = _stage(target)
        if other not in STAGES:  # e.g. `from guide.data import amazon` adds the name "guide.data.amazon"
            continue
        assert STAGES.index(other) <= STAGES.index(own), f"{module} ({own}) imports {target} ({other}): a later stage"


def test_pure_leaves_import_nothing_from_guide():
    for leaf in PURE_LEAVES:
        path = ROOT / (leaf.replace(".", "/") + ".py")
        assert not _guide_imports(path), f"{leaf} must stay free of guide imports so any stage can use it"


def test_the_layout_test_catches_a_backward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from guide.serving.facade import Guide\n")
    assert "guide.serving.facade" in _guide_imports(bad)
    assert STAGES.index(_stage("guide.serving.facade")) > STAGES.index("training")
