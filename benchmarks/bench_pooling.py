"""Mean or attention pooling for the shared encoder, decided with short runs (the encoder issue asks for the
pooling to be measured).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_pooling.py [--pooling mean,attention] [--steps 250]
        [--batch 32] [--max-tokens 96] [--seed 13] [--sentences 1500] [--score-lr R] [--json PATH]

Each variant fine-tunes the bundled all-MiniLM-L6-v2 with a linear sentiment head for `--steps` steps of
`--batch` training reviews of both sources (cut to `--max-tokens` tokens), with the same seed, batches and
rates as the other (`FinetuneConfig`'s stage-2 rates and layer-wise decay; linear warm-up over 10% of the steps, then
linear decay).
Attention pooling (a learned score per token, softmax over the text's tokens; Lin et al. 2017's self-attentive
pooling with one head) starts as mean pooling exactly (its score layer starts at zero), so the two runs differ
only in what that layer learns. Both vectors are unit length, as all-MiniLM-L6-v2's own pipeline.

Scored on the validation reviews (never trained on): macro-F1 per source with a 95% bootstrap CI, the paired
bootstrap CI of attention minus mean, Pearson of P(positive) - P(negative) with the stars on a seeded sample
of validation review sentences (each inheriting its review's stars), and the behavioural suite's sentiment
capabilities (% read wrong). A short run on one task: evidence for deciding the pooling of the full staged
training, not a figure of the shipped model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from guide.config import SENTIMENT_LABELS, FinetuneConfig  # noqa: E402
from guide.data.catalog import Catalog  # noqa: E402
from guide.evaluation.behaviour import load_sentiment  # noqa: E402
from guide.evaluation.ood import sentence_sample  # noqa: E402
from guide.metrics import bootstrap_ci, macro_f1, paired_bootstrap_ci, pearson  # noqa: E402
from guide.model.sentence import TokenTable, load_trainable, parameter_groups, transformer  # noqa: E402

POOLINGS = ("mean", "attention")
SCALE = 20.0  # unit vectors into the linear head: a fixed temperature, the same for both poolings
EVAL_CHUNK = 64


class Pool(nn.Module):
    """Token states (N, L, D) and mask (N, L) -> unit-length (N, D): the masked mean, or a softmax over a
    learned per-token score (zero at the start: exactly the mean)."""

    def __init__(self, kind: str, width: int):
        super().__init__()
        if kind not in POOLINGS:
            raise ValueError(f"pooling: expected one of {POOLINGS}; got {kind!r}")
        self.kind = kind
        self.score = nn.Linear(width, 1) if kind == "attention" else None
        if self.score is not None:
            nn.init.zeros_(self.score.weight)
            nn.init.zeros_(self.score.bias)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keep = mask.unsqueeze(-1).to(hidden.dtype)
        if self.score is None:
            pooled = (hidden * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        else:
            weights = torch.softmax(self.score(hidden).squeeze(-1).masked_fill(mask == 0, float("-inf")), dim=1)
            pooled = (weights.unsqueeze(-1) * hidden).sum(1)
            if not self.training:  # how far the learned weights are from the mean's: KL(weights || uniform)
                tokens = mask.sum(1).clamp(min=1).to(hidden.dtype)
                kl = (weights * torch.log(weights.clamp(min=1e-12) * tokens.unsqueeze(1))).sum(1)
                self.spread = [*getattr(self, "spread", []), *kl.tolist()]
        return F.normalize(pooled, dim=-1)


class Reader(nn.Module):
    """The encoder, a pooling and a linear 3-class sentiment head."""

    def __init__(self, kind: str, max_tokens: int):
        super().__init__()
        self.st = load_trainable(max_tokens=max_tokens)
        self.net = transformer(self.st)
        self.head = nn.Linear(self.net.config.hidden_size, len(SENTIMENT_LABELS))
        self.pool = Pool(kind, self.net.config.hidden_size)  # after the head: the same head for both poolings

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.net(**batch).last_hidden_state
        return self.head(SCALE * self.pool(hidden, batch["attention_mask"]))


def seeded_run(kind: str, args) -> tuple[Reader, torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """A fresh reader, its AdamW (stage-2 rates with layer-wise decay; `args.score_lr`, if any, for attention's
    score layer) and the schedule (linear warm-up over 10% of `args.steps`, then linear decay), seeded so that
    every variant of a short run starts from the same weights and dropout draws."""
    torch.manual_seed(args.seed)
    reader = Reader(kind, args.max_tokens)
    torch.manual_seed(args.seed)  # the same dropout draws for every variant
    tune = FinetuneConfig()
    groups = parameter_groups(reader.st, tune.encoder_lr, tune.layer_decay, 0.01)
    groups.append({"params": list(reader.head.parameters()), "lr": tune.head_lr})
    if reader.pool.score is not None:
        groups.append({"params": list(reader.pool.parameters()), "lr": getattr(args, "score_lr", None) or tune.head_lr})
    optimiser = torch.optim.AdamW(groups)
    warm = max(1, args.steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warm, max(0.0, (args.steps - s) / max(1, args.steps - warm)))
    )
    return reader, optimiser, schedule


def train(kind: str, tokens: TokenTable, labels: np.ndarray, args) -> tuple[Reader, float]:
    reader, optimiser, schedule = seeded_run(kind, args)
    rng = np.random.default_rng(args.seed)  # the same batches for every pooling
    reader.train()
    started = time.perf_counter()
    for step in range(args.steps):
        rows = rng.choice(len(tokens), args.batch, replace=False)
        loss = F.cross_entropy(reader(tokens.batch(rows, "cpu")), torch.from_numpy(labels[rows]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if (step + 1) % 50 == 0:
            print(f"  {kind}: step {step + 1}/{args.steps}, loss {loss.item():.3f}, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    return reader, time.perf_counter() - started


@torch.inference_mode()
def probabilities(reader: Reader, texts: list[str], max_tokens: int) -> np.ndarray:
    reader.eval()
    table = TokenTable.build(reader.st.tokenizer, texts, max_tokens)
    order = np.argsort(table.lengths)  # similar lengths together: less padding
    out = np.zeros((len(texts), len(SENTIMENT_LABELS)), np.float32)
    for start in range(0, len(order), EVAL_CHUNK):
        rows = order[start : start + EVAL_CHUNK]
        out[rows] = torch.softmax(reader(table.batch(rows, "cpu")), -1).numpy()
    return out


def score(reader: Reader, sets: dict, args) -> dict:
    out = {}
    for source, (texts, labels) in sets["reviews"].items():
        predicted = probabilities(reader, texts, args.max_tokens).argmax(1)
        out[f"reviews {source}"] = {"predicted": predicted, "labels": labels}
    texts, stars = sets["sentences"]
    probs = probabilities(reader, texts, args.max_tokens)
    out["sentences"] = {"score": probs[:, 2] - probs[:, 0], "stars": stars}
    cases = sets["suite"]
    read = probabilities(reader, [c.text for c in cases], args.max_tokens).argmax(1)
    wrong = {}
    for case, label in zip(cases, read):
        wrong.setdefault(case.capability, []).append(SENTIMENT_LABELS[label] != case.expected)
    out["suite"] = {cap: 100.0 * float(np.mean(v)) for cap, v in wrong.items()}
    spread = getattr(reader.pool, "spread", None)
    if spread:
        out["attention KL from uniform (nats, mean over evaluated texts)"] = float(np.mean(spread))
    return out


def table_row(result: dict, seconds: float) -> dict:
    """One variant's printed row: training seconds, macro-F1 per review source and the sentence Pearson with
    their 95% bootstrap CIs, the suite's % read wrong per capability (and attention's spread, when measured)."""
    row = {"train_seconds": round(seconds, 1)}
    for name, part in result.items():
        if name.startswith("reviews"):
            y, p = part["labels"], part["predicted"]
            low, high = bootstrap_ci(lambda idx, y=y, p=p: macro_f1(y[idx], p[idx], 3), len(y))
            row[f"macro_f1 {name}"] = [round(macro_f1(y, p, 3), 4), round(low, 4), round(high, 4)]
    s = result["sentences"]
    low, high = bootstrap_ci(lambda idx, s=s: pearson(s["score"][idx], s["stars"][idx]), len(s["stars"]))
    row["pearson sentences"] = [round(pearson(s["score"], s["stars"]), 4), round(low, 4), round(high, 4)]
    row["suite % wrong"] = {k: round(v, 1) for k, v in result["suite"].items()}
    row.update({k: round(v, 4) for k, v in result.items() if k.startswith("attention KL")})
    return row


def paired_f1(a: dict, b: dict) -> list[float]:
    """The paired bootstrap 95% CI of macro-F1 (a) minus macro-F1 (b) on the same rows."""
    y = a["labels"]
    low, high = paired_bootstrap_ci(
        [(lambda i: macro_f1(y[i], a["predicted"][i], 3), lambda i: macro_f1(y[i], b["predicted"][i], 3), len(y))]
    )
    return [round(low, 4), round(high, 4)]


def evaluation_sets(catalog: Catalog, args) -> dict:
    reviews = catalog.reviews
    valid = reviews["split"].to_numpy() == "valid"
    sets = {"reviews": {}}
    rows = []
    for source in sorted(reviews["source"].unique()):
        picked = np.flatnonzero(valid & (reviews["source"].to_numpy() == source))
        rows.append(picked)
        sets["reviews"][source] = (
            reviews["full_text"].to_numpy()[picked].tolist(),
            reviews["label"].to_numpy()[picked],
        )
    sentences = sentence_sample(reviews, np.concatenate(rows), args.sentences, args.seed)
    sets["sentences"] = (sentences["text"].tolist(), sentences["rating"].to_numpy(np.float32))
    sets["suite"] = load_sentiment()
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pooling", default=",".join(POOLINGS), help="comma-separated: mean, attention")
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--sentences", type=int, default=1500, help="validation review sentences scored")
    parser.add_argument(
        "--score-lr", type=float, default=None, help="attention pooling's score layer rate (default: the head's)"
    )
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.pooling.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(POOLINGS))
    if unknown or not kinds:
        parser.error(f"--pooling: expected some of {', '.join(POOLINGS)}; got {args.pooling!r}")

    catalog = Catalog.load()
    reviews = catalog.reviews
    train_rows = np.flatnonzero(reviews["split"].to_numpy() == "train")
    sets = evaluation_sets(catalog, args)
    results, seconds = {}, {}
    for kind in kinds:
        reader = Reader(kind, args.max_tokens)  # only for its tokenizer; train() builds the trained one
        tokens = TokenTable.build(
            reader.st.tokenizer, reviews["full_text"].to_numpy()[train_rows].tolist(), args.max_tokens
        )
        del reader
        trained, seconds[kind] = train(kind, tokens, reviews["label"].to_numpy()[train_rows].astype(np.int64), args)
        results[kind] = score(trained, sets, args)

    print(f"\n{args.steps} steps x {args.batch} reviews x {args.max_tokens} tokens, seed {args.seed}; validation:")
    table = {}
    for kind, result in results.items():
        table[kind] = table_row(result, seconds[kind])
        print(f"- {kind}: {json.dumps(table[kind])}")
    if set(POOLINGS) <= set(results):
        diffs = {
            f"macro_f1 {name}": paired_f1(results["attention"][name], results["mean"][name])
            for name in results["mean"]
            if name.startswith("reviews")
        }
        table["attention minus mean (paired 95% CI)"] = diffs
        print(f"- attention minus mean, paired 95% CI: {json.dumps(diffs)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": vars(args), "results": table}, indent=1))


if __name__ == "__main__":
    main()
