"""Cost of "why" (occlusion through the shipped model, `guide/serving/occlusion.py`): median and p95 ms to
explain the sentiment of a median-length held-out review and the tags of a median and a long (p90) catalogue
product text, beside the sentence encoder alone on the same text (what one fresh prediction costs at least).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_explain.py [--repeats 10]

Prints JSON; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from guide import Guide  # noqa: E402
from guide.serving import occlusion  # noqa: E402


def _time(fn, repeats: int) -> dict:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {"median_ms": round(statistics.median(samples), 1), "p95_ms": round(float(np.percentile(samples, 95)), 1)}


def _nearest(lengths, quantile: float) -> int:
    """Position of the text whose word count is nearest the quantile's."""
    target = lengths.quantile(quantile)
    return int((lengths - target).abs().to_numpy().argmin())


def _case(guide: Guide, text: str, explain_it, repeats: int) -> dict:
    spans, size = occlusion.word_spans(text)
    explain_it()  # warm: the first call may load the encoder
    return {
        "words": len(text.split()),
        "variants_in_one_pass": len(spans) + 1,
        "words_per_span": size,
        "explain": _time(explain_it, repeats),
        "encoder_alone": _time(lambda: guide.encoder.encode([text]), repeats),
    }


def run(repeats: int) -> dict:
    guide = Guide.load()
    reviews = guide.reviews[guide.reviews["split"] == "test"]
    review = reviews["full_text"].iloc[_nearest(reviews["full_text"].str.split().str.len(), 0.5)]
    items = guide.catalog
    lengths = items["text"].str.split().str.len()
    out = {
        "threads": torch.get_num_threads(),
        "device": str(guide.device),
        "max_spans": occlusion.MAX_SPANS,
        "median review": _case(guide, review, lambda: occlusion.explain_review(guide, review), repeats),
    }
    for name, quantile in (("median product", 0.5), ("long product (p90 words)", 0.9)):
        row = _nearest(lengths, quantile)
        item, text = items["item_id"].iat[row], items["text"].iat[row]
        out[name] = _case(guide, text, lambda item=item: occlusion.explain_product(guide, item), repeats)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=10)
    print(json.dumps(run(parser.parse_args().repeats), indent=1))
