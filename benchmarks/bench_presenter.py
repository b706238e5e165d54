"""What the shop answers to the texts a presenter types first (the ones the issues quote), through the public API.

    .venv/bin/python benchmarks/bench_presenter.py [--checkpoint assets/model]

Prints each review text's label and score and each product text's category and top tags. The behavioural suite
(`benchmarks/bench_behaviour.py`) is the measure; this is the first screen of a demo, printed as it is.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from guide.config import DEFAULT_CHECKPOINT  # noqa: E402

REVIEWS = (
    "Not bad at all, I'd buy it again.",
    "Not my favorite.",
    "Wanted to love it but it broke me out.",
    "Love it!",
    "It arrived on Tuesday.",
)
PRODUCTS = (
    "face serum for dry skin",
    "matte red lipstick",
    "Hydrating hyaluronic acid face serum for dry skin, vegan and fragrance free",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from guide import Guide

    guide = Guide.load(args.checkpoint)
    for text, result in zip(REVIEWS, guide.sentiment(list(REVIEWS)), strict=True):
        print(f"{text!r:60} -> {result.label} ({result.score:+.2f})")
    for text, result in zip(PRODUCTS, guide.attributes(list(PRODUCTS)), strict=True):
        print(f"{text!r:60} -> {result.category}; tags {', '.join(result.predicted[:4]) or '(none)'}")


if __name__ == "__main__":
    main()
