"""Staged training of one shared encoder with all four tasks (MT-DNN's recipe, Liu et al. 2019).

- stage 1 (`trainer.train`): trunk and heads on the frozen sentence encoder, from cached embeddings (cheap);
- stage 2 (`finetune_encoder`, this file): the encoder fine-tuned jointly with every task. Attribute and
  sentiment draws run their texts through the transformer itself (token ids, length-bucketed batches, at
  most `FinetuneConfig.max_tokens`); purchase and profile read their many products (a draw touches ~1,000)
  from the embedding cache of the encoder as stage 2 found it: re-encoding the catalogue each step costs
  ~8 minutes here, so their product vectors refresh once, after stage 2;
- refresh (`guide.training.staged`): the fine-tuned encoder re-embeds the catalogue and the reviews (the cache
  the app ships);
- stage 3 (`trainer.train`, warm-started): trunk and heads re-fitted on the refreshed cache with the encoder
  frozen, so every task reads exactly the vectors serving computes; best step on validation, calibration.

Stage 2 writes a resume file (`stage2.pt`: weights, optimiser, schedule, every random generator) at least
every `checkpoint_minutes`; `resume=True` continues from it to the same result as an uninterrupted run.
It keeps its last step (no best-step pick: a full validation pass through the transformer costs minutes);
a fixed validation sample is scored every `eval_every` steps to watch it.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from guide.config import ATTRIBUTES, SENTIMENT, FinetuneConfig, TrainConfig
from guide.data.catalog import Catalog
from guide.data.task_data import TaskData
from guide.metrics import accuracy, macro_f1
from guide.model import GuideModel
from guide.model.device import resolve_device, seed_everything
from guide.model.inputs import item_block, text_block
from guide.model.sentence import TokenTable, embed_tokens, freeze_lowest, load_trainable, parameter_groups
from guide.model.tasks import task_spec
from guide.training.batches import TaskSampler, TextTokens
from guide.training.weighting import build_weighting

logger = logging.getLogger(__name__)

RESUME_FILE = "stage2.pt"
EVAL_CHUNK = 64


def text_tokens(catalog: Catalog, data: TaskData, tokenizer, max_tokens: int) -> TextTokens:
    """Token tables of the catalogue texts, the reviews and the free-text formats the sampler draws."""
    from guide.data.formats import format_texts

    items = TokenTable.build(tokenizer, catalog.items["text"].tolist(), max_tokens)
    reviews = TokenTable.build(tokenizer, catalog.reviews["full_text"].tolist(), max_tokens)
    formats = None
    if data.format_rows is not None and len(data.format_rows):
        texts = format_texts(catalog.items, data.format_rows)
        formats = [TokenTable.build(tokenizer, group, max_tokens) for group in texts.values()]
    short = None
    if data.short_texts is not None:
        short = TokenTable.build(tokenizer, data.short_texts.texts, max_tokens)
    return TextTokens(items, reviews, formats, short)


def encode_tokens(batch: dict, encoder) -> dict:
    """Replace each block's cached `emb` by the encoder's output for its `tokens` (where the draw has them)."""
    for key in ("items", "reviews"):
        block = batch.get(key)
        if block is not None and "tokens" in block:
            block["emb"] = embed_tokens(encoder, block.pop("tokens"))  # (N, 384)
    return batch


def _schedule(step: int, total: int, warmup: float = 0.06) -> float:
    """Linear warm-up, then linear decay to 0 (the usual transformer fine-tuning schedule)."""
    ramp = max(1, int(total * warmup))
    return step / ramp if step < ramp else max(0.0, (total - step) / max(1, total - ramp))


def validation_sample(data: TaskData, per_source: int, seed: int) -> dict[str, np.ndarray]:
    """A fixed sample of validation rows watched during stage 2: reviews per source, attribute products."""
    rng = np.random.default_rng(seed)
    picks = {}
    for source in np.unique(data.review_source):
        rows = data.review_rows("valid", source)
        if len(rows):
            picks[source] = np.sort(rng.choice(rows, min(per_source, len(rows)), replace=False))
    products = data.split_rows("valid")
    products = products[data.cat_targets[products] >= 0]
    if len(products):
        picks[ATTRIBUTES] = np.sort(rng.choice(products, min(per_source, len(products)), replace=False))
    return picks


@torch.no_grad()
def watch(model: GuideModel, encoder, data: TaskData, tokens: TextTokens, sample: dict, device) -> dict[str, float]:
    """Sentiment macro-F1 per source and category accuracy on the validation sample, read through the
    encoder as it is now (uncalibrated: class offsets are tuned in stage 3)."""
    model.eval(), encoder.eval()
    out = {}
    for key, rows in sample.items():
        if (ATTRIBUTES if key == ATTRIBUTES else SENTIMENT) not in model.config.tasks:
            continue  # a single-task run (a fair twin) watches only its own task
        predicted = []
        for start in range(0, len(rows), EVAL_CHUNK):
            chunk = rows[start : start + EVAL_CHUNK]
            if key == ATTRIBUTES:
                block, where = item_block(data, chunk, device)
                block["emb"] = embed_tokens(encoder, tokens.items.batch(np.unique(chunk), device))
                logits = model({"items": block, "attr_index": torch.from_numpy(where).to(device)})[ATTRIBUTES]
                predicted.append(logits[:, model.config.num_tags :].argmax(-1).cpu().numpy())
            else:
                block = text_block(data.review_emb, data.review_ngrams, chunk, device, lexicon=data.review_lexicon)
                block["emb"] = embed_tokens(encoder, tokens.reviews.batch(chunk, device))
                predicted.append(model({"reviews": block})[SENTIMENT].argmax(-1).cpu().numpy())
        predicted = np.concatenate(predicted)
        if key == ATTRIBUTES:
            out["category_accuracy"] = accuracy(data.cat_targets[rows], predicted)
        else:
            out[f"sentiment_{key}"] = macro_f1(data.review_labels[rows], predicted)
    model.train(), encoder.train()
    return out


class Stage2:
    """Everything stage 2 changes as it runs, so that it can be saved and resumed exactly."""

    def __init__(self, model: GuideModel, encoder, data: TaskData, tokens: TextTokens, config: TrainConfig,
                 tune: FinetuneConfig, device):  # fmt: skip
        self.model, self.encoder, self.tune, self.device = model, encoder, tune, device
        self.tasks = model.config.tasks
        self.sampler = TaskSampler(
            data, tune.batch_size, config.data.purchase_negatives, np.random.default_rng(config.seed + 2),
            device, config.gram_dropout, config.data.purchase_users, config.model.max_length,
            config.data.format_share, config.data.sentence_share, config.sentiment_balance,
        )  # fmt: skip
        self.sampler.use_tokens(tokens, tune.buckets)
        self.weighting = build_weighting(config.weighting, self.tasks, config.seed).to(device)
        groups = parameter_groups(encoder, tune.encoder_lr, tune.layer_decay, 0.01)
        groups += [
            {"params": [p for p in model.parameters() if p.requires_grad], "lr": tune.head_lr,
             "weight_decay": config.weight_decay},
            {"params": list(self.weighting.parameters()), "lr": tune.head_lr, "weight_decay": 0.0},
        ]  # fmt: skip
        self.optimizer = torch.optim.AdamW(groups)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: _schedule(s, tune.steps))
        self.step, self.seconds, self.history = 0, 0.0, []

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in [*self.encoder.parameters(), *self.model.parameters()] if p.requires_grad]

    def train_step(self) -> dict[str, float]:
        self.model.train(), self.encoder.train()
        losses = {}
        # bfloat16 autocast on CUDA (mixed precision: the transformer's matmuls at tensor-core speed, the
        # weights and the optimiser in float32); a no-op on the CPU, where float32 is faster
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            for task in self.tasks:
                batch, targets = self.sampler.draw(task)
                losses[task] = task_spec(task).loss(self.model(encode_tokens(batch, self.encoder))[task], targets)
        self.optimizer.zero_grad(set_to_none=True)
        self.weighting.backward(losses, self.model)
        torch.nn.utils.clip_grad_norm_(self.parameters(), 5.0)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        return {t: float(v.detach()) for t, v in losses.items()}

    def state(self) -> dict:
        return {
            "step": self.step,
            "seconds": self.seconds,
            "history": self.history,
            "model": self.model.state_dict(),
            "encoder": self.encoder.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "weighting": self.weighting.state_dict(),
            "sampler_rng": self.sampler.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }

    def restore(self, state: dict) -> None:
        self.step, self.seconds, self.history = state["step"], state["seconds"], state["history"]
        self.model.load_state_dict(state["model"])
        self.encoder.load_state_dict(state["encoder"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.weighting.load_state_dict(state["weighting"])
        self.sampler.rng.bit_generator.state = state["sampler_rng"]
        torch.set_rng_state(state["torch_rng"])

    def save(self, path: Path) -> None:
        """Written beside and renamed: an interrupted save leaves the previous resume file whole."""
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.state(), path.with_suffix(".tmp"))
        os.replace(path.with_suffix(".tmp"), path)
        logger.info("stage 2: resume file at step %d written to %s", self.step, path)


def finetune_encoder(
    model: GuideModel,
    catalog: Catalog,
    data: TaskData,
    config: TrainConfig,
    tune: FinetuneConfig,
    run_dir: Path | str,
    resume: bool = True,
    progress: bool = True,
    stop_after: int | None = None,
    encoder_name: str | None = None,
):
    """Stage 2 from the stage-1 `model`: returns (the fine-tuned sentence encoder, the model, meta). With
    `resume`, a resume file in `run_dir` is continued; `stop_after` ends this run after that many steps in
    all (the file is written then: a test of resuming, or a sitting's end)."""
    path = Path(run_dir) / RESUME_FILE
    device = resolve_device(config.device)
    seed_everything(config.seed + 2)
    encoder = load_trainable(encoder_name, tune.max_tokens, device)
    freeze_lowest(encoder, tune.freeze_layers)
    tokens = text_tokens(catalog, data, encoder.tokenizer, tune.max_tokens)
    run = Stage2(model.to(device), encoder, data, tokens, config, tune, device)
    if resume and path.exists():
        run.restore(torch.load(path, map_location=device, weights_only=False))
        logger.info("stage 2: resumed at step %d of %d", run.step, tune.steps)
    sample = validation_sample(data, tune.eval_texts, config.seed)
    last = stop_after if stop_after is not None else tune.steps
    started, saved = time.perf_counter() - run.seconds, time.perf_counter()
    bar = tqdm(total=tune.steps, initial=run.step, disable=not progress, desc="stage 2 (encoder)")
    while run.step < min(last, tune.steps):
        losses = run.train_step()
        bar.update(1)
        if run.step % 10 == 0:
            bar.set_postfix({t[:4]: f"{v:.3f}" for t, v in losses.items()})
        run.seconds = time.perf_counter() - started
        if run.step % tune.eval_every == 0 or run.step == tune.steps:
            watched = watch(run.model, encoder, data, tokens, sample, device)
            run.history.append({"step": run.step, "seconds": round(run.seconds, 1), "val": watched, "loss": losses})
            logger.info("stage 2 step %d (%.0f s): %s", run.step, run.seconds, watched)
        if time.perf_counter() - saved > tune.checkpoint_minutes * 60 or run.step in (last, tune.steps):
            run.save(path)
            saved = time.perf_counter()
    bar.close()
    run.model.eval(), encoder.eval()
    meta = {"steps": run.step, "seconds": round(run.seconds, 1), "history": run.history, "done": run.step >= tune.steps}
    return encoder, run.model, meta
