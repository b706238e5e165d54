"""Evaluation: per-task metrics of a model on a split, and the report that puts the multi-task model,
its single-task twins and the peers side by side (with 95% bootstrap CIs where test sets are small).

report[task][slice][model name] = {metric: value, metric_ci: [low, high]}; report["summary"] holds
the headline comparison, the average relative gain of MTL over STL (delta_m) and plain verdicts.
"""

from __future__ import annotations

import logging

import numpy as np

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT, TASKS
from guide.data.tasks import TaskData
from guide.evaluation.metrics import (
    accuracy,
    bootstrap_ci,
    full_catalogue_hits,
    kl_divergence,
    macro_f1,
    multilabel_f1,
    ndcg_of_label,
    ranking_metrics,
    spearman,
)
from guide.model.outputs import (
    attribute_probs,
    eval_candidates,
    item_representations,
    profile_probs,
    purchase_scores,
    sentiment_log_probs,
)

logger = logging.getLogger(__name__)

# task -> (slices, headline metric, higher is better)
HEADLINES = {
    SENTIMENT: (("amazon", "clothing"), "macro_f1", True),
    ATTRIBUTES: (("brand",), "micro_f1", True),
    PURCHASE: (("test",), "hr@10", True),
    PROFILE: (("test",), "ndcg_category", True),
}
SMALL = 1000  # test sets below this size get bootstrap CIs


def _with_ci(values: dict[str, np.ndarray], ci: bool) -> dict:
    out = {}
    for name, per_row in values.items():
        out[name] = float(per_row.mean())
        if ci and len(per_row) < SMALL:
            out[f"{name}_ci"] = list(bootstrap_ci(per_row, len(per_row)))
    return out


def sentiment_metrics(model, data: TaskData, split: str, device, bias, ci=True) -> dict:
    out = {}
    for source in HEADLINES[SENTIMENT][0]:
        rows = data.review_rows(split, source)
        if not len(rows):
            continue
        log_probs = sentiment_log_probs(model, data, rows, device)
        labels, predicted = data.review_labels[rows], (log_probs + np.asarray(bias)).argmax(1)
        probs = np.exp(log_probs)
        score = probs[:, 2] - probs[:, 0]
        stars = data.review_stars[rows]
        result = {
            "macro_f1": macro_f1(labels, predicted),
            "accuracy": accuracy(labels, predicted),
            "spearman": spearman(score, stars),
            "n": int(len(rows)),
        }
        if ci and len(rows) < SMALL:
            result["macro_f1_ci"] = list(bootstrap_ci(lambda i, y=labels, p=predicted: macro_f1(y[i], p[i]), len(rows)))
            result["spearman_ci"] = list(bootstrap_ci(lambda i, s=score, y=stars: spearman(s[i], y[i]), len(rows)))
        out[source] = result
    return out


def attribute_metrics(model, data: TaskData, split: str, device, thresholds, reps=None, name="brand") -> dict:
    rows = data.split_rows(split)
    rows = rows[data.tag_mask[rows].min(1) > 0]  # fully labelled (Sephora) products only
    tags, cats = attribute_probs(model, data, rows, device, reps)
    micro, macro = multilabel_f1(data.tag_targets[rows], (tags >= np.asarray(thresholds)).astype(float))
    return {
        name: {
            "micro_f1": micro,
            "macro_f1": macro,
            "category_accuracy": accuracy(data.cat_targets[rows], cats.argmax(1)),
            "n": int(len(rows)),
        }
    }


def purchase_metrics(model, data: TaskData, split: str, device, reps=None, ci=True) -> dict:
    part = data.purchase[split]
    scores = purchase_scores(model, data, part, device, eval_candidates(part), reps)
    result = _with_ci(ranking_metrics(scores), ci)
    result["full_hr@10"] = full_catalogue_hr(
        purchase_scores(model, data, part, device, np.tile(data.amazon_rows, (len(part.target), 1)), reps), data, part
    )
    result["n"] = int(len(part.target))
    return {"test": result}


def full_catalogue_hr(scores: np.ndarray, data: TaskData, part, k: int = 10) -> float:
    """HR@k of the target among all Amazon items, the shopper's history items excluded; ties count
    against the target (the same rule the peers are judged by)."""
    position = {row: j for j, row in enumerate(data.amazon_rows)}
    target = np.array([position[t] for t in part.target])
    excluded = [np.array([position[r] for r in h if r in position], dtype=np.int64) for h in part.history]
    return float(full_catalogue_hits(scores, target, excluded, k).mean())


def profile_metrics(model, data: TaskData, split: str, device, reps=None, ci=True) -> dict:
    part = data.purchase[split]
    probs = profile_probs(model, data, part, device, reps)
    return {"test": profile_scores(probs, data, part, ci)}


def profile_scores(probs: np.ndarray, data: TaskData, part, ci=True) -> dict:
    num_cat = len(data.categories)
    target = data.item_interest[part.target]
    values = {
        "ndcg_category": ndcg_of_label(probs[:, :num_cat], target[:, :num_cat].argmax(1)),
        "kl": kl_divergence(target, probs),
    }
    return dict(_with_ci(values, ci), n=int(len(part.target)))


def model_metrics(
    model,
    data: TaskData,
    device,
    calibration: dict,
    split: str = "test",
    ci: bool = True,
    attribute_slice: str = "brand",
) -> dict:
    """Metrics of every task `model` has, on `split`."""
    tasks = model.config.tasks
    reps = item_representations(model, data, device)
    out = {}
    if SENTIMENT in tasks:
        out[SENTIMENT] = sentiment_metrics(model, data, split, device, calibration.get("sentiment_bias", [0, 0, 0]), ci)
    if ATTRIBUTES in tasks:
        thresholds = calibration.get("tag_thresholds", [0.5] * len(data.tags))
        out[ATTRIBUTES] = attribute_metrics(model, data, split, device, thresholds, reps, attribute_slice)
    if PURCHASE in tasks:
        out[PURCHASE] = purchase_metrics(model, data, split, device, reps, ci)
    if PROFILE in tasks:
        out[PROFILE] = profile_metrics(model, data, split, device, reps, ci)
    return out


def merge(report: dict, name: str, metrics: dict) -> None:
    for task, slices in metrics.items():
        for slice_name, values in slices.items():
            report.setdefault(task, {}).setdefault(slice_name, {})[name] = values


def _headline(report: dict, task: str, name: str) -> float | None:
    slices, metric, _ = HEADLINES[task]
    values = [report.get(task, {}).get(s, {}).get(name, {}).get(metric) for s in slices]
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def summarise(report: dict, mtl: str = "MTL", stl: str = "STL", peers: list[str] | None = None) -> dict:
    """Headline per task, delta_m of MTL over STL, and whether MTL beats the best peer."""
    summary = {"tasks": {}, "headline_metrics": {t: HEADLINES[t][1] for t in TASKS}}
    gains = []
    for task in TASKS:
        mtl_value, stl_value = _headline(report, task, mtl), _headline(report, task, stl)
        names = set()
        for values in report.get(task, {}).values():
            names.update(values)
        peer_values = {n: _headline(report, task, n) for n in sorted(names - {mtl, stl}) if peers is None or n in peers}
        peer_values = {n: v for n, v in peer_values.items() if v is not None}
        best_peer = max(peer_values, key=peer_values.get) if peer_values else None
        row = {
            "MTL": mtl_value,
            "STL": stl_value,
            "best_peer": best_peer,
            "best_peer_value": peer_values.get(best_peer) if best_peer else None,
        }
        if mtl_value is not None and stl_value:
            sign = 1 if HEADLINES[task][2] else -1
            row["relative_gain_vs_stl"] = sign * (mtl_value - stl_value) / abs(stl_value)
            gains.append(row["relative_gain_vs_stl"])
        if mtl_value is not None and best_peer:
            row["beats_best_peer"] = bool(mtl_value > row["best_peer_value"])
        summary["tasks"][task] = row
    summary["delta_m"] = float(np.mean(gains)) if gains else None
    return summary
