"""Timing the Guide as the app uses it: load, one review through all four heads, catalogue scoring,
sentiment of one review, search. Median and p95 over repeats; numbers printed, not asserted."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

REVIEW = (
    "I have dry, sensitive skin and this cream is the first one that does not sting. "
    "It absorbs fast, no greasy film, and my cheeks stay soft all day. A little pricey but worth it."
)


def _time(fn, repeats: int) -> dict:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 2),
        "p95_ms": round(float(np.percentile(samples, 95)), 2),
        "repeats": repeats,
    }


def run(checkpoint: Path, repeats: int = 30) -> dict:
    from guide.serving.facade import Guide

    started = time.perf_counter()
    guide = Guide.load(checkpoint)
    load_s = time.perf_counter() - started
    shopper = guide.interactions.groupby("user_id")["item_id"].agg(list).iloc[0]
    guide.search("warm up the encoder", 5)
    texts = [REVIEW + f" ({i})" for i in range(repeats)]  # distinct texts: no cache hits
    counter = iter(range(10**9))
    return {
        "device": str(guide.model.device),
        "catalogue_items": int(len(guide.catalog)),
        "load_seconds": round(load_s, 2),
        "predict_review_all_four": _time(
            lambda: guide.predict(shopper, review=texts[next(counter) % repeats], review_item=shopper[0]), repeats
        ),
        "score_catalogue": _time(lambda: guide.score_catalog(shopper), repeats),
        "sentiment_one_review": _time(lambda: guide.sentiment([texts[next(counter) % repeats] + " again"]), repeats),
        "search": _time(lambda: guide.search("gentle cleanser for dry skin", 50), repeats),
    }
