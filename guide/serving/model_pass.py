"""The batched forward pass behind `Guide`: the asks of several threads (`guide/serving/batching.py`) in one
call of the shared model, each ask handed its own share of the outputs.

Reviews are encoded by the asking thread (the sentence encoder never runs under the model lock); the pass
puts every ask's reviews in one block, its shoppers in one padded history batch, and scores the whole
catalogue for all of them in one matrix product. Purchase is the head's logits fused with the content and
transition signals (`guide/model/fusion.py`), tempered as fitted on validation and turned into
P(next purchase = product); past `GUIDE_RETRIEVAL_THRESHOLD` products the ANN index's candidates are scored
instead (`guide/serving/candidates.py`). `Guide` (`guide/serving/facade.py`) reads the shares as plain results.
"""

from __future__ import annotations

import numpy as np
import torch

from guide.config import PURCHASE
from guide.data.purchase_signals import TransitionGraph, content_scores
from guide.data.text import MAX_CHARS, Encoder, hash_ngrams, lexicon_features
from guide.model.fusion import Fusion
from guide.model.inputs import history_batch, text_block
from guide.model.network import ITEM_VECTORS
from guide.serving import served_tasks
from guide.serving.batching import Ask
from guide.serving.candidates import CandidateStage


class ModelPass:
    """One model call for a batch of `Ask`s, over the catalogue side prepared at load (`item_repr`)."""

    def __init__(
        self,
        model: torch.nn.Module,
        device: torch.device,
        encoder: Encoder,
        served: dict[str, served_tasks.ServedTask],
        item_repr: dict[str, torch.Tensor],
        *,
        fusion: Fusion,
        temperature: float,
        unit_emb: np.ndarray,
        transitions: TransitionGraph,
        candidate_stage: CandidateStage,
    ):
        self.model, self.device, self.encoder, self.served = model, device, encoder, served
        self.item_repr = item_repr
        self.fusion, self.temperature = fusion, temperature
        self.unit_emb, self.transitions, self.candidate_stage = unit_emb, transitions, candidate_stage
        self.all_rows = np.arange(len(unit_emb))

    def encode_reviews(self, texts: list[str]) -> dict | None:
        """Reviews as the model reads them (sentence embeddings, n-gram bags, lexicon features), computed by
        the asking thread before its pass: the sentence encoder, most of a review's cost, never runs under
        the model lock, so other sessions' passes do not wait for it. None without texts."""
        if not texts:
            return None
        return {
            "emb": self.encoder.embed([t[:MAX_CHARS] for t in texts], persist=False),
            "bags": [np.array(hash_ngrams(t, self.model.config.ngram_buckets), np.int64) for t in texts],
            "lexicon": lexicon_features(texts),
        }

    def reviews_block(self, texts: list[str]) -> dict:
        """`texts` as the model's block of reviews, encoded now."""
        return self.encoded_block([self.encode_reviews(texts)])

    def encoded_block(self, encoded: list[dict]) -> dict:
        """The asks' encoded reviews (`encode_reviews`) as one block, in ask order."""
        emb = np.concatenate([part["emb"] for part in encoded])
        bags = [bag for part in encoded for bag in part["bags"]]
        lexicon = np.concatenate([part["lexicon"] for part in encoded])
        return text_block(emb, bags, np.arange(len(emb)), self.device, lexicon=lexicon)

    @torch.inference_mode()
    def run(self, asks: list[Ask]) -> None:
        """One model call for every ask: their reviews in one block, their shoppers in one padded history
        batch, the whole catalogue scored for all of them in one matrix product. Purchase: the head's
        logits plus the content and transition signals, turned into P(next purchase = product) by a
        softmax with the temperature fitted on validation; each ask's `rows` pick what it asked for."""
        texts = [text for ask in asks for text in ask.texts]
        shoppers = [ask for ask in asks if ask.history is not None]
        batch: dict = {}
        if texts:
            encoded = [ask.encoded or self.encode_reviews(ask.texts) for ask in asks if ask.texts]
            batch["reviews"] = self.encoded_block(encoded)
        if shoppers:
            batch.update(history_batch([a.history for a in shoppers], [a.stars for a in shoppers], self.device))
            batch["profile"] = True
            batch["catalog"] = any(len(a.rows) for a in shoppers) and not self.candidate_stage.active
        raw = self.model(batch, item_repr=self.item_repr)
        for ask in asks:
            ask.out = {}
        served_tasks.share(raw, self.served, asks, shoppers)  # each ask's texts' and shopper's rows
        if not shoppers:
            return
        buying = [i for i, ask in enumerate(shoppers) if len(ask.rows)]
        if buying and self.candidate_stage.active:
            self._ranked_by_candidates(
                [shoppers[i] for i in buying], batch["history"][buying], batch["history_mask"][buying]
            )
        elif buying:
            neural = raw[PURCHASE][buying].cpu().numpy()  # (n, N)
            fused = self.fused(neural, [shoppers[i].history for i in buying]) / self.temperature
            for logits, i in zip(fused, buying, strict=True):
                owned = shoppers[i].history if shoppers[i].owned is None else shoppers[i].owned
                logits[owned] = -np.inf  # what the shopper has (all of it) is not their next purchase
                probs = np.exp(logits - logits.max())
                shoppers[i].out[PURCHASE] = (probs / probs.sum())[shoppers[i].rows]
        for ask in shoppers:
            ask.out.setdefault(PURCHASE, np.zeros(0, np.float32))

    def _ranked_by_candidates(self, asks: list[Ask], history: torch.Tensor, mask: torch.Tensor) -> None:
        """Past the threshold: each shopper's candidates from the index, scored exactly (`CandidateStage`); an
        ask for some rows (not the whole catalogue) has them scored among the candidates."""
        users = self.model.heads[PURCHASE].users(self.item_repr[ITEM_VECTORS][history], mask).cpu().numpy()
        whole = len(self.all_rows)
        probs = self.candidate_stage.probabilities(
            users,
            [ask.history for ask in asks],
            [ask.history if ask.owned is None else ask.owned for ask in asks],
            [ask.rows if len(ask.rows) < whole else np.zeros(0, np.int64) for ask in asks],
        )
        for ask, catalogue in zip(asks, probs, strict=True):
            ask.out[PURCHASE] = catalogue[ask.rows]

    def fused(self, neural: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """(n, N): the head's logits over the catalogue plus the content and transition signals of each
        shopper, weighted as fitted on validation (`guide/model/fusion.py`)."""
        fusion = self.fusion
        out = fusion.neural * neural
        known = [i for i, history in enumerate(histories) if len(history)]
        if not known or (not fusion.content and not fusion.transitions):
            return out
        shoppers = [histories[i] for i in known]
        content = content_scores(self.unit_emb, shoppers, None) if fusion.content else None
        graph = self.transitions.scores(shoppers, self.all_rows) if fusion.transitions else None
        out[known] = fusion.combine(neural[known], content, graph)
        return out
