"""How the tasks pull on the shared parameters: cosine similarity between the tasks' gradients.

Every `every` steps the trainer draws one probe batch per task (from a sampler of its own, so the training
draws stay the same whether or not affinity is recorded), takes each task's loss gradient with respect to
the shared encoder and trunk (`GuideModel.shared_parameters`), and records the pairwise cosines beside the
current loss weights. Positive: the tasks push the shared layers the same way (they help each other);
negative: they conflict (what PCGrad projects away); near 0: they use different directions.
"""

from __future__ import annotations

from itertools import combinations

import torch

from guide.metrics.affinity import pair_key
from guide.model.tasks import task_spec


def task_gradients(model, batches: dict[str, tuple[dict, dict]]) -> dict[str, torch.Tensor]:
    """{task: its loss gradient over the shared parameters, flattened}; `.grad` is left untouched."""
    shared = model.shared_parameters()
    out = {}
    for task, (batch, targets) in batches.items():
        loss = task_spec(task).loss(model(batch)[task], targets)
        grads = torch.autograd.grad(loss, shared, allow_unused=True)
        out[task] = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, shared)])
    return out


def cosines(grads: dict[str, torch.Tensor]) -> dict[str, float]:
    """{"a|b": cos(grad a, grad b)} for every pair of tasks (0 where a gradient is all zeros)."""
    out = {}
    for a, b in combinations(grads, 2):
        norm = float(grads[a].norm() * grads[b].norm())
        out[pair_key(a, b)] = float(grads[a] @ grads[b]) / norm if norm > 0 else 0.0
    return out


def gradient_cosines(model, sampler, tasks: tuple[str, ...]) -> dict[str, float]:
    """One probe: a batch per task from `sampler`, the pairwise cosines of their shared-parameter gradients."""
    return cosines(task_gradients(model, {task: sampler.draw(task) for task in tasks}))
