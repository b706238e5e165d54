"""The task registry: one `TaskSpec` per task, read by every stage that has to know what a task is.

A spec says, for one task: the head that reads the shared trunk, its loss, how its logits are read as
probabilities, which inputs of a batch it answers (`route`), how many training examples its draws come from
(`size`), the draw that makes its training batch, its headline metric (the report's slices, the metric,
which direction is better), the trivial peer a single-task twin must at least reach and the width of its
wide (linear n-gram) part if it has one. The network builds heads and wide parts from it and routes its
forward pass by it, the trainer takes the loss, the sampler the draw and size, evaluation the headline and
the trivial peer, serving and `model.outputs` the reader.

What a later stage does with a task is registered in that stage, keyed by task name, and a task without an
entry there is refused with an error naming the registry (never left out silently): its best-step score and
calibration (`training.validation.VALIDATION`), its report metrics (`evaluation.evaluate.METRICS`), its twin's
export (`evaluation.twin_export.PARTS`, `HELD_OUT`) and how the facade serves it
(`serving.served_tasks.SERVED_TASKS`). A task added at run time (a test's, an experiment's) goes in with
`register` and out with `unregister`; the shipped ones are listed below with their names in `config.TASKS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from guide.config import (
    ATTRIBUTES,
    PROFILE,
    PURCHASE,
    SENTIMENT,
    TASKS,
    ModelConfig,
    add_task_name,
    remove_task_name,
)
from guide.data.task_data import TaskData
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
    # (model, batch, encoded) -> the task's logits when the batch holds its inputs, else None; `encoded` holds the
    # batch's products (`items`, encoded once) and reviews (`reviews`, encoded on first read): `network.Encoded`
    route: Callable[[nn.Module, dict, object], torch.Tensor | None]
    size: Callable[[TaskData], int]  # training examples its draws come from (what proportional sampling weighs)
    # the TaskSampler method (by name) that draws one training batch with its targets, or a function of the sampler
    draw: str | Callable[[object], tuple[dict, dict]]
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


# --- routes: which inputs of a batch each task answers (`GuideModel.forward`) ----------------------------------
def _route_purchase(model, batch: dict, encoded) -> torch.Tensor | None:
    if "history" in batch and "candidates" in batch:
        return model.purchase_logits(encoded.items, batch)
    if "history" in batch and batch.get("catalog"):
        return model.catalog_logits(encoded.items, batch)
    return None


def _route_attributes(model, batch: dict, encoded) -> torch.Tensor | None:
    return model.attribute_logits(encoded.items, batch["attr_index"]) if "attr_index" in batch else None


def _route_sentiment(model, batch: dict, encoded) -> torch.Tensor | None:
    return model.sentiment_logits(encoded.reviews, batch["reviews"].get("lexicon")) if "reviews" in batch else None


def _route_profile(model, batch: dict, encoded) -> torch.Tensor | None:
    return model.profile_logits(encoded.items, batch) if "history" in batch and batch.get("profile") else None


def _shoppers(data: TaskData) -> int:
    return len(data.purchase["train"].target)


TASK_SPECS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            PURCHASE,
            head=_purchase_head,
            loss=purchase_loss,
            read=_softmax,  # over the candidates it was given; serving fuses and calibrates before this
            route=_route_purchase,
            size=_shoppers,
            draw="_purchase",
            headline=Headline(("test",), "full_hr@10"),
            trivial_peer="Popularity",
        ),
        TaskSpec(
            ATTRIBUTES,
            head=lambda c: AttributesHead(c.hidden, c.num_tags, c.num_categories, c.dropout),
            loss=attributes_loss,
            read=_read_attributes,
            route=_route_attributes,
            size=lambda data: len(data.split_rows("train")),
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
            route=_route_sentiment,
            size=lambda data: int(np.count_nonzero(data.review_split == "train")),
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
            route=_route_profile,
            size=_shoppers,
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


def register(spec: TaskSpec) -> None:
    """Add a task at run time (after the shipped ones): models may then have it (`ModelConfig.tasks`). What the
    later stages do with it is registered there (see the module docstring); `unregister` takes it out again."""
    if spec.name in TASK_SPECS:
        raise ValueError(f"register: expected a new task name; got {spec.name!r}, already one of {list(TASK_SPECS)}")
    add_task_name(spec.name)
    TASK_SPECS[spec.name] = spec


def unregister(name: str) -> None:
    """Remove a task added with `register` (the shipped tasks stay)."""
    if name in TASKS or name not in TASK_SPECS:
        raise ValueError(f"unregister: expected a task added with register(); got {name!r}; shipped: {list(TASKS)}")
    remove_task_name(name)
    del TASK_SPECS[name]
