"""The purchase headline over training seeds (`python -m guide evaluate --purchase --seed-checkpoint F ...`).

A bootstrap CI says how much the figure would move with other test shoppers; it says nothing about how much it
would move with another training run. Here the checkpoint and the folders given, trained by the same recipe
with other `--seed`s (the data's seed kept, `--data-seed`), are each scored on the test split like the report's
rows — the served score and the head alone, every benchmark product ranked with the whole history masked — and
the section gives each run's value with the mean and the sample standard deviation over runs.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from guide.data import task_data
from guide.evaluation import purchase_parts
from guide.model.checkpoint import Checkpoint
from guide.model.fusion import Fusion

logger = logging.getLogger(__name__)
ROWS = (purchase_parts.FUSED, purchase_parts.HEAD)  # the served score and the shared model's own head
METRICS = purchase_parts.COMPARED  # full-ranking HR@10 and NDCG@10


def recipe(checkpoint: Checkpoint) -> dict:
    """What must be equal between two seeds of one recipe: the training configuration but its seed, and the
    stage settings of a staged run."""
    config = dataclasses.asdict(checkpoint.config)
    config.pop("seed", None)
    config.pop("device", None)  # where it ran is not how it was trained
    stages = checkpoint.meta.get("stages") or {}
    finetune = stages.get("stage2", {}).get("finetune")
    stage1 = {k: v for k, v in stages.get("stage1", {}).items() if k not in ("seconds", "best_step")}
    return {"config": config, "finetune": finetune, "stage1": stage1}


def check_same_recipe(base: Checkpoint, other: Checkpoint, folder: Path) -> None:
    """ValueError naming the first setting in which `other` was trained differently from `base` (seed aside)."""
    a, b = recipe(base), recipe(other)
    if a == b:
        return
    differences = sorted(_differences(a, b))
    raise ValueError(
        f"seed checkpoint {folder}: expected the recipe of the evaluated checkpoint with another --seed; got other "
        f"settings: {', '.join(differences[:5])}; fix: train it with the same command and only --seed changed"
    )


def _differences(a, b, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [f"{prefix.rstrip('.')} ({a!r} vs {b!r})"]


def means(values: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, float]]:
    """{row: {metric: mean over test shoppers}} from `purchase_parts.part_values`, for the rows and metrics above."""
    return {row: {metric: float(values[row][metric].mean()) for metric in METRICS} for row in ROWS}


def run_values(checkpoint: Checkpoint, data, device) -> dict[str, dict[str, float]]:
    """`means` of one checkpoint's purchase parts on the test split."""
    stored = checkpoint.calibration.get("purchase_fusion")
    fusion = Fusion(**stored) if stored else None
    return means(purchase_parts.part_values(checkpoint.model, data, "test", device, fusion))


def seed_section(base: Checkpoint, base_values: dict[str, dict[str, float]], folders: list[Path], data, catalog,
                 device) -> dict:  # fmt: skip
    """report["purchase_seeds"]: the evaluated checkpoint (`base_values`, already scored) and each folder's
    checkpoint, scored on the test split; the task data are reused for a run with the same encoder."""
    runs = [{"checkpoint": "evaluated", "seed": base.config.seed, **_flat(base_values)}]
    for folder in folders:
        other = Checkpoint.load(folder, device)
        check_same_recipe(base, other, folder)
        if other.model.config.encoder_id == base.model.config.encoder_id:
            other_data = data
        else:  # another stage 2: its own encoder reads every text
            other_data = task_data.build(catalog, other.sentence_encoder(), other.config.data, "brand",
                                         other.model.config.ngram_buckets)  # fmt: skip
        other.model.to(device).eval()
        logger.info("purchase seeds: scoring %s (seed %d)", folder, other.config.seed)
        scored = _flat(run_values(other, other_data, device))
        runs.append({"checkpoint": str(folder), "seed": other.config.seed, **scored})
    return _summarised(runs)


def peer_plan(values: list[str], asked: tuple[str, ...]) -> dict[str, list[int]]:
    """{peer name: its other seeds} from `--peer-seed` values: "14" re-seeds every trained peer in `asked` (the
    `--sasrec` keys), "bsarec:14" that peer alone (it need not be retrained: its report-seed run is its row)."""
    from guide.evaluation import sequential

    plan: dict[str, list[int]] = {}
    for value in values:
        key, _, seed = value.rpartition(":")
        if not seed.strip().lstrip("-").isdigit():
            raise ValueError(f"--peer-seed: expected SEED or PEER:SEED (e.g. 14 or bsarec:14); got {value!r}")
        keys = (key.strip(),) if key else asked
        if not keys:
            raise ValueError(f"--peer-seed {value}: expected trained peers to re-seed; got none; "
                             "fix: add --sasrec ss (or ce, bsarec), or name one: --peer-seed bsarec:14")  # fmt: skip
        for peer in keys:
            if peer not in sequential.SASREC_PEERS:
                raise ValueError(f"--peer-seed: expected a peer in {sorted(sequential.SASREC_PEERS)}; got {peer!r}")
            plan.setdefault(sequential.SASREC_PEERS[peer], []).append(int(seed))
    return plan


def peer_section(data, plan: dict[str, list[int]], rows: dict[str, dict], minutes: float | None = None,
                 saved: dict | None = None) -> dict:  # fmt: skip
    """report["peer_seeds"] for each trained peer in `plan` (`sequential.SASREC_PEERS` names -> other seeds): its
    report-seed run is its row in `rows` (the report's purchase rows: scored now or carried from the saved
    report, so a peer that took hours is not retrained), each other seed is trained (or read back from its cache)
    and scored on the test split like the row, and the runs of other seeds in `saved` (the saved report's
    section) are kept where they were trained with the same settings: seeds of a peer that takes hours can come
    from different sessions. {peer: {"runs", "summary", "note"}}."""
    from guide.evaluation import sequential

    runs_of = {}
    for name, seeds in plan.items():
        if name not in rows:
            key = next(k for k, v in sequential.SASREC_PEERS.items() if v == name)
            raise ValueError(f"peer seeds: expected the report's row of {name!r} (its seed-{sequential.PEER_SEED} "
                             f"run); got none; fix: add --sasrec {key}")  # fmt: skip
        if len(set(seeds)) < len(seeds) or sequential.PEER_SEED in seeds:
            raise ValueError(f"purchase seeds: expected runs with different seeds; got {sorted(seeds)} besides the "
                             f"report's {sequential.PEER_SEED} for {name}")  # fmt: skip
        fresh = []
        for seed in seeds:
            scorer = sequential.fit_peer(name, data, minutes, seed)
            values = sequential.per_shopper(sequential.peer_ranks(scorer, data, data.purchase["test"]))
            fresh.append({"seed": seed, **{metric: float(values[metric].mean()) for metric in METRICS},
                          "settings": _plain(getattr(scorer, "settings", {}))})  # fmt: skip
            logger.info("peer seeds: %s, seed %d: %s", name, seed, fresh[-1])
        earlier = ((saved or {}).get(name) or {}).get("runs", [])
        kept = [run for run in earlier if run["seed"] not in [sequential.PEER_SEED, *seeds]
                and run.get("settings") == fresh[0]["settings"]]  # fmt: skip
        report_seed = {"seed": sequential.PEER_SEED, **{metric: float(rows[name][metric]) for metric in METRICS}}
        runs_of[name] = _summarised([report_seed, *sorted(kept + fresh, key=lambda run: run["seed"])], PEER_NOTE)
    return runs_of


def still_holding(report: dict, saved: dict | None) -> dict:
    """The seed sections of `saved` (a saved report.json) that still describe `report`'s purchase rows:
    {"purchase_seeds": section or None, "peer_seeds": {peer: section} or None}. "purchase_seeds" holds while its
    evaluated run equals the served score and the head alone scored now (the same model on the same data); a
    peer's section while its report-seed run equals the peer's row. A re-run that saves keeps seeds that took
    hours to train, and drops, with a warning naming the fix, those its rows no longer match."""
    rows = report.get("purchase", {}).get("test", {})
    out: dict = {"purchase_seeds": None, "peer_seeds": None}
    section = (saved or {}).get("purchase_seeds")
    if section:
        evaluated = section["runs"][0]
        if all(_same(evaluated.get(f"{row} · {metric}"), rows.get(row, {}).get(metric))
               for row in ROWS for metric in METRICS):  # fmt: skip
            out["purchase_seeds"] = section
        else:
            logger.warning("purchase seeds: the saved runs were scored on another model or data; dropped; fix: "
                           "evaluate --purchase --seed-checkpoint FOLDER ... --save")  # fmt: skip
    peers = {}
    for name, section in ((saved or {}).get("peer_seeds") or {}).items():
        if all(_same(section["runs"][0].get(metric), rows.get(name, {}).get(metric)) for metric in METRICS):
            peers[name] = section
        else:
            logger.warning("peer seeds: %s's saved runs do not match its row (absent or retrained); dropped; fix: "
                           "evaluate --purchase --sasrec KEY --peer-seed KEY:SEED ... --save", name)  # fmt: skip
    out["peer_seeds"] = peers or None
    return out


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-9


def _plain(settings: dict) -> dict:
    """`settings` as they read back from report.json (tuples as lists), so a saved run's compare equal."""
    return json.loads(json.dumps(settings))


PEER_NOTE = (
    "Each trained peer re-trained with other seeds (the same data and recipe; its cached weights reused where a "
    "seed was trained before) and scored on the test split like its row, which is the report seed's run: every "
    "benchmark product ranked with the whole history masked. Runs of other seeds saved earlier with the same "
    "settings are kept. Each run's value, then the mean and the sample standard deviation over runs."
)


def _summarised(runs: list[dict], note: str | None = None) -> dict:
    """{"runs", "summary": {column: {mean, std}}, "note"}; ValueError when two runs share a seed."""
    seeds = [run["seed"] for run in runs]
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"purchase seeds: expected runs with different seeds; got {seeds}; fix: pass other runs")
    summary = {}
    for key in runs[0]:
        if key in ("checkpoint", "seed", "settings"):
            continue
        column = np.array([run[key] for run in runs])
        summary[key] = {"mean": float(column.mean()), "std": float(column.std(ddof=1)) if len(column) > 1 else None}
    return {"runs": runs, "summary": summary, "note": note or __doc__.split("\n\n")[1].replace("\n", " ")}


def _flat(values: dict[str, dict[str, float]]) -> dict[str, float]:
    return {f"{row} · {metric}": value for row, metrics in values.items() for metric, value in metrics.items()}
