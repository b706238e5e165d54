"""Aspect assignment against the hand-labelled sample, and what the aspects cost per review.

    .venv/bin/python benchmarks/bench_aspects.py            # precision / recall per aspect + ms per review
    .venv/bin/python benchmarks/bench_aspects.py --terms    # the frequent terms the cues were read from
    .venv/bin/python benchmarks/bench_aspects.py --sample   # draw the sentences to label (seed 9; unlabelled)

The sample and its labels are in assets/aspects/ (LABELLING.md says how they were made). The cost is
measured on the shipped model over real products' reviews: sentence splitting, cue matching and the
sentiment head over all sentences of a product in one batch (what the product page does once per product).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from guide.data.aspect_cues import ASPECT_KEYS, assign, frequent_terms, review_sentences  # noqa: E402

FOLDER = ROOT / "assets" / "aspects"
LABELS = FOLDER / "labels.csv"
SEED, SAMPLE_SIZE = 9, 240


def amazon_reviews():
    from guide.data.catalog import Catalog

    reviews = Catalog.load().reviews
    return reviews[reviews["source"] == "amazon"].reset_index(drop=True)


def all_sentences(reviews) -> list[tuple[str, str, str]]:
    """(review_id, item_id, sentence) for every sentence of every review, in the catalogue's order."""
    return [(r.review_id, r.item_id, s) for r in reviews.itertuples() for s in review_sentences(r.title, r.text)]


def draw_sample() -> None:
    if LABELS.exists():
        raise SystemExit(f"expected no {LABELS} (labels are kept); got one. fix: move it away to draw anew")
    rows = all_sentences(amazon_reviews())
    picked = sorted(random.Random(SEED).sample(range(len(rows)), SAMPLE_SIZE))
    FOLDER.mkdir(parents=True, exist_ok=True)
    with LABELS.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["sid", "review_id", "item_id", "sentence", "pass1", "pass2", "final"])
        for number, index in enumerate(picked):
            out.writerow([number, *rows[index], "", "", ""])
    print(f"{SAMPLE_SIZE} of {len(rows):,} sentences -> {LABELS} (label columns empty)")


def print_terms(top: int) -> None:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    sentences = [s for _, _, s in all_sentences(amazon_reviews())]
    print(f"{len(sentences):,} sentences; content words and pairs by the number of sentences holding them")
    print(" ".join(f"{term}:{count}" for term, count in frequent_terms(sentences, ENGLISH_STOP_WORDS, top)))


def read_labels() -> list[dict]:
    with LABELS.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for column in ("pass1", "pass2", "final"):
            keys = [k for k in row[column].split(";") if k]
            unknown = set(keys) - set(ASPECT_KEYS)
            if unknown:
                raise ValueError(f"sid {row['sid']} {column}: expected keys from {ASPECT_KEYS}, got {sorted(unknown)}")
            row[column] = set(keys)
    return rows


def kappa(a: list[bool], b: list[bool]) -> float:
    """Cohen's kappa of two yes/no labellings (1.0 when both agree on a constant label)."""
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def scores(rows: list[dict]) -> dict:
    predicted = [set(assign(r["sentence"])) for r in rows]
    out = {}
    for key in ASPECT_KEYS:
        truth = [key in r["final"] for r in rows]
        said = [key in p for p in predicted]
        tp = sum(t and s for t, s in zip(truth, said))
        out[key] = {
            "labelled": sum(truth),
            "assigned": sum(said),
            "precision": tp / sum(said) if any(said) else None,
            "recall": tp / sum(truth) if any(truth) else None,
            "kappa_passes": kappa([key in r["pass1"] for r in rows], [key in r["pass2"] for r in rows]),
        }
    exact = sum(set(p) == r["final"] for p, r in zip(predicted, rows)) / len(rows)
    return {"sentences": len(rows), "aspects": out, "exact_match": exact}


def cost(repeats: int) -> dict:
    """ms per review: splitting + cues alone, and with the sentiment head (one batch per product)."""
    import torch

    from guide import Guide
    from guide.serving.aspect_chips import AspectIndex

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    reviews = amazon_reviews()
    products = sorted(reviews["item_id"].unique())[:repeats]
    texts = {i: [(r.title, r.text) for r in reviews[reviews["item_id"] == i].itertuples()] for i in products}
    started = time.perf_counter()
    for item in products:
        [assign(s) for title, text in texts[item] for s in review_sentences(title, text)]
    split_ms = (time.perf_counter() - started) * 1000 / sum(map(len, texts.values()))
    guide = Guide.load()
    guide.sentiment(["warm-up: the encoder loads on first use"])
    index, per_review, again = AspectIndex(guide), [], []
    for item in products:
        started = time.perf_counter()
        index.summary(item, [])  # first view: split, cues, one sentiment batch over the aspect sentences
        per_review.append((time.perf_counter() - started) * 1000 / len(texts[item]))
        started = time.perf_counter()
        index.summary(item, [])  # every later view: from the kept sentences
        again.append((time.perf_counter() - started) * 1000)
    return {
        "products": len(products),
        "reviews": sum(map(len, texts.values())),
        "split_and_cues_ms_per_review": round(split_ms, 2),
        "with_sentiment_ms_per_review_median": round(statistics.median(per_review), 1),
        "with_sentiment_ms_per_product_median": round(
            statistics.median(p * len(texts[i]) for p, i in zip(per_review, products)), 1
        ),
        "cached_ms_per_product_median": round(statistics.median(again), 2),
        "device": str(guide.device),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sample", action="store_true", help="draw the sentences to label (refuses over labels)")
    parser.add_argument("--terms", type=int, nargs="?", const=300, help="print the N most frequent terms")
    parser.add_argument("--products", type=int, default=30, help="products timed for the cost")
    parser.add_argument("--no-cost", action="store_true", help="skip loading the model")
    args = parser.parse_args()
    if args.sample:
        return draw_sample()
    if args.terms:
        return print_terms(args.terms)
    result = scores(read_labels())
    if not args.no_cost:
        result["cost"] = cost(args.products)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
