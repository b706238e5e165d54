"""Candidate retrieval at a million products: index build, memory, per-shopper latency and recall@10.

    .venv/bin/python benchmarks/bench_retrieval.py [--n 1000000] [--d 64] [--threads 2]

Not a test: prints numbers. The catalogue is synthetic but made of real text vectors: every product is a
normalized convex combination of two random real products' MiniLM embeddings (the shipped item shard in
assets/embeddings) plus small Gaussian noise, projected to d dimensions by a fixed random projection (the
purchase model's item space), with a per-item bias ~ N(0, 0.1) folded in as in serving. Shoppers (200
query vectors) are made the same way. Exact scoring is `exact_top_k`; the index is `CandidateIndex`
with its defaults.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

PARSER = argparse.ArgumentParser(description="Candidate retrieval at a million products")
PARSER.add_argument("--n", type=int, default=1_000_000, help="big catalogue size")
PARSER.add_argument("--small", type=int, default=21_000, help="real-size catalogue")
PARSER.add_argument("--d", type=int, default=64, help="item space dimensions (the purchase model's)")
PARSER.add_argument("--queries", type=int, default=200)
PARSER.add_argument("--k", type=int, default=200, help="candidates per shopper")
PARSER.add_argument("--exact-repeats", type=int, default=50, help="single-shopper exact scorings timed")
PARSER.add_argument("--threads", type=int, default=2)
THREADS = PARSER.parse_known_args()[0].threads  # BLAS reads its thread count when numpy is imported
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from guide.config import embedding_dir, encoder_id  # noqa: E402
from guide.serving.retrieval import THRESHOLD, CandidateIndex, exact_top_k  # noqa: E402

LATENCY_GOAL_MS = 100.0
RECALL_GOAL = 0.95


def real_item_vectors() -> np.ndarray:
    """The shipped MiniLM item embeddings (the `items-*.npz` shard of the embedding cache), float32."""
    folder = embedding_dir() / encoder_id().replace("/", "__")
    shards = sorted(folder.glob("items-*.npz"))
    if not shards:
        raise SystemExit(f"no items-*.npz shard in {folder}: expected the shipped embedding cache")
    blocks = []
    for shard in shards:
        with np.load(shard) as data:
            blocks.append(data["vectors"].astype(np.float32))
    return np.vstack(blocks)


def recombine(real: np.ndarray, n: int, d: int, seed: int, noise: float = 0.02, chunk: int = 100_000) -> np.ndarray:
    """n vectors: normalize(t a + (1 - t) b + noise) for random real a, b and t ~ U(0, 1), then @ projection."""
    rng = np.random.default_rng(seed)
    projection = np.random.default_rng(12345).standard_normal((real.shape[1], d)).astype(np.float32) / np.sqrt(d)
    out = np.empty((n, d), np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        a, b = rng.integers(0, len(real), m), rng.integers(0, len(real), m)
        t = rng.random((m, 1), dtype=np.float32)
        x = t * real[a] + (1 - t) * real[b] + noise * rng.standard_normal((m, real.shape[1]), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[start : start + m] = x @ projection
    return out


def percentiles(times: list[float]) -> tuple[float, float]:
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3)


def single_query_times(search, queries: np.ndarray) -> list[float]:
    search(queries[0])  # warm-up
    times = []
    for query in queries:
        start = time.perf_counter()
        search(query)
        times.append(time.perf_counter() - start)
    return times


def recall_at_10(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found[:, :10], truth[:, :10], strict=True)]))


def mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def run_catalogue(name: str, items: np.ndarray, bias: np.ndarray, users: np.ndarray, k: int, exact_repeats: int):
    n, d = items.shape
    print(f"\n== {name}: {n:,} items x {d} dims (+ bias), {len(users)} shoppers")
    start = time.perf_counter()
    truth, _ = exact_top_k(users, items, 10, bias=bias)
    print(f"exact top-10, {len(users)} shoppers in one batch: {time.perf_counter() - start:.2f} s")
    exact_times = single_query_times(lambda u: exact_top_k(u, items, k, bias=bias), users[:exact_repeats])
    p50, p95 = percentiles(exact_times)
    print(f"exact scoring per shopper (k={k}, {exact_repeats} shoppers): p50 {p50:.1f} ms, p95 {p95:.1f} ms")

    start = time.perf_counter()
    index = CandidateIndex().build(items, bias)
    build = time.perf_counter() - start
    print(
        f"index build: {build:.1f} s (IVF-Flat, nlist {index.index.nlist}, nprobe {index.index.nprobe}); "
        f"memory {index.memory_bytes:,} bytes ({index.memory_bytes / 2**20:.0f} MiB; raw item matrix "
        f"{items.nbytes / 2**20:.0f} MiB)"
    )
    found, _ = index.search(users, 10)
    recall = recall_at_10(found, truth)
    goal = f"goal >= {RECALL_GOAL} at 21k: {mark(recall >= RECALL_GOAL)}" if n < THRESHOLD else "no goal at this size"
    print(f"ANN recall@10 vs exact top-10 ({len(users)} shoppers): {recall:.4f}  [{goal}]")
    p50, p95 = percentiles(single_query_times(lambda u: index.search(u, k), users))
    ok = p50 <= LATENCY_GOAL_MS and p95 <= LATENCY_GOAL_MS
    print(
        f"ANN latency per shopper (k={k}, single query, {len(users)} shoppers): p50 {p50:.2f} ms, p95 {p95:.2f} ms  "
        f"[goal p50/p95 <= {LATENCY_GOAL_MS:.0f} ms: {mark(ok)}]"
    )
    history = np.random.default_rng(5).integers(0, n, (len(users), 50))
    times = []
    for user, own in zip(users, history, strict=True):
        start = time.perf_counter()
        index.search(user, k, exclude=own)
        times.append(time.perf_counter() - start)
    p50, p95 = percentiles(times)
    print(f"ANN latency with 50 history items excluded (over-fetch k+50): p50 {p50:.2f} ms, p95 {p95:.2f} ms")


def main() -> None:
    args = PARSER.parse_args()

    import faiss

    faiss.omp_set_num_threads(args.threads)
    total = time.perf_counter()
    real = real_item_vectors()
    print(
        f"catalogue: RECOMBINED from {len(real):,} real MiniLM item vectors ({real.shape[1]}-d, shipped cache): each "
        f"item = normalize(t*a + (1-t)*b + N(0, 0.02^2)) for random real a, b, t ~ U(0,1), then a fixed random "
        f"projection to {args.d}-d; bias ~ N(0, 0.1) folded in; shoppers made the same way"
    )
    print(f"faiss {faiss.__version__}, {args.threads} threads; numpy {np.__version__}; exact below {THRESHOLD:,} items")
    users = recombine(real, args.queries, args.d, seed=7)
    for name, n, seed in (("real-size catalogue", args.small, 1), ("big catalogue", args.n, 2)):
        start = time.perf_counter()
        items = recombine(real, n, args.d, seed=seed)
        bias = np.random.default_rng(seed + 100).normal(0, 0.1, n).astype(np.float32)
        print(f"\n(made {n:,} items in {time.perf_counter() - start:.1f} s)")
        run_catalogue(name, items, bias, users, args.k, args.exact_repeats)
        del items, bias
    print(f"\ntotal {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
