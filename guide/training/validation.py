"""Validation during training: the score that picks the best step, and calibration on validation data."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT
from guide.data.task_data import TaskData
from guide.metrics import (
    macro_f1,
    multilabel_f1,
    ndcg_of_label,
    tune_class_bias,
    tune_thresholds,
)
from guide.metrics.ranking import hit_and_ndcg, positions, target_ranks
from guide.model.fusion import Fusion
from guide.model.network import GuideModel
from guide.model.outputs import (
    attribute_probs,
    item_representations,
    profile_probs,
    purchase_scores,
    sentiment_log_probs,
)
from guide.model.purchase_scoring import fused_scores, purchase_ranks, purchase_signals

logger = logging.getLogger(__name__)
VALIDATION_SHOPPERS = 4000  # validation shoppers ranked at each check: a stable choice of step in seconds
CALIBRATION_SHOPPERS = 2500  # validation shoppers the fusion weights and the temperature are fitted on
FULL_RANKING_SCALE = 10.0  # full-ranking NDCG@10 (~0.06) times this sits on the other tasks' scale (~0.6)


def purchase_temperature(model: GuideModel, data: TaskData, device, fusion: Fusion | None = None,
                         shoppers: int | None = None) -> float:  # fmt: skip
    """The softmax temperature that makes P(next purchase = product) over the whole catalogue calibrated:
    the one minimising the negative log-likelihood of validation targets (a 1-D grid; the catalogue is
    what the app scores, so the softmax runs over every row but the shopper's own products)."""
    split = data.purchase["valid"]
    picked = np.sort(np.random.default_rng(1).permutation(len(split.target))[: shoppers or CALIBRATION_SHOPPERS])
    part = split.subset(picked)
    reps = item_representations(model, data, device)
    logits = fused_scores(model, data, part, device, reps, np.arange(len(data.item_emb)), fusion)  # (n, N)
    for i, k in enumerate(picked):  # as served: what the shopper already has is not a next purchase
        logits[i, split.seen[k] if split.seen is not None else split.history[k]] = -np.inf
    grid = np.exp(np.linspace(np.log(0.01), np.log(5.0), 61))
    nll = [_nll(logits / t, part.target) for t in grid]
    return round(float(grid[int(np.argmin(nll))]), 4)


# Relative weights (content fixed at 1 when used): the head's logits span ~10x the other two signals.
FUSION_GRID = {
    "neural": (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2, 0.5),
    "content": (0.0, 1.0),
    "transitions": (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4),
}


def fit_fusion(model: GuideModel, data: TaskData, device, shoppers: int | None = None) -> Fusion:
    """The weights of head, content and transitions that rank validation shoppers' next products best
    (HR@10, NDCG@10 breaking ties; mean of the benchmark's ranking over its products and the shop's over
    the whole catalogue, where the content signal alone would let similar Sephora products in), on a
    fixed sample."""
    split = data.purchase["valid"]
    picked = np.sort(np.random.default_rng(2).permutation(len(split.target))[: shoppers or CALIBRATION_SHOPPERS])
    part = split.subset(picked)
    everything = np.arange(len(data.item_emb))
    reps = item_representations(model, data, device)
    neural = purchase_scores(model, data, part, device, everything, reps)
    content, transitions = purchase_signals(data, part.history, everything)
    seen = [split.seen[i] if split.seen is not None else split.history[i] for i in picked]
    pool = data.amazon_rows
    views = {"catalogue": (everything, part.target, seen),
             "benchmark": (pool, positions(part.target, pool), [positions(h, pool) for h in seen])}  # fmt: skip
    best, best_key = Fusion(), (-1.0, -1.0)
    for n in FUSION_GRID["neural"]:
        for c in FUSION_GRID["content"]:
            for t in FUSION_GRID["transitions"]:
                if not (n or c or t):
                    continue
                fusion = Fusion(n, c, t)
                scores = fusion.combine(neural, content, transitions)
                keys = []
                for columns, target, excluded in views.values():
                    ranks = target_ranks(scores[:, columns], target, [e[e >= 0] for e in excluded])
                    hit, ndcg = hit_and_ndcg(ranks, 10)
                    keys.append((float(hit.mean()), float(ndcg.mean())))
                key = tuple(float(np.mean(k)) for k in zip(*keys))
                if key > best_key:
                    best, best_key = fusion, key
    logger.info("purchase fusion %s: validation HR@10 %.4f, NDCG@10 %.4f (mean of both rankings)", best, *best_key)
    return best


def _nll(logits: np.ndarray, target: np.ndarray) -> float:
    top = logits.max(1, keepdims=True)
    log_norm = np.log(np.exp(logits - top).sum(1)) + top[:, 0]  # exp(-inf) = 0: masked rows drop out
    return float(np.mean(log_norm - logits[np.arange(len(target)), target]))


# --- each task's best-step score (on the same 0..1, higher-is-better scale) and its calibration -----------------
def _attributes_score(model: GuideModel, data: TaskData, device, reps: dict) -> float:
    """Half micro-F1 of the tags at 0.35, half category accuracy, on the validation products."""
    rows = data.split_rows("valid")
    tags, cats = attribute_probs(model, data, rows, device, reps)
    known = data.cat_targets[rows] >= 0
    micro, _ = multilabel_f1(data.tag_targets[rows], (tags >= 0.35).astype(float))
    return 0.5 * micro + 0.5 * float(np.mean(cats[known].argmax(1) == data.cat_targets[rows][known]))


def _sentiment_score(model: GuideModel, data: TaskData, device, reps: dict) -> float:
    """Macro-F1, the mean over review sources."""
    scores = []
    for source in np.unique(data.review_source):
        rows = data.review_rows("valid", source)
        if len(rows):
            scores.append(macro_f1(data.review_labels[rows], sentiment_log_probs(model, data, rows, device).argmax(1)))
    return float(np.mean(scores))


def _purchase_score(model: GuideModel, data: TaskData, device, reps: dict) -> float:
    """Full-ranking NDCG@10 (the benchmark's measure), times FULL_RANKING_SCALE. Not NDCG among 1 + 99: a
    sampled metric can rank training steps differently from the full ranking (Krichene & Rendle, KDD 2020), and
    did here: along a 1,500-step stage 3 it fell (0.413 -> 0.399) while the full-ranking HR@10 rose
    (0.084 -> 0.109)."""
    split = data.purchase["valid"]
    sample = np.random.default_rng(0).permutation(len(split.target))[:VALIDATION_SHOPPERS]
    hit, ndcg = hit_and_ndcg(purchase_ranks(model, data, split, device, reps, np.sort(sample))["full"], 10)
    logger.info("validation purchase: full-ranking NDCG@10 %.4f, HR@10 %.4f (%d shoppers)",
                ndcg.mean(), hit.mean(), len(sample))  # fmt: skip
    return FULL_RANKING_SCALE * float(ndcg.mean())


def _profile_score(model: GuideModel, data: TaskData, device, reps: dict) -> float:
    """NDCG of the next product's category among the category nodes."""
    split = data.purchase["valid"]
    probs = profile_probs(model, data, split, device, reps)
    labels, known = data.interest_labels(split.target)
    return float(ndcg_of_label(probs[known][:, data.interest_columns()], labels[known]).mean())


def _calibrate_attributes(model: GuideModel, data: TaskData, device) -> dict:
    rows = data.split_rows("valid")
    tags, _ = attribute_probs(model, data, rows, device)
    return {"tag_thresholds": tune_thresholds(data.tag_targets[rows], tags).round(3).tolist()}


def _calibrate_purchase(model: GuideModel, data: TaskData, device) -> dict:
    fusion = fit_fusion(model, data, device)
    temperature = purchase_temperature(model, data, device, fusion)
    return {"purchase_fusion": fusion.to_dict(), "purchase_temperature": temperature}


def _calibrate_sentiment(model: GuideModel, data: TaskData, device) -> dict:
    rows = data.review_rows("valid")
    log_probs = sentiment_log_probs(model, data, rows, device)
    return {"sentiment_bias": tune_class_bias(data.review_labels[rows], log_probs).round(3).tolist()}


@dataclass(frozen=True)
class Validation:
    """How training judges and calibrates one task on validation data."""

    # (model, data, device, every product's representations) -> the task's score in [0, 1], higher better: the
    # best step is the one with the highest mean over the model's tasks
    score: Callable[[GuideModel, TaskData, object, dict], float]
    # (model, data, device) -> the calibration entries it tunes on validation (saved with the weights); None: none
    calibrate: Callable[[GuideModel, TaskData, object], dict] | None = None


# Every task a model trains must have an entry: a task without one would drop out of the best-step choice.
# Calibration runs in this order (the purchase fusion is fitted before its temperature, within its entry).
VALIDATION: dict[str, Validation] = {
    ATTRIBUTES: Validation(_attributes_score, _calibrate_attributes),
    PURCHASE: Validation(_purchase_score, _calibrate_purchase),
    SENTIMENT: Validation(_sentiment_score, _calibrate_sentiment),
    PROFILE: Validation(_profile_score),
}


def task_validation(task: str) -> Validation:
    """The validation entry of `task`; ValueError naming the registry when it has none."""
    try:
        return VALIDATION[task]
    except KeyError:
        raise ValueError(
            f"validation: expected an entry for task {task!r} in guide.training.validation.VALIDATION (its best-step "
            f"score and calibration); got entries for {list(VALIDATION)}; fix: add a Validation(score, calibrate) "
            "for it there, else it could not take part in choosing the best step"
        ) from None


def check_tasks(tasks) -> None:
    """ValueError before training when any of `tasks` has no validation entry."""
    for task in tasks:
        task_validation(task)


def validation_score(model: GuideModel, data: TaskData, device) -> tuple[float, dict[str, float]]:
    """Mean over the model's tasks of each task's validation score (`VALIDATION`)."""
    model.eval()
    tasks = model.config.tasks
    check_tasks(tasks)
    reps = item_representations(model, data, device)
    metrics = {task: float(task_validation(task).score(model, data, device, reps)) for task in tasks}
    return float(np.mean(list(metrics.values()))), metrics


def calibrate(model: GuideModel, data: TaskData, device) -> dict:
    """What each of the model's tasks tunes on validation data (per-tag thresholds, sentiment class offsets, the
    purchase fusion weights and temperature), in `VALIDATION`'s order."""
    check_tasks(model.config.tasks)
    out = {}
    for task, validation in VALIDATION.items():
        if task in model.config.tasks and validation.calibrate is not None:
            out.update(validation.calibrate(model, data, device))
    return out
