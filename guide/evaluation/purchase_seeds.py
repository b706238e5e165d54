"""The purchase headline over training seeds (`python -m guide evaluate --purchase --seed-checkpoint F ...`).

A bootstrap CI says how much the figure would move with other test shoppers; it says nothing about how much it
would move with another training run. Here the checkpoint and the folders given, trained by the same recipe
with other `--seed`s (the data's seed kept, `--data-seed`), are each scored on the test split like the report's
rows — the served score and the head alone, every benchmark product ranked with the whole history masked — and
the section gives each run's value with the mean and the sample standard deviation over runs.
"""

from __future__ import annotations

import dataclasses
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


def peer_section(data, names: tuple[str, ...], seeds: list[int], minutes: float | None = None) -> dict:
    """report["peer_seeds"]: each trained peer in `names` (`sequential.SASREC_PEERS`) at the report's seed and
    at each of `seeds`, scored on the test split like its row: {peer: {"runs", "summary", "note"}}."""
    from guide.evaluation import sequential

    runs_of = {}
    for name in names:
        runs = []
        for seed in [sequential.PEER_SEED, *seeds]:
            scorer = sequential.fit_peer(name, data, minutes, seed)
            ranks = sequential.peer_ranks(scorer, data, data.purchase["test"])
            values = sequential.per_shopper(ranks)
            runs.append({"seed": seed, **{metric: float(values[metric].mean()) for metric in METRICS}})
            logger.info("peer seeds: %s, seed %d: %s", name, seed, runs[-1])
        runs_of[name] = _summarised(runs, PEER_NOTE)
    return runs_of


PEER_NOTE = (
    "Each trained peer re-trained with other seeds (the same data and recipe; its cached weights reused where a "
    "seed was trained before) and scored on the test split like its row: every benchmark product ranked with the "
    "whole history masked. Each run's value, then the mean and the sample standard deviation over runs."
)


def _summarised(runs: list[dict], note: str | None = None) -> dict:
    """{"runs", "summary": {column: {mean, std}}, "note"}; ValueError when two runs share a seed."""
    seeds = [run["seed"] for run in runs]
    if len(set(seeds)) < len(seeds):
        raise ValueError(f"purchase seeds: expected runs with different seeds; got {seeds}; fix: pass other runs")
    summary = {}
    for key in runs[0]:
        if key in ("checkpoint", "seed"):
            continue
        column = np.array([run[key] for run in runs])
        summary[key] = {"mean": float(column.mean()), "std": float(column.std(ddof=1)) if len(column) > 1 else None}
    return {"runs": runs, "summary": summary, "note": note or __doc__.split("\n\n")[1].replace("\n", " ")}


def _flat(values: dict[str, dict[str, float]]) -> dict[str, float]:
    return {f"{row} · {metric}": value for row, metrics in values.items() for metric, value in metrics.items()}
