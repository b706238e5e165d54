"""For you at a million products, through the shop's own path: `guide.serving.candidates.CandidateStage`.

    .venv/bin/python benchmarks/bench_retrieval.py [--n 1000000] [--d 64] [--threads 2]

Not a test: prints numbers. The catalogue is synthetic but made of real text vectors: every product is a
normalized convex combination of two random real products' MiniLM embeddings (the shipped item shard in
assets/embeddings) plus small Gaussian noise; that unit vector is the content signal's, and a fixed random
projection of it to d dimensions the purchase head's item vector, with a per-item bias ~ N(0, 0.1). Shoppers
(200) get a user vector made the same way and a history of 50 random products (masked, and the content
profile's input); the transition graph comes from random 6-product sequences. The fusion weights and the
temperature are the shipped checkpoint's. Per shopper it times what the `Guide` runs past the threshold
(`CandidateStage.probabilities`: the index's candidates plus graph neighbours, scored exactly, softmax) and
what it runs below it (every product fused, history masked, softmax), and the recall@10 of the first against
the second. `CandidateStage` is built with the threshold under the catalogue, as `GUIDE_RETRIEVAL_THRESHOLD`
does in the shop.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

PARSER = argparse.ArgumentParser(description="For you at a million products (CandidateStage)")
PARSER.add_argument("--n", type=int, default=1_000_000, help="big catalogue size")
PARSER.add_argument("--small", type=int, default=21_000, help="real-size catalogue")
PARSER.add_argument("--d", type=int, default=64, help="item space dimensions (the purchase model's)")
PARSER.add_argument("--queries", type=int, default=200)
PARSER.add_argument("--k", type=int, default=200, help="candidates per shopper")
PARSER.add_argument("--exact-repeats", type=int, default=50, help="single-shopper exact scorings timed")
PARSER.add_argument("--history", type=int, default=50, help="products each shopper owns (masked)")
PARSER.add_argument("--threads", type=int, default=2)
THREADS = PARSER.parse_known_args()[0].threads  # BLAS reads its thread count when numpy is imported
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from guide.config import DEFAULT_CHECKPOINT, embedding_dir, encoder_id  # noqa: E402
from guide.data.purchase_signals import TransitionGraph, content_scores  # noqa: E402
from guide.model.fusion import Fusion  # noqa: E402
from guide.serving.candidates import CandidateStage  # noqa: E402
from guide.serving.retrieval import THRESHOLD  # noqa: E402

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


def recombine(real: np.ndarray, n: int, d: int, seed: int, noise: float = 0.02, chunk: int = 100_000):
    """(unit (n, 384), projected (n, d)): normalize(t a + (1 - t) b + noise) for random real a, b and
    t ~ U(0, 1), and that @ a fixed projection."""
    rng = np.random.default_rng(seed)
    projection = np.random.default_rng(12345).standard_normal((real.shape[1], d)).astype(np.float32) / np.sqrt(d)
    unit = np.empty((n, real.shape[1]), np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        a, b = rng.integers(0, len(real), m), rng.integers(0, len(real), m)
        t = rng.random((m, 1), dtype=np.float32)
        x = t * real[a] + (1 - t) * real[b] + noise * rng.standard_normal((m, real.shape[1]), dtype=np.float32)
        unit[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return unit, unit @ projection


def shipped_fusion() -> tuple[Fusion, float]:
    """The shipped checkpoint's fusion weights and temperature (its config.json's calibration)."""
    import json

    calibration = json.loads((DEFAULT_CHECKPOINT / "config.json").read_text())["calibration"]
    return Fusion(**calibration["purchase_fusion"]), float(calibration["purchase_temperature"])


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


def exact_logits(stage: CandidateStage, user: np.ndarray, history: np.ndarray) -> np.ndarray:
    """(N,) the exact path's fused, tempered logits of every product (as `ModelPass.fused`), history masked."""
    neural = user @ stage.items.T + stage.bias
    content = content_scores(stage.unit_emb, [history], None)
    graph = stage.transitions.scores([history], np.arange(stage.size))
    logits = stage.fusion.combine(neural[None, :], content, graph)[0] / stage.temperature
    logits[history] = -np.inf
    return logits


def exact_probabilities(stage: CandidateStage, user: np.ndarray, history: np.ndarray) -> np.ndarray:
    logits = exact_logits(stage, user, history)
    probs = np.exp(logits - logits.max())
    return probs / probs.sum()


def run_catalogue(name: str, unit, items, bias, users, histories, graph, args) -> None:
    n, d = items.shape
    fusion, temperature = shipped_fusion()
    print(f"\n== {name}: {n:,} items x {d} dims (+ bias, + {unit.shape[1]}-d content), {len(users)} shoppers")
    start = time.perf_counter()
    stage = CandidateStage(np.hstack([items, bias[:, None]]), unit, graph, fusion, temperature, threshold=0, k=args.k)
    build = time.perf_counter() - start
    index = stage.index
    print(
        f"CandidateStage build: {build:.1f} s (IVF-Flat over {index.dim} dims, nlist {index.index.nlist}, "
        f"nprobe {index.index.nprobe}); index memory {index.memory_bytes / 2**20:.0f} MiB"
    )
    pairs = list(zip(users, histories, strict=True))
    exact_times = single_query_times(lambda p: exact_probabilities(stage, *p), pairs[: args.exact_repeats])
    p50, p95 = percentiles(exact_times)
    print(
        f"exact path per shopper (every product fused, softmax; {args.exact_repeats} shoppers): "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )
    times = single_query_times(lambda p: stage.probabilities(p[0][None, :], [p[1]], [p[1]]), pairs)
    p50, p95 = percentiles(times)
    ok = p50 <= LATENCY_GOAL_MS and p95 <= LATENCY_GOAL_MS
    print(
        f"For you per shopper through CandidateStage (k={args.k} + graph neighbours, {args.history} owned masked, "
        f"{len(users)} shoppers): p50 {p50:.1f} ms, p95 {p95:.1f} ms  "
        f"[goal p50/p95 <= {LATENCY_GOAL_MS:.0f} ms: {mark(ok)}]"
    )
    found = np.array([np.argsort(-p)[:10] for p in stage.probabilities(users, histories, histories)])
    truth = np.array([np.argsort(-exact_logits(stage, u, h))[:10] for u, h in pairs])
    recall = recall_at_10(found, truth)
    print(
        f"recall@10 of CandidateStage vs the exact path ({len(users)} shoppers): {recall:.4f}  "
        f"[goal >= {RECALL_GOAL}: {mark(recall >= RECALL_GOAL)}]"
    )


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
    print(
        f"faiss {faiss.__version__}, {args.threads} threads; numpy {np.__version__}; the shop's threshold {THRESHOLD:,}"
    )
    _, users = recombine(real, args.queries, args.d, seed=7)
    for name, n, seed in (("real-size catalogue", args.small, 1), ("big catalogue", args.n, 2)):
        start = time.perf_counter()
        unit, items = recombine(real, n, args.d, seed=seed)
        rng = np.random.default_rng(seed + 100)
        bias = rng.normal(0, 0.1, n).astype(np.float32)
        histories = [rng.choice(n, args.history, replace=False) for _ in users]
        graph = TransitionGraph.build([rng.choice(n, 6) for _ in range(n // 10)], n)
        print(f"\n(made {n:,} items and the graph in {time.perf_counter() - start:.1f} s)")
        run_catalogue(name, unit, items, bias, users, histories, graph, args)
        del unit, items, bias, graph
    print(f"\ntotal {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
