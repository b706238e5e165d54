"""Validation during training: the score that picks the best step, and calibration on validation data."""

from __future__ import annotations

import numpy as np

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT
from guide.data.tasks import TaskData
from guide.evaluation.metrics import (
    macro_f1,
    multilabel_f1,
    ndcg_of_label,
    ranking_metrics,
    tune_class_bias,
    tune_thresholds,
)
from guide.model.network import GuideModel
from guide.model.outputs import (
    attribute_probs,
    eval_candidates,
    item_representations,
    profile_probs,
    purchase_scores,
    sentiment_log_probs,
)


def validation_score(model: GuideModel, data: TaskData, device) -> tuple[float, dict[str, float]]:
    """Mean over active tasks of each task's headline metric on the validation split."""
    model.eval()
    tasks = model.config.tasks
    reps = item_representations(model, data, device)
    metrics = {}
    if ATTRIBUTES in tasks:
        rows = data.split_rows("valid")
        tags, cats = attribute_probs(model, data, rows, device, reps)
        known = data.cat_targets[rows] >= 0
        micro, _ = multilabel_f1(data.tag_targets[rows], (tags >= 0.35).astype(float))
        metrics[ATTRIBUTES] = 0.5 * micro + 0.5 * float(np.mean(cats[known].argmax(1) == data.cat_targets[rows][known]))
    if SENTIMENT in tasks:
        scores = []
        for source in np.unique(data.review_source):
            rows = data.review_rows("valid", source)
            if len(rows):
                scores.append(
                    macro_f1(data.review_labels[rows], sentiment_log_probs(model, data, rows, device).argmax(1))
                )
        metrics[SENTIMENT] = float(np.mean(scores))
    split = data.purchase["valid"]
    if PURCHASE in tasks:
        scores = purchase_scores(model, data, split, device, eval_candidates(split), reps)
        metrics[PURCHASE] = float(ranking_metrics(scores)["ndcg@10"].mean())
    if PROFILE in tasks:
        probs = profile_probs(model, data, split, device, reps)
        num_cat = len(data.categories)
        target_cat = data.item_interest[split.target, :num_cat].argmax(1)
        metrics[PROFILE] = float(ndcg_of_label(probs[:, :num_cat], target_cat).mean())
    return float(np.mean(list(metrics.values()))), metrics


def calibrate(model: GuideModel, data: TaskData, device) -> dict:
    """Per-tag thresholds and sentiment class offsets, tuned on validation data."""
    out = {}
    if ATTRIBUTES in model.config.tasks:
        rows = data.split_rows("valid")
        tags, _ = attribute_probs(model, data, rows, device)
        out["tag_thresholds"] = tune_thresholds(data.tag_targets[rows], tags).round(3).tolist()
    if SENTIMENT in model.config.tasks:
        rows = data.review_rows("valid")
        log_probs = sentiment_log_probs(model, data, rows, device)
        out["sentiment_bias"] = tune_class_bias(data.review_labels[rows], log_probs).round(3).tolist()
    return out
