"""The purchase task on the benchmark's own protocol, for the model and the sequential-recommendation peers.

Amazon Beauty 2014 5-core (22,363 shoppers, 12,101 products), leave-one-out: each shopper's last product
is ranked (a) against all 12,101 products with the shopper's earlier products masked ("full") and (b)
against 99 uniformly sampled products the shopper never bought ("sampled"). Every figure is a mean over
shoppers of a per-shopper value, so it gets a bootstrap CI like everything else in the report.

Peers, run here on the same split: popularity, item-to-item co-occurrence (item-kNN over purchase
transitions), MiniLM content similarity (the frozen base encoder), the training-free graph + text peer after
Han et al. 2026 (`graph_text`) and SASRec (Kang & McAuley 2018: two causal self-attention blocks over product
ids, trained here with cross-entropy over all products, as the RecBole re-run in the table).
`guide.evaluation.published.PUBLISHED` holds the published results on exactly this data, with their sources.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy import sparse

from guide.config import PROJECT_ROOT
from guide.data.task_data import PurchaseSplit, TaskData
from guide.evaluation.graph_text import fit_graph_text
from guide.evaluation.published import PUBLISHED, published  # noqa: F401  (the table's home; re-exported)
from guide.metrics.ranking import positions, ranking_table, target_ranks
from guide.model.fusion import Fusion
from guide.model.heads import CausalBlock
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


class SASRec(torch.nn.Module):
    """Product-id embeddings (tied input/output), learned positions, causal self-attention blocks."""

    def __init__(self, size: int, dim: int = 64, blocks: int = 2, max_length: int = 50, dropout: float = 0.5):
        super().__init__()
        self.items = torch.nn.Embedding(size + 1, dim, padding_idx=0)  # 0 = padding
        self.positions = torch.nn.Embedding(max_length, dim)
        self.blocks = torch.nn.ModuleList(CausalBlock(dim, 1, dropout) for _ in range(blocks))
        self.norm, self.dropout, self.max_length = torch.nn.LayerNorm(dim), torch.nn.Dropout(dropout), max_length
        torch.nn.init.normal_(self.items.weight, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, L) right-aligned ids (0 = padding), L <= max_length -> (B, L, D) states. A window trimmed of
        its all-padding left columns gives the same states as the full one (positions count from the
        right edge of the max_length window; padded keys are masked)."""
        steps = torch.arange(self.max_length - ids.shape[1], self.max_length, device=ids.device)
        x = self.dropout(self.items(ids) * self.items.embedding_dim**0.5 + self.positions(steps))
        causal = torch.ones(len(steps), len(steps), dtype=torch.bool, device=ids.device).triu(1)
        padding = ids == 0
        padding[:, -1] = False  # the last slot always holds an item; keeps every attention row defined
        for block in self.blocks:
            x = block(x, causal, padding)
        return self.norm(x)

    def logits(self, states: torch.Tensor) -> torch.Tensor:
        return states @ self.items.weight[1:].T  # (..., size)


def _right_aligned(sequences: list[np.ndarray], length: int) -> np.ndarray:
    """(n, width) ids, right-aligned and left-padded with 0; width = the longest tail (<= length), >= 1."""
    width = max(1, min(length, max((len(s) for s in sequences), default=1)))
    out = np.zeros((len(sequences), width), np.int64)
    for i, seq in enumerate(sequences):
        tail = seq[-width:]
        if len(tail):
            out[i, -len(tail) :] = tail
    return out


def _length_buckets(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of shoppers with similar history lengths, in random order (shuffled within equal lengths):
    a batch is as wide as its longest history, so mixing one 50-item history into every batch would make
    each step ~5x the work on this data (median history 6)."""
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = np.array_split(order, max(1, len(order) // batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


SASREC_CACHE = PROJECT_ROOT / "runs"


def _sasrec_key(train: list[np.ndarray], pool: np.ndarray, settings: dict) -> str:
    """A hash of what the trained peer depends on: the train sequences, the product pool and the settings."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    digest.update(np.asarray(pool, np.int64).tobytes())
    for seq in train:
        digest.update(np.asarray(seq, np.int64).tobytes() + b"|")
    return digest.hexdigest()[:12]


def fit_sasrec(data: TaskData, minutes: float = 90.0, epochs: int = 200, patience: int = 5, seed: int = 13,
               batch_size: int = 128, lr: float = 1e-3, cache: Path | None = SASREC_CACHE) -> Scorer:  # fmt: skip
    """SASRec with its paper's architecture and settings for Beauty (d 64, 2 blocks, 1 head, 50 items of
    history, dropout 0.5, Adam 1e-3, batch 128), trained with cross-entropy over all products at every
    position (the RecBole variant; it learns in far fewer epochs than one sampled negative per position,
    which 2 CPU cores need). Early stopping on validation NDCG@10 (full ranking of 4,000 shoppers, patience
    `patience` epochs), within a `minutes` budget. The trained weights are kept under `cache` (keyed by the
    train sequences, the pool and these settings), so the report reuses a peer that took an hour to train."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    pool = data.amazon_rows
    model = SASRec(len(pool))
    train = [positions(s, pool) + 1 for s in data.purchase["train"].sequences]  # ids 1..size
    settings = dict(minutes=minutes, epochs=epochs, patience=patience, seed=seed, batch_size=batch_size, lr=lr)
    path = cache / f"sasrec-{_sasrec_key(train, pool, settings)}.pt" if cache is not None else None
    if path is not None and path.exists():
        stored = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(stored["state"])
        logger.info("SASRec: reusing %s (%s)", path, stored["log"][-1] if stored["log"] else "no log")
        return _sasrec_scorer(model, pool)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    windows = [s[-(model.max_length + 1) :] for s in train]
    lengths = np.array([len(w) for w in windows])
    valid = data.purchase["valid"]
    sample = np.sort(rng.permutation(len(valid.target))[:4000])
    part = valid.subset(sample)
    best, best_state, waited, started, log = -1.0, None, 0, time.perf_counter(), []
    for epoch in range(epochs):
        model.train()
        for batch in _length_buckets(lengths, batch_size, rng):
            window = torch.from_numpy(_right_aligned([windows[i] for i in batch], model.max_length + 1))
            inputs, targets = window[:, :-1], window[:, 1:] - 1  # target -1 = padding
            wanted = targets >= 0  # logits only where a next product exists
            logits = model.logits(model(inputs)[wanted])  # (P, size)
            loss = torch.nn.functional.cross_entropy(logits, targets[wanted])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        score = float(per_shopper(peer_ranks(_sasrec_scorer(model, pool), data, part))["full_ndcg@10"].mean())
        elapsed = time.perf_counter() - started
        log.append(
            dict(epoch=epoch + 1, loss=round(loss.item(), 4), valid_ndcg10=round(score, 5), seconds=int(elapsed))
        )
        logger.info("SASRec epoch %d: loss %.3f, valid NDCG@10 %.4f (%.0f s)", epoch + 1, loss.item(), score, elapsed)
        if score > best:
            best, waited = score, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
        if waited >= patience or elapsed > minutes * 60:
            break
    if best_state is None:
        raise ValueError("SASRec: expected a finite validation score after an epoch; got none; fix: check the data")
    model.load_state_dict(best_state)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        torch.save({"state": best_state, "log": log, "settings": settings}, partial)
        partial.replace(path)
    return _sasrec_scorer(model, pool)


def _sasrec_scorer(model: SASRec, pool: np.ndarray) -> Scorer:
    @torch.inference_mode()
    def score(histories: list[np.ndarray]) -> np.ndarray:
        model.eval()
        ids = torch.from_numpy(_right_aligned([positions(h, pool) + 1 for h in histories], model.max_length))
        return model.logits(model(ids)[:, -1]).numpy()

    return score


PEERS: dict[str, Callable[[TaskData], Scorer]] = {
    "Popularity": fit_popularity,
    "Item co-occurrence (item-kNN)": fit_cooccurrence,
    "MiniLM content similarity": fit_content,
    "Last-item graph + MiniLM similarity (after Han et al. 2026)": fit_graph_text,
    "SASRec (CE, trained here)": fit_sasrec,
}


def peer_values(
    data: TaskData, split: str = "test", names: tuple[str, ...] | None = None, sasrec_minutes: float | None = None
) -> dict[str, dict]:
    """{peer: per-shopper metric arrays} on `split` (SASRec within `sasrec_minutes` of training if given)."""
    out = {}
    for name in names or tuple(PEERS):
        started = time.perf_counter()
        if PEERS[name] is fit_sasrec and sasrec_minutes is not None:
            scorer = fit_sasrec(data, minutes=sasrec_minutes)
        else:
            scorer = PEERS[name](data)
        out[name] = per_shopper(peer_ranks(scorer, data, data.purchase[split]))
        logger.info("%s: %.0f s, full HR@10 %.4f", name, time.perf_counter() - started, out[name]["full_hr@10"].mean())
    return out
