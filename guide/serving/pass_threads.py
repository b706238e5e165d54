"""The threads a forward pass of `Guide` runs on, whatever torch's and numpy's pools were set to.

A request scores the whole catalogue twice, back to back: torch's product of the shopper with the purchase
matrix (OpenMP pool) and numpy's content product of the shopper's mean vector with every product's text
vector (OpenBLAS pool). Each alone is as fast on two threads as on one, but one after the other the two pools'
idle workers spin for the cores the other pool needs: on the 2-core machine `predict` took several times
longer at torch's default threads than at one (README, "How fast it is"). A pass therefore runs on
`GUIDE_TORCH_THREADS` threads (default 1) in both pools and gives the previous setting back afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import torch
from threadpoolctl import ThreadpoolController

SERVING_THREADS_ENV = "GUIDE_TORCH_THREADS"  # torch intra-op threads while serving; default 1


def serving_threads() -> int:
    """`GUIDE_TORCH_THREADS`, else 1; ValueError for anything but a whole number >= 1."""
    raw = os.environ.get(SERVING_THREADS_ENV, "1").strip()
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{SERVING_THREADS_ENV}: expected a whole number >= 1, got {raw!r}; fix: unset it or set 1")
    return int(raw)


class PassThreads:
    """`with pass_threads():` runs its block on `serving_threads()` threads in torch's and the BLAS pools."""

    def __init__(self) -> None:
        self.threads = serving_threads()
        self._controller, self._modules = ThreadpoolController(), len(sys.modules)

    def _pools(self) -> ThreadpoolController:
        """The loaded thread pools, looked up again only after an import (a new module may bring a BLAS of its
        own, as scipy does): finding them costs about a millisecond, a pass about ten."""
        if len(sys.modules) != self._modules:
            self._controller, self._modules = ThreadpoolController(), len(sys.modules)
        return self._controller

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        before = torch.get_num_threads()
        if before != self.threads:
            torch.set_num_threads(self.threads)
        try:
            with self._pools().limit(limits=self.threads, user_api="blas"):
                yield
        finally:
            if before != self.threads:
                torch.set_num_threads(before)
