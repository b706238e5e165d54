"""One loss per task (`model.tasks.TASK_SPECS` says which task uses which)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def purchase_loss(logits: torch.Tensor, targets: dict) -> torch.Tensor:
    """Sampled softmax: at every real history position (P, C), the next product among the shared candidates
    (`next`: (P,) index into them). `labels` (B, C) 0/1 instead: binary cross-entropy."""
    if "next" in targets:
        return F.cross_entropy(logits, targets["next"])
    return F.binary_cross_entropy_with_logits(logits, targets["labels"])


def attributes_loss(logits: torch.Tensor, targets: dict) -> torch.Tensor:
    num_tags = targets["tags"].shape[1]
    tag_logits, cat_logits = logits[:, :num_tags], logits[:, num_tags:]
    mask = targets["tag_mask"]
    tags = F.binary_cross_entropy_with_logits(tag_logits, targets["tags"], weight=mask, reduction="sum")
    tags = tags / mask.sum().clamp_min(1.0) * 10.0  # ~ per-item scale: tags are sparse
    known = targets["category"] >= 0
    if known.any():
        return tags + F.cross_entropy(cat_logits[known], targets["category"][known])
    return tags


def sentiment_loss(logits: torch.Tensor, targets: dict) -> torch.Tensor:
    """Cross-entropy; with `adjust` (3,) (logit adjustment, `batches.sentiment_adjustment`) added to the logits
    in the loss only, so that the logits the model serves are those of a balanced class prior."""
    if "adjust" in targets:
        logits = logits + targets["adjust"]
    return F.cross_entropy(logits, targets["labels"])


def profile_loss(logits: torch.Tensor, targets: dict) -> torch.Tensor:
    """Cross-entropy against the next item's interest distribution (KL up to a constant)."""
    return -(targets["interest"] * F.log_softmax(logits, dim=-1)).sum(-1).mean()
