"""The shopper towers and the four task heads.

A shopper is the sequence of products they touched (their trunk representations) plus the stars
they gave (0 = no rating, e.g. a view or a purchase without a review). A learned "null" slot lets
a shopper with no history still attend to something: cold start falls back to what the model
learned about items alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class HistoryEncoder(nn.Module):
    """Adds the shopper's star signal to each history item and prepends the null slot."""

    def __init__(self, hidden: int):
        super().__init__()
        self.stars = nn.Embedding(6, hidden)  # 0 unknown, 1..5 stars
        nn.init.normal_(self.stars.weight, std=0.02)
        self.null = nn.Parameter(torch.zeros(1, 1, hidden))

    def forward(self, history: torch.Tensor, stars: torch.Tensor, mask: torch.Tensor):
        h = history + self.stars(stars)  # (B, L, H)
        null = self.null.expand(h.shape[0], 1, h.shape[-1])  # (B, 1, H)
        keep = torch.cat([mask.new_ones(mask.shape[0], 1), mask], dim=1)  # (B, 1 + L)
        return torch.cat([null, h], dim=1), keep  # (B, 1 + L, H), (B, 1 + L)


class PurchaseHead(nn.Module):
    """Target-aware attention over the history, then an MLP over (user, item, user * item)."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.history = HistoryEncoder(hidden)
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.score = nn.Sequential(
            nn.Linear(3 * hidden + 2, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, 1)
        )

    def forward(self, history, stars, mask, candidates, history_content, candidate_content) -> torch.Tensor:
        h, keep = self.history(history, stars, mask)  # (B, 1 + L, H)
        q = self.query(candidates)  # (B, C, H)
        k = self.key(h)  # (B, 1 + L, H)
        logits = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])  # (B, C, 1 + L)
        logits = logits.masked_fill(~keep.unsqueeze(1), float("-inf"))
        weights = torch.softmax(logits, dim=-1)  # (B, C, 1 + L)
        user = weights @ h  # (B, C, H)
        closest = self._closest(history, mask, candidates)  # (B, C, 1) in the trunk's space
        content = self._closest(history_content, mask, candidate_content)  # (B, C, 1) raw MiniLM cosine
        features = torch.cat([user, candidates, user * candidates, closest, content], dim=-1)  # (B, C, 3H + 2)
        return self.score(features).squeeze(-1)  # (B, C)

    @staticmethod
    def _closest(history, mask, candidates) -> torch.Tensor:
        """Cosine of each candidate to its nearest history item (-1 with no history)."""
        if history.shape[1] == 0:
            return candidates.new_full((*candidates.shape[:2], 1), -1.0)
        c = torch.nn.functional.normalize(candidates, dim=-1)
        h = torch.nn.functional.normalize(history, dim=-1)
        sim = c @ h.transpose(1, 2)  # (B, C, L)
        return sim.masked_fill(~mask.unsqueeze(1), -1.0).amax(-1, keepdim=True)


class ProfileHead(nn.Module):
    """Attention pooling with a learned query over the history -> interest logits."""

    def __init__(self, hidden: int, num_interests: int, dropout: float):
        super().__init__()
        self.history = HistoryEncoder(hidden)
        self.query = nn.Parameter(torch.randn(hidden) * 0.02)
        self.key = nn.Linear(hidden, hidden)
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, num_interests))

    def forward(self, history, stars, mask) -> torch.Tensor:
        h, keep = self.history(history, stars, mask)  # (B, 1 + L, H)
        logits = self.key(h) @ self.query / math.sqrt(h.shape[-1])  # (B, 1 + L)
        weights = torch.softmax(logits.masked_fill(~keep, float("-inf")), dim=-1)
        pooled = (weights.unsqueeze(-1) * h).sum(1)  # (B, H)
        return self.out(pooled)  # (B, K)


class AttributesHead(nn.Module):
    """Tag logits and category logits, concatenated as (N, T + C)."""

    def __init__(self, hidden: int, num_tags: int, num_categories: int, dropout: float):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout))
        self.tags = nn.Linear(hidden, num_tags)
        self.category = nn.Linear(hidden, num_categories)

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        h = self.body(items)
        return torch.cat([self.tags(h), self.category(h)], dim=-1)


class SentimentHead(nn.Module):
    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, 3))

    def forward(self, reviews: torch.Tensor) -> torch.Tensor:
        return self.out(reviews)  # (R, 3)
