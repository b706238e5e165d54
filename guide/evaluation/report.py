"""The full evaluation report: shipped MTL model, single-task twins, product-split twin and peers.

Twins are trained with the shipped model's own configuration (one task on, or the product split),
cached under `runs/` so a second `evaluate --full` reuses them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

from guide.config import ATTRIBUTES, PROJECT_ROOT, TASKS
from guide.data import tasks as task_data
from guide.data.catalog import Catalog
from guide.data.text import Encoder
from guide.evaluation.evaluate import HEADLINES, merge, model_metrics, summarise
from guide.model.checkpoint import Checkpoint

logger = logging.getLogger(__name__)
RUNS = PROJECT_ROOT / "runs"


def config_key(config) -> str:
    """A short hash of a training configuration: a twin is reused only when it was trained the same way."""
    text = json.dumps(asdict(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _twin(name: str, base: Checkpoint, data, catalog, progress: bool, **changes) -> Checkpoint:
    from guide.training.trainer import train

    config = copy.deepcopy(base.config)
    for key, value in changes.items():
        setattr(config.model if key == "tasks" else config, key, value)
    folder = RUNS / f"{name}-{base.fingerprint or 'data'}-{config_key(config)}"
    if (folder / "config.json").exists():
        logger.info("reusing %s from %s", name, folder)
        return Checkpoint.load(folder)
    checkpoint = train(data, config, catalog, progress=progress)
    checkpoint.save(folder)
    return checkpoint


def build_report(
    checkpoint_dir: Path,
    full: bool = False,
    peers: bool = True,
    progress: bool = True,
    catalog: Catalog | None = None,
    encoder: Encoder | None = None,
) -> dict:
    started = time.perf_counter()
    base = Checkpoint.load(checkpoint_dir)
    device = next(base.model.parameters()).device
    catalog = catalog or Catalog.load(None, base.config.data)
    encoder = encoder or Encoder()
    buckets = base.model.config.ngram_buckets
    data = task_data.build(catalog, encoder, base.config.data, "brand", buckets)
    report: dict = {}
    merge(report, "MTL", model_metrics(base.model, data, device, base.calibration))
    data_product = None
    if full or peers:
        data_product = task_data.build(catalog, encoder, base.config.data, "product", buckets)
    if full:
        for task in TASKS:
            twin = _twin(f"stl-{task}", base, data, catalog, progress, tasks=(task,))
            merge(report, "STL", model_metrics(twin.model, data, device, twin.calibration))
        product = _twin("mtl-product-split", base, data_product, catalog, progress)
        metrics = model_metrics(product.model, data_product, device, product.calibration, attribute_slice="product")
        merge(report, "MTL", {ATTRIBUTES: metrics[ATTRIBUTES]})
        stl_product = _twin("stl-attributes-product-split", base, data_product, catalog, progress, tasks=(ATTRIBUTES,))
        metrics = model_metrics(
            stl_product.model, data_product, device, stl_product.calibration, attribute_slice="product"
        )
        merge(report, "STL", metrics)
    if peers:
        from guide.evaluation.peers import peer_report

        for task, slices in peer_report(catalog, data, data_product, "test").items():
            for slice_name, rows in slices.items():
                for name, values in rows.items():
                    report.setdefault(task, {}).setdefault(slice_name, {})[name] = values
    report["summary"] = summarise(report)
    report["meta"] = {
        "checkpoint": str(checkpoint_dir),
        "fingerprint": base.fingerprint,
        "config": {
            "sharing": base.model.config.sharing,
            "weighting": base.config.weighting,
            "sampling": base.config.sampling,
            "steps": base.config.steps,
        },
        "seconds": round(time.perf_counter() - started, 1),
        "full": full,
        "notes": [
            "profile targets use silver categories for Amazon items (a TF-IDF classifier "
            "fitted on Sephora products), see guide/data/tasks.py",
            "purchase: 1 target + 99 sampled negatives per test shopper; full_hr@10 ranks "
            "the target among all Amazon items",
        ],
    }
    return report


def save_report(report: dict, checkpoint_dir: Path) -> Path:
    path = Path(checkpoint_dir) / "report.json"
    path.write_text(json.dumps(report, indent=1, default=float))
    return path


def _fmt(values: dict | None, metric: str) -> str:
    if not values or metric not in values or values[metric] is None:
        return "–"
    text = f"{values[metric]:.3f}"
    ci = values.get(f"{metric}_ci")
    return f"{text} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else text


METRICS_SHOWN = {
    "sentiment": ("macro_f1", "accuracy", "spearman"),
    "attributes": ("micro_f1", "macro_f1", "category_accuracy"),
    "purchase": ("hr@10", "ndcg@10", "auc", "full_hr@10"),
    "profile": ("ndcg_category", "kl"),
}


def markdown(report: dict) -> str:
    """The report as Markdown tables (what the README shows)."""
    lines = []
    for task in TASKS:
        if task not in report:
            continue
        metrics = METRICS_SHOWN[task]
        lines += [
            f"\n**{task}** (headline: {HEADLINES[task][1]})\n",
            "| slice | model | " + " | ".join(metrics) + " |",
            "|---|---|" + "---|" * len(metrics),
        ]
        for slice_name, rows in report[task].items():
            order = ["MTL", "STL"] + sorted(n for n in rows if n not in ("MTL", "STL"))
            for name in [n for n in order if n in rows]:
                cells = " | ".join(_fmt(rows[name], m) for m in metrics)
                lines.append(f"| {slice_name} | {'**' + name + '**' if name == 'MTL' else name} | {cells} |")
    summary = report.get("summary", {})
    if summary:
        lines += ["\n| task | MTL | STL | best peer | MTL beats best peer | MTL vs STL |", "|---|---|---|---|---|---|"]
        for task, row in summary["tasks"].items():
            gain = row.get("relative_gain_vs_stl")
            lines.append(
                f"| {task} | {_num(row['MTL'])} | {_num(row['STL'])} | {row['best_peer'] or '–'} "
                f"{_num(row['best_peer_value'])} | {_yes(row.get('beats_best_peer'))} | "
                f"{'–' if gain is None else f'{gain:+.1%}'} |"
            )
        if summary.get("delta_m") is not None:
            lines.append(
                f"\nΔm (average relative gain of MTL over STL on the headline metrics): {summary['delta_m']:+.2%}"
            )
    return "\n".join(lines)


def _num(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def _yes(value) -> str:
    return "–" if value is None else ("yes" if value else "**no**")
