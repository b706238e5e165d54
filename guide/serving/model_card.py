"""What the model page shows about the served model: its report (`report.json` beside the checkpoint, else the
checkpoint's own metrics), configuration, training record and task affinity, the device and the last pass's
time; and the same as the UI's `ModelCard`, the affinity with its mean cosine matrix."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from guide.config import DEFAULT_CHECKPOINT
from guide.metrics.affinity import affinity_matrix
from guide.serving.views import Headline, ModelCard

logger = logging.getLogger(__name__)


def recorded_affinity(checkpoint, folder: Path) -> dict:
    """Task-gradient cosines and loss weights recorded in training: this checkpoint's own when it was
    trained with them, else `affinity.json` beside it (a recorded run of the same configuration)."""
    meta = checkpoint.meta
    if meta.get("affinity"):
        return {"records": meta["affinity"], "every": meta.get("affinity_every"), "source": "this checkpoint"}
    path = folder / "affinity.json"
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        logger.warning("affinity: %s unreadable (%s); the model page shows none", path, error)
        return {}
    return dict(document, source=path.name)


def describe(guide) -> dict:
    """`Guide.model_card()`: plain values about the served checkpoint."""
    checkpoint = guide.checkpoint
    folder = Path(checkpoint.meta.get("folder", DEFAULT_CHECKPOINT))
    report = folder / "report.json"
    metrics = json.loads(report.read_text()) if report.exists() else checkpoint.metrics
    return {
        "metrics": metrics,
        "config": guide.model.config.to_dict(),
        "train": {k: v for k, v in checkpoint.meta.items() if k not in ("history", "affinity")},
        "affinity": recorded_affinity(checkpoint, folder),
        "weighting": checkpoint.config.weighting,
        "sampling": checkpoint.config.sampling,
        "device": str(guide.device),
        "fingerprint": checkpoint.fingerprint,
        "last_inference_ms": guide.last_inference_ms,
    }


def card_view(card: dict) -> ModelCard:
    """`Guide.model_card()`'s values as the UI's `ModelCard`."""
    return ModelCard(
        card.get("metrics") or {},
        card.get("config") or {},
        str(card.get("weighting", "")),
        str(card.get("sampling", "")),
        str(card.get("device", "")),
        str(card.get("fingerprint", "")),
        float(card.get("last_inference_ms") or 0.0),
        card.get("train") or {},
        _with_matrix(card.get("affinity") or {}, tuple(card.get("config", {}).get("tasks", ()))),
    )


def _with_matrix(affinity: dict, tasks: tuple[str, ...]) -> dict:
    """The recorded affinity plus its mean cosine matrix over the second half of training (early probes
    mostly show the random initialisation)."""
    records = affinity.get("records") or []
    tasks = tuple(affinity.get("tasks") or tasks)
    if not records or len(tasks) < 2:
        return {}
    return dict(affinity, tasks=list(tasks), matrix=affinity_matrix(records, tasks, last_share=0.5).tolist())


def _interval(values) -> tuple[float, float] | None:
    return (float(values[0]), float(values[1])) if values and len(values) == 2 else None


def headlines(report: dict) -> list[Headline]:
    """The report's summary, one row per task (empty when the checkpoint ships without a report)."""
    summary = report.get("summary") or {}
    metrics = summary.get("headline_metrics") or {}
    return [
        Headline(
            task,
            str(metrics.get(task, "")),
            row.get("MTL"),
            _interval(row.get("MTL_ci")),
            row.get("STL"),
            _interval(row.get("STL_ci")),
            str(row.get("best_peer") or ""),
            row.get("best_peer_value"),
            _interval(row.get("best_peer_ci")),
            str(row.get("vs_stl") or ""),
            str(row.get("vs_best_peer") or ""),
        )
        for task, row in (summary.get("tasks") or {}).items()
    ]
