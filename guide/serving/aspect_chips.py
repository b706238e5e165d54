"""Review aspects, the model part: each aspect sentence of a product's reviews scored by the shared model's
sentiment head (through `Guide.sentiment`, one batch per call), summed up into chips.

The sentences and their aspects come from `guide/data/aspect_cues.py`. Only sentences with at least one aspect
are scored. The shipped reviews of a product are scored once, on its first view, and kept (`AspectIndex`,
bounded); a review written here is scored once by its text, so a new review adds only its own sentences.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from cachetools import LRUCache

from guide.data.aspect_cues import ASPECTS, aspects_for_tags, assign, review_sentences

PRODUCTS_KEPT = 512  # products whose scored shipped sentences are kept (a product has ~20 aspect sentences)
TEXTS_KEPT = 4096  # reviews written here whose scored sentences are kept, by text


@dataclass(frozen=True)
class Mention:
    """One sentence of a review about one or more aspects, with the model's sentiment of the sentence."""

    sentence: str
    aspects: tuple[str, ...]
    label: str  # "negative" | "neutral" | "positive"
    score: float  # P(positive) - P(negative)
    author: str  # "Amazon shopper" | "a shopper here"


@dataclass
class AspectChip:
    key: str
    label: str
    mentions: int
    positive: float  # share of the mentions the model reads as positive, 0..1
    negative: float  # share read as negative (the rest is neutral)
    sentences: list[Mention] = field(default_factory=list)  # reviews written here first, then shipped ones
    tags: list[str] = field(default_factory=list)  # the product's attribute tags tied to this aspect


@dataclass
class AspectSummary:
    chips: list[AspectChip]  # aspects with at least one mention, most mentioned first
    reviews: int  # reviews read
    sentences: int  # aspect sentences among them


def score_reviews(guide, reviews: Iterable[tuple[str | None, str]], author: str) -> list[list[Mention]]:
    """Per (title, text) review, its aspect sentences, all reviews scored in ONE sentiment batch."""
    found = [
        [(s, tuple(keys)) for s in review_sentences(title, text) if (keys := assign(s))] for title, text in reviews
    ]
    flat = [pair for review in found for pair in review]
    sentiments = iter(guide.sentiment([s for s, _ in flat]) if flat else [])
    return [
        [Mention(s, keys, (x := next(sentiments)).label, x.score, author) for s, keys in review] for review in found
    ]


def summarise(mentions: list[Mention], reviews: int, tags: Iterable[str] = ()) -> AspectSummary:
    """Chips over the mentions: per aspect, how many and the positive / negative shares."""
    tied = aspects_for_tags(tags)
    chips = []
    for aspect in ASPECTS:
        hits = [m for m in mentions if aspect.key in m.aspects]
        if hits:
            positive = sum(m.label == "positive" for m in hits) / len(hits)
            negative = sum(m.label == "negative" for m in hits) / len(hits)
            chips.append(
                AspectChip(aspect.key, aspect.label, len(hits), positive, negative, hits, tied.get(aspect.key, []))
            )
    chips.sort(key=lambda chip: -chip.mentions)  # stable: ties keep ASPECTS order
    return AspectSummary(chips, reviews, len(mentions))


class AspectIndex:
    """Scored aspect sentences, kept per product (shipped reviews) and per text (reviews written here)."""

    def __init__(self, guide) -> None:
        self.guide = guide
        self._products: LRUCache[str, tuple[int, list[Mention]]] = LRUCache(maxsize=PRODUCTS_KEPT)
        self._texts: LRUCache[tuple[str, str], list[Mention]] = LRUCache(maxsize=TEXTS_KEPT)
        self._lock = threading.Lock()

    def shipped(self, item_id: str) -> tuple[int, list[Mention]]:
        """(number of shipped reviews, their scored aspect sentences) of one product; scored on first use."""
        with self._lock:
            if item_id in self._products:
                return self._products[item_id]  # a read makes it the most recently used
        reviews = self.guide.reviews
        rows = reviews[reviews["item_id"] == item_id].sort_values("timestamp", ascending=False)
        scored = score_reviews(self.guide, zip(rows["title"], rows["text"]), "Amazon shopper")
        found = (len(rows), [m for review in scored for m in review])
        return _keep(self._products, item_id, found, self._lock)

    def written(self, reviews: list[tuple[str, str]]) -> list[Mention]:
        """Scored aspect sentences of reviews written here ((title, text), newest first); the new ones in one batch."""
        with self._lock:
            missing = list(dict.fromkeys(r for r in reviews if r not in self._texts))
        if missing:
            for review, own in zip(missing, score_reviews(self.guide, missing, "a shopper here"), strict=True):
                _keep(self._texts, review, own, self._lock)
        with self._lock:
            return [m for r in reviews for m in self._texts.get(r, [])]

    def summary(self, item_id: str, written: list[tuple[str, str]], tags: Iterable[str] = ()) -> AspectSummary:
        count, shipped = self.shipped(item_id)
        return summarise(self.written(written) + shipped, count + len(written), tags)


def _keep(cache: LRUCache, key, value, lock: threading.Lock):
    with lock:
        cache[key] = value  # the least recently used entry goes past the cache's size
    return value
