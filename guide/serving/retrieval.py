"""Candidate retrieval for big catalogues: the first stage of retrieval -> ranking.

The purchase model scores a shopper against an item as an inner product `user . item` plus an optional
per-item bias. Below `THRESHOLD` items that is one matrix product (`exact_top_k`); above it a
`CandidateIndex` (faiss IVF-Flat) returns the best few hundred candidates in milliseconds and the full
model ranks only those.

Maximum-inner-product search is turned into nearest-neighbour search in two exact steps:

1. the bias is folded in as one more dimension: item' = [item, bias], user' = [user, 1], so
   user' . item' = user . item + bias;
2. every item' gets one more coordinate sqrt(M^2 - |item'|^2) (M = the largest |item'|) and every user'
   a 0, so |user'' - item''|^2 = |user'|^2 + M^2 - 2 user' . item': the nearest item in L2 is the one with
   the largest inner product (Bachrach et al., 2014). k-means clusters are far better in L2 than under
   inner product (benchmark catalogue, 21k items, 32 of 64 lists read: recall@10 0.99 vs 0.96).

The index is approximate only in which clusters it reads (`nprobe` of `nlist`); the scores it returns
are the exact inner products of the items it found. Defaults come from `benchmarks/bench_retrieval.py`
(recombined MiniLM items, 64-d): nlist = sqrt(N) lists, nprobe = 8 sqrt(nlist) of them read per query.
Measured there (2 busy CPU cores): at 21k items 145 lists / 97 probes, recall@10 0.99; at 1M items 1,000
lists / 253 probes, recall@10 0.96-0.98 (two bias draws), 21-27 ms per shopper (k=200), 18-23 s to build.
More probes buy recall linearly in time (350 probes: 0.98, ~35 ms).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

THRESHOLD = 50_000  # catalogues up to this many items are scored exactly (one matrix product per shopper)
DEFAULT_K = 200  # candidates handed to the ranking stage
NLIST_PER_SQRT_N = 1.0  # nlist = sqrt(N): 1,000 lists at a million items (2,000 built 3x slower for ~no gain)
MAX_NLIST = 4096
TRAIN_PER_LIST = 40  # k-means sample: 40 points per list (faiss asks for at least 39)
PROBES_PER_SQRT_NLIST = 8.0  # nprobe = 8 sqrt(nlist): recall@10 >= 0.95 at 21k and at 1M on the benchmark
EXACT_CHUNK = 1 << 24  # scores held at once by exact_top_k (64 MB of float32)


def _fix_vectors(name: str, value, ndim: tuple[int, ...], dim: int | None = None) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim not in ndim or array.size == 0:
        shape = "(d,) or (B, d)" if ndim == (1, 2) else "(N, d)"
        raise ValueError(
            f"{name}: expected a non-empty {shape} array; got shape {array.shape}; fix: pass a float matrix"
        )
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{name}: expected real numbers; got dtype {array.dtype}; fix: pass float32 vectors")
    if dim is not None and array.shape[-1] != dim:
        raise ValueError(
            f"{name}: expected {dim} dimensions (the item vectors'); got {array.shape[-1]}; "
            "fix: use the user vectors of the same model as the items"
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: expected finite values; got NaN or inf; fix: drop or repair those rows")
    return array


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"k: expected a positive integer; got {k!r}; fix: ask for e.g. k={DEFAULT_K}")
    return int(k)


def _check_bias(bias, n: int) -> np.ndarray:
    if bias is None:
        return np.zeros(n, dtype=np.float32)
    array = np.asarray(bias)
    if array.shape != (n,):
        raise ValueError(f"bias: expected shape ({n},), one per item; got {array.shape}; fix: pass one bias per item")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ValueError("bias: expected finite values; got NaN or inf; fix: use 0 for unknown items")
    return array


def fold_bias(items, bias=None) -> np.ndarray:
    """item' = [item, bias] (N, d+1) float32, so that [user, 1] . item' = user . item + bias."""
    matrix = _fix_vectors("items", items, (2,))
    return np.hstack([matrix, _check_bias(bias, len(matrix))[:, None]])


def _exclusions(exclude, rows: int, n: int) -> list[np.ndarray]:
    """One array of excluded ids per query row: `exclude` is ids for every row or one iterable per row."""
    if exclude is None:
        return [np.empty(0, dtype=np.int64)] * rows
    if not isinstance(exclude, np.ndarray):
        exclude = list(exclude)
    if isinstance(exclude, np.ndarray) and exclude.ndim == 1 or _is_flat(exclude):
        per_row = [exclude] * rows
    else:
        per_row = list(exclude)
        if len(per_row) != rows:
            raise ValueError(
                f"exclude: expected ids for every query or one list per query ({rows}); got {len(per_row)} lists; "
                "fix: pass one list of item ids per user vector"
            )
    out = []
    for ids in per_row:
        array = np.unique(np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64))
        if array.size and (array[0] < 0 or array[-1] >= n):
            raise ValueError(f"exclude: expected item ids in [0, {n}); got {array[0]}..{array[-1]}; fix: use row ids")
        out.append(array)
    return out


def _is_flat(exclude) -> bool:
    return len(exclude) == 0 or all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in exclude)


def _queries(user_vectors, dim: int) -> tuple[np.ndarray, bool]:
    array = _fix_vectors("user_vectors", user_vectors, (1, 2), dim)
    return (array[None, :], True) if array.ndim == 1 else (array, False)


def exact_top_k(user_vectors, items, k: int = DEFAULT_K, bias=None, exclude=None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by user . item + bias: (ids, scores), best first; (B, k) for (B, d) users, (k,) for (d,).

    `exclude`: item ids left out for every user, or one iterable per user. When fewer than k items remain
    the tail is padded with id -1 and score -inf. Matrix product + argpartition, over item chunks so B x N
    scores never sit in memory at once; the reference for `CandidateIndex` and the path under `THRESHOLD`.
    """
    k = _check_k(k)
    matrix = _fix_vectors("items", items, (2,))
    n, dim = matrix.shape
    offsets = _check_bias(bias, n)
    queries, single = _queries(user_vectors, dim)
    rows = len(queries)
    excluded = _exclusions(exclude, rows, n)
    keep = min(k, n)
    best_ids = np.full((rows, 0), -1, dtype=np.int64)
    best = np.full((rows, 0), -np.inf, dtype=np.float32)
    step = max(1, EXACT_CHUNK // rows)
    for start in range(0, n, step):
        scores = queries @ matrix[start : start + step].T + offsets[start : start + step]
        for row, ids in enumerate(excluded):
            inside = ids[(ids >= start) & (ids < start + step)]
            scores[row, inside - start] = -np.inf
        ids = np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)
        scores, ids = np.hstack([best, scores]), np.hstack([best_ids, ids])
        if scores.shape[1] > keep:
            part = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
            scores, ids = np.take_along_axis(scores, part, 1), np.take_along_axis(ids, part, 1)
        best, best_ids = scores, ids
    order = np.argsort(-best, axis=1, kind="stable")
    best, best_ids = np.take_along_axis(best, order, 1), np.take_along_axis(best_ids, order, 1)
    best_ids = np.where(np.isneginf(best), -1, best_ids)
    if keep < k:
        best = np.hstack([best, np.full((rows, k - keep), -np.inf, dtype=np.float32)])
        best_ids = np.hstack([best_ids, np.full((rows, k - keep), -1, dtype=np.int64)])
    best_ids, best = best_ids.astype(np.int64), best.astype(np.float32)
    return (best_ids[0], best[0]) if single else (best_ids, best)


def default_nlist(n: int) -> int:
    """~sqrt(N) inverted lists, at most MAX_NLIST, and at least TRAIN_PER_LIST points per list."""
    return int(max(1, min(round(NLIST_PER_SQRT_N * math.sqrt(n)), MAX_NLIST, n // TRAIN_PER_LIST)))


def default_nprobe(nlist: int) -> int:
    """Lists read per query: 8 sqrt(nlist) (all of them up to 64 lists)."""
    return int(min(nlist, math.ceil(PROBES_PER_SQRT_NLIST * math.sqrt(nlist))))


class CandidateIndex:
    """Approximate top-k by user . item + bias over a big catalogue (faiss IVF-Flat on L2-reduced vectors).

    `CandidateIndex().build(items, bias)` once per catalogue (or model) version; `search` is thread-safe.
    `nlist`: inverted lists (default sqrt(N)); `nprobe`: lists read per query (default 8 sqrt(nlist)).
    """

    def __init__(self, nlist: int | None = None, nprobe: int | None = None, seed: int = 0):
        for name, value in (("nlist", nlist), ("nprobe", nprobe)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
                raise ValueError(f"{name}: expected a positive integer or None; got {value!r}; fix: leave it None")
        self.nlist, self.nprobe, self.seed = nlist, nprobe, seed
        self.index = None
        self.dim = self.size = 0
        self.max_norm2 = 0.0

    def build(self, items, bias=None) -> CandidateIndex:
        import faiss

        folded = fold_bias(items, bias)
        n = len(folded)
        norms2 = np.einsum("ij,ij->i", folded, folded)
        self.max_norm2 = float(norms2.max())
        lifted = np.hstack([folded, np.sqrt(np.maximum(self.max_norm2 - norms2, 0.0))[:, None]]).astype(np.float32)
        nlist = min(self.nlist or default_nlist(n), n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(lifted.shape[1]), lifted.shape[1], nlist, faiss.METRIC_L2)
        index.cp.seed = self.seed
        sample = min(n, TRAIN_PER_LIST * nlist)
        rng = np.random.default_rng(self.seed)
        index.train(lifted if sample == n else lifted[np.sort(rng.choice(n, sample, replace=False))])
        index.add(lifted)
        index.nprobe = min(nlist, self.nprobe or default_nprobe(nlist))
        self.index, self.dim, self.size = index, folded.shape[1] - 1, n
        return self

    def _require_built(self):
        if self.index is None:
            raise ValueError("CandidateIndex: expected a built index; got none; fix: call build(items, bias) first")

    @property
    def memory_bytes(self) -> int:
        """Bytes the index holds: the lifted vectors and their ids in the lists, plus the centroids."""
        self._require_built()
        width = self.index.d * 4
        return self.size * (width + 8) + self.index.nlist * width

    def search(self, user_vectors, k: int = DEFAULT_K, exclude=None, nprobe: int | None = None):
        """(ids, scores) best first; (B, k) for (B, d) users, (k,) for (d,); padded with -1 / -inf.

        `exclude`: ids left out for every user, or one iterable per user; the index over-fetches k plus
        the number excluded, then drops them. `scores` are the exact user . item + bias of the ids found.
        """
        import faiss

        self._require_built()
        k = _check_k(k)
        queries, single = _queries(user_vectors, self.dim)
        rows = len(queries)
        excluded = _exclusions(exclude, rows, self.size)
        lifted = np.hstack([queries, np.ones((rows, 1), np.float32), np.zeros((rows, 1), np.float32)])
        fetch = min(self.size, k + max(len(ids) for ids in excluded))
        params = faiss.SearchParametersIVF(nprobe=int(nprobe or self.index.nprobe))
        distances, found = self.index.search(lifted, fetch, params=params)
        # |q'' - x''|^2 = |q'|^2 + M^2 - 2 q'.x'  =>  q'.x' = (|q'|^2 + M^2 - distance) / 2
        scores = (np.einsum("ij,ij->i", lifted, lifted)[:, None] + self.max_norm2 - distances) / 2
        ids_out = np.full((rows, k), -1, dtype=np.int64)
        scores_out = np.full((rows, k), -np.inf, dtype=np.float32)
        for row in range(rows):
            keep = found[row] >= 0
            if len(excluded[row]):
                keep &= ~np.isin(found[row], excluded[row])
            ids, vals = found[row][keep][:k], scores[row][keep][:k]
            ids_out[row, : len(ids)], scores_out[row, : len(ids)] = ids, vals
        return (ids_out[0], scores_out[0]) if single else (ids_out, scores_out)

    def save(self, path: Path | str) -> None:
        """The faiss index at `path` and its settings at `path` + '.json'."""
        import faiss

        self._require_built()
        faiss.write_index(self.index, str(path))
        meta = {"dim": self.dim, "size": self.size, "max_norm2": self.max_norm2, "nprobe": self.index.nprobe}
        Path(f"{path}.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, path: Path | str) -> CandidateIndex:
        import faiss

        meta = json.loads(Path(f"{path}.json").read_text())
        out = cls(nprobe=meta["nprobe"])
        out.index = faiss.read_index(str(path))
        out.index.nprobe = meta["nprobe"]
        out.dim, out.size, out.max_norm2 = meta["dim"], meta["size"], meta["max_norm2"]
        out.nlist = out.index.nlist
        return out


def top_k(user_vector, items, bias=None, k: int = DEFAULT_K, exclude: Iterable[int] | None = None, index=None):
    """The shopper's k candidates (ids, scores), best first: exact up to THRESHOLD items, else `index`.

    Above THRESHOLD pass a `CandidateIndex` built once from the same `items` and `bias`; an index is
    never built per request.
    """
    n = np.shape(items)[0] if np.ndim(items) == 2 else 0
    if n <= THRESHOLD:
        return exact_top_k(user_vector, items, k, bias=bias, exclude=exclude)
    if not isinstance(index, CandidateIndex) or index.index is None:
        raise ValueError(
            f"index: expected a built CandidateIndex for a catalogue of {n:,} items (> THRESHOLD {THRESHOLD:,}); "
            f"got {type(index).__name__}; fix: build CandidateIndex().build(items, bias) once and pass index="
        )
    if index.size != n or index.dim != np.shape(items)[1]:
        raise ValueError(
            f"index: expected one built from these {n:,} x {np.shape(items)[1]} items; "
            f"got {index.size:,} x {index.dim}; fix: rebuild it after the catalogue or model changes"
        )
    return index.search(user_vector, k, exclude=exclude)
