"""Validation during training: the score that picks the best step, and calibration on validation data."""

from __future__ import annotations

import logging

import numpy as np

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT
from guide.data.tasks import PurchaseSplit, TaskData
from guide.evaluation.metrics import (
    macro_f1,
    multilabel_f1,
    ndcg_of_label,
    tune_class_bias,
    tune_thresholds,
)
from guide.evaluation.ranking import hit_and_ndcg, positions, target_ranks
from guide.model.network import GuideModel
from guide.model.outputs import (
    attribute_probs,
    item_representations,
    profile_probs,
    purchase_scores,
    sentiment_log_probs,
)

logger = logging.getLogger(__name__)
VALIDATION_SHOPPERS = 4000  # full ranking of 4,000 validation shoppers: a stable choice of step in seconds


def purchase_ranks(
    model: GuideModel,
    data: TaskData,
    split: PurchaseSplit,
    device,
    reps=None,
    users: np.ndarray | None = None,
    chunk: int = 1024,
) -> dict[str, np.ndarray]:
    """0-based ranks of each shopper's target: `full` among all benchmark products (history masked) and
    `sampled` among its fixed 99 unseen negatives. `users` restricts to those shoppers (indices)."""
    reps = reps or item_representations(model, data, device)
    users = np.arange(len(split.target)) if users is None else users
    pool = data.amazon_rows
    full, sampled = [], []
    for start in range(0, len(users), chunk):
        picked = users[start : start + chunk]
        part = PurchaseSplit([split.users[i] for i in picked], [split.history[i] for i in picked],
                             [split.ratings[i] for i in picked], split.target[picked])  # fmt: skip
        scores = purchase_scores(model, data, part, device, pool, reps)  # (n, |pool|)
        target = positions(part.target, pool)
        seen = [split.seen[i] for i in picked] if split.seen is not None else part.history
        excluded = [positions(h, pool) for h in seen]
        full.append(target_ranks(scores, target, [e[e >= 0] for e in excluded]))
        if split.negatives is not None:
            candidates = np.concatenate([part.target[:, None], split.negatives[picked]], axis=1)
            columns = positions(candidates.ravel(), pool).reshape(candidates.shape)
            sampled.append(target_ranks(np.take_along_axis(scores, columns, 1), np.zeros(len(picked), np.int64)))
    out = {"full": np.concatenate(full)}
    if sampled:
        out["sampled"] = np.concatenate(sampled)
    return out


def purchase_temperature(model: GuideModel, data: TaskData, device, shoppers: int = 4000) -> float:
    """The softmax temperature that makes P(next purchase = product) over the whole catalogue calibrated:
    the one minimising the negative log-likelihood of validation targets (a 1-D grid; the catalogue is
    what the app scores, so the softmax runs over every row)."""
    split = data.purchase["valid"]
    picked = np.sort(np.random.default_rng(1).permutation(len(split.target))[:shoppers])
    part = PurchaseSplit([split.users[i] for i in picked], [split.history[i] for i in picked],
                         [split.ratings[i] for i in picked], split.target[picked])  # fmt: skip
    logits = purchase_scores(model, data, part, device, np.arange(len(data.item_emb)))  # (n, N)
    grid = np.exp(np.linspace(np.log(0.2), np.log(5.0), 41))
    nll = [_nll(logits / t, part.target) for t in grid]
    return round(float(grid[int(np.argmin(nll))]), 4)


def _nll(logits: np.ndarray, target: np.ndarray) -> float:
    top = logits.max(1, keepdims=True)
    log_norm = np.log(np.exp(logits - top).sum(1)) + top[:, 0]
    return float(np.mean(log_norm - logits[np.arange(len(target)), target]))


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
    if PURCHASE in tasks:  # NDCG@10 among 1 + 99 (on the other tasks' scale; full ranking is ~10x smaller)
        sample = np.random.default_rng(0).permutation(len(split.target))[:VALIDATION_SHOPPERS]
        ranks = purchase_ranks(model, data, split, device, reps, np.sort(sample))
        metrics[PURCHASE] = float(hit_and_ndcg(ranks["sampled"], 10)[1].mean())
        logger.info("validation purchase: full-ranking NDCG@10 %.4f, HR@10 %.4f (%d shoppers)",
                    hit_and_ndcg(ranks["full"], 10)[1].mean(), hit_and_ndcg(ranks["full"], 10)[0].mean(),
                    len(sample))  # fmt: skip
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
    if PURCHASE in model.config.tasks:
        out["purchase_temperature"] = purchase_temperature(model, data, device)
    if SENTIMENT in model.config.tasks:
        rows = data.review_rows("valid")
        log_probs = sentiment_log_probs(model, data, rows, device)
        out["sentiment_bias"] = tune_class_bias(data.review_labels[rows], log_probs).round(3).tolist()
    return out
