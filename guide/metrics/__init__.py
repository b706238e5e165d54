"""Metric functions (numpy in, floats out), stage-neutral: training scores its validation checks with them,
the evaluation the model and its peers. `guide.metrics` is the first stage: it imports nothing from `guide`
(`guide.metrics.ranking`: the next-item ranking metrics)."""

from __future__ import annotations

import warnings
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


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r; nan under three rows or for a constant side."""
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the ranks, ties given their average rank (O(n log n), cheap enough to
    bootstrap); nan under three rows or for a constant side."""
    from scipy.stats import rankdata

    return pearson(rankdata(a), rankdata(b))


# Bootstrap CIs come from scipy.stats.bootstrap: BCa (bias-corrected and accelerated) where it is valid, the
# percentile interval where it is not (a degenerate bootstrap distribution) or where its jackknife (one
# statistic per left-out row) would cost more than the resampling itself; resamples are drawn BATCH at a time,
# so no (rounds x n) index matrix is ever held (it was 179 MB for the purchase task).
ROUNDS = 1000
BATCH = 20  # resamples drawn and evaluated at once: a few BATCH x n index arrays in memory
BCA_MAX_ROWS = 5_000  # rows up to which BCa's jackknife (n statistics of n - 1 rows) is affordable


def _row_by_row(fn: Callable[..., float]) -> Callable[..., np.ndarray]:
    """`fn` of one index array per sample as the vectorised statistic scipy asks for: (..., n) index arrays in,
    one value per leading position out (a plain loop: scipy's own wrapper for unvectorised statistics costs
    far more per call than the metrics do)."""

    def statistic(*indices: np.ndarray, axis: int = -1) -> np.ndarray:
        moved = [np.moveaxis(idx, axis, -1) for idx in indices]
        flat = [idx.reshape(-1, idx.shape[-1]) for idx in moved]
        return np.array([fn(*rows) for rows in zip(*flat, strict=True)], float).reshape(moved[0].shape[:-1])

    return statistic


def _interval(data: tuple, statistic: Callable, vectorized: bool, rounds: int, seed: int) -> tuple[float, float]:
    """95% CI of `statistic` over `data` (each array resampled on its own; see `bootstrap_ci`); a statistic that
    is not `vectorized` takes one index array per sample."""
    from scipy import stats

    rows = sum(len(d) for d in data)
    bca = rows <= BCA_MAX_ROWS
    statistic = statistic if vectorized else _row_by_row(statistic)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)  # handled below: percentile instead
        result = stats.bootstrap(
            data,
            statistic,
            n_resamples=rounds,
            batch=BATCH,
            vectorized=True,
            method="BCa" if bca else "percentile",
            rng=np.random.default_rng(seed),
        )
    low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):  # BCa undefined: the percentile interval of the same draws
        low, high = np.percentile(result.bootstrap_distribution, [2.5, 97.5])
    return float(low), float(high)


def bootstrap_ci(
    values_or_fn: np.ndarray | Callable[[np.ndarray], float], n: int, rounds: int = ROUNDS, seed: int = 0
) -> tuple[float, float]:
    """95% bootstrap interval (`scipy.stats.bootstrap`, BCa where valid): of a per-example mean, or of
    fn(resampled row indices). Both forms draw the same rows for the same seed."""
    if callable(values_or_fn):
        return _interval((np.arange(n),), values_or_fn, False, rounds, seed)
    return _interval((np.asarray(values_or_fn, float)[:n],), np.mean, True, rounds, seed)


def paired_bootstrap_ci(
    pairs: list[tuple[Callable[[np.ndarray], float], Callable[[np.ndarray], float], int]],
    rounds: int = ROUNDS,
    seed: int = 0,
) -> tuple[float, float]:
    """95% bootstrap interval (`scipy.stats.bootstrap`, BCa where valid) of the mean over slices of
    (fn_a(idx) - fn_b(idx)), each slice (fn_a, fn_b, n) resampled on its own with the *same* indices for
    both systems: a paired test, so the rows both find easy or hard cancel out and a real difference shows
    even where the two systems' own CIs overlap. The interval excludes 0 when the difference is significant
    at 5%."""

    def difference(*indices: np.ndarray) -> float:
        return float(np.mean([fn_a(idx) - fn_b(idx) for (fn_a, fn_b, _), idx in zip(pairs, indices, strict=True)]))

    return _interval(tuple(np.arange(n) for _, _, n in pairs), difference, False, rounds, seed)
