"""Batched model outputs over the task data sets (for validation, calibration and evaluation)."""

from __future__ import annotations

import numpy as np
import torch

from guide.batching import history_tensors, item_block, text_block
from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT
from guide.data.tasks import PurchaseSplit, TaskData
from guide.metrics import macro_f1, multilabel_f1, ndcg_of_label, ranking_metrics, tune_class_bias, tune_thresholds
from guide.model import GuideModel

CHUNK = 512


@torch.inference_mode()
def item_representations(model: GuideModel, data: TaskData, device) -> dict[str, torch.Tensor]:
    """Every catalogue row through the input encoder and trunk: {task: (N, H)}."""
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(data.item_emb), CHUNK):
        rows = np.arange(start, min(start + CHUNK, len(data.item_emb)))
        block, _ = item_block(data, rows, device)
        for task, rep in model.encode_items(block).items():
            parts.setdefault(task, []).append(rep)
    return {task: torch.cat(chunks) for task, chunks in parts.items()}


@torch.inference_mode()
def attribute_probs(model, data: TaskData, rows: np.ndarray, device, reps=None) -> tuple[np.ndarray, np.ndarray]:
    reps = reps or item_representations(model, data, device)
    logits = model.attribute_logits(reps, torch.from_numpy(rows).to(device))
    num_tags = len(data.tags)
    return (torch.sigmoid(logits[:, :num_tags]).cpu().numpy(),
            torch.softmax(logits[:, num_tags:], -1).cpu().numpy())


@torch.inference_mode()
def sentiment_log_probs(model, data: TaskData, rows: np.ndarray, device) -> np.ndarray:
    model.eval()
    out = []
    for start in range(0, len(rows), CHUNK):
        block = text_block(data.review_emb, data.review_ngrams, rows[start:start + CHUNK], device)
        out.append(torch.log_softmax(model({"reviews": block})[SENTIMENT], -1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 3), np.float32)


def _shopper_chunks(split: PurchaseSplit, device):
    for start in range(0, len(split.target), CHUNK // 4):
        stop = min(start + CHUNK // 4, len(split.target))
        rows, mask, stars = history_tensors(split.history[start:stop], split.ratings[start:stop])
        yield start, stop, {"history": torch.from_numpy(rows).to(device),
                            "history_mask": torch.from_numpy(mask).to(device),
                            "history_stars": torch.from_numpy(stars).to(device)}


@torch.inference_mode()
def purchase_scores(model, data: TaskData, split: PurchaseSplit, device, candidates: np.ndarray, reps=None) -> np.ndarray:
    """Logits (n, C) for each shopper's candidate rows."""
    reps = reps or item_representations(model, data, device)
    out = []
    for start, stop, batch in _shopper_chunks(split, device):
        batch["candidates"] = torch.from_numpy(candidates[start:stop]).to(device)
        out.append(model(batch, item_repr=reps)[PURCHASE].cpu().numpy())
    return np.concatenate(out)


@torch.inference_mode()
def profile_probs(model, data: TaskData, split: PurchaseSplit, device, reps=None) -> np.ndarray:
    reps = reps or item_representations(model, data, device)
    out = []
    for _, _, batch in _shopper_chunks(split, device):
        batch["profile"] = True
        out.append(torch.softmax(model(batch, item_repr=reps)[PROFILE], -1).cpu().numpy())
    return np.concatenate(out)


def eval_candidates(split: PurchaseSplit) -> np.ndarray:
    return np.concatenate([split.target[:, None], split.negatives], axis=1)


def validation_score(model: GuideModel, data: TaskData, device) -> tuple[float, dict[str, float]]:
    """Mean over active tasks of each task's headline metric on the validation split."""
    model.eval()
    tasks = model.config.tasks
    reps = item_representations(model, data, device)
    metrics = {}
    if ATTRIBUTES in tasks:
        rows = data.split_rows("valid")
        tags, cats = attribute_probs(model, data, rows, device, reps)
        known = data.cat_targets[rows] >= 0
        micro, _ = multilabel_f1(data.tag_targets[rows], (tags >= 0.35).astype(float))
        metrics[ATTRIBUTES] = 0.5 * micro + 0.5 * float(np.mean(cats[known].argmax(1) == data.cat_targets[rows][known]))
    if SENTIMENT in tasks:
        scores = []
        for source in np.unique(data.review_source):
            rows = data.review_rows("valid", source)
            if len(rows):
                scores.append(macro_f1(data.review_labels[rows], sentiment_log_probs(model, data, rows, device).argmax(1)))
        metrics[SENTIMENT] = float(np.mean(scores))
    split = data.purchase["valid"]
    if PURCHASE in tasks:
        scores = purchase_scores(model, data, split, device, eval_candidates(split), reps)
        metrics[PURCHASE] = float(ranking_metrics(scores)["ndcg@10"].mean())
    if PROFILE in tasks:
        probs = profile_probs(model, data, split, device, reps)
        num_cat = len(data.categories)
        target_cat = data.item_interest[split.target, :num_cat].argmax(1)
        metrics[PROFILE] = float(ndcg_of_label(probs[:, :num_cat], target_cat).mean())
    return float(np.mean(list(metrics.values()))), metrics


def calibrate(model: GuideModel, data: TaskData, device) -> dict:
    """Per-tag thresholds and sentiment class offsets, tuned on validation data."""
    out = {}
    if ATTRIBUTES in model.config.tasks:
        rows = data.split_rows("valid")
        tags, _ = attribute_probs(model, data, rows, device)
        out["tag_thresholds"] = tune_thresholds(data.tag_targets[rows], tags).round(3).tolist()
    if SENTIMENT in model.config.tasks:
        rows = data.review_rows("valid")
        log_probs = sentiment_log_probs(model, data, rows, device)
        out["sentiment_bias"] = tune_class_bias(data.review_labels[rows], log_probs).round(3).tolist()
    return out
