"""Fair single-task twins of a staged (fine-tuned) model: each twin gets the encoder its own task would give it.

The twins `evaluate --twins` trains by default read the shared model's fine-tuned encoder, frozen: they
inherit what every other task taught that encoder, so "MTL vs STL" then asks only whether the shared trunk
and heads help. A fair twin answers the question multi-task learning is about, whether one encoder shared by
four tasks reads text as well as an encoder fine-tuned for one:

- attributes and sentiment (whose stage-2 draws run through the transformer): the whole staged training of
  the shared model (`guide.training.staged`: the same stage-1, stage-2 and stage-3 settings, read from the
  shared model's `meta["stages"]`) with that task alone, so the twin fine-tunes its own encoder;
- purchase and profile (which read products from the embedding cache in stage 2, so their gradients never
  reach the encoder): stage 1 and then stage 3 on the frozen base encoder, each with the shared model's
  steps, rate and shoppers per purchase draw for that stage.

Each twin is scored on task data embedded by its own encoder. A staged twin costs what a staged training of
one task costs (on 2 CPU cores: ~20 minutes of stage 2 at 600 steps plus ~12 minutes re-embedding the
texts); every stage is resumable, and a finished twin is reused from `runs/`.

The same replay of the staged recipe, with every task and sentiment learning from one review source, gives the
out-of-domain section its one-source models (`one_source_model`).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
from pathlib import Path

from guide.config import ATTRIBUTES, PURCHASE, SENTIMENT, FinetuneConfig, TrainConfig
from guide.data import task_data
from guide.data.catalog import Catalog
from guide.data.text import Encoder
from guide.evaluation.report import RUNS  # the one home of where evaluation trains into
from guide.model.checkpoint import Checkpoint
from guide.model.run_key import config_key

logger = logging.getLogger(__name__)

TOKEN_TASKS = (ATTRIBUTES, SENTIMENT)  # tasks whose stage-2 draws carry tokens: they fine-tune an encoder
EMBEDDINGS = "fair-embeddings"  # under `runs`: the twins' own encoders' caches, never the shipped assets


def staged_settings(base: Checkpoint) -> FinetuneConfig:
    """The stage-2/3 settings the shared model was trained with; ValueError when it was not trained staged."""
    if not is_staged(base):
        raise ValueError(
            "fair twins: expected a staged checkpoint (meta['stages']['stage2']['finetune']); got a one-stage "
            "model, whose twins already read the same frozen encoder; fix: use `evaluate --twins` without --fair"
        )
    return FinetuneConfig(**base.meta["stages"]["stage2"]["finetune"])


def is_staged(base: Checkpoint) -> bool:
    """Whether `base` was trained the staged way (its stage settings are in its meta)."""
    return "finetune" in (base.meta.get("stages") or {}).get("stage2", {})


def twin_config(base: Checkpoint, task: str):
    """The shared model's stage-1 training configuration with `task` alone, on the base encoder."""
    return stage1_config(base, (task,))


def stage1_config(base: Checkpoint, tasks: tuple[str, ...]):
    """The shared model's stage-1 training configuration with `tasks`, on the base encoder."""
    config = copy.deepcopy(base.config)  # stage 3's: its steps and rate are the refit's, replaced below
    config.model = dataclasses.replace(config.model, tasks=tuple(tasks), encoder="", encoder_id="")
    stage1 = base.meta["stages"].get("stage1", {})
    config.steps = int(stage1.get("steps") or TrainConfig.steps)
    # checkpoints before the stage-1 rate was recorded were trained with the default rate
    config.lr = float(stage1.get("lr") or TrainConfig.lr)
    # stage 3 may draw more shoppers per purchase step (`FinetuneConfig.refit_purchase_users`); stage 1's count
    # is recorded since then, and was stage 3's before
    users = int(stage1.get("purchase_users") or config.data.purchase_users)
    config.data = dataclasses.replace(config.data, purchase_users=users)
    return config


def refit_config(base: Checkpoint, task: str):
    """Stage 3 of a frozen-encoder twin: the shared model's stage-3 steps, rate and purchase draws."""
    tune, config = staged_settings(base), twin_config(base, task)
    return dataclasses.replace(config, steps=tune.refit_steps, lr=tune.refit_lr, data=tune.refit_data(config.data))


def _key_settings(tune: FinetuneConfig, task: str) -> dict:
    """The stage settings a twin's identity depends on: stage 3's purchase draws only for the purchase twin."""
    settings = dataclasses.asdict(tune)
    if task != PURCHASE or not settings["refit_purchase_users"]:
        settings.pop("refit_purchase_users")  # also keeps the identity of twins from before the setting
    if task not in TOKEN_TASKS:
        settings["frozen_recipe"] = "stage 1, then stage 3 warm from it"
    return settings


def twin_folder(base: Checkpoint, task: str, runs: Path = RUNS) -> Path:
    settings = _key_settings(staged_settings(base), task)
    return _run_folder(f"fair-{task}", base, twin_config(base, task), settings, runs)


def _run_folder(name: str, base: Checkpoint, config, settings: dict, runs: Path) -> Path:
    """runs/<name>-<base's data fingerprint>-<hash of the training configuration and the stage settings>."""
    key = hashlib.sha256(json.dumps([config_key(config), settings], sort_keys=True).encode()).hexdigest()[:10]
    return Path(runs) / f"{name}-{base.fingerprint or 'data'}-{key}"


def _staged_into(
    folder: Path, catalog: Catalog, config, tune: FinetuneConfig, progress: bool, runs: Path, split: str = "brand"
) -> None:
    """The whole staged training of `config` with `tune`, resumable under `folder/staged`, saved to `folder`
    with its fine-tuned encoder (its refreshed embeddings cached under `runs/`, never the shipped assets)."""
    from guide.training.staged import save_with_encoder, staged_training

    model, encoder_folder = staged_training(
        catalog, config, tune, folder / "staged", split, resume=True, progress=progress,
        cache_root=Path(runs) / EMBEDDINGS,
    )  # fmt: skip
    model.attribute_split = split
    save_with_encoder(model, encoder_folder, folder)


def fair_twin(
    base: Checkpoint, task: str, catalog: Catalog, progress: bool, split: str = "brand", runs: Path = RUNS
) -> tuple[Checkpoint, task_data.TaskData]:
    """(the fair twin of `base` for `task`, task data embedded by the twin's own encoder), trained into `runs/`
    or reused from there."""
    from guide.training.trainer import train

    tune = staged_settings(base)
    config = twin_config(base, task)
    folder = twin_folder(base, task, runs)
    cache_root = Path(runs) / EMBEDDINGS
    buckets = config.model.ngram_buckets
    if (folder / "config.json").exists():
        logger.info("reusing the fair %s twin from %s", task, folder)
        twin = Checkpoint.load(folder)
    elif task in TOKEN_TASKS:
        logger.info("fair %s twin: a staged training of %s alone into %s", task, task, folder)
        _staged_into(folder, catalog, config, tune, progress, runs, split)
        twin = Checkpoint.load(folder)
    else:
        logger.info("fair %s twin: stages 1 and 3 on the frozen base encoder into %s", task, folder)
        data = task_data.build(catalog, Encoder(), config.data, split, buckets)
        stage1 = train(data, config, catalog, progress=progress, calibrate_after=False)
        state = {k: v.detach().cpu() for k, v in stage1.model.state_dict().items()}
        twin = train(data, refit_config(base, task), catalog, progress=progress, init_state=state)
        twin.attribute_split = split
        twin.save(folder)
        twin = Checkpoint.load(folder)  # scored as saved (float16), like a reused twin
    encoder = twin.sentence_encoder(cache_root if twin.encoder_folder is not None else None)
    return twin, task_data.build(catalog, encoder, config.data, split, buckets)


def one_source_model(base: Checkpoint, source: str, catalog: Catalog, progress: bool, runs: Path = RUNS) -> Checkpoint:
    """`base`'s whole staged recipe (every task, the same stage-1, stage-2 and stage-3 settings) with sentiment
    learning from `source`'s reviews alone: its encoder is fine-tuned without ever reading the other source, so
    that source is out of domain for it (`evaluate --ood --ood-twins` on a staged model). Trained into `runs/`
    (resumable stage by stage) or reused from there; scored on its own encoder's vectors
    (`ood.review_vectors`)."""
    tune = staged_settings(base)
    config = stage1_config(base, base.model.config.tasks)
    config.data = dataclasses.replace(config.data, sentiment_sources=(source,))
    folder = _run_folder(f"ood-{source}-staged", base, config, dataclasses.asdict(tune), runs)
    if not (folder / "config.json").exists():
        logger.info("one-source model (%s reviews only): a staged training into %s", source, folder)
        _staged_into(folder, catalog, config, tune, progress, runs)
    else:
        logger.info("reusing the one-source model (%s reviews only) from %s", source, folder)
    return Checkpoint.load(folder)
