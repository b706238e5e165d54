"""Metric functions (numpy in, floats out), stage-neutral: training scores its validation checks with them,
the evaluation the model and its peers. `guide.metrics` is the first stage: it imports nothing from `guide`
(`guide.metrics.ranking`: the next-item ranking metrics)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def macro_f1(labels: np.ndarray, predicted: np.ndarray, classes: int = 3) -> float:
    scores = []
    for c in range(classes):
        tp = np.sum((predicted == c) & (labels == c))
        fp = np.sum((predicted == c) & (labels != c))
        fn = np.sum((predicted != c) & (labels == c))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(labels == predicted)) if len(labels) else float("nan")


def multilabel_f1(targets: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    """(micro-F1, macro-F1 over labels that occur in `targets`)."""
    tp = (predicted * targets).sum(0)
    fp = (predicted * (1 - targets)).sum(0)
    fn = ((1 - predicted) * targets).sum(0)
    micro = 2 * tp.sum() / max(1e-9, 2 * tp.sum() + fp.sum() + fn.sum())
    present = targets.sum(0) > 0
    per = np.where(tp > 0, 2 * tp / np.maximum(1e-9, 2 * tp + fp + fn), 0.0)
    return float(micro), float(per[present].mean()) if present.any() else float("nan")


def tune_thresholds(targets: np.ndarray, probs: np.ndarray, grid: np.ndarray | None = None) -> np.ndarray:
    """Per-label probability threshold that maximises that label's F1 on validation data."""
    grid = np.linspace(0.05, 0.9, 18) if grid is None else grid
    best = np.full(targets.shape[1], 0.5)
    for j in range(targets.shape[1]):
        if targets[:, j].sum() == 0:
            continue
        f1s = []
        for t in grid:
            p = probs[:, j] >= t
            tp = np.sum(p & (targets[:, j] > 0))
            f1s.append(2 * tp / max(1, p.sum() + targets[:, j].sum()))
        best[j] = grid[int(np.argmax(f1s))]
    return best


def tune_class_bias(labels: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """Additive per-class log-probability offsets that maximise macro-F1 on validation data."""
    grid = np.linspace(-1.5, 1.5, 13)
    best, best_score = np.zeros(log_probs.shape[1]), -1.0
    for b0 in grid:
        for b1 in grid:
            bias = np.array([b0, b1, 0.0])
            score = macro_f1(labels, np.argmax(log_probs + bias, axis=1))
            if score > best_score + 1e-9:
                best, best_score = bias, score
    return best


def rank_of_target(scores: np.ndarray) -> np.ndarray:
    """0-based rank of column 0 (the target) among each row's candidates; ties count against it."""
    return (scores[:, 1:] >= scores[:, :1]).sum(1)


def ranking_metrics(scores: np.ndarray, k: int = 10) -> dict[str, np.ndarray]:
    """Per-shopper HR@k, NDCG@k and AUC for rows of (target, negatives...) scores."""
    rank = rank_of_target(scores)
    hit = (rank < k).astype(float)
    return {
        f"hr@{k}": hit,
        f"ndcg@{k}": hit / np.log2(rank + 2),
        "auc": (scores[:, 1:] < scores[:, :1]).mean(1) + 0.5 * (scores[:, 1:] == scores[:, :1]).mean(1),
    }


def ndcg_of_label(scores: np.ndarray, label: np.ndarray) -> np.ndarray:
    """NDCG of the one relevant label in each row's ranking (1 / log2(rank + 2))."""
    rank = (scores > scores[np.arange(len(label)), label][:, None]).sum(1)
    return 1.0 / np.log2(rank + 2)


def kl_divergence(target: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per-row KL(target || predicted); predicted is floored to avoid log 0."""
    p = np.clip(predicted, 1e-6, 1.0)
    p = p / p.sum(1, keepdims=True)
    t = target
    return np.where(t > 0, t * (np.log(np.clip(t, 1e-12, 1)) - np.log(p)), 0.0).sum(1)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _average_ranks(a), _average_ranks(b)
    return float(np.corrcoef(ra, rb)[0, 1]) if len(a) > 2 else float("nan")


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), float)
    ranks[order] = np.arange(len(x))
    for value in np.unique(x):
        tie = x == value
        ranks[tie] = ranks[tie].mean()
    return ranks


def bootstrap_ci(
    values_or_fn: np.ndarray | Callable[[np.ndarray], float], n: int, rounds: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile bootstrap interval: of a per-example mean, or of fn(resampled indices)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(rounds, n))
    if callable(values_or_fn):
        stats = np.array([values_or_fn(idx) for idx in draws])
    else:
        stats = values_or_fn[draws].mean(1)
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)


def paired_bootstrap_ci(
    pairs: list[tuple[Callable[[np.ndarray], float], Callable[[np.ndarray], float], int]],
    rounds: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """95% percentile bootstrap interval of mean over slices of (fn_a(idx) - fn_b(idx)), each slice
    (fn_a, fn_b, n) resampled on its own with the *same* indices for both systems: a paired test, so
    the rows both find easy or hard cancel out and a real difference shows even where the two
    systems' own CIs overlap. The interval excludes 0 when the difference is significant at 5%."""
    rng = np.random.default_rng(seed)
    diffs = np.zeros(rounds)
    for fn_a, fn_b, n in pairs:
        for r, idx in enumerate(rng.integers(0, n, size=(rounds, n))):
            diffs[r] += fn_a(idx) - fn_b(idx)
    low, high = np.percentile(diffs / max(1, len(pairs)), [2.5, 97.5])
    return float(low), float(high)


def full_catalogue_hits(scores: np.ndarray, target: np.ndarray, excluded: list[np.ndarray], k: int = 10) -> np.ndarray:
    """Per-row hit@k (0/1) of column `target[i]` among all columns of `scores`, leaving out the columns
    in `excluded[i]` (e.g. the shopper's history; the target itself is never left out). Ties count
    against the target, as in `rank_of_target`."""
    hits = np.zeros(len(target))
    for i, column in enumerate(target):
        row = scores[i].astype(float)  # a copy
        row[np.setdiff1d(np.asarray(excluded[i], dtype=np.int64), [column])] = -np.inf
        hits[i] = float((row >= row[column]).sum() - 1 < k)
    return hits
