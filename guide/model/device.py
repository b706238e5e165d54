"""Device and seeds, resolved in one place."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def resolve_device(requested: str | None = None) -> torch.device:
    """`requested`, else `GUIDE_DEVICE`, else CUDA when available, else CPU."""
    name = requested or os.environ.get("GUIDE_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N'; got {name!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available here; fix: GUIDE_DEVICE=cpu")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
