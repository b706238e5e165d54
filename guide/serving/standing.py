"""How a purchase likelihood reads to a person: its rank and its multiple of the median product.

A calibrated P(next purchase) over ~21,000 products is small for every product ("0.2 %"), so on its own it
cannot tell a strong recommendation from a weak one. Beside it the shop shows where the same score stands
among the products the shopper could buy next (those they do not own: what "For you" lists) — "#3 of
20,747" — and how many times the median of those products it is — "40× the median product". Both come from
the same scores as the probability; nothing is re-estimated. Pure numpy.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from guide.serving.views import Standing


class LikelihoodScale:
    """One shopper's scores over the catalogue, sorted once, to place any of their likelihoods."""

    def __init__(self, scores: np.ndarray, owned: Iterable[int] = ()) -> None:
        self.scores = scores = np.asarray(scores, dtype=float)
        if scores.ndim != 1 or not len(scores):
            raise ValueError(f"scores: expected one likelihood per catalogue row, got shape {scores.shape}")
        self.owned = frozenset(int(row) for row in owned)
        keep = np.ones(len(scores), dtype=bool)
        keep[[row for row in self.owned if 0 <= row < len(scores)]] = False
        candidates = scores[keep] if keep.any() else scores  # a shopper who owns everything: rank them all
        self._sorted = np.sort(candidates)  # ascending
        self.size = len(self._sorted)
        self.median = float(np.median(self._sorted))

    def standing(self, probability: float) -> Standing:
        """Rank 1 + the number of candidates strictly more likely (ties share a rank), and P / median."""
        more_likely = self.size - int(np.searchsorted(self._sorted, probability, side="right"))
        times = float(probability) / self.median if self.median > 0 else None
        return Standing(more_likely + 1, self.size, times)

    def of_row(self, row: int) -> Standing | None:
        """The standing of catalogue row `row`; None for a product the shopper already owns."""
        return None if row in self.owned else self.standing(float(self.scores[row]))
