"""Next-item ranking metrics of the sequential-recommendation literature (pure numpy, no `guide` imports).

Full ranking: the target is ranked against every candidate product, the shopper's own history masked
(S3-Rec / RecBole protocol). Ties count against the target: a model that scores everything alike gets
the worst rank, never a lucky one.
"""

from __future__ import annotations

import numpy as np


def target_ranks(scores: np.ndarray, target: np.ndarray, excluded: list[np.ndarray] | None = None) -> np.ndarray:
    """0-based rank of each row's target column among its scores (n, C); `excluded[i]` holds columns
    removed from row i's ranking (its history; the target itself is never removed)."""
    scores = np.array(scores, dtype=np.float32, copy=True)  # float32: the full catalogue is 20k columns
    n = len(scores)
    rows = np.arange(n)
    target_scores = scores[rows, target]
    if excluded is not None:
        for i, columns in enumerate(excluded):
            columns = columns[columns != target[i]]
            scores[i, columns] = -np.inf
    scores[rows, target] = -np.inf  # compared below, not with itself
    return (scores >= target_scores[:, None]).sum(1)


def hit_and_ndcg(ranks: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-row HR@k (0/1) and NDCG@k (1 / log2(rank + 2) inside the top k) from 0-based ranks."""
    hit = (ranks < k).astype(np.float64)
    return hit, hit / np.log2(ranks + 2.0)


def ranking_table(ranks: np.ndarray, ks: tuple[int, ...] = (10, 20)) -> dict[str, np.ndarray]:
    """{'hr@k', 'ndcg@k'} per row for each k."""
    out = {}
    for k in ks:
        out[f"hr@{k}"], out[f"ndcg@{k}"] = hit_and_ndcg(ranks, k)
    return out


def positions(rows: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Column of each catalogue row inside `pool` (-1 where it is not in the pool)."""
    index = np.full(max(int(pool.max()), int(rows.max()) if len(rows) else 0) + 1, -1, np.int64)
    index[pool] = np.arange(len(pool))
    return index[rows]
