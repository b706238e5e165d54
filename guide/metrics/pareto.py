"""The trade-off front of a multi-task configuration study (`guide/training/study.py`): pure numpy, so the
model page draws it without the training stage."""

from __future__ import annotations

import numpy as np


def pareto(records: list[dict], tasks: list[str]) -> list[int]:
    """Numbers of the trials no other trial beats on every task's validation metric (the trade-off front)."""
    front = []
    for r in records:
        mine = np.array([r["val"].get(t, -np.inf) for t in tasks])
        dominated = any(
            np.all(other >= mine) and np.any(other > mine)
            for other in (np.array([o["val"].get(t, -np.inf) for t in tasks]) for o in records if o is not r)
        )
        if not dominated:
            front.append(r["number"])
    return front
