"""Forward passes under concurrency, no browsers: N threads share one `Guide` (as Streamlit's sessions do),
each sending fresh reviews (`predict`: all four outputs over the whole catalogue) back to back. Prints
p50/p95 latency per request, requests per second and asks per pass, with micro-batching of concurrent
requests on and off (max_batch 1: one pass per request, the old one-lock behaviour), measured in one run.

    .venv/bin/python benchmarks/bench_concurrency.py [--threads 1 4 12] [--requests 8]

Torch runs with the serving setting (`GUIDE_TORCH_THREADS`, else 1 intra-op thread), as in the app.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from guide.serving.batching import MAX_BATCH  # noqa: E402
from guide.serving.facade import Guide, use_serving_threads  # noqa: E402

REVIEW = "Shopper {shopper}, review {number}: {text}"
TEXTS = (
    "I have dry, sensitive skin and this cream is the first one that does not sting. Absorbs fast, no film.",
    "Smells awful and it broke me out within two days; I returned it.",
    "Nice colour, lasts most of the day, a little drying on the lips by evening.",
    "Does what it says. Not life changing, fine for the price.",
)


def shoppers(guide: Guide, count: int) -> list[list[str]]:
    """`count` real shoppers' train histories (oldest first), spread over the history lengths."""
    inter = guide.interactions
    train = inter[inter["split"] == "train"].sort_values("timestamp")
    lengths = train.groupby("user_id").size().sort_values()
    users = lengths.index[np.linspace(0, len(lengths) - 1, count).astype(int)]
    return [train.loc[train["user_id"] == user, "item_id"].tolist() for user in users]


def run(guide: Guide, histories: list[list[str]], requests: int, max_batch: int, tag: str) -> dict:
    guide.batcher.max_batch = max_batch
    passes, served = guide.batcher.passes, guide.batcher.served
    latencies, waits, passes_ms, start = [], [], [], threading.Barrier(len(histories))

    def session(number: int) -> None:
        history = histories[number]
        start.wait(timeout=120)
        for k in range(requests):
            text = REVIEW.format(shopper=number, number=k, text=TEXTS[(number + k) % len(TEXTS)]) + f" [{tag}]"
            asked = time.perf_counter()
            guide.predict(history, review=text, review_item=history[-1])
            latencies.append((time.perf_counter() - asked) * 1000)
            waits.append(guide.last_wait_ms)
            passes_ms.append(guide.last_inference_ms)

    threads = [threading.Thread(target=session, args=(n,)) for n in range(len(histories))]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    count = guide.batcher.served - served
    return {
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(float(np.percentile(latencies, 95)), 1),
        "wait_p50_ms": round(statistics.median(waits), 1),
        "pass_p50_ms": round(statistics.median(passes_ms), 1),
        "requests_per_s": round(len(latencies) / wall, 1),
        "asks_per_pass": round(count / max(guide.batcher.passes - passes, 1), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4, 12])
    parser.add_argument("--requests", type=int, default=16, help="reviews each thread sends")
    args = parser.parse_args()
    guide = Guide.load()
    torch_threads = use_serving_threads()
    everyone = shoppers(guide, max(args.threads))
    guide.predict(everyone[0], review="warm up the encoder", review_item=everyone[0][-1])
    results = {}
    for count in args.threads:
        for label, max_batch in (("one pass per request", 1), ("micro-batched", MAX_BATCH)):
            tag = f"{count}-{max_batch}"
            results[f"{count} threads, {label}"] = run(guide, everyone[:count], args.requests, max_batch, tag)
            print(f"{count:>3} threads  {label:<22} {results[f'{count} threads, {label}']}", flush=True)
    load = os.getloadavg()
    print(json.dumps({"torch_threads": torch_threads, "load_average": [round(x, 2) for x in load], **results}))


if __name__ == "__main__":
    main()
