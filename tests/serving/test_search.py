"""SearchIndex on a tiny synthetic catalogue: a failing encoder falls back to keywords for that call only."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from guide.serving.search import SearchIndex

ITEMS = pd.DataFrame(
    {
        "item_id": ["a", "b", "c"],
        "title": ["Vanilla perfume", "Gentle cleanser", "Matte lipstick"],
        "brand": ["Scent Co", "Skin Co", "Lip Co"],
        "display_category": ["Fragrance", "Cleanser", None],
        "known_tags": [["vegan"], [], ["long-wear"]],
    }
)
EMBEDDINGS = np.eye(3, dtype=np.float32)


class FlakyEncoder:
    """Fails the first `failures` calls with RuntimeError, then points every query at product 'b'."""

    def __init__(self, failures: int):
        self.failures, self.calls = failures, 0

    def encode(self, texts):
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("CUDA busy")
        return np.tile(EMBEDDINGS[1], (len(texts), 1))


def test_a_failed_encode_falls_back_to_keywords_for_that_call_only(caplog):
    encoder = FlakyEncoder(failures=1)
    index = SearchIndex(ITEMS, EMBEDDINGS, encoder)
    with caplog.at_level(logging.WARNING, logger="guide.serving.search"):
        first = index.search("vanilla perfume")
    assert [item for item, _ in first] == ["a"] and index.last_mode == "keyword"
    assert "CUDA busy" in caplog.text
    second = index.search("vanilla perfume")
    assert encoder.calls == 2 and index.encoder is encoder and index.mode == "semantic"
    assert second[0][0] == "b" and index.last_mode == "semantic"  # the semantic score leads again


def test_without_an_encoder_search_is_keyword_only():
    index = SearchIndex(ITEMS, EMBEDDINGS, None)
    assert index.mode == "keyword" and [item for item, _ in index.search("lipstick")] == ["c"]
    with pytest.raises(ValueError, match="non-empty"):
        index.search("   ")
