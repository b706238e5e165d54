"""The task registry: one `TaskSpec` per task, read by every stage that has to know what a task is.

A spec says, for one task: the head that reads the shared trunk, its loss, the width of its wide (linear
n-gram) part if it has one, how its logits are read as probabilities, the `TaskSampler` method that draws
its training batch, its headline metric (the report's slices, the metric, which direction is better) and
the trivial peer a single-task twin must at least reach. The network builds heads and wide parts from it,
the trainer takes the loss, the sampler the draw, evaluation the headline and the trivial peer, serving
and `model.outputs` the reader.

Adding a task: (1) its name in `config.TASKS`; (2) its spec here (with its head in `heads.py` and its loss
in `losses.py` when no existing one fits); (3) its targets in `data/tasks.py` and a draw method on
`training.batches.TaskSampler`. What a person sees of it (a result type, a chart) is UI work on top.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT, TASKS, ModelConfig
from guide.model.heads import AttributesHead, ProfileHead, PurchaseHead, SentimentHead
from guide.model.losses import attributes_loss, profile_loss, purchase_loss, sentiment_loss


@dataclass(frozen=True)
class Headline:
    """The metric a task is judged on in the report, on which slices, and which direction is better."""

    slices: tuple[str, ...]
    metric: str
    higher_is_better: bool = True


@dataclass(frozen=True)
class TaskSpec:
    name: str
    head: Callable[[ModelConfig], nn.Module]
    loss: Callable[[torch.Tensor, dict], torch.Tensor]
    read: Callable[[torch.Tensor, ModelConfig], tuple[torch.Tensor, ...]]  # logits -> probabilities
    draw: str  # the TaskSampler method that draws one training batch with its targets
    headline: Headline
    trivial_peer: str  # the peer a single-task twin must reach (below it, the twin failed to train)
    wide: Callable[[ModelConfig], int] | None = None  # width of the wide n-gram logits added to the head's


def _purchase_head(config: ModelConfig) -> nn.Module:
    return PurchaseHead(
        config.hidden,
        config.sequence_dim,
        config.sequence_blocks,
        config.sequence_heads,
        config.max_length,
        config.num_items,
        config.sequence_dropout,
    )


def _read_attributes(logits: torch.Tensor, config: ModelConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(tag probabilities (N, T), category distribution (N, C)): tags are independent, the category is one."""
    n = config.num_tags
    return torch.sigmoid(logits[..., :n]), torch.softmax(logits[..., n:], -1)


def _softmax(logits: torch.Tensor, config: ModelConfig) -> tuple[torch.Tensor]:
    return (torch.softmax(logits, -1),)


TASK_SPECS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            PURCHASE,
            head=_purchase_head,
            loss=purchase_loss,
            read=_softmax,  # over the candidates it was given; serving fuses and calibrates before this
            draw="_purchase",
            headline=Headline(("test",), "full_hr@10"),
            trivial_peer="Popularity",
        ),
        TaskSpec(
            ATTRIBUTES,
            head=lambda c: AttributesHead(c.hidden, c.num_tags, c.num_categories, c.dropout),
            loss=attributes_loss,
            read=_read_attributes,
            draw="_attributes",
            headline=Headline(("brand",), "micro_f1"),
            trivial_peer="Tag prior",
            wide=lambda c: c.num_tags + c.num_categories,
        ),
        TaskSpec(
            SENTIMENT,
            head=lambda c: SentimentHead(c.hidden, c.dropout, c.lexicon_features),
            loss=sentiment_loss,
            read=_softmax,  # negative, neutral, positive
            draw="_sentiment",
            headline=Headline(("amazon", "clothing"), "macro_f1"),
            trivial_peer="Majority class",
            wide=lambda c: 3,
        ),
        TaskSpec(
            PROFILE,
            head=lambda c: ProfileHead(c.hidden, c.num_interests, c.dropout),
            loss=profile_loss,
            read=_softmax,  # a distribution over the interest vocabulary (categories, then tags)
            draw="_profile",
            headline=Headline(("test",), "ndcg_category"),
            trivial_peer="Global prior",
        ),
    )
}
if tuple(TASK_SPECS) != TASKS:
    raise RuntimeError(f"TASK_SPECS: expected one spec per config.TASKS {TASKS}; got {tuple(TASK_SPECS)}")


def task_spec(name: str) -> TaskSpec:
    """The spec of task `name`, or a clear error naming the known tasks."""
    try:
        return TASK_SPECS[name]
    except KeyError:
        raise ValueError(f"task: expected one of {list(TASK_SPECS)}; got {name!r}") from None
