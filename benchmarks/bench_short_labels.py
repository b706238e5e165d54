"""Labels for the short texts of the sentiment task, decided with short runs: the review's stars alone (as
shipped), or the stars mixed with VADER's reading of the sentence itself (weak supervision).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_short_labels.py [--labels review,vader] [--mix 0.5]
        [--short-share 0.3] [--steps 250] [--batch 32] [--max-tokens 96] [--seed 13] [--json PATH]

Why: a short text (a title, or one sentence of a training review; `guide/data/short_texts.py`) inherits its
review's label, so "I have dry skin." from a 5-star review is taught as positive and the model has no neutral
reading for a statement of fact (the behavioural suite's facts: 84.8% wrong). VADER reads the sentence itself,
with negation rules ("not bad"), and calls a sentence without opinion words neutral. With `--labels vader` a
short text's target is `mix` x its review's one-hot + (1 - mix) x VADER's class (compound >= 0.05 positive,
<= -0.05 negative, else neutral; VADER's own thresholds): where the two agree the target is unchanged, where
they disagree it is split between them. Whole reviews keep their stars.

Each variant fine-tunes the bundled all-MiniLM-L6-v2 with mean pooling and a linear sentiment head
(`bench_pooling.Reader`) for `--steps` steps of `--batch` texts: each row of a batch is, with probability
`--short-share`, one short text of a training review, else a whole training review (both sources). Every variant
sees the same rows, dropout draws and rates; only the short texts' targets differ. Scored as
`bench_pooling.py` scores (validation reviews' macro-F1 with 95% CIs and the paired CI against the first
variant, Pearson of P(pos) - P(neg) with the stars on validation review sentences, the behavioural suite's
sentiment capabilities, % read wrong). A short run on one task: evidence for deciding the full training's
labels, not a figure of the shipped model. The suite is never trained on; its texts are only read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_pooling beside this file

import bench_pooling as bp  # noqa: E402  (sets HF_HUB_OFFLINE and the repo path)
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from guide.config import SENTIMENT_LABELS  # noqa: E402
from guide.data.catalog import Catalog  # noqa: E402
from guide.data.short_texts import pick_short_texts  # noqa: E402
from guide.data.text import lexicon_features  # noqa: E402
from guide.model.sentence import TokenTable  # noqa: E402

LABELS = ("review", "vader")
VADER_POLAR = 0.05  # VADER's own threshold on the compound score


def vader_classes(texts: list[str]) -> np.ndarray:
    """(N,) 0 negative, 1 neutral, 2 positive: VADER's compound score at its own ±0.05 thresholds."""
    compound = lexicon_features(texts)[:, 3]
    return np.where(compound >= VADER_POLAR, 2, np.where(compound <= -VADER_POLAR, 0, 1)).astype(np.int64)


def short_targets(kind: str, review_labels: np.ndarray, texts: list[str], mix: float) -> np.ndarray:
    """(N, 3) soft targets of the short texts: their reviews' one-hot, or mixed with VADER's class."""
    eye = np.eye(len(SENTIMENT_LABELS), dtype=np.float32)
    if kind == "review":
        return eye[review_labels]
    if kind == "vader":
        return mix * eye[review_labels] + (1.0 - mix) * eye[vader_classes(texts)]
    raise ValueError(f"labels: expected one of {LABELS}; got {kind!r}")


def train(tokens: TokenTable, targets: np.ndarray, reviews: int, args) -> tuple[bp.Reader, float]:
    """`tokens`/`targets`: the `reviews` whole reviews first, then the short texts."""
    reader, optimiser, schedule = bp.seeded_run("mean", args)
    rng = np.random.default_rng(args.seed)  # the same rows for every variant
    shorts = len(tokens) - reviews
    reader.train()
    started = time.perf_counter()
    for step in range(args.steps):
        is_short = rng.random(args.batch) < args.short_share
        short_rows = reviews + rng.integers(shorts, size=args.batch)
        rows = np.where(is_short, short_rows, rng.integers(reviews, size=args.batch))
        logits = reader(tokens.batch(rows, "cpu"))
        loss = -(torch.from_numpy(targets[rows]) * F.log_softmax(logits, -1)).sum(-1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if (step + 1) % 50 == 0:
            print(f"  step {step + 1}/{args.steps}, loss {loss.item():.3f}, {time.perf_counter() - started:.0f} s",
                  flush=True)  # fmt: skip
    return reader, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default=",".join(LABELS), help="comma-separated: review, vader")
    parser.add_argument("--mix", type=float, default=0.5, help="with vader: the review label's share of a target")
    parser.add_argument("--short-share", type=float, default=0.3, help="share of batch rows that are short texts")
    parser.add_argument("--per-source", type=int, default=6000, help="training reviews per source giving short texts")
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--sentences", type=int, default=1500, help="validation review sentences scored")
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.labels.split(",") if k.strip()]
    if not kinds or set(kinds) - set(LABELS):
        parser.error(f"--labels: expected some of {', '.join(LABELS)}; got {args.labels!r}")
    if not 0.0 <= args.mix <= 1.0 or not 0.0 <= args.short_share <= 1.0:
        parser.error("--mix and --short-share: expected a share between 0 and 1")

    catalog = Catalog.load()
    reviews = catalog.reviews
    split = reviews["split"].to_numpy()
    train_rows = np.flatnonzero(split == "train")
    labels = reviews["label"].to_numpy().astype(np.int64)
    picked = pick_short_texts(reviews, split, args.per_source, args.seed)
    short_texts = picked["text"].tolist()
    short_labels = labels[picked["review_row"].to_numpy()]
    vader = vader_classes(short_texts)
    agree = float(np.mean(vader == short_labels))
    print(f"{len(short_texts)} short texts; VADER's class agrees with the review's label on {100 * agree:.1f}%; "
          f"VADER neutral on {100 * np.mean(vader == 1):.1f}%", flush=True)  # fmt: skip
    texts = reviews["full_text"].to_numpy()[train_rows].tolist() + short_texts
    tokenizer = bp.Reader("mean", args.max_tokens).st.tokenizer
    tokens = TokenTable.build(tokenizer, texts, args.max_tokens)
    sets = bp.evaluation_sets(catalog, args)
    eye = np.eye(len(SENTIMENT_LABELS), dtype=np.float32)
    results, seconds = {}, {}
    for kind in kinds:
        targets = np.concatenate([eye[labels[train_rows]], short_targets(kind, short_labels, short_texts, args.mix)])
        trained, seconds[kind] = train(tokens, targets, len(train_rows), args)
        results[kind] = bp.score(trained, sets, args)
        print(f"  {kind}: suite % wrong {json.dumps({k: round(v, 1) for k, v in results[kind]['suite'].items()})}",
              flush=True)  # fmt: skip

    print(f"\n{args.steps} steps x {args.batch} texts x {args.max_tokens} tokens, short share {args.short_share}, "
          f"seed {args.seed}; validation:")  # fmt: skip
    table = {"short texts": len(short_texts), "vader agrees with the review label": round(agree, 4)}
    for kind, result in results.items():
        table[kind] = bp.table_row(result, seconds[kind])
        print(f"- {kind}: {json.dumps(table[kind])}")
    first = kinds[0]
    for kind in kinds[1:]:
        diffs = {
            f"macro_f1 {name}": bp.paired_f1(results[kind][name], results[first][name])
            for name in results[first]
            if name.startswith("reviews")
        }
        table[f"{kind} minus {first} (paired 95% CI)"] = diffs
        print(f"- {kind} minus {first}, paired 95% CI: {json.dumps(diffs)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": vars(args), "results": table}, indent=1))


if __name__ == "__main__":
    main()
