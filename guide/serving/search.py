"""Catalogue search: MiniLM semantic similarity, blended with (and falling back to) keyword overlap."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from guide.data.text import Encoder, tokens

logger = logging.getLogger(__name__)

KEYWORD_WEIGHT = 0.35  # a word hit in the title or brand beats a merely related product
MAX_SEARCH_CHARS = 500


class SearchIndex:
    def __init__(self, items: pd.DataFrame, embeddings: np.ndarray, encoder: Encoder | None):
        self.items, self.embeddings, self.encoder = items, embeddings, encoder
        self.mode = "semantic" if encoder is not None else "keyword"  # what the index can do
        self.last_mode = self.mode  # what the latest search used (keyword after a failed encode)
        fields = (
            items["title"]
            + " "
            + items["brand"]
            + " "
            + items["display_category"].fillna("")
            + " "
            + items["known_tags"].map(" ".join)
        )
        self._words = [set(tokens(text)) for text in fields]
        self._titles = items["title"].str.lower().to_numpy()

    def _keyword_scores(self, query: str) -> np.ndarray:
        words = set(tokens(query))
        if not words:
            return np.zeros(len(self._words))
        scores = np.array([len(words & w) / len(words) for w in self._words])
        phrase = query.lower().strip()
        scores += np.array([0.5 if phrase and phrase in t else 0.0 for t in self._titles])
        return scores

    def _semantic_scores(self, query: str) -> np.ndarray | None:
        if self.encoder is None:
            return None
        try:
            vector = self.encoder.encode([query])[0]
        except (OSError, ImportError, RuntimeError) as err:
            # This call only: a transient failure (a busy device, a worker hiccup) must not turn semantic
            # search off for every session for good; the next query tries the encoder again.
            logger.warning("semantic search failed for this query (%s); answering with keywords only", err)
            self.last_mode = "keyword"
            return None
        self.last_mode = "semantic"
        return self.embeddings @ vector

    def search(self, query: str, k: int = 200) -> list[tuple[str, float]]:
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query: expected a non-empty search text")
        query = query.strip()[:MAX_SEARCH_CHARS]
        keyword = self._keyword_scores(query)
        semantic = self._semantic_scores(query)
        if semantic is None:
            scores, floor = keyword, 1e-9
        else:
            scores, floor = semantic + KEYWORD_WEIGHT * keyword, 0.25
        order = np.argsort(-scores)[:k]
        ids = self.items["item_id"].to_numpy()
        return [(ids[i], float(scores[i])) for i in order if scores[i] > floor]

    def similar(self, row: int, k: int = 6) -> list[tuple[str, float]]:
        scores = self.embeddings @ self.embeddings[row]
        ids, titles = self.items["item_id"].to_numpy(), self._titles
        out = []
        for i in np.argsort(-scores):
            if i == row or titles[i] == titles[row]:
                continue
            out.append((ids[i], float(scores[i])))
            if len(out) == k:
                break
        return out
