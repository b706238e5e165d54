"""Task affinity as recorded in training (`guide/training/affinity.py`): each probe holds the pairwise cosines
of the tasks' gradients on the shared parameters, keyed "a|b". Pure numpy, so the shop's model page reads a
recorded affinity without the training stage."""

from __future__ import annotations

from itertools import combinations

import numpy as np


def pair_key(a: str, b: str) -> str:
    return f"{a}|{b}"


def affinity_matrix(records: list[dict], tasks: tuple[str, ...], last_share: float = 1.0) -> np.ndarray:
    """The mean cosine per pair over the recorded probes (the last `last_share` of them) as a symmetric
    (T, T) matrix with 1 on the diagonal."""
    if not records:
        raise ValueError("affinity: expected at least one recorded probe; got none; fix: train with --affinity-every")
    if not 0.0 < last_share <= 1.0:
        raise ValueError(f"last_share: expected (0, 1]; got {last_share}")
    kept = records[-max(1, round(len(records) * last_share)) :]
    matrix = np.eye(len(tasks))
    for i, j in combinations(range(len(tasks)), 2):
        values = [
            r["cosine"].get(pair_key(tasks[i], tasks[j]), r["cosine"].get(pair_key(tasks[j], tasks[i]))) for r in kept
        ]
        values = [v for v in values if v is not None]
        matrix[i, j] = matrix[j, i] = float(np.mean(values)) if values else np.nan
    return matrix
