"""Device and seeds, resolved in one place."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

DEVICE_ENV = "GUIDE_DEVICE"  # overrides every other choice of device (a caller's, a config's)


def resolve_device(requested: str | None = None) -> torch.device:
    """`GUIDE_DEVICE` (it overrides), else `requested`, else CUDA when available, else CPU.

    The device is a setting of this run on this machine, never of a model: a checkpoint does not carry one
    (`Checkpoint` drops it), so a model trained on CUDA is served, evaluated and has its twins trained on a
    machine without one."""
    name = os.environ.get(DEVICE_ENV) or requested or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(
            f"device: expected 'cpu', 'cuda' or 'cuda:N'; got {name!r}; fix: pass one of those or unset {DEVICE_ENV}"
        ) from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available here; fix: {DEVICE_ENV}=cpu")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
