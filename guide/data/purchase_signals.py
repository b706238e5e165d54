"""Two purchase signals besides the model's own dot product, computed from the data (no training):

- content: cosine between a product's MiniLM text vector and the recency-weighted mean of the shopper's
  recent products;
- transitions: how often a product followed (or, at half weight, preceded) the shopper's recent products
  within a few steps in the TRAIN sequences (item-to-item collaborative filtering as a sparse graph).

`guide/model/fusion.py` says how the purchase score combines them with the head's.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


def recent_weights(length: int, decay: float, last: int) -> np.ndarray:
    """Weights of a history's latest `last` items, oldest first: decay ** age (the latest weighs 1)."""
    count = min(length, last)
    return decay ** np.arange(count)[::-1]


def content_profiles(unit_emb: np.ndarray, histories: list[np.ndarray], decay: float = 0.7,
                     last: int = 20) -> np.ndarray:  # fmt: skip
    """(n, E): each shopper's recency-weighted mean of their latest products' unit vectors (0 without history)."""
    users = np.zeros((len(histories), unit_emb.shape[1]), np.float32)
    for i, history in enumerate(histories):
        if len(history):
            weights = recent_weights(len(history), decay, last)
            users[i] = weights @ unit_emb[history[-len(weights) :]] / weights.sum()
    return users


def content_scores(unit_emb: np.ndarray, histories: list[np.ndarray], candidates: np.ndarray | None) -> np.ndarray:
    """(n, C): cosine-like score of candidate rows against each shopper's `content_profiles` vector (an inner
    product, so a big catalogue can search it: `guide/serving/candidates.py`)."""
    users = content_profiles(unit_emb, histories)
    return users @ (unit_emb if candidates is None else unit_emb[candidates]).T  # None: every row, no copy


class TransitionGraph:
    """Sparse (N, N) graph over catalogue rows: weight 1/gap when b followed a within `window` steps in a
    train sequence, `backward` times that for a preceding b."""

    def __init__(self, matrix: sparse.csr_matrix):
        self.matrix = matrix

    @classmethod
    def build(cls, sequences: list[np.ndarray], size: int, window: int = 3, backward: float = 0.5) -> TransitionGraph:
        rows, cols, weights = [], [], []
        for seq in sequences:
            for gap in range(1, window + 1):
                if len(seq) > gap:
                    rows += [seq[:-gap], seq[gap:]]
                    cols += [seq[gap:], seq[:-gap]]
                    weights += [np.full(len(seq) - gap, 1.0 / gap), np.full(len(seq) - gap, backward / gap)]
        if not rows:
            return cls(sparse.csr_matrix((size, size), dtype=np.float32))
        matrix = sparse.csr_matrix(
            (np.concatenate(weights).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
            shape=(size, size),
        )
        matrix.sum_duplicates()
        return cls(matrix)

    def scores(self, histories: list[np.ndarray], candidates: np.ndarray, decay: float = 0.5,
               last: int = 10) -> np.ndarray:  # fmt: skip
        """(n, C): log1p of the recency-weighted graph weight from each shopper's latest products."""
        rows, cols, values = [], [], []
        for i, history in enumerate(histories):
            weights = recent_weights(len(history), decay, last)
            if len(weights):
                rows.append(np.full(len(weights), i))
                cols.append(history[-len(weights) :])
                values.append(weights)
        size = self.matrix.shape[0]
        if not rows:
            return np.zeros((len(histories), len(candidates)), np.float32)
        users = sparse.csr_matrix(
            (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(len(histories), size)
        )
        return np.log1p((users @ self.matrix).toarray()[:, candidates]).astype(np.float32)
