"""For you past `threshold` products: candidates from the ANN index (`retrieval.CandidateIndex`), scored exactly.

Up to the threshold (`GUIDE_RETRIEVAL_THRESHOLD`, default `retrieval.THRESHOLD` = 50,000) the `Guide` scores
every product for a shopper in one matrix product and takes the softmax over the whole catalogue. Past it a
`CandidateStage`, built once when the `Guide` loads, ranks in two stages:

1. candidates: the `k` best products by the served score less its graph signal, from the index, with the
   shopper's whole history left out; plus every product the transition graph links to their latest purchases
   and any product the caller asked for. The served score is fusion.neural (user . item + bias) +
   fusion.content (content profile . unit vector) + fusion.transitions graph; its first two terms are one inner
   product of [neural user, content profile] (weights folded into the query) with [item, unit vector] (the
   bias folded in), so the index searches them together. A graph score is >= 0 and is 0 off the latest
   purchases' neighbours, so with an exact index the candidates would hold the exact top `k`: the index's
   lists read (`nprobe`) are the only approximation;
2. every candidate scored exactly as the exact path scores it (`logits`), then the softmax over them.

A candidate's probability is therefore P(next purchase = product | it is among the candidates), at least its
share of the whole catalogue; every other product gets 0 and nothing the shopper owns is a candidate.
`benchmarks/bench_retrieval.py` measures this class at a million products.
"""

from __future__ import annotations

import os

import numpy as np

from guide.data.purchase_signals import TransitionGraph, content_profiles, content_scores
from guide.model.fusion import Fusion
from guide.serving.retrieval import DEFAULT_K, THRESHOLD, CandidateIndex

THRESHOLD_ENV = "GUIDE_RETRIEVAL_THRESHOLD"  # catalogues with more products than this are ranked through the index
GRAPH_LAST = 10  # latest purchases whose graph neighbours join the candidates (TransitionGraph.scores reads 10)


def retrieval_threshold() -> int:
    """`GUIDE_RETRIEVAL_THRESHOLD` (a non-negative integer), else `retrieval.THRESHOLD`."""
    value = os.environ.get(THRESHOLD_ENV, "").strip()
    if not value:
        return THRESHOLD
    if not value.isdigit():
        raise ValueError(
            f"{THRESHOLD_ENV}: expected a whole number of products; got {value!r}; "
            f"fix: set it to e.g. {THRESHOLD} or unset it"
        )
    return int(value)


class CandidateStage:
    """The first stage of For you over a big catalogue and the exact scoring of what it finds.

    `vectors`: the purchase head's product vectors (N, D + 1), the bias last; `unit_emb` (N, E) the unit
    MiniLM vectors of the content signal; `transitions` the train-sequence graph; `fusion` and `temperature`
    as fitted on validation. `active` is False up to `threshold` products: then nothing is built and the
    `Guide` scores every product itself. `shoppers_ranked` counts the shoppers ranked through the index.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        unit_emb: np.ndarray,
        transitions: TransitionGraph,
        fusion: Fusion,
        temperature: float,
        threshold: int | None = None,
        k: int = DEFAULT_K,
    ) -> None:
        self.threshold = retrieval_threshold() if threshold is None else int(threshold)
        self.size = len(vectors)
        self.active = self.size > self.threshold
        self.k, self.fusion, self.temperature = k, fusion, float(temperature)
        self.unit_emb, self.transitions = unit_emb, transitions
        self.items = np.ascontiguousarray(vectors[:, :-1], dtype=np.float32)  # (N, D)
        self.bias = np.ascontiguousarray(vectors[:, -1], dtype=np.float32)  # (N,)
        self.index = self._build() if self.active else None
        self.shoppers_ranked = 0

    def _build(self) -> CandidateIndex:
        """The index over [item, unit vector] (the unit vectors only when the content signal counts) with the
        bias times fusion.neural folded in: a query `_queries` scores fused less the graph."""
        parts = [self.items, self.unit_emb] if self.fusion.content else [self.items]
        return CandidateIndex().build(np.hstack(parts), self.fusion.neural * self.bias)

    def _queries(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """(B, D [+ E]): [fusion.neural * user, fusion.content * content profile], as the index's items are laid out."""
        neural = self.fusion.neural * users
        if not self.fusion.content:
            return neural
        return np.hstack([neural, self.fusion.content * content_profiles(self.unit_emb, histories)])

    def candidates(self, found: np.ndarray, history: np.ndarray, owned: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        """Sorted catalogue rows: the index's `found` (-1 padding dropped), the graph neighbours of the latest
        `GRAPH_LAST` of `history` and `wanted`, less every row in `owned`."""
        rows = [found[found >= 0], np.asarray(wanted, np.int64)]
        if len(history):
            rows.append(self.transitions.matrix[history[-GRAPH_LAST:]].indices)
        merged = np.unique(np.concatenate(rows).astype(np.int64))
        return merged[~np.isin(merged, owned)]

    def logits(self, user: np.ndarray, history: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """(C,) the fused, tempered logits of `rows` for one shopper: what the exact path computes for them."""
        neural = user @ self.items[rows].T + self.bias[rows]  # (C,)
        if not len(history):  # the null shopper: no content or graph signal, as in the exact path
            return self.fusion.neural * neural / self.temperature
        content = content_scores(self.unit_emb, [history], rows) if self.fusion.content else None
        graph = self.transitions.scores([history], rows) if self.fusion.transitions else None
        return self.fusion.combine(neural[None, :], content, graph)[0] / self.temperature

    def probabilities(
        self,
        users: np.ndarray,
        histories: list[np.ndarray],
        owned: list[np.ndarray],
        wanted: list[np.ndarray] | None = None,
    ) -> list[np.ndarray]:
        """Per shopper (`users` (B, D), their `histories` read and every `owned` row), P(next purchase) for every
        catalogue row (N,): the softmax over their candidates, 0 elsewhere. `wanted`: rows per shopper that are
        scored whether or not the index finds them (a product page's product)."""
        if not self.active:
            raise ValueError(
                f"CandidateStage: expected a catalogue over the threshold ({self.threshold:,}); got {self.size:,} "
                "products; fix: score every product exactly (the Guide does so below the threshold)"
            )
        users = np.ascontiguousarray(users, dtype=np.float32)
        histories = [np.asarray(history, np.int64) for history in histories]
        excluded = [np.asarray(rows, np.int64) for rows in owned]
        found, _ = self.index.search(self._queries(users, histories), self.k, exclude=excluded)
        wanted = wanted if wanted is not None else [np.zeros(0, np.int64)] * len(users)
        out = []
        for user, ids, history, own, extra in zip(users, found, histories, excluded, wanted, strict=True):
            rows = self.candidates(ids, history, own, extra)
            probs = np.zeros(self.size, np.float32)
            if len(rows):
                logits = self.logits(user, history, rows)
                weights = np.exp(logits - logits.max())
                probs[rows] = weights / weights.sum()
            out.append(probs)
        self.shoppers_ranked += len(users)
        return out
