"""guide.serving.prediction_cache: results kept while among the most recently used (cachetools' LRU)."""

from __future__ import annotations

from guide.serving.prediction_cache import PredictionCache


def test_the_least_recently_used_result_is_dropped_first():
    computed = []
    cache = PredictionCache(guide=None, row_of={}, entries=2)

    def get(key):
        return cache._cached((key,), lambda: computed.append(key) or key.upper())

    assert [get("a"), get("b"), get("a")] == ["A", "B", "A"]  # "a" read again: now the most recent
    get("c")  # over two entries: "b", the least recently used, goes
    assert [get("a"), get("c"), get("b")] == ["A", "C", "B"]
    assert computed == ["a", "b", "c", "b"]
