"""How `Guide` serves each task: what one answer is about, and how the model's outputs become a plain result.

A task's answer is about one of three things (its `unit`):
- PRODUCT: every catalogue product is answered once, when the `Guide` loads (`products`, kept on disk with the
  other prepared arrays), and a request reads the rows it names (attributes);
- REVIEW: one answer per review text of a pass (sentiment);
- SHOPPER: one answer per shopper of a pass, from the shopper's row of the task's output (profile). Purchase is a
  shopper task whose share the batched pass computes itself (`sliced=False`, `model_pass.py`): the head's
  catalogue scores fused with the content and transition signals and calibrated, for the rows asked.

`Guide.predict` answers every task of its model through `answers`: the four shipped ones fill `Prediction`'s own
fields, a task registered later (`guide.model.tasks.register`) lands in `Prediction.more` under its name. A task
without an entry here is refused with an error naming this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT
from guide.model.tasks import task_spec

PRODUCT, REVIEW, SHOPPER = "product", "review", "shopper"
UNITS = (PRODUCT, REVIEW, SHOPPER)


@dataclass(frozen=True)
class ServedTask:
    unit: str  # PRODUCT, REVIEW or SHOPPER: what one answer is about
    # PRODUCT: (guide, *the task's read outputs of one product) -> its answer;
    # REVIEW: (guide, logits (n, k), texts) -> one answer per text;
    # SHOPPER: (guide, the shopper's share of the pass, catalogue rows asked for) -> its answer
    answer: Callable[..., object]
    # PRODUCT: (model, every product's representations) -> the logits of every product, read by the task's spec
    catalogue: Callable[[torch.nn.Module, dict], torch.Tensor] | None = None
    arrays: tuple[str, ...] = ()  # PRODUCT: the names its read outputs are kept under, one per output
    sliced: bool = True  # SHOPPER: the shopper's row of the output is its share (False: the pass computes it)

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"unit: expected one of {UNITS}; got {self.unit!r}")
        if self.unit == PRODUCT and (self.catalogue is None or not self.arrays):
            raise ValueError(
                "a PRODUCT task needs `catalogue` (its logits of every product) and `arrays` (the names they are kept "
                f"under); got catalogue={self.catalogue!r}, arrays={self.arrays!r}"
            )


def _purchase(guide, probs: np.ndarray, rows: np.ndarray) -> dict[str, float]:
    ids = guide._ids if rows is guide._all_rows_np else [guide._ids[r] for r in rows]
    return dict(zip(ids, probs.tolist()))


SERVED_TASKS: dict[str, ServedTask] = {
    PURCHASE: ServedTask(SHOPPER, _purchase, sliced=False),
    ATTRIBUTES: ServedTask(
        PRODUCT,
        lambda guide, tags, cats: guide.result_builder.attributes(tags, cats),
        catalogue=lambda model, reps: model.attribute_logits(reps),
        arrays=("item_tags", "item_cats"),
    ),
    SENTIMENT: ServedTask(REVIEW, lambda guide, logits, texts: guide.result_builder.sentiments(logits, texts)),
    PROFILE: ServedTask(SHOPPER, lambda guide, logits, rows: guide.result_builder.profile(logits)),
}


def served_task(task: str) -> ServedTask:
    """How `task` is served; ValueError naming the registry when it has no entry."""
    try:
        return SERVED_TASKS[task]
    except KeyError:
        raise ValueError(
            f"serving: expected an entry for task {task!r} in guide.serving.served_tasks.SERVED_TASKS; got entries "
            f"for {list(SERVED_TASKS)}; fix: add a ServedTask (its unit and how its answer reads) for it there"
        ) from None


def served(tasks) -> dict[str, ServedTask]:
    """{task: ServedTask} of a model's tasks, every one checked to have an entry."""
    return {task: served_task(task) for task in tasks}


def products(model, reps: dict, tasks: dict[str, ServedTask]) -> dict[str, np.ndarray]:
    """Every product's read outputs of each PRODUCT task, under the names its entry gives."""
    out = {}
    for task, how in tasks.items():
        if how.unit == PRODUCT:
            outputs = task_spec(task).read(how.catalogue(model, reps), model.config)
            out.update({name: o.cpu().numpy() for name, o in zip(how.arrays, outputs, strict=True)})
    return out


def share(raw: dict, tasks: dict[str, ServedTask], asks: list, shoppers: list) -> None:
    """Each ask's share of one pass's outputs (`raw`): its texts' rows of every REVIEW task, its shopper's row of
    every sliced SHOPPER task, into `ask.out` (which the pass has already set to a dict)."""
    start = 0
    for ask in asks:
        if ask.texts:
            for task in (t for t, how in tasks.items() if how.unit == REVIEW):
                ask.out[task] = raw[task][start : start + len(ask.texts)]
            start += len(ask.texts)
    for i, ask in enumerate(shoppers):
        for task in (t for t, how in tasks.items() if how.unit == SHOPPER and how.sliced):
            ask.out[task] = raw[task][i]


def answers(guide, tasks: dict[str, ServedTask], out: dict, rows: np.ndarray, product_rows, texts: list[str]) -> dict:
    """{task: answer} of one request: PRODUCT tasks for `product_rows` ({item_id: answer}), REVIEW tasks for its
    text (None without one), SHOPPER tasks for the shopper (`rows`: the catalogue rows asked for)."""
    result = {}
    for task, how in tasks.items():
        if how.unit == PRODUCT:
            kept = guide.product_outputs(task)
            result[task] = {guide._ids[r]: how.answer(guide, *(a[r] for a in kept)) for r in product_rows}
        elif how.unit == REVIEW:
            result[task] = how.answer(guide, out[task], texts)[0] if texts else None
        else:
            result[task] = how.answer(guide, out[task], rows)
    return result
