"""The purchase task on the benchmark's own protocol, for the model and the sequential-recommendation peers.

Amazon Beauty 2014 5-core (22,363 shoppers, 12,101 products), leave-one-out: each shopper's last product
is ranked (a) against all 12,101 products with the shopper's earlier products masked ("full") and (b)
against 99 uniformly sampled products the shopper never bought ("sampled"). Every figure is a mean over
shoppers of a per-shopper value, so it gets a bootstrap CI like everything else in the report.

Peers, run here on the same split: popularity, item-to-item co-occurrence (item-kNN over purchase
transitions), MiniLM content similarity (the frozen base encoder), the training-free graph + text peer after
Han et al. 2026 (`graph_text`) and SASRec (Kang & McAuley 2018) trained here to two recipes (`sasrec`):
cross-entropy over all products, as the RecBole re-run in the table, and the eSASRec authors' sampled softmax,
and BSARec (Shin et al. 2024, `bsarec`: attention mixed with a Fourier filter) to its authors' recipe.
`guide.evaluation.published.PUBLISHED` holds the published results on exactly this data, with their sources.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import sparse

from guide.data.task_data import PurchaseSplit, TaskData
from guide.evaluation import bsarec, sasrec
from guide.evaluation.graph_text import fit_graph_text
from guide.evaluation.published import PUBLISHED, published  # noqa: F401  (the table's home; re-exported)
from guide.metrics.ranking import positions, ranking_table, target_ranks
from guide.model.fusion import Fusion
from guide.model.outputs import item_representations
from guide.model.purchase_scoring import fused_scores, purchase_ranks

logger = logging.getLogger(__name__)

Scorer = Callable[[list[np.ndarray]], np.ndarray]  # histories (catalogue rows) -> scores (n, |pool|)


def per_shopper(ranks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-shopper values of the reported metrics from the 0-based ranks."""
    full = ranking_table(ranks["full"], (10, 20))
    out = {"full_hr@10": full["hr@10"], "full_ndcg@10": full["ndcg@10"], "full_hr@20": full["hr@20"]}
    if "catalogue" in ranks:  # the model only: ranked among every catalogue product, as the shop does
        out["catalogue_hr@10"] = ranking_table(ranks["catalogue"], (10,))["hr@10"]
    if "sampled" in ranks:
        sampled = ranking_table(ranks["sampled"], (10,))
        out |= {"hr@10": sampled["hr@10"], "ndcg@10": sampled["ndcg@10"]}
    return out


def model_values(model, data: TaskData, split: str, device, reps=None, fusion: Fusion | None = None) -> dict:
    """Per-shopper metrics of the model's purchase scores (fused as calibrated on validation)."""
    return per_shopper(purchase_ranks(model, data, data.purchase[split], device, reps, fusion=fusion, catalogue=True))


def peer_ranks(score: Scorer, data: TaskData, split: PurchaseSplit, chunk: int = 1024) -> dict[str, np.ndarray]:
    """The same ranking rules as the model's (`purchase_ranks`), for a peer's scores over the pool."""
    pool = data.amazon_rows
    full, sampled = [], []
    seen_all = split.seen if split.seen is not None else split.history
    for start in range(0, len(split.target), chunk):
        stop = min(start + chunk, len(split.target))
        scores = score(split.history[start:stop])
        target = positions(split.target[start:stop], pool)
        excluded = [positions(h, pool) for h in seen_all[start:stop]]
        full.append(target_ranks(scores, target, [e[e >= 0] for e in excluded]))
        if split.negatives is None:
            continue
        candidates = np.concatenate([split.target[start:stop, None], split.negatives[start:stop]], axis=1)
        columns = positions(candidates.ravel(), pool).reshape(candidates.shape)
        sampled.append(target_ranks(np.take_along_axis(scores, columns, 1), np.zeros(stop - start, np.int64)))
    out = {"full": np.concatenate(full)}
    if sampled:
        out["sampled"] = np.concatenate(sampled)
    return out


def calibration(model, data: TaskData, device, fusion: Fusion | None, temperature: float, split: str = "test",
                shoppers: int = 5000, top: int = 20, bins: int = 10) -> dict:  # fmt: skip
    """How well the served number, P(next purchase = product) over the whole catalogue (softmax of the fused
    score / temperature, the shopper's own products excluded), matches what happens: over each sampled
    test shopper's `top` most likely products, a reliability table (equal-count bins), ECE and the Brier
    score; and the probability mass of the top 10 against the observed HR@10 of the same shoppers."""
    part_all = data.purchase[split]
    picked = np.sort(np.random.default_rng(3).permutation(len(part_all.target))[:shoppers])
    part = part_all.subset(picked)
    reps = item_representations(model, data, device)
    probs, hits = [], []
    for start in range(0, len(picked), 1024):
        chunk = part.subset(np.arange(start, min(start + 1024, len(picked))))
        logits = fused_scores(model, data, chunk, device, reps, np.arange(len(data.item_emb)), fusion) / temperature
        for i, k in enumerate(picked[start : start + 1024]):
            logits[i, part_all.seen[k] if part_all.seen is not None else part_all.history[k]] = -np.inf
        logits -= logits.max(1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(1, keepdims=True)
        best = np.argsort(-p, axis=1)[:, :top]
        probs.append(np.take_along_axis(p, best, 1))
        hits.append(best == chunk.target[:, None])
    probs, hits = np.concatenate(probs), np.concatenate(hits).astype(float)
    flat_p, flat_y = probs.ravel(), hits.ravel()
    edges = np.quantile(flat_p, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, flat_p, side="right") - 1, 0, bins - 1)
    table = [
        {"predicted": float(flat_p[which == b].mean()), "observed": float(flat_y[which == b].mean()),
         "count": int((which == b).sum())}
        for b in range(bins) if (which == b).any()
    ]  # fmt: skip
    ece = sum(row["count"] * abs(row["predicted"] - row["observed"]) for row in table) / len(flat_p)
    return {
        "shoppers": int(len(picked)),
        "pairs": int(len(flat_p)),
        "temperature": float(temperature),
        "ece": float(ece),
        "brier": float(np.mean((flat_p - flat_y) ** 2)),
        "top10_mass": float(probs[:, :10].sum(1).mean()),
        "top10_hit_rate": float(hits[:, :10].sum(1).mean()),
        "reliability": table,
        "meaning": "P(this product is the shopper's next purchase), over all catalogue products they do not own",
    }


# --- peers ---------------------------------------------------------------------------------------------
def _train_counts(data: TaskData) -> np.ndarray:
    pool = data.amazon_rows
    counts = np.zeros(len(pool))
    for seq in data.purchase["train"].sequences:
        np.add.at(counts, positions(seq, pool), 1.0)
    return counts


def fit_popularity(data: TaskData) -> Scorer:
    counts = _train_counts(data)
    return lambda histories: np.tile(counts, (len(histories), 1))


def fit_cooccurrence(data: TaskData, window: int = 3, recent: int = 5) -> Scorer:
    """Item-kNN over purchase transitions: product b scores for a shopper by how often it followed, within
    `window` steps, their `recent` latest products in the train sequences (closer steps count more), with
    popularity as a tie-breaker."""
    pool = data.amazon_rows
    rows, cols, weights = [], [], []
    for seq in data.purchase["train"].sequences:
        cells = positions(seq, pool)
        for gap in range(1, window + 1):
            rows.append(cells[:-gap])
            cols.append(cells[gap:])
            weights.append(np.full(max(len(cells) - gap, 0), 1.0 / gap))
    size = len(pool)
    follows = sparse.csr_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(size, size)
    )
    together = (follows + follows.T * 0.5).tocsr()  # bought before it counts too, half as much
    prior = _train_counts(data)
    prior = 1e-6 * prior / max(prior.max(), 1.0)

    def score(histories: list[np.ndarray]) -> np.ndarray:
        out = np.tile(prior, (len(histories), 1))
        for i, history in enumerate(histories):
            cells = positions(history[-recent:], pool)
            recency = 0.7 ** np.arange(len(cells))[::-1]  # the latest purchase counts most
            out[i] += np.asarray(together[cells].T @ recency).ravel()
        return out

    return score


def fit_content(data: TaskData, decay: float = 0.7) -> Scorer:
    """MiniLM content similarity: cosine between each product and the recency-weighted mean of the
    shopper's products (the embedded catalogue text: title, brand, category path). No training: the frozen
    base encoder's vectors (`TaskData.peer_items`), never a fine-tuned model's own."""
    items = getattr(data, "peer_items", None)
    items = data.item_emb if items is None else items
    emb = items / np.linalg.norm(items, axis=1, keepdims=True).clip(1e-9)
    pool = emb[data.amazon_rows]

    def score(histories: list[np.ndarray]) -> np.ndarray:
        users = np.stack([(decay ** np.arange(len(h))[::-1]) @ emb[h] if len(h) else np.zeros(emb.shape[1])
                          for h in histories])  # fmt: skip
        return users @ pool.T

    return score


PEER_SEED = 13  # the trained peers' seed in the report's rows (other seeds: `purchase_seeds.peer_section`)


def _validate_on(data: TaskData, seed: int) -> Callable[[Scorer], float]:
    """Full-ranking NDCG@10 of a scorer on 4,000 validation shoppers drawn with `seed` (a SASRec peer's
    early-stopping score)."""
    valid = data.purchase["valid"]
    part = valid.subset(np.sort(np.random.default_rng(seed).permutation(len(valid.target))[:4000]))
    return lambda scorer: float(per_shopper(peer_ranks(scorer, data, part))["full_ndcg@10"].mean())


def fit_sasrec(data: TaskData, minutes: float = 90.0, recipe: str = "ce", seed: int = PEER_SEED,
               cache: Path | None = sasrec.SASREC_CACHE, **changes) -> Scorer:  # fmt: skip
    """A SASRec peer (`sasrec.RECIPES[recipe]`, fields overridden by `changes`, e.g. epochs=2) on the train
    sequences, early-stopped on validation, cached under `cache`."""
    chosen = dataclasses.replace(sasrec.RECIPES[recipe], **changes)
    train = data.purchase["train"].sequences
    return sasrec.fit(train, data.amazon_rows, _validate_on(data, seed), chosen, minutes, seed, cache)


def fit_sasrec_sampled(data: TaskData, minutes: float = 90.0, seed: int = PEER_SEED) -> Scorer:
    """SASRec to the eSASRec authors' "SASRec+SS" recipe (sampled softmax, 256 negatives, d 64, 1 block)."""
    return fit_sasrec(data, minutes, recipe="ss", seed=seed)


def fit_bsarec(data: TaskData, minutes: float | None = None, seed: int = PEER_SEED,
               cache: Path | None = sasrec.SASREC_CACHE, **changes) -> Scorer:  # fmt: skip
    """BSARec to its authors' Beauty run (`bsarec.Recipe`, fields overridden by `changes`): its budget is the
    recipe's epochs, unless `minutes` is given."""
    recipe = dataclasses.replace(bsarec.Recipe(), **changes)
    train = data.purchase["train"].sequences
    return bsarec.fit(train, data.amazon_rows, _validate_on(data, seed), recipe, minutes, seed, cache)


# the peers that train (up to an hour or more each here): only run when asked for, by these keys
SASREC_PEERS = {
    "ce": "SASRec (CE, trained here)",
    "ss": "SASRec, sampled softmax (eSASRec recipe, trained here)",
    "bsarec": "BSARec (authors' Beauty recipe, trained here)",
}


FULL_TRAINED_PEERS = ("ce", "ss", "bsarec")  # what `evaluate --full` trains (BSARec: ~1.5-2 hours on 2 cores)

PEERS: dict[str, Callable[[TaskData], Scorer]] = {
    "Popularity": fit_popularity,
    "Item co-occurrence (item-kNN)": fit_cooccurrence,
    "MiniLM content similarity": fit_content,
    "Last-item graph + MiniLM similarity (after Han et al. 2026)": fit_graph_text,
    SASREC_PEERS["ce"]: fit_sasrec,
    SASREC_PEERS["ss"]: fit_sasrec_sampled,
    SASREC_PEERS["bsarec"]: fit_bsarec,
}


def peer_names(sasrec: bool | tuple[str, ...] = False) -> tuple[str, ...]:
    """The purchase peers to run: every training-free one, plus the trained peers asked for (True: all of
    `SASREC_PEERS`, or a tuple of its keys), which train for up to an hour or more each."""
    wanted = tuple(SASREC_PEERS) if sasrec is True else tuple(sasrec or ())
    unknown = sorted(set(wanted) - set(SASREC_PEERS))
    if unknown:
        raise ValueError(f"SASRec peers: expected some of {sorted(SASREC_PEERS)}; got {unknown}; fix: e.g. --sasrec ss")
    chosen = {SASREC_PEERS[key] for key in wanted}
    return tuple(n for n in PEERS if n not in SASREC_PEERS.values() or n in chosen)


def fit_peer(name: str, data: TaskData, minutes: float | None = None, seed: int | None = None) -> Scorer:
    """The peer `name` fitted on `data`; a trained peer (`SASREC_PEERS`) takes the minutes budget and the seed
    given (its defaults otherwise), a training-free one neither."""
    options = {key: value for key, value in (("minutes", minutes), ("seed", seed)) if value is not None}
    return PEERS[name](data, **options) if name in SASREC_PEERS.values() else PEERS[name](data)


def peer_values(
    data: TaskData, split: str = "test", names: tuple[str, ...] | None = None, sasrec_minutes: float | None = None
) -> dict[str, dict]:
    """{peer: per-shopper metric arrays} on `split` (SASRec within `sasrec_minutes` of training if given)."""
    out = {}
    for name in names or tuple(PEERS):
        started = time.perf_counter()
        scorer = fit_peer(name, data, sasrec_minutes)
        out[name] = per_shopper(peer_ranks(scorer, data, data.purchase[split]))
        logger.info("%s: %.0f s, full HR@10 %.4f", name, time.perf_counter() - started, out[name]["full_hr@10"].mean())
    return out
