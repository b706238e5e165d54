"""Can review sentences without opinion words teach the neutral reading of a fact? A linear probe on the
shipped model's frozen fine-tuned encoder, measured before any training of the shared model is spent on it.

    .venv/bin/python benchmarks/probe_silver_neutral.py [--checkpoint assets/model] [--reviews 4000] [--seed 0]

The shared model reads statements of fact ("It comes in a 50 ml bottle.") as positive: its only labels are a
review's stars, and a fact inherits the stars of the (mostly positive) review around it. This probe fits a
logistic regression on the encoder's vectors plus the VADER features (the sentiment head's inputs) and adds, as
*silver* neutral examples, sentences of training reviews that carry no opinion by two tests that do not read
the labels being predicted:
- VADER finds no opinion word (its neutral share is 1.0), and the sentence has no negation, "!" or "?";
- no word leans hard towards positive or negative reviews: a naive-Bayes log-odds of each word between the
  training reviews of positive and negative stars, `loose` (mean |log-odds| < 0.35, max < 1.5) or `strict`
  (< 0.2, < 1.0);
and, as another source of text without opinion, product titles from the catalogue.
Printed per variant: macro-F1 on the test reviews of each source (whole reviews, labels from stars) and the
behavioural suite's sentiment capabilities (% read wrong). A probe of the head alone on a frozen encoder:
evidence for a lever, not a figure of the shipped model.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from guide.config import DEFAULT_CHECKPOINT, SENTIMENT_LABELS  # noqa: E402
from guide.data.aspect_cues import split_sentences  # noqa: E402
from guide.data.catalog import Catalog  # noqa: E402
from guide.data.text import lexicon_features, tokens  # noqa: E402
from guide.evaluation.behaviour import load_sentiment  # noqa: E402
from guide.metrics import macro_f1  # noqa: E402
from guide.model.checkpoint import Checkpoint  # noqa: E402

NEGATION = re.compile(r"\b(not|no|never|nothing|none|nor|without|hardly|barely)\b|n't", re.I)
NEUTRAL = SENTIMENT_LABELS.index("neutral")
FILTERS = {"loose": (0.35, 1.5), "strict": (0.2, 1.0)}  # (mean |log-odds| below, max log-odds below)


def log_odds(reviews: pd.DataFrame, rows: np.ndarray) -> collections.defaultdict:
    """word -> log P(word in a positive review) - log P(word in a negative review), add-one smoothed."""
    labels = reviews["label"].to_numpy()
    counts = {label: collections.Counter() for label in (0, 2)}
    for row in rows:
        if labels[row] in counts:
            counts[labels[row]].update(set(tokens(reviews["full_text"].iat[row])))
    n = {label: int(np.sum(labels[rows] == label)) for label in counts}
    odds = collections.defaultdict(float)
    for word in set(counts[0]) | set(counts[2]):
        odds[word] = np.log((counts[2][word] + 1) / (n[2] + 2)) - np.log((counts[0][word] + 1) / (n[0] + 2))
    return odds


def sentences_without_opinion(reviews: pd.DataFrame, rows: np.ndarray, odds, seed: int) -> pd.DataFrame:
    """The training reviews' sentences VADER finds no opinion word in, with their log-odds lean."""
    bodies = [t if isinstance(t, str) else "" for t in reviews["text"].to_numpy()[rows]]
    texts = [sentence for body in bodies for sentence in split_sentences(body)]
    lexicon = lexicon_features(texts)
    kept = []
    for text, features in zip(texts, lexicon):
        words = tokens(text)
        if not 4 <= len(words) <= 25 or features[1] < 0.999 or NEGATION.search(text) or "!" in text or "?" in text:
            continue
        leans = [odds[w] for w in words]
        kept.append((text, abs(float(np.mean(leans))), max(abs(v) for v in leans)))
    return pd.DataFrame(kept, columns=["text", "mean_lean", "max_lean"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    parser.add_argument("--reviews", type=int, default=4000, help="training reviews whose sentences are screened")
    parser.add_argument("--titles", type=int, default=2000, help="catalogue titles drawn as neutral examples")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    catalog = Catalog.load()
    reviews = catalog.reviews
    encoder = Checkpoint.load(args.checkpoint).sentence_encoder()

    def features(texts, shard=None):
        texts = list(texts)
        vectors = encoder.embed(texts, shard_name=shard) if shard else encoder.embed(texts, persist=False)
        return np.hstack([vectors, lexicon_features(texts)])

    x = features(reviews["full_text"], "reviews")
    y, split, source = reviews["label"].to_numpy(), reviews["split"].to_numpy(), reviews["source"].to_numpy()
    train = np.flatnonzero(split == "train")
    rng = np.random.default_rng(args.seed)
    screened = np.sort(rng.choice(train, min(args.reviews, len(train)), replace=False))
    candidates = sentences_without_opinion(reviews, screened, log_odds(reviews, train), args.seed)
    extra = {}
    for name, (mean_below, max_below) in FILTERS.items():
        picked = candidates[(candidates.mean_lean < mean_below) & (candidates.max_lean < max_below)]
        extra[name] = features(picked["text"])
        print(f"silver neutral, {name}: {len(picked):,} of {len(candidates):,} opinion-word-free sentences; e.g.")
        for text in picked["text"].sample(min(5, len(picked)), random_state=args.seed):
            print(f"    {text}")
    titles = catalog.items["title"].dropna().astype(str).to_numpy()
    extra["titles"] = features(titles[rng.choice(len(titles), min(args.titles, len(titles)), replace=False)])

    cases = load_sentiment()
    x_suite = features([c.text for c in cases])
    capabilities = sorted({c.capability for c in cases})
    variants = {
        "reviews only": [],
        "+ loose silver neutral": ["loose"],
        "+ strict silver neutral": ["strict"],
        "+ catalogue titles neutral": ["titles"],
        "+ strict + titles": ["strict", "titles"],
    }
    print(
        f"\n{'variant':28s} {'F1 amazon':>9s} {'F1 clothing':>11s}  " + " ".join(f"{c[:11]:>11s}" for c in capabilities)
    )
    for name, parts in variants.items():
        x_fit = np.vstack([x[train]] + [extra[p] for p in parts])
        y_fit = np.concatenate([y[train]] + [np.full(len(extra[p]), NEUTRAL) for p in parts])
        model = LogisticRegression(C=1.0, max_iter=2000).fit(x_fit, y_fit)
        f1 = {}
        for src in ("amazon", "clothing"):
            test = np.flatnonzero((split == "test") & (source == src))
            f1[src] = macro_f1(y[test], model.predict(x[test]), 3)
        read = np.array(SENTIMENT_LABELS)[model.predict(x_suite)]
        wrong = {
            c: 100 * np.mean([r != k.expected for r, k in zip(read, cases) if k.capability == c]) for c in capabilities
        }
        print(
            f"{name:28s} {f1['amazon']:9.3f} {f1['clothing']:11.3f}  "
            + " ".join(f"{wrong[c]:11.1f}" for c in capabilities)
        )


if __name__ == "__main__":
    main()
