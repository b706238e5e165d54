"""Purchase scoring over task data: the head's logits fused with the content and transition signals, and the
ranks of each shopper's next product. Training validates and calibrates with it, the evaluation reports with it."""

from __future__ import annotations

import numpy as np

from guide.data.purchase_signals import content_scores
from guide.data.task_data import PurchaseSplit, TaskData
from guide.metrics.ranking import positions, target_ranks
from guide.model.fusion import Fusion
from guide.model.network import GuideModel
from guide.model.outputs import item_representations, purchase_scores


def fused_scores(model: GuideModel, data: TaskData, part: PurchaseSplit, device, reps, candidates: np.ndarray,
                 fusion: Fusion | None) -> np.ndarray:  # fmt: skip
    """(n, C) purchase scores of `candidates` (catalogue rows): the head's logits, plus content and
    transition signals when `fusion` weighs them."""
    neural = purchase_scores(model, data, part, device, candidates, reps)
    if fusion is None or (not fusion.content and not fusion.transitions):
        return neural
    return fusion.combine(neural, *purchase_signals(data, part.history, candidates))


def purchase_signals(data: TaskData, histories: list[np.ndarray], candidates: np.ndarray):
    """(content, transitions) scores (n, C) of `candidates` for each history."""
    content = content_scores(data.unit_item_emb, histories, candidates)
    transitions = data.transitions.scores(histories, candidates) if data.transitions is not None else None
    return content, transitions


def purchase_ranks(
    model: GuideModel,
    data: TaskData,
    split: PurchaseSplit,
    device,
    reps=None,
    users: np.ndarray | None = None,
    chunk: int = 1024,
    fusion: Fusion | None = None,
    catalogue: bool = False,
) -> dict[str, np.ndarray]:
    """0-based ranks of each shopper's target: `full` among all benchmark products (history masked) and
    `sampled` among its fixed 99 unseen negatives. `users` restricts to those shoppers (indices)."""
    reps = reps or item_representations(model, data, device)
    users = np.arange(len(split.target)) if users is None else users
    pool = data.amazon_rows
    full, sampled, whole = [], [], []
    for start in range(0, len(users), chunk):
        picked = users[start : start + chunk]
        part = split.subset(picked)
        everything = np.arange(len(data.item_emb))
        scores = fused_scores(model, data, part, device, reps, everything if catalogue else pool, fusion)
        if catalogue:  # the shop's view: every catalogue product competes (Sephora and Amazon 2023 too)
            seen_rows = [split.seen[i] if split.seen is not None else split.history[i] for i in picked]
            whole.append(target_ranks(scores, part.target, seen_rows))
            scores = scores[:, pool]  # (n, |pool|)
        target = positions(part.target, pool)
        seen = [split.seen[i] for i in picked] if split.seen is not None else part.history
        excluded = [positions(h, pool) for h in seen]
        full.append(target_ranks(scores, target, [e[e >= 0] for e in excluded]))
        if split.negatives is not None:
            candidates = np.concatenate([part.target[:, None], split.negatives[picked]], axis=1)
            columns = positions(candidates.ravel(), pool).reshape(candidates.shape)
            sampled.append(target_ranks(np.take_along_axis(scores, columns, 1), np.zeros(len(picked), np.int64)))
    out = {"full": np.concatenate(full)}
    if whole:
        out["catalogue"] = np.concatenate(whole)
    if sampled:
        out["sampled"] = np.concatenate(sampled)
    return out
