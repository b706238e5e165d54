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


def _rss_mb() -> float:
    """Resident memory of this process (Linux /proc), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(checkpoint: Path, repeats: int = 30, memory_reviews: int = 200) -> dict:
    """Every figure beside its goal; ratios measured in the same run on the same texts."""
    from guide.serving.facade import Guide, use_serving_threads

    started = time.perf_counter()
    guide = Guide.load(checkpoint)
    load_s = time.perf_counter() - started
    threads = use_serving_threads()  # as the app serves (ShopService.open): GUIDE_TORCH_THREADS, else 1
    shopper = guide.interactions.groupby("user_id")["item_id"].agg(list).iloc[0]
    guide.search("warm up the encoder", 5)
    texts = [REVIEW + f" ({i})" for i in range(repeats)]  # distinct texts: no cache hits
    encoder_texts = [REVIEW + f" [{i}]" for i in range(repeats)]
    counter = iter(range(10**9))
    encoder = _time(lambda: guide.encoder.embed([encoder_texts[next(counter) % repeats]], persist=False), repeats)
    predict = _time(
        lambda: guide.predict(shopper, review=texts[next(counter) % repeats], review_item=shopper[0]), repeats
    )
    catalogue = _time(lambda: guide.score_catalog(shopper), repeats)
    rss_before = _rss_mb()
    for i in range(memory_reviews):
        guide.predict(shopper, review=f"{REVIEW} memory check {i}", review_item=shopper[0])
    rss_after = _rss_mb()
    ratio = predict["median_ms"] / max(encoder["median_ms"], 1e-9)
    return {
        "device": str(guide.device),
        "torch_threads": threads,
        "catalogue_items": int(len(guide.catalog)),
        "load_seconds": round(load_s, 2),
        "encoder_alone_one_review": encoder,
        "predict_review_all_four": predict,
        "predict_vs_encoder_ratio": {"value": round(ratio, 2), "goal": "<= 2.0", "met": bool(ratio <= 2.0)},
        "score_catalogue": {**catalogue, "goal_ms": 15.0, "met": bool(catalogue["median_ms"] <= 15.0)},
        "sentiment_one_review": _time(lambda: guide.sentiment([texts[next(counter) % repeats] + " again"]), repeats),
        "search": _time(lambda: guide.search("gentle cleanser for dry skin", 50), repeats),
        "memory_mb": {
            "after_load_and_timing": round(rss_before, 1),
            f"after_{memory_reviews}_more_reviews": round(rss_after, 1),
            "growth_per_review_kb": round((rss_after - rss_before) * 1024 / memory_reviews, 1),
        },
    }
