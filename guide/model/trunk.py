"""Shared input encoder and the pluggable sharing schemes of the trunk.

Every text (a product or a review) becomes one vector from three parts: its frozen MiniLM sentence
embedding, a trainable hashed word n-gram bag (the lexical signal MiniLM alone loses on this data),
and a few numeric product features. The trunk then turns that vector into one representation per
task. Schemes (one interface: `forward(x) -> {task: (N, H)}`):

- hard:         one shared MLP, every task reads the same representation;
- mmoe:         E shared experts mixed by a softmax gate per task (Ma et al. 2018);
- ple:          CGC layer, shared experts + each task's own experts, gated per task (Tang et al. 2020);
- cross_stitch: one column per task, mixed after the first layer by learned weights (Misra et al. 2016).

`soft_sharing_penalty()` is the mean squared distance between task-specific weights of the same
shape (0 where a scheme has none), added to the loss when `ModelConfig.soft_sharing > 0`.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from guide.config import EMBED_DIM, ModelConfig


def mlp(dim_in: int, dim_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim_in, dim_out), nn.GELU(), nn.Dropout(dropout))


class InputEncoder(nn.Module):
    """(MiniLM embedding, hashed n-gram ids, numeric features) -> (N, H)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.ngrams = None  # ngram_dim 0: the sentence embedding alone (a fine-tuned encoder reads the words)
        if config.ngram_dim:
            self.ngrams = nn.EmbeddingBag(config.ngram_buckets, config.ngram_dim, mode="sum", sparse=False)
            nn.init.normal_(self.ngrams.weight, std=0.05)
        # Inverse document frequency per bucket (set from the training texts): a bag is the
        # idf-weighted mean of its grams, so rare, telling words outweigh "the" and "and".
        self.register_buffer("idf", torch.ones(config.ngram_buckets))
        self.kind = nn.Embedding(2, config.hidden)  # 0 = product, 1 = review
        # Both text views are normalised before mixing: a mean of many small n-gram vectors is tiny
        # next to a unit-norm MiniLM vector, and would otherwise learn (and count) far too slowly.
        self.norm_emb = nn.LayerNorm(EMBED_DIM)
        self.norm_bag = nn.LayerNorm(config.ngram_dim) if config.ngram_dim else None
        dim_in = EMBED_DIM + config.ngram_dim + config.item_features
        self.project = nn.Sequential(
            nn.Linear(dim_in, config.hidden), nn.LayerNorm(config.hidden), nn.GELU(), nn.Dropout(config.dropout)
        )
        self.item_features = config.item_features

    def forward(
        self, emb: torch.Tensor, ngram_ids: torch.Tensor, offsets: torch.Tensor, feats: torch.Tensor | None, kind: int
    ) -> torch.Tensor:
        if feats is None:
            feats = emb.new_zeros(emb.shape[0], self.item_features)
        views = [self.norm_emb(emb)]
        if self.ngrams is not None:
            views.append(
                self.norm_bag(self.ngrams(ngram_ids, offsets, per_sample_weights=self._bag_weights(ngram_ids, offsets)))
            )  # (N, D)
        x = torch.cat([*views, feats], dim=-1)  # (N, 384 + ngram_dim + F)
        return self.project(x) + self.kind.weight[kind]  # (N, H)

    def wide(self, table: nn.EmbeddingBag, ngram_ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """A linear model over the idf-weighted n-gram bag (the "wide" part of wide & deep)."""
        return table(ngram_ids, offsets, per_sample_weights=self._bag_weights(ngram_ids, offsets))

    def _bag_weights(self, ngram_ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        lengths = torch.diff(offsets, append=offsets.new_tensor([ngram_ids.shape[0]]))  # (N,)
        bag = torch.repeat_interleave(torch.arange(len(offsets), device=offsets.device), lengths)  # (G,)
        weights = self.idf[ngram_ids]  # (G,)
        totals = weights.new_zeros(len(offsets)).index_add_(0, bag, weights)  # (N,)
        return weights / totals.clamp_min(1e-6)[bag]


class HardSharing(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.tasks = config.tasks
        self.shared = nn.Sequential(
            mlp(config.hidden, config.hidden, config.dropout), mlp(config.hidden, config.hidden, config.dropout)
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.shared(x)
        return {task: h for task in self.tasks}

    def task_specific(self) -> list[list[nn.Parameter]]:
        return []


class MMoE(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.tasks = config.tasks
        self.experts = nn.ModuleList(
            mlp(config.hidden, config.hidden, config.dropout) for _ in range(config.num_experts)
        )
        self.gates = nn.ModuleDict({t: nn.Linear(config.hidden, config.num_experts) for t in self.tasks})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        experts = torch.stack([e(x) for e in self.experts], dim=1)  # (N, E, H)
        out = {}
        for task, gate in self.gates.items():
            weights = torch.softmax(gate(x), dim=-1).unsqueeze(-1)  # (N, E, 1)
            out[task] = x + (weights * experts).sum(1)  # residual keeps the input signal reachable
        return out

    def task_specific(self) -> list[list[nn.Parameter]]:
        return [[g.weight for g in self.gates.values()]]


class PLE(nn.Module):
    """One CGC layer: shared experts plus each task's own, a gate per task over both."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.tasks = config.tasks
        per_group = max(1, config.num_experts // 2)
        self.shared = nn.ModuleList(mlp(config.hidden, config.hidden, config.dropout) for _ in range(per_group))
        self.own = nn.ModuleDict(
            {
                t: nn.ModuleList(mlp(config.hidden, config.hidden, config.dropout) for _ in range(per_group))
                for t in self.tasks
            }
        )
        self.gates = nn.ModuleDict({t: nn.Linear(config.hidden, 2 * per_group) for t in self.tasks})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        shared = [e(x) for e in self.shared]
        out = {}
        for task in self.tasks:
            experts = torch.stack(shared + [e(x) for e in self.own[task]], dim=1)  # (N, 2P, H)
            weights = torch.softmax(self.gates[task](x), dim=-1).unsqueeze(-1)  # (N, 2P, 1)
            out[task] = x + (weights * experts).sum(1)
        return out

    def task_specific(self) -> list[list[nn.Parameter]]:
        groups = []
        for position in range(len(self.shared)):
            groups.append([self.own[t][position][0].weight for t in self.tasks])
        return groups


class CrossStitch(nn.Module):
    """A two-layer column per task; after layer one each column reads a learned mix of all columns."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.tasks = config.tasks
        n = len(self.tasks)
        self.first = nn.ModuleDict({t: mlp(config.hidden, config.hidden, config.dropout) for t in self.tasks})
        self.second = nn.ModuleDict({t: mlp(config.hidden, config.hidden, config.dropout) for t in self.tasks})
        off = 0.1 / max(1, n - 1)
        self.stitch = nn.Parameter(torch.full((n, n), off) + torch.eye(n) * (0.9 - off))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        first = torch.stack([self.first[t](x) for t in self.tasks], dim=0)  # (T, N, H)
        mixed = torch.einsum("ts,snh->tnh", self.stitch, first)  # (T, N, H)
        return {t: x + self.second[t](mixed[i]) for i, t in enumerate(self.tasks)}

    def task_specific(self) -> list[list[nn.Parameter]]:
        return [[self.first[t][0].weight for t in self.tasks], [self.second[t][0].weight for t in self.tasks]]


SCHEMES = {"hard": HardSharing, "mmoe": MMoE, "ple": PLE, "cross_stitch": CrossStitch}


def build_trunk(config: ModelConfig) -> nn.Module:
    return SCHEMES[config.sharing](config)


def soft_sharing_penalty(trunk: nn.Module) -> torch.Tensor:
    """Mean squared distance between same-shaped task-specific weights (pairs within each group)."""
    terms = [(a - b).pow(2).mean() for group in trunk.task_specific() for a, b in itertools.combinations(group, 2)]
    if not terms:
        return next(trunk.parameters()).new_zeros(())
    return torch.stack(terms).mean()
