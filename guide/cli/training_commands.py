"""`python -m guide train` (one stage, or stages 1-3 with --finetune-steps) and `python -m guide search` (an
Optuna study): their arguments, the configuration those describe, and the handlers."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from guide.config import (
    DEFAULT_CHECKPOINT,
    SAMPLINGS,
    SENTIMENT_SOURCES,
    SHARING_SCHEMES,
    TASKS,
    WEIGHTINGS,
    DataConfig,
    ModelConfig,
    TrainConfig,
)


def _configs(args) -> TrainConfig:
    """The training configuration the `train` / `search` arguments describe."""
    data_config = DataConfig(
        clothing_fraction=args.clothing_fraction,
        sephora_fraction=args.sephora_fraction,
        sentiment_sources=tuple(args.sentiment_sources.split(",")),
        sentence_share=args.sentence_share,
        purchase_users=args.purchase_users,
        purchase_negatives=args.purchase_negatives,
        seed=args.seed if args.data_seed is None else args.data_seed,
    )
    model_config = ModelConfig(
        sharing=args.sharing,
        hidden=args.hidden,
        soft_sharing=args.soft_sharing,
        dropout=args.dropout,
        tasks=tuple(args.tasks.split(",")),
        ngram_dim=args.ngram_dim,
        wide=not args.no_wide,
    )
    return TrainConfig(
        steps=args.steps,
        gram_dropout=args.gram_dropout,
        ngram_lr=args.ngram_lr,
        lr=args.lr,
        batch_size=args.batch_size,
        weighting=args.weighting,
        sampling=args.sampling,
        seed=args.seed,
        device=args.device,
        eval_every=args.eval_every,
        sentiment_balance=args.sentiment_balance,
        model=model_config,
        data=data_config,
    )


def _task_data(args, config: TrainConfig):
    from guide.data import task_data
    from guide.data.catalog import Catalog
    from guide.data.text import Encoder

    if args.threads:  # on a shared machine one thread per process beats oversubscribed, spinning pools
        import torch

        torch.set_num_threads(args.threads)
    catalog = Catalog.load(args.data_dir, config.data)
    data = task_data.build(catalog, Encoder(), config.data, args.attribute_split, config.model.ngram_buckets)
    return catalog, data


def _search(args) -> int:
    from guide.metrics.pareto import pareto
    from guide.training.study import run_study

    config = _configs(args)
    _, data = _task_data(args, config)
    document = run_study(data, config, args.trials, Path(args.search_out), args.minutes, args.seed)
    for record in document["trials"]:
        print(f"trial {record['number']:>2}: {record['score']:.4f} {record['params']} {record['val']}")
    front = pareto(document["trials"], list(config.model.tasks))
    print(f"best: trial {document['best']['number']}; trade-off front: trials {front}; written to {args.search_out}")
    report = Path(args.search_out).parent / "report.json"
    if report.exists():  # the saved report carries the study too (evaluate adds it on its next run as well)
        from guide.evaluation.report import merge_saved

        merge_saved({"search": document}, report.parent)
    return 0


def _finetune_config(args):
    from guide.config import FinetuneConfig

    return FinetuneConfig(
        steps=args.finetune_steps,
        batch_size=args.finetune_batch,
        max_tokens=args.max_tokens,
        encoder_lr=args.encoder_lr,
        layer_decay=args.layer_decay,
        freeze_layers=args.freeze_layers,
        head_lr=args.head_lr,
        eval_every=args.finetune_eval_every,
        checkpoint_minutes=args.checkpoint_minutes,
        refit_steps=args.refit_steps,
        refit_lr=args.refit_lr,
        refit_ngram_dim=args.refit_ngram_dim,
        refit_wide=args.refit_wide,
        refit_purchase_users=args.refit_purchase_users,
    )


def _staged(args, config: TrainConfig):
    """Stages 1-3 (`guide/training/staged.py`); None when --stop-after ended stage 2 early."""
    from guide.data.catalog import Catalog
    from guide.training.staged import save_with_encoder, staged_training

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    catalog = Catalog.load(args.data_dir, config.data)
    checkpoint, encoder = staged_training(
        catalog, config, _finetune_config(args), Path(args.run_dir), args.attribute_split, args.resume,
        not args.quiet, args.affinity_every, args.stop_after, args.refresh_cache or None,
    )  # fmt: skip
    if checkpoint is None:
        print(f"stage 2 stopped early; its resume file is in {args.run_dir}: rerun with --resume to continue")
        return None
    save_with_encoder(checkpoint, encoder, args.out)
    return checkpoint


def _train(args) -> int:
    from guide.training.trainer import train

    config = _configs(args)
    if args.finetune_steps:
        checkpoint = _staged(args, config)
        if checkpoint is None:
            return 0
        folder = Path(args.out)
    else:
        catalog, data = _task_data(args, config)
        checkpoint = train(data, config, catalog, progress=not args.quiet, affinity_every=args.affinity_every)
        checkpoint.attribute_split = args.attribute_split
        if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 writes
            return 0
        folder = checkpoint.save(args.out)
    if args.affinity_out and "affinity" in checkpoint.meta:
        _save_affinity(checkpoint, Path(args.affinity_out))
    history = checkpoint.meta["history"]
    best = max(history, key=lambda h: h["score"])["val"] if history else {}
    print(
        f"saved {folder}; best validation step {checkpoint.meta['best_step']} "
        f"({checkpoint.meta['train_seconds']} s): {json.dumps({k: round(v, 4) for k, v in best.items()})}"
    )
    return 0


def _save_affinity(checkpoint, path: Path) -> None:
    """The recorded gradient cosines and loss weights with what run produced them, for the model page."""
    meta = checkpoint.meta
    document = {
        "tasks": list(checkpoint.model.config.tasks),
        "steps": checkpoint.config.steps,
        "weighting": checkpoint.config.weighting,
        "seed": checkpoint.config.seed,
        "every": meta["affinity_every"],
        "best_step": meta.get("best_step"),
        "train_seconds": meta.get("train_seconds"),
        "records": meta["affinity"],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1))
    print(f"affinity: {len(meta['affinity'])} probes written to {path}")


def _training_arguments(t: argparse.ArgumentParser) -> None:
    """What `train` and `search` share: the configuration and the data."""
    t.add_argument("--sharing", choices=SHARING_SCHEMES, default=ModelConfig.sharing)
    t.add_argument("--weighting", choices=WEIGHTINGS, default=TrainConfig.weighting)
    t.add_argument("--sampling", choices=SAMPLINGS, default=TrainConfig.sampling)
    t.add_argument("--tasks", default=",".join(TASKS), help="comma-separated; one task = single-task baseline")
    t.add_argument("--steps", type=int, default=TrainConfig.steps)
    t.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    t.add_argument("--eval-every", type=int, default=TrainConfig.eval_every)
    t.add_argument(
        "--sentiment-balance",
        type=float,
        default=TrainConfig.sentiment_balance,
        help="logit adjustment of the sentiment loss: this x the log class prior (0: plain cross-entropy)",
    )
    t.add_argument("--lr", type=float, default=TrainConfig.lr)
    t.add_argument("--gram-dropout", type=float, default=TrainConfig.gram_dropout)
    t.add_argument("--ngram-lr", type=float, default=TrainConfig.ngram_lr)
    t.add_argument("--dropout", type=float, default=ModelConfig.dropout)
    t.add_argument("--hidden", type=int, default=ModelConfig.hidden)
    t.add_argument("--ngram-dim", type=int, default=ModelConfig.ngram_dim, help="lexical n-gram branch (0: none)")
    t.add_argument("--no-wide", action="store_true", help="no wide (linear n-gram) logits beside the heads")
    t.add_argument("--soft-sharing", type=float, default=0.0)
    t.add_argument("--attribute-split", choices=("brand", "product"), default="brand")
    t.add_argument("--clothing-fraction", type=float, default=1.0)
    t.add_argument("--sephora-fraction", type=float, default=1.0)
    t.add_argument(
        "--sentiment-sources",
        default=",".join(SENTIMENT_SOURCES),
        help="comma-separated review sources sentiment learns from; one source = a model to test out of domain",
    )
    t.add_argument(
        "--sentence-share",
        type=float,
        default=DataConfig.sentence_share,
        help="share of sentiment draws shown as a title or one sentence of the review (0: whole reviews)",
    )
    t.add_argument(
        "--purchase-users",
        type=int,
        default=DataConfig.purchase_users,
        help="shoppers per purchase draw (every position of each sequence is a target)",
    )
    t.add_argument(
        "--purchase-negatives",
        type=int,
        default=DataConfig.purchase_negatives,
        help="products drawn per purchase step as the sampled softmax's negatives",
    )
    t.add_argument("--seed", type=int, default=TrainConfig.seed)
    t.add_argument(
        "--data-seed",
        type=int,
        default=None,
        help="the data's seed (splits, samples; default: --seed): keep it to re-train the same data with other seeds",
    )
    t.add_argument("--device", default=None)
    t.add_argument("--data-dir", default=None)
    t.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")


def _finetune_arguments(t: argparse.ArgumentParser) -> None:
    """The staged training (stage 2 fine-tunes the shared sentence encoder; guide/training/finetune.py)."""
    from guide.config import FinetuneConfig as F

    t.add_argument("--finetune-steps", type=int, default=0, help="stage-2 steps (0: one stage, frozen encoder)")
    t.add_argument("--run-dir", default="runs/finetune", help="where the stages keep their results")
    t.add_argument("--resume", action="store_true", help="continue the staged run in --run-dir where it stopped")
    t.add_argument(
        "--refresh-cache", default="",
        help="where the fine-tuned encoder's embeddings are cached (default: the shipped assets/embeddings); a "
             "model that will not ship (a one-source or trial run) keeps them out of the assets",
    )  # fmt: skip
    t.add_argument("--stop-after", type=int, default=None, help="end stage 2 after this many steps (resumable)")
    t.add_argument("--finetune-batch", type=int, default=F.batch_size)
    t.add_argument("--max-tokens", type=int, default=F.max_tokens)
    t.add_argument("--encoder-lr", type=float, default=F.encoder_lr)
    t.add_argument("--layer-decay", type=float, default=F.layer_decay)
    t.add_argument("--freeze-layers", type=int, default=F.freeze_layers)
    t.add_argument("--head-lr", type=float, default=F.head_lr)
    t.add_argument("--finetune-eval-every", type=int, default=F.eval_every)
    t.add_argument("--checkpoint-minutes", type=float, default=F.checkpoint_minutes)
    t.add_argument("--refit-steps", type=int, default=F.refit_steps)
    t.add_argument("--refit-lr", type=float, default=F.refit_lr)
    t.add_argument("--refit-ngram-dim", type=int, default=0, help="stage 3 adds the n-gram branch (measured)")
    t.add_argument("--refit-wide", action="store_true", help="stage 3 adds the wide n-gram logits (measured)")
    t.add_argument(
        "--refit-purchase-users",
        type=int,
        default=F.refit_purchase_users,
        help="shoppers per purchase draw in stage 3 (0: as stage 1)",
    )


def add_commands(sub) -> None:
    """`train` and `search` on the root parser's subcommands."""
    t = sub.add_parser("train", help="train the multi-task model")
    _training_arguments(t)
    t.add_argument("--out", default=str(DEFAULT_CHECKPOINT))
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--affinity-every", type=int, default=0, help="record task-gradient cosines every N steps")
    t.add_argument("--affinity-out", default="", help="also write the recorded affinity to this JSON file")
    _finetune_arguments(t)
    t.set_defaults(run=_train)
    s = sub.add_parser("search", help="record an Optuna search over sharing, weighting, sampling and rates")
    _training_arguments(s)
    s.add_argument("--trials", type=int, default=12)
    s.add_argument("--minutes", type=float, default=None, help="stop starting trials after this long")
    s.add_argument("--search-out", default=str(DEFAULT_CHECKPOINT / "search.json"))
    s.set_defaults(run=_search, steps=250)
