"""Joint trainer: one batch per drawn task each step, losses combined by a weighting strategy.

Single-task baselines are this trainer with `ModelConfig.tasks` set to one task. The validation
score (mean of each task's headline metric) picks the best step; after training, per-tag
thresholds and sentiment class offsets are tuned on validation data and saved with the weights.
Under `torchrun` it trains data-parallel (torch.distributed, gloo on CPU, nccl on GPU): each rank
draws its own batches, and after every backward the gradients are all-reduced (averaged) across
ranks before the step — what DistributedDataParallel does, done explicitly because a step here
runs several forwards (one per task) before one combined backward, which DDP's hooks do not allow.
"""

from __future__ import annotations

import copy
import logging
import os
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from guide.config import EMBED_DIM, SAMPLINGS, TrainConfig
from guide.data.catalog import Catalog
from guide.data.task_data import TaskData
from guide.model import GuideModel
from guide.model.checkpoint import Checkpoint
from guide.model.device import resolve_device, seed_everything
from guide.model.tasks import task_spec
from guide.training.affinity import gradient_cosines
from guide.training.batches import TaskSampler
from guide.training.validation import calibrate, check_tasks, validation_score
from guide.training.weighting import build_weighting

logger = logging.getLogger(__name__)


def task_probabilities(sizes: dict[str, int], sampling: str, progress: float) -> dict[str, float]:
    """Chance that a task is drawn in a step. uniform: always; proportional: by data set size;
    annealed: size ** alpha with alpha going 1 -> 0 over training (Stickland & Murray 2019)."""
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling: expected one of {SAMPLINGS}; got {sampling!r}")
    if sampling == "uniform":
        return {t: 1.0 for t in sizes}
    alpha = 1.0 if sampling == "proportional" else 1.0 - progress
    weights = {t: max(n, 1) ** alpha for t, n in sizes.items()}
    top = max(weights.values())
    return {t: w / top for t, w in weights.items()}


def _distributed() -> tuple[int, int]:
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _average_gradients(parameters: list[torch.nn.Parameter], world: int) -> None:
    for parameter in parameters:
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
        torch.distributed.all_reduce(parameter.grad)
        parameter.grad /= world


def build_model(data: TaskData, config: TrainConfig) -> GuideModel:
    model_config = copy.deepcopy(config.model)
    model_config.num_tags = len(data.tags)
    model_config.num_categories = len(data.categories)
    model_config.num_interests = len(data.interests)
    model_config.num_items = len(data.item_emb)
    model = GuideModel(model_config)
    if len(data.idf) != model_config.ngram_buckets:
        raise ValueError(
            f"idf table has {len(data.idf)} buckets; the model expects {model_config.ngram_buckets}; "
            "fix: build the task data with the model's ngram_buckets"
        )
    model.encoder.idf.copy_(torch.from_numpy(data.idf))
    return model


def _warm_start(model: GuideModel, state: dict) -> None:
    """Load `state` into `model`; only a lexical branch the state lacks (new n-gram tables) may stay new. Its
    columns of the input projection start at 0, so the warm model's outputs are unchanged at the start."""
    state = dict(state)
    name = "encoder.project.0.weight"
    mine = model.state_dict()[name]
    if name in state and state[name].shape != mine.shape and state[name].shape[0] == mine.shape[0]:
        old, features = state[name], model.config.item_features
        grown = torch.zeros_like(mine)
        grown[:, :EMBED_DIM], grown[:, -features:] = old[:, :EMBED_DIM], old[:, -features:]
        state[name] = grown  # (H, 384 + ngram_dim + F): the n-gram columns new, at 0
    missing, unexpected = model.load_state_dict(state, strict=False)
    lexical = ("encoder.ngrams.", "encoder.norm_bag.", "wide.")
    if unexpected or [k for k in missing if not k.startswith(lexical)]:
        raise ValueError(
            f"init_state: expected the weights of this model (a new lexical branch aside); got missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}; fix: warm-start from a model of the same configuration"
        )


def _optimizer(model: GuideModel, weighting: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    shared = [model.encoder.ngrams.weight] if model.encoder.ngrams is not None else []
    ngram = shared + [table.weight for table in model.wide.values()]
    ids = {id(p) for p in ngram}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return torch.optim.AdamW(
        [
            {"params": ngram, "lr": config.ngram_lr, "weight_decay": config.ngram_weight_decay},
            {"params": rest, "lr": config.lr, "weight_decay": config.weight_decay},
            {"params": list(weighting.parameters()), "lr": config.lr, "weight_decay": 0.0},
        ]
    )


def _probe(model, probe: TaskSampler, tasks, step: int, weights: dict, device) -> dict:
    """One affinity record; the global RNG (dropout) is restored after, so training draws the same masks."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        cosine = gradient_cosines(model, probe, tasks)
    return {"step": step, "cosine": cosine, "weights": {t: float(w) for t, w in weights.items()}}


def train(
    data: TaskData,
    config: TrainConfig,
    catalog: Catalog | None = None,
    progress: bool = True,
    affinity_every: int = 0,
    calibrate_after: bool = True,
    init_state: dict | None = None,
) -> Checkpoint:
    """Train on `data`; returns the best-on-validation checkpoint (not yet saved). With `affinity_every`,
    every that many steps the cosines between the tasks' gradients on the shared layers are recorded with
    the loss weights in `meta["affinity"]` (probe batches of their own: the training itself is unchanged).
    `calibrate_after=False` skips the validation-tuned thresholds and fusion (a search trial needs only the score).
    `init_state`: weights to start from (a warm start, e.g. stage 3 of the staged training) instead of new ones."""
    if affinity_every < 0:
        raise ValueError(f"affinity_every: expected >= 0 (0: off); got {affinity_every}")
    check_tasks(config.model.tasks)  # a task without a validation score fails here, not after training
    rank, world = _distributed()
    seed_everything(config.seed + rank)
    device = resolve_device(config.device)
    model = build_model(data, config)
    if init_state is not None:
        _warm_start(model, init_state)
    model = model.to(device)
    tasks = model.config.tasks
    if world > 1:  # every rank starts from rank 0's weights
        for tensor in model.state_dict().values():
            torch.distributed.broadcast(tensor, src=0)
    weighting = build_weighting(config.weighting, tasks, config.seed).to(device)
    optimizer = _optimizer(model, weighting, config)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[config.ngram_lr, config.lr, config.lr], total_steps=config.steps, pct_start=0.1
    )
    sampler = TaskSampler(
        data,
        config.batch_size,
        config.data.purchase_negatives,
        np.random.default_rng(config.seed + rank),
        device,
        config.gram_dropout,
        config.data.purchase_users,
        config.model.max_length,
        config.data.format_share,
        config.data.sentence_share,
        config.sentiment_balance,
    )
    sizes = {t: n for t, n in sampler.sizes().items() if t in tasks}
    probe = copy.copy(sampler)  # same data and settings, its own draws
    probe.rng = np.random.default_rng(config.seed + 7919 + rank)
    affinity: list[dict] = []
    rng = np.random.default_rng(config.seed + 1000 + rank)
    best = (-np.inf, None, 0)
    history: list[dict] = []
    started = time.perf_counter()
    bar = tqdm(range(1, config.steps + 1), disable=not progress or rank != 0, desc="train")
    for step in bar:
        model.train()
        chance = task_probabilities(sizes, config.sampling, step / config.steps)
        drawn = [t for t in tasks if rng.random() < chance[t]] or [max(chance, key=chance.get)]
        losses = {}
        for task in drawn:
            batch, targets = sampler.draw(task)
            losses[task] = task_spec(task).loss(model(batch)[task], targets)
        optimizer.zero_grad(set_to_none=True)
        reg = model.regularisation()
        if reg.requires_grad:
            reg.backward(retain_graph=True)
        weights = weighting.backward(losses, model)
        if world > 1:
            _average_gradients(list(model.parameters()) + list(weighting.parameters()), world)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        scheduler.step()
        if affinity_every and step % affinity_every == 0 and rank == 0 and len(tasks) > 1:
            affinity.append(_probe(model, probe, tasks, step, weights, device))
        if step % 25 == 0:
            bar.set_postfix({t[:4]: f"{float(v.detach()):.3f}" for t, v in losses.items()})
        if (step % config.eval_every == 0 or step == config.steps) and rank == 0:
            score, metrics = validation_score(model, data, device)
            model.train()
            history.append(
                {
                    "step": step,
                    "score": score,
                    "val": metrics,
                    "loss": {t: float(v.detach()) for t, v in losses.items()},
                    "weights": weights,
                }
            )
            logger.info("step %d: validation score %.4f %s", step, score, metrics)
            if score > best[0]:
                best = (score, copy.deepcopy(model.state_dict()), step)
    if best[1] is not None:
        model.load_state_dict(best[1])
    model.eval()
    calibration = calibrate(model, data, device) if calibrate_after else {}
    meta = {
        "train_seconds": round(time.perf_counter() - started, 1),
        "best_step": best[2],
        "history": history,
        "world_size": world,
        **({"affinity": affinity, "affinity_every": affinity_every} if affinity else {}),
        "device": str(device),
    }
    return Checkpoint(
        model=model,
        config=config,
        tags=data.tags,
        categories=data.categories,
        calibration=calibration,
        fingerprint=catalog.fingerprint() if catalog else "",
        meta=meta,
        interests=list(data.interest_names or []),
        interest_kinds=[] if data.interest_kinds is None else list(data.interest_kinds),
    )
