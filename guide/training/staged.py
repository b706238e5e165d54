"""The staged training as one command (`python -m guide train --finetune-steps N`): stage 1 on the frozen
encoder, stage 2 fine-tunes the encoder with every task, the refreshed embedding cache, stage 3 re-fits
trunk and heads on it (see `guide/training/finetune.py` for why each stage is there).

Every stage's result lands in `run_dir` (`stage1/`, `stage2.pt`, `encoder/`), so `resume=True` starts where
a stopped run ended: a finished stage is read back, stage 2 continues from its resume file, the refreshed
embeddings come from their cache.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from pathlib import Path

from guide.config import FinetuneConfig, TrainConfig
from guide.data import task_data
from guide.data.catalog import Catalog
from guide.data.text import EmbeddingCache, Encoder
from guide.model.checkpoint import Checkpoint
from guide.model.device import resolve_device
from guide.model.sentence import export
from guide.training.finetune import finetune_encoder
from guide.training.trainer import train

logger = logging.getLogger(__name__)
ENCODER_FOLDER = "encoder"  # the fine-tuned encoder's folder beside a checkpoint's weights


def _stage1(data, config: TrainConfig, catalog: Catalog, folder: Path, resume: bool, progress: bool) -> Checkpoint:
    saved = folder / "config.json"
    if resume and saved.exists():
        stage1 = Checkpoint.load(folder, resolve_device(config.device))
        if stage1.model.config.to_dict() != dataclasses.replace(config.model, **_vocab(data)).to_dict():
            raise ValueError(
                f"stage 1 in {folder} has another model configuration or data than this run; fix: remove "
                f"{folder} or pass the settings it was trained with"
            )
        logger.info("stage 1: read back from %s", folder)
        return stage1
    stage1 = train(data, config, catalog, progress=progress, calibrate_after=False)
    stage1.save(folder)
    return stage1


def _vocab(data) -> dict:
    return {
        "num_tags": len(data.tags),
        "num_categories": len(data.categories),
        "num_interests": len(data.interests),
        "num_items": len(data.item_emb),
    }


def staged_training(
    catalog: Catalog,
    config: TrainConfig,
    tune: FinetuneConfig,
    run_dir: Path | str,
    attribute_split: str = "brand",
    resume: bool = True,
    progress: bool = True,
    affinity_every: int = 0,
    stop_after: int | None = None,
    cache_root: Path | str | None = None,
) -> tuple[Checkpoint | None, Path | None]:
    """(the stage-3 checkpoint, not yet saved; the fine-tuned encoder's folder), or (None, None) when
    `stop_after` ended stage 2 early (its resume file is in `run_dir`). `cache_root`: where the refreshed
    embeddings go (default `config.embedding_dir()`, the shipped cache)."""
    run_dir = Path(run_dir)
    started = time.perf_counter()
    buckets = config.model.ngram_buckets
    data = task_data.build(catalog, Encoder(), config.data, attribute_split, buckets)
    stage1 = _stage1(data, config, catalog, run_dir / "stage1", resume, progress)
    encoder, model, stage2 = finetune_encoder(
        stage1.model, catalog, data, config, tune, run_dir, resume, progress, stop_after
    )
    if not stage2["done"]:
        return None, None
    folder = run_dir / ENCODER_FOLDER
    if folder.exists():
        shutil.rmtree(folder)
    encoder_id = export(encoder, folder)
    del encoder, data
    refreshed = Encoder(str(folder), EmbeddingCache(cache_root, model_id=encoder_id))
    data = task_data.build(catalog, refreshed, config.data, attribute_split, buckets)  # every text re-embedded
    refit = refit_config(config, tune, encoder_id)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    checkpoint = train(data, refit, catalog, progress=progress, affinity_every=affinity_every, init_state=state)
    checkpoint.attribute_split = attribute_split
    stage3 = {k: checkpoint.meta.pop(k) for k in ("train_seconds", "best_step", "history")}
    checkpoint.meta["stages"] = {
        "stage1": {"steps": config.steps, "lr": config.lr, "purchase_users": config.data.purchase_users,
                   "seconds": stage1.meta.get("train_seconds"), "best_step": stage1.meta.get("best_step")},
        "stage2": stage2 | {"finetune": dataclasses.asdict(tune)},
        "stage3": stage3,
    }  # fmt: skip
    checkpoint.meta["history"] = stage3["history"]
    checkpoint.meta["best_step"] = stage3["best_step"]
    checkpoint.meta["train_seconds"] = round(time.perf_counter() - started, 1)
    return checkpoint, folder


def refit_config(config: TrainConfig, tune: FinetuneConfig, encoder_id: str) -> TrainConfig:
    """Stage 3's training configuration: stage 1's, with the refit's steps, rate, lexical branch and purchase
    draws, reading the fine-tuned encoder (`encoder_id`) from the folder beside the weights."""
    return dataclasses.replace(
        config,
        steps=tune.refit_steps,
        lr=tune.refit_lr,
        model=dataclasses.replace(
            config.model,
            encoder=ENCODER_FOLDER,
            encoder_id=encoder_id,
            ngram_dim=tune.refit_ngram_dim or config.model.ngram_dim,
            wide=tune.refit_wide or config.model.wide,
        ),
        data=tune.refit_data(config.data),
    )


def save_with_encoder(checkpoint: Checkpoint, encoder_folder: Path, out: Path | str) -> Path:
    """The checkpoint and its encoder folder side by side (the encoder first: weights without it won't load)."""
    out = Path(out)
    target = out / ENCODER_FOLDER
    if target.resolve() != encoder_folder.resolve():
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(encoder_folder, target)
    return checkpoint.save(out)
