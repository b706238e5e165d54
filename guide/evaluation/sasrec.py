"""SASRec peers of the purchase task (Kang & McAuley 2018), trained here on the benchmark's train sequences.

Two recipes of the same model (`RECIPES`):
- "ce": the paper's architecture for Beauty (d 64, 2 blocks, dropout 0.5) with cross-entropy over all products
  at every position (the RecBole variant the published "SASRec, cross-entropy" row re-ran);
- "ss": the recipe the eSASRec authors (RecSys 2025) give for their "SASRec+SS" row on this benchmark
  (blondered/transformer_benchmark README, "Hyperparameters for all datasets", Beauty: d 64, 1 block, 1 head,
  50 items of history, dropout 0.2, sampled softmax over the target and 256 uniformly drawn products, Adam
  1e-3, up to 200 epochs, patience 50). The repository's `configs/paper/loo/s3_vanilla.yaml` says d 256
  instead; measured here with `fit_sasrec(data, recipe="ss", dim=256, patience=10)`, d 256 peaks at epoch 5
  and reaches test HR@10 0.0735.

Both stop early on validation NDCG@10 (full ranking of 4,000 shoppers) within a minutes budget, and keep the
trained weights under `runs/` keyed by the train sequences, the pool and the recipe, so a report reuses a
peer that took an hour to train.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from guide.config import PROJECT_ROOT
from guide.metrics.ranking import positions
from guide.model.heads import CausalBlock

logger = logging.getLogger(__name__)

Scorer = Callable[[list[np.ndarray]], np.ndarray]  # histories (catalogue rows) -> scores (n, |pool|)
SASREC_CACHE = PROJECT_ROOT / "runs"


class SASRec(torch.nn.Module):
    """Product-id embeddings (tied input/output), learned positions, causal self-attention blocks."""

    def __init__(self, size: int, dim: int = 64, blocks: int = 2, max_length: int = 50, dropout: float = 0.5):
        super().__init__()
        self.items = torch.nn.Embedding(size + 1, dim, padding_idx=0)  # 0 = padding
        self.positions = torch.nn.Embedding(max_length, dim)
        self.blocks = torch.nn.ModuleList(CausalBlock(dim, 1, dropout) for _ in range(blocks))
        self.norm, self.dropout, self.max_length = torch.nn.LayerNorm(dim), torch.nn.Dropout(dropout), max_length
        torch.nn.init.normal_(self.items.weight, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L) right-aligned ids (0 = padding), L <= max_length -> (B, L, D) states. A window trimmed of
        its all-padding left columns gives the same states as the full one (positions count from the
        right edge of the max_length window; padded keys are masked)."""
        steps = torch.arange(self.max_length - ids.shape[1], self.max_length, device=ids.device)
        x = self.dropout(self.items(ids) * self.items.embedding_dim**0.5 + self.positions(steps))
        causal = torch.ones(len(steps), len(steps), dtype=torch.bool, device=ids.device).triu(1)
        padding = ids == 0
        padding[:, -1] = False  # the last slot always holds an item; keeps every attention row defined
        for block in self.blocks:
            x = block(x, causal, padding)
        return self.norm(x)

    def logits(self, states: torch.Tensor) -> torch.Tensor:
        return states @ self.items.weight[1:].T  # (..., size)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How a SASRec peer is built and trained."""

    dim: int = 64  # item and state width
    blocks: int = 2  # causal self-attention blocks
    dropout: float = 0.5
    loss: str = "ce"  # "ce": softmax over every product; "sampled": the target against `negatives` drawn products
    negatives: int = 0  # uniformly drawn products per shopper and batch, shared by the shopper's positions
    lr: float = 1e-3  # Adam
    batch_size: int = 128  # shoppers per step
    epochs: int = 200  # at most
    patience: int = 5  # epochs without a better validation NDCG@10 before stopping

    def __post_init__(self):
        if self.loss not in ("ce", "sampled"):
            raise ValueError(f"SASRec recipe: expected loss 'ce' or 'sampled'; got {self.loss!r}")
        if self.loss == "sampled" and self.negatives < 1:
            raise ValueError(f"SASRec recipe: a sampled softmax needs negatives >= 1; got {self.negatives}")


RECIPES: dict[str, Recipe] = {
    "ce": Recipe(),
    "ss": Recipe(dim=64, blocks=1, dropout=0.2, loss="sampled", negatives=256, patience=50),
}


def right_aligned(sequences: list[np.ndarray], length: int) -> np.ndarray:
    """(n, width) ids, right-aligned and left-padded with 0; width = the longest tail (<= length), >= 1."""
    width = max(1, min(length, max((len(s) for s in sequences), default=1)))
    out = np.zeros((len(sequences), width), np.int64)
    for i, seq in enumerate(sequences):
        tail = seq[-width:]
        if len(tail):
            out[i, -len(tail) :] = tail
    return out


def length_buckets(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of shoppers with similar history lengths, in random order (shuffled within equal lengths):
    a batch is as wide as its longest history, so mixing one 50-item history into every batch would make
    each step ~5x the work on this data (median history 6)."""
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = np.array_split(order, max(1, len(order) // batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def _key(train: list[np.ndarray], pool: np.ndarray, settings: dict) -> str:
    """A hash of what the trained peer depends on: the train sequences, the product pool and the settings."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    digest.update(np.asarray(pool, np.int64).tobytes())
    for seq in train:
        digest.update(np.asarray(seq, np.int64).tobytes() + b"|")
    return digest.hexdigest()[:12]


def _loss(model: SASRec, recipe: Recipe, window: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The recipe's next-product loss over every real position of a (B, L + 1) window of ids."""
    inputs, targets = window[:, :-1], window[:, 1:] - 1  # target -1 = padding
    wanted = targets >= 0  # only where a next product exists
    states = model(inputs)  # (B, L, D)
    if recipe.loss == "ce":
        return torch.nn.functional.cross_entropy(model.logits(states[wanted]), targets[wanted])
    size = model.items.num_embeddings - 1
    drawn = torch.randint(0, size, (len(window), recipe.negatives), generator=generator)  # (B, N)
    positive = (states * model.items(targets.clamp(min=0) + 1)).sum(-1, keepdim=True)  # (B, L, 1)
    negative = torch.bmm(states, model.items(drawn + 1).transpose(1, 2))  # (B, L, N)
    collided = drawn.unsqueeze(1) == targets.unsqueeze(-1)  # (B, L, N): a drawn target is no negative
    logits = torch.cat([positive, negative.masked_fill(collided, float("-inf"))], dim=-1)  # (B, L, 1 + N)
    labels = torch.zeros(int(wanted.sum()), dtype=torch.long)  # the target is column 0
    return torch.nn.functional.cross_entropy(logits[wanted], labels)


def load_cached(path: Path | None, model: torch.nn.Module) -> list[dict] | None:
    """The epoch log of the trained weights at `path`, now loaded into `model`; None when there are none."""
    if path is None or not path.exists():
        return None
    stored = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(stored["state"])
    logger.info("%s: reusing %s (%s)", type(model).__name__, path, stored["log"][-1] if stored["log"] else "no log")
    return stored["log"]


def store(path: Path | None, model: torch.nn.Module, log: list[dict], settings: dict) -> None:
    """The trained weights, the epoch log and the settings under `path` (written whole or not at all)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    torch.save({"state": model.state_dict(), "log": log, "settings": settings}, partial)
    partial.replace(path)


def cached_training(kind: str, model: torch.nn.Module, train: list[np.ndarray], pool: np.ndarray, settings: dict,
                    cache: Path | None, run: Callable[[Path | None], list[dict]]) -> list[dict]:  # fmt: skip
    """The epoch log of `model`'s training, its weights loaded: read back from `cache`
    (`<kind>-<key>.pt`, keyed by the train ids, the pool and `settings`) or trained by `run(resume_file)` and
    stored there; the resume file goes once the weights are stored."""
    path = cache / f"{kind}-{_key(train, pool, settings)}.pt" if cache is not None else None
    log = load_cached(path, model)
    if log is None:
        resume = path.with_suffix(".resume") if path is not None else None  # a run cut short continues there
        log = run(resume)
        store(path, model, log, settings)
        if resume is not None:
            resume.unlink(missing_ok=True)
    return log


def early_stopped(model: torch.nn.Module, losses: Callable[[], Iterator[torch.Tensor]], lr: float,
                  validate: Callable[[], float], epochs: int, patience: int, minutes: float | None,
                  resume: Path | None = None, generators: tuple = ()) -> list[dict]:  # fmt: skip
    """Adam on each loss `losses()` yields, epoch after epoch, until `patience` epochs without a better
    `validate()`, after `epochs`, or past `minutes` of training (None: no time limit); leaves the best epoch's
    weights in `model` and returns the epoch log. With `resume`, every epoch's state (weights, optimiser, best so
    far, the global torch and the `generators`' random states) is written there and a run that stopped continues
    from it as if it had not."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    progress = {"best": -1.0, "best_state": None, "waited": 0, "seconds": 0.0, "log": []}
    if resume is not None and resume.exists():
        saved = torch.load(resume, map_location="cpu", weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        _set_random_states(generators, saved["random"])
        progress = saved["progress"]
        logger.info("%s: resuming after epoch %d from %s", type(model).__name__, len(progress["log"]), resume)
    name = type(model).__name__
    budget = float("inf") if minutes is None else minutes * 60
    while len(progress["log"]) < epochs and progress["waited"] < patience and progress["seconds"] <= budget:
        started = time.perf_counter()
        model.train()
        for loss in losses():
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        score = validate()
        progress["seconds"] += time.perf_counter() - started
        epoch = len(progress["log"]) + 1
        progress["log"].append(dict(epoch=epoch, loss=round(loss.item(), 4), valid_ndcg10=round(score, 5),
                                    seconds=int(progress["seconds"])))  # fmt: skip
        logger.info("%s epoch %d: loss %.3f, valid NDCG@10 %.4f (%.0f s)", name, epoch, loss.item(), score,
                    progress["seconds"])  # fmt: skip
        if score > progress["best"]:
            progress |= {"best": score, "waited": 0}
            progress["best_state"] = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            progress["waited"] += 1
        if resume is not None:
            state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "progress": progress,
                     "random": _random_states(generators)}  # fmt: skip
            torch.save(state, resume.with_suffix(".tmp"))
            resume.with_suffix(".tmp").replace(resume)
    if progress["best_state"] is None:
        raise ValueError(f"{name}: expected a finite validation score after an epoch; got none; fix: check the data")
    model.load_state_dict(progress["best_state"])
    return progress["log"]


def _random_states(generators: tuple) -> list:
    """The global torch random state, then each generator's (numpy Generator or torch.Generator)."""
    return [torch.get_rng_state()] + [
        g.bit_generator.state if isinstance(g, np.random.Generator) else g.get_state() for g in generators
    ]


def _set_random_states(generators: tuple, states: list) -> None:
    torch.set_rng_state(states[0])
    for generator, state in zip(generators, states[1:], strict=True):
        if isinstance(generator, np.random.Generator):
            generator.bit_generator.state = state
        else:
            generator.set_state(state)


def fit(train_rows: list[np.ndarray], pool: np.ndarray, validate: Callable[[Scorer], float], recipe: Recipe,
        minutes: float = 90.0, seed: int = 13, cache: Path | None = SASREC_CACHE) -> Scorer:  # fmt: skip
    """A SASRec peer trained on `train_rows` (catalogue rows per shopper) over `pool`, the epoch with the best
    `validate(scorer)` kept (stopping after `recipe.patience` epochs without one, or past `minutes`)."""
    torch.manual_seed(seed)
    rng, generator = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    model = SASRec(len(pool), dim=recipe.dim, blocks=recipe.blocks, dropout=recipe.dropout)
    train = [positions(s, pool) + 1 for s in train_rows]  # ids 1..size
    settings = dataclasses.asdict(recipe) | dict(minutes=minutes, seed=seed)

    def run(resume: Path | None) -> list[dict]:
        windows = [s[-(model.max_length + 1) :] for s in train]
        lengths = np.array([len(w) for w in windows])

        def losses() -> Iterator[torch.Tensor]:
            for batch in length_buckets(lengths, recipe.batch_size, rng):
                window = torch.from_numpy(right_aligned([windows[i] for i in batch], model.max_length + 1))
                yield _loss(model, recipe, window, generator)

        return early_stopped(model, losses, recipe.lr, lambda: validate(scorer(model, pool)), recipe.epochs,
                             recipe.patience, minutes, resume, (rng, generator))  # fmt: skip

    return stamped(scorer(model, pool), cached_training("sasrec", model, train, pool, settings, cache, run), settings)


def stamped(score: Scorer, log: list[dict], settings: dict) -> Scorer:
    """`score` with what made it: `log`, the training's epoch log, and `settings`, the recipe and budget it was
    trained with (its seed aside: what two seeds of one recipe share)."""
    score.log = log
    score.settings = {key: value for key, value in settings.items() if key != "seed"}
    return score


def scorer(model: SASRec, pool: np.ndarray) -> Scorer:
    """Scores over `pool` from the state after each history's latest product (eval mode: no dropout); a trained
    peer's also carry its epoch log and settings (`stamped`)."""

    @torch.inference_mode()
    def score(histories: list[np.ndarray]) -> np.ndarray:
        model.eval()
        ids = torch.from_numpy(right_aligned([positions(h, pool) + 1 for h in histories], model.max_length))
        return model.logits(model(ids)[:, -1]).numpy()

    return score
