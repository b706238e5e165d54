"""Loss weighting: how the per-task losses of one step become one update.

Separate from the architecture (LibMTL's split): each strategy is a small class with one method,
`backward(losses, model) -> {task: weight used}`, that leaves gradients in `.grad`. Strategies
with learnable state expose it through `parameters()` so the trainer optimises it too.

- equal:        sum of losses.
- uncertainty:  Kendall, Gal & Cipolla 2018: sum exp(-s_t) L_t + s_t, s_t = log sigma_t^2 learned.
- gradnorm:     Chen et al. 2018: weights learned so each task's gradient norm on the last shared
                layer tracks its relative training rate (alpha = 1.5).
- dwa:          Liu, Johns & Davison 2019: weights from the ratio of each task's recent losses.
- pcgrad:       Yu et al. 2020: per-task gradients on shared parameters; a gradient conflicting
                with another (negative dot product) is projected onto its normal plane.
"""

from __future__ import annotations

import random

import torch
from torch import nn


class Equal(nn.Module):
    def backward(self, losses: dict[str, torch.Tensor], model) -> dict[str, float]:
        torch.stack(list(losses.values())).sum().backward()
        return {task: 1.0 for task in losses}


class Uncertainty(nn.Module):
    def __init__(self, tasks: tuple[str, ...]):
        super().__init__()
        self.log_vars = nn.ParameterDict({t: nn.Parameter(torch.zeros(())) for t in tasks})

    def backward(self, losses, model) -> dict[str, float]:
        total = sum(torch.exp(-self.log_vars[t]) * loss + self.log_vars[t] for t, loss in losses.items())
        total.backward()
        return {t: float(torch.exp(-self.log_vars[t].detach())) for t in losses}


class DWA(nn.Module):
    def __init__(self, tasks: tuple[str, ...], temperature: float = 2.0, window: int = 50):
        super().__init__()
        self.tasks, self.temperature, self.window = tasks, temperature, window
        self.history: list[dict[str, float]] = []  # mean loss per window, newest last
        self._running: dict[str, list[float]] = {t: [] for t in tasks}

    def weights(self) -> dict[str, float]:
        if len(self.history) < 2:
            return {t: 1.0 for t in self.tasks}
        ratios = torch.tensor([self.history[-1][t] / max(self.history[-2][t], 1e-8) for t in self.tasks])
        w = len(self.tasks) * torch.softmax(ratios / self.temperature, dim=0)
        return {t: float(x) for t, x in zip(self.tasks, w)}

    def backward(self, losses, model) -> dict[str, float]:
        weights = self.weights()
        sum(weights[t] * loss for t, loss in losses.items()).backward()
        for t, loss in losses.items():
            self._running[t].append(float(loss.detach()))
        if all(len(v) >= self.window for v in self._running.values()):
            self.history.append({t: sum(v) / len(v) for t, v in self._running.items()})
            self._running = {t: [] for t in self.tasks}
        return {t: weights[t] for t in losses}


class GradNorm(nn.Module):
    def __init__(self, tasks: tuple[str, ...], alpha: float = 1.5, lr: float = 0.025):
        super().__init__()
        self.tasks, self.alpha, self.lr = tasks, alpha, lr
        # updated by its own rule, not the optimiser; a buffer so `.to(device)` moves it with the module
        self.register_buffer("task_weights", torch.ones(len(tasks)), persistent=False)
        self.initial: dict[str, float] = {}

    def backward(self, losses, model) -> dict[str, float]:
        layer = model.encoder.project[0].weight  # last layer every task's gradient flows through
        active = [t for t in self.tasks if t in losses]
        device = next(iter(losses.values())).device
        # every tensor below lives on the losses' device: mixing a CUDA loss with CPU weights fails on GPU
        weights = self.task_weights.to(device)
        w = {t: weights[self.tasks.index(t)] for t in active}
        for t in active:
            self.initial.setdefault(t, max(float(losses[t].detach()), 1e-8))
        norms = torch.stack([torch.autograd.grad(w[t] * losses[t], layer, retain_graph=True)[0].norm() for t in active])
        rates = torch.tensor([float(losses[t].detach()) / self.initial[t] for t in active], device=device)
        target = norms.mean() * (rates / rates.mean()) ** self.alpha
        # d|w_t G_t - target_t| / d w_t = sign(.) * G_t / w_t  (G_t proportional to w_t)
        grads = torch.sign(norms - target) * norms / torch.stack([w[t] for t in active])
        for i, t in enumerate(active):
            k = self.tasks.index(t)
            weights[k] = max(0.05, float(weights[k] - self.lr * grads[i]))
        weights *= len(self.tasks) / float(weights.sum())
        self.task_weights = weights
        sum(weights[self.tasks.index(t)] * losses[t] for t in active).backward()
        return {t: float(weights[self.tasks.index(t)]) for t in active}


class PCGrad(nn.Module):
    def __init__(self, seed: int = 0):
        super().__init__()
        self.rng = random.Random(seed)

    def backward(self, losses, model) -> dict[str, float]:
        shared = model.shared_parameters()
        shared_ids = {id(p) for p in shared}
        grads = []
        for loss in losses.values():
            g = torch.autograd.grad(loss, shared, retain_graph=True, allow_unused=True)
            grads.append(
                torch.cat([(x if x is not None else torch.zeros_like(p)).flatten() for x, p in zip(g, shared)])
            )
        projected = []
        for i, g in enumerate(grads):
            g = g.clone()
            others = [j for j in range(len(grads)) if j != i]
            self.rng.shuffle(others)
            for j in others:
                dot = torch.dot(g, grads[j])
                if dot < 0:
                    g -= dot / grads[j].pow(2).sum().clamp_min(1e-12) * grads[j]
            projected.append(g)
        merged = torch.stack(projected).sum(0)
        # task-specific parameters get their ordinary gradients
        specific = [p for p in model.parameters() if p.requires_grad and id(p) not in shared_ids]
        if specific:
            sum(losses.values()).backward(inputs=specific)
        offset = 0
        for p in shared:  # add: gradients already there (e.g. the soft-sharing term) are kept
            n = p.numel()
            update = merged[offset : offset + n].view_as(p)
            p.grad = update.clone() if p.grad is None else p.grad + update
            offset += n
        return {t: 1.0 for t in losses}


def build_weighting(name: str, tasks: tuple[str, ...], seed: int = 0) -> nn.Module:
    registry = {
        "equal": lambda: Equal(),
        "uncertainty": lambda: Uncertainty(tasks),
        "gradnorm": lambda: GradNorm(tasks),
        "dwa": lambda: DWA(tasks),
        "pcgrad": lambda: PCGrad(seed),
    }
    if name not in registry:
        raise ValueError(f"weighting: expected one of {sorted(registry)}; got {name!r}")
    return registry[name]()
