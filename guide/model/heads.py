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


class CausalBlock(nn.Module):
    """Pre-norm self-attention block that only looks back in time, then a position-wise MLP."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, causal: torch.Tensor, padding: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        attended, _ = self.attention(h, h, h, attn_mask=causal, key_padding_mask=padding, need_weights=False)
        x = x + self.dropout(attended)  # (B, L, D)
        return x + self.dropout(self.mlp(self.norm2(x)))


class PurchaseHead(nn.Module):
    """Next purchase: a causal self-attention encoder over the shopper's history (SASRec, Kang & McAuley
    2018) in an item space of its own; score(shopper, product) = user . item + bias(product).

    A product's vector is the trunk's purchase representation (text through the shared encoder and trunk)
    projected to `dim`, plus a learned vector per catalogue row (collaborative signal of products bought
    in training; zero for products never bought). One dot product per product makes the whole catalogue
    one matrix product, and retrieval over millions an inner-product search.
    """

    def __init__(self, hidden: int, dim: int, blocks: int, heads: int, max_length: int, num_items: int,
                 dropout: float):  # fmt: skip
        super().__init__()
        self.project = nn.Linear(hidden, dim)
        self.ids = nn.Embedding(max(num_items, 1), dim)
        nn.init.zeros_(self.ids.weight)
        self.bias = nn.Embedding(max(num_items, 1), 1)
        nn.init.zeros_(self.bias.weight)
        self.positions = nn.Embedding(max_length, dim)  # 0 = the most recent item
        nn.init.normal_(self.positions.weight, std=0.02)
        self.blocks = nn.ModuleList(CausalBlock(dim, heads, dropout) for _ in range(blocks))
        self.norm = nn.LayerNorm(dim)
        self.null = nn.Parameter(torch.zeros(dim))  # the shopper with no history
        self.dropout = nn.Dropout(dropout)
        self.max_length = max_length

    def item_vectors(self, trunk: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
        """(N, H) trunk representations (+ their catalogue rows) -> (N, D + 1): the vector, then the bias."""
        vectors = self.project(trunk)  # (N, D)
        if rows is None:  # free text: no collaborative part
            return torch.cat([vectors, vectors.new_zeros(len(vectors), 1)], dim=-1)
        return torch.cat([vectors + self.ids(rows), self.bias(rows)], dim=-1)

    def sequence(self, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, L, D + 1) item vectors of the history (left-aligned, `mask` marks real items) ->
        (B, L, D): at each position, the shopper as of that purchase."""
        length = mask.sum(1, keepdim=True)  # (B, 1)
        steps = torch.arange(history.shape[1], device=history.device)  # (L,)
        back = (length - 1 - steps).clamp(0, self.max_length - 1)  # (B, L) distance from the latest item
        x = self.dropout(history[..., :-1] + self.positions(back))  # (B, L, D)
        causal = torch.ones(history.shape[1], history.shape[1], dtype=torch.bool, device=history.device).triu(1)
        padding = ~mask
        padding[:, 0] = False  # an empty history still attends to something; its output is replaced below
        for block in self.blocks:
            x = block(x, causal, padding)
        return self.norm(x)

    def users(self, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, D) the shopper after their latest item (the null shopper with no history)."""
        states = self.sequence(history, mask)  # (B, L, D)
        last = (mask.sum(1) - 1).clamp_min(0)  # (B,)
        user = states[torch.arange(len(states), device=states.device), last]  # (B, D)
        empty = ~mask.any(1, keepdim=True)
        return torch.where(empty, self.null.expand_as(user), user)

    @staticmethod
    def score(users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """users (..., D) against items (C, D + 1) -> (..., C); or per-shopper items (B, C, D + 1) -> (B, C)."""
        if items.dim() == 2:
            return users @ items[:, :-1].T + items[:, -1]
        return (items[..., :-1] @ users.unsqueeze(-1)).squeeze(-1) + items[..., -1]  # (B, C)


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
    """Negative / neutral / positive logits from the trunk's review representation and, when configured, the
    review's lexicon features (VADER scores): they join the head's input and vote directly through a linear
    layer of their own, so evidence the lexicon knows reaches the answer even where the trunk learned little."""

    def __init__(self, hidden: int, dropout: float, lexicon: int = 0):
        super().__init__()
        self.lexicon_dim = lexicon
        self.out = nn.Sequential(
            nn.Linear(hidden + lexicon, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, 3)
        )
        self.lexicon = nn.Linear(lexicon, 3) if lexicon else None

    def forward(self, reviews: torch.Tensor, lexicon: torch.Tensor | None = None) -> torch.Tensor:
        if not self.lexicon_dim:
            return self.out(reviews)  # (R, 3)
        if lexicon is None:
            raise ValueError("this sentiment head reads lexicon features: pass the block's 'lexicon' (R, 4)")
        return self.out(torch.cat([reviews, lexicon], dim=-1)) + self.lexicon(lexicon)  # (R, 3)
