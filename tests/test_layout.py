"""The package is laid out by stage, and each stage imports only the stages before it, with no exemption.

    metrics -> config -> data -> model -> training -> evaluation -> serving -> ui

`guide.metrics` (pure numpy: scores, ranking, affinity, the study's trade-off front) is the first stage, so
training scores its validation checks and the shop reads a recorded affinity without the evaluation or
training stage. `guide/__init__.py` (the public API) and the CLI (`guide/__main__.py` and its commands in
`guide/cli/`) sit on top and may import any stage; no stage imports them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("metrics", "config", "data", "model", "training", "evaluation", "serving", "ui")
ENTRY_POINTS = {"__init__", "__main__", "cli"}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _guide_imports(path: Path) -> set[str]:
    """Every `guide...` module the file imports, at top level or inside functions (`from guide import x` gives
    "guide.x"; a name that is no stage folder is then an attribute of the package root)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "guide"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "guide":
            if node.module != "guide":
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
        other = _stage(target)
        assert other in STAGES, f"{module} imports {target}: the package root and the CLI sit on top of every stage"
        assert STAGES.index(other) <= STAGES.index(own), f"{module} ({own}) imports {target} ({other}): a later stage"


def test_the_metrics_stage_imports_nothing_from_the_rest_of_guide():
    for module, path in _modules():
        if _stage(module) == "metrics":
            assert {_stage(t) for t in _guide_imports(path)} <= {"metrics"}, f"{module} must stay free of guide imports"


def test_what_the_ui_imports_loads_neither_training_nor_evaluation():
    """Every module of `guide` that the UI (guide/ui, app.py) imports, the shop service first, imported in a fresh
    interpreter: no module of the training or evaluation stage gets loaded, and neither does torch (the model
    loads in ShopService.open)."""
    ui = [ROOT / "app.py", *sorted((ROOT / "guide" / "ui").glob("*.py"))]
    used = {t for path in ui for t in _guide_imports(path) if _stage(t) in STAGES and _stage(t) != "ui"}
    modules = sorted(t for t in used if (ROOT / (t.replace(".", "/") + ".py")).exists())
    assert "guide.serving.shop" in modules
    code = (
        f"import importlib, sys\nfor name in {modules!r}: importlib.import_module(name)\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('guide.training', 'guide.evaluation')) "
        "or m in ('torch', 'optuna', 'faiss'))))"
    )
    found = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert found.stdout.split() == [], f"importing {modules} loaded {found.stdout.split()}"


def test_the_layout_test_catches_a_backward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from guide.serving.facade import Guide\nfrom guide import Guide\n")
    assert {"guide.serving.facade", "guide.Guide"} <= _guide_imports(bad)
    assert _stage("guide.Guide") not in STAGES  # the package root: refused from any stage
    assert STAGES.index(_stage("guide.serving.facade")) > STAGES.index("training")
