"""Batched model outputs over the task data sets (read by validation, calibration and evaluation)."""

from __future__ import annotations

import numpy as np
import torch

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT
from guide.data.task_data import PurchaseSplit, TaskData
from guide.model.inputs import history_batch, text_block
from guide.model.network import GuideModel
from guide.model.tasks import task_spec

CHUNK = 512


@torch.inference_mode()
def encode_catalog(
    model: GuideModel, emb: np.ndarray, ngrams: list[np.ndarray], feats: np.ndarray, device
) -> dict[str, torch.Tensor]:
    """Every product through the input encoder and trunk, in chunks: {task: (N, H)}."""
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(emb), CHUNK):
        rows = np.arange(start, min(start + CHUNK, len(emb)))
        block = text_block(emb, ngrams, rows, device, feats)
        block["rows"] = torch.from_numpy(rows).to(device)
        for task, rep in model.encode_items(block).items():
            parts.setdefault(task, []).append(rep)
    return {task: torch.cat(chunks) for task, chunks in parts.items()}


def item_representations(model: GuideModel, data: TaskData, device) -> dict[str, torch.Tensor]:
    """Every catalogue row of the task data: {task: (N, H)}."""
    return encode_catalog(model, data.item_emb, data.item_ngrams, data.item_feats, device)


@torch.inference_mode()
def attribute_probs(model, data: TaskData, rows: np.ndarray, device, reps=None) -> tuple[np.ndarray, np.ndarray]:
    reps = reps or item_representations(model, data, device)
    logits = model.attribute_logits(reps, torch.from_numpy(rows).to(device))
    tags, cats = task_spec(ATTRIBUTES).read(logits, model.config)
    return tags.cpu().numpy(), cats.cpu().numpy()


@torch.inference_mode()
def sentiment_log_probs(model, data: TaskData, rows: np.ndarray, device) -> np.ndarray:
    model.eval()
    out = []
    for start in range(0, len(rows), CHUNK):
        block = text_block(
            data.review_emb, data.review_ngrams, rows[start : start + CHUNK], device, lexicon=data.review_lexicon
        )
        out.append(torch.log_softmax(model({"reviews": block})[SENTIMENT], -1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 3), np.float32)


def _shopper_chunks(split: PurchaseSplit, device):
    for start in range(0, len(split.target), CHUNK // 4):
        stop = min(start + CHUNK // 4, len(split.target))
        yield start, stop, history_batch(split.history[start:stop], split.ratings[start:stop], device)


@torch.inference_mode()
def purchase_scores(
    model, data: TaskData, split: PurchaseSplit, device, candidates: np.ndarray, reps=None
) -> np.ndarray:
    """Logits (n, C) for each shopper's candidate rows (n, C), or for one shared candidate set (C,)."""
    reps = reps or item_representations(model, data, device)
    shared = torch.from_numpy(candidates).to(device) if candidates.ndim == 1 else None
    out = []
    for start, stop, batch in _shopper_chunks(split, device):
        batch["candidates"] = shared if shared is not None else torch.from_numpy(candidates[start:stop]).to(device)
        out.append(model(batch, item_repr=reps)[PURCHASE].cpu().numpy())
    return np.concatenate(out)


@torch.inference_mode()
def profile_probs(model, data: TaskData, split: PurchaseSplit, device, reps=None) -> np.ndarray:
    reps = reps or item_representations(model, data, device)
    out = []
    for _, _, batch in _shopper_chunks(split, device):
        batch["profile"] = True
        out.append(task_spec(PROFILE).read(model(batch, item_repr=reps)[PROFILE], model.config)[0].cpu().numpy())
    return np.concatenate(out)


def eval_candidates(split: PurchaseSplit) -> np.ndarray:
    return np.concatenate([split.target[:, None], split.negatives], axis=1)
