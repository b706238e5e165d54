"""The model's answers for a shopper's history, kept: a history's catalogue scores, its likelihood scale and
profile, and the sentiment and "Why" of texts, each computed once and kept while it is among the most recently
used (`CACHE_ENTRIES`). Every entry is keyed by what it was computed from, so an entry is never stale: the model
does not change while the app runs."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from cachetools import LRUCache

from guide.serving.results import Profile, Sentiment, Why
from guide.serving.standing import LikelihoodScale

CACHE_ENTRIES = 512  # model results kept (a catalogue of scores is ~70 kB)


class PredictionCache:
    """`guide`'s answers per history and per text. `row_of` maps item ids to catalogue rows (owned products)."""

    def __init__(self, guide, row_of: dict[str, int], entries: int = CACHE_ENTRIES) -> None:
        self.guide, self.row_of, self.entries = guide, row_of, entries
        self._kept: LRUCache[tuple, object] = LRUCache(maxsize=entries)
        self._lock = threading.Lock()

    def _cached(self, key: tuple, compute: Callable[[], object]):
        with self._lock:
            if key in self._kept:
                return self._kept[key]  # a read makes it the most recently used
        return self.remember(key, compute())

    def remember(self, key: tuple, value):
        with self._lock:
            self._kept[key] = value  # the least recently used entry goes past `entries`
        return value

    def scores(self, history: list[str], ratings: list) -> np.ndarray | None:
        """P(buy next) for every catalogue row; None for a shopper with no history (cold start)."""
        if not history:
            return None
        return self._cached(
            ("scores", tuple(history), tuple(ratings)),
            lambda: np.asarray(self.guide.score_catalog(history, ratings=ratings)),
        )

    def scale(self, history: list[str], ratings: list) -> LikelihoodScale | None:
        """Where each of this history's likelihoods stands among the products it does not own (rank, median
        multiple); sorted once per history. None for a shopper with no history."""
        scores = self.scores(history, ratings)
        if scores is None:
            return None
        owned = [self.row_of[item] for item in history if item in self.row_of]
        return self._cached(("scale", tuple(history), tuple(ratings)), lambda: LikelihoodScale(scores, owned))

    def profile(self, history: list[str], ratings: list) -> Profile | None:
        if not history:
            return None
        return self._cached(
            ("profile", tuple(history), tuple(ratings)), lambda: self.guide.profile(history, ratings=ratings)
        )

    def sentiments(self, key: tuple, texts: list[str]) -> list[Sentiment]:
        return self._cached(("sentiment", *key), lambda: self.guide.sentiment(texts)) if texts else []

    def predict(self, history: list[str], ratings: list, review: str | None, item_id: str):
        """(Prediction, catalogue scores) of an action's one forward pass (`history` already holds its product);
        its scores and profile are kept for that history."""
        prediction = self.guide.predict(history, items=None, review=review, ratings=ratings, review_item=item_id)
        scores = np.fromiter(prediction.purchase.values(), dtype=float, count=len(prediction.purchase))
        self.remember(("scores", tuple(history), tuple(ratings)), scores)
        self.remember(("profile", tuple(history), tuple(ratings)), prediction.profile)
        return prediction, scores

    # --- why: the words behind a prediction (occlusion through the shared model, serving/occlusion.py) ----
    def why_review(self, text: str) -> Why:
        """The words that moved a review's sentiment (`text`: title, then text, as it was scored)."""
        from guide.serving.occlusion import explain_review

        return self._cached(("why-review", text), lambda: explain_review(self.guide, text))

    def why_tags(self, item_id: str) -> list[Why]:
        """The words of a catalogue product's text that moved its predicted tags (most confident first)."""
        from guide.serving.occlusion import explain_product

        return self._cached(("why-tags", item_id), lambda: explain_product(self.guide, item_id))
