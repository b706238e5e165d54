"""Packing arrays into the model's batch layout (see `guide/model/network.py`): tensors on a device.

Used by training draws, batched outputs and the serving facade alike."""

from __future__ import annotations

import numpy as np
import torch

from guide.data.task_data import TaskData


def text_block(
    emb: np.ndarray,
    ngrams: list[np.ndarray],
    rows: np.ndarray,
    device,
    feats: np.ndarray | None = None,
    drop: float = 0.0,
    rng: np.random.Generator | None = None,
    lexicon: np.ndarray | None = None,
) -> dict:
    """emb / ngrams / offsets (/ feats, / lexicon) of `rows` as one EmbeddingBag-ready block. `drop` removes
    that share of each bag's grams at random (training only: stops the table memorising texts). `lexicon`:
    the texts' lexicon features (reviews; `guide.data.text.lexicon_features`)."""
    bags = [ngrams[r] for r in rows]
    if drop > 0 and rng is not None:
        bags = [b[rng.random(len(b)) >= drop] if len(b) > 1 else b for b in bags]
        bags = [b if len(b) else ngrams[r][:1] for b, r in zip(bags, rows)]
    lengths = np.array([len(b) for b in bags], dtype=np.int64)
    offsets = np.zeros(len(rows), dtype=np.int64)
    offsets[1:] = np.cumsum(lengths)[:-1]
    block = {
        "emb": torch.from_numpy(emb[rows]).to(device),
        "ngrams": torch.from_numpy(np.concatenate(bags) if bags else np.zeros(0, np.int64)).to(device),
        "offsets": torch.from_numpy(offsets).to(device),
    }
    if feats is not None:
        block["feats"] = torch.from_numpy(feats[rows]).to(device)
    if lexicon is not None:
        block["lexicon"] = torch.from_numpy(lexicon[rows]).to(device)
    return block


def item_block(data: TaskData, rows: np.ndarray, device, drop: float = 0.0, rng=None) -> tuple[dict, np.ndarray]:
    """The unique catalogue rows among `rows` and where each of `rows` sits among them."""
    unique, inverse = np.unique(rows, return_inverse=True)
    block = text_block(data.item_emb, data.item_ngrams, unique, device, data.item_feats, drop, rng)
    block["rows"] = torch.from_numpy(unique).to(device)
    return block, inverse.reshape(rows.shape)


def history_tensors(histories: list[np.ndarray], stars: list[np.ndarray]):
    """Left-aligned padded (B, L) rows, mask and star ids (0 = unknown); L >= 1."""
    length = max(1, max((len(h) for h in histories), default=0))
    rows = np.zeros((len(histories), length), np.int64)
    mask = np.zeros((len(histories), length), bool)
    star_ids = np.zeros((len(histories), length), np.int64)
    for i, (h, s) in enumerate(zip(histories, stars)):
        rows[i, : len(h)] = h
        mask[i, : len(h)] = True
        star_ids[i, : len(h)] = np.clip(np.rint(s), 0, 5).astype(np.int64)
    return rows, mask, star_ids


def history_batch(histories: list[np.ndarray], stars: list[np.ndarray], device) -> dict:
    """The history part of a shopper batch, with history rows pointing straight at catalogue rows."""
    rows, mask, star_ids = history_tensors(histories, stars)
    return {
        "history": torch.from_numpy(rows).to(device),
        "history_mask": torch.from_numpy(mask).to(device),
        "history_stars": torch.from_numpy(star_ids).to(device),
    }


def shopper_batch(
    data: TaskData, histories, stars, candidates: np.ndarray | None, device, profile: bool, drop: float = 0.0, rng=None
) -> dict:
    """A batch of shoppers: histories (+ candidates (B, C) to score) in one product block."""
    rows, mask, star_ids = history_tensors(histories, stars)
    wanted = rows if candidates is None else np.concatenate([rows, candidates], axis=1)
    block, where = item_block(data, wanted, device, drop, rng)
    batch = {
        "items": block,
        "history": torch.from_numpy(where[:, : rows.shape[1]]).to(device),
        "history_mask": torch.from_numpy(mask).to(device),
        "history_stars": torch.from_numpy(star_ids).to(device),
        "profile": profile,
    }
    if candidates is not None:
        batch["candidates"] = torch.from_numpy(where[:, rows.shape[1] :]).to(device)
    return batch
