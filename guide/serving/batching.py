"""Micro-batching of concurrent forward passes.

Streamlit serves each browser session on its own thread, and every model pass runs under one lock. When
several sessions ask at once, the asks that queue up while a pass runs are served together: the first
waiter to get the lock takes everything queued (itself included), runs ONE batched pass, and hands each
thread its own slice of the result; the others find their answer ready when the lock comes to them. A
lone ask is a batch of one, so nothing waits for company. One pass over B asks costs far less than B
passes: the whole catalogue is scored for all of them in one matrix product that reads the product
matrix once, and the per-pass overhead (Python, small kernels) is paid once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

MAX_BATCH = 32  # asks served by one pass; a longer queue is served by the next passes


@dataclass(eq=False)
class Ask:
    """One caller's share of a pass: a shopper (`history` rows, oldest first, and their `stars`; None for
    text only), review `texts` to score, and the catalogue `rows` whose purchase probabilities it wants."""

    history: np.ndarray | None = None
    stars: np.ndarray | None = None
    texts: list[str] = field(default_factory=list)
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    owned: np.ndarray | None = None  # every product of the shopper's history, masked (None: `history`)
    encoded: dict | None = None  # `texts` through the sentence encoder, done by the asking thread, not the pass
    out: dict | None = None  # set by the pass
    error: BaseException | None = None  # set instead when this ask's pass failed
    done: bool = False  # `out` or `error` is final (a pass fills `out` step by step)
    asked: float = 0.0
    started: float = 0.0
    finished: float = 0.0

    @property
    def wait_ms(self) -> float:
        """From asking to the start of the pass that served this ask (other asks' passes before it)."""
        return (self.started - self.asked) * 1000

    @property
    def inference_ms(self) -> float:
        """The pass that served this ask, itself (shared with the asks batched with it)."""
        return (self.finished - self.started) * 1000


class MicroBatcher:
    """Serves `Ask`s through `run_pass(asks)` (which fills each ask's `out`) under `lock`, batching the
    asks that arrive while a pass runs. `passes` and `served` count passes and asks (for tests and
    benchmarks): `passes` every pass run, failed ones included; `served` the asks answered."""

    def __init__(self, lock: threading.Lock, run_pass: Callable[[list[Ask]], None], max_batch: int = MAX_BATCH):
        if max_batch < 1:
            raise ValueError(f"max_batch: expected >= 1, got {max_batch}")
        self._lock, self._run_pass, self.max_batch = lock, run_pass, max_batch
        self._queue: list[Ask] = []
        # Guards the queue and `_leading`; waiters sleep on it until their ask is answered or no pass is
        # being led. (Waiting on the model lock instead would let a served thread sit behind the next passes
        # just to learn it is done: a lock is not first come, first served.)
        self._state = threading.Condition()
        self._leading = False
        self.passes = self.served = 0

    @property
    def queued(self) -> int:
        """Asks waiting for a pass."""
        with self._state:
            return len(self._queue)

    @property
    def busy(self) -> bool:
        """A pass is being led (running, or waiting for the model lock)."""
        with self._state:
            return self._leading

    def run(self, ask: Ask) -> dict:
        """`ask`'s outputs, from a pass it leads or one it shares; re-raises its pass's error."""
        ask.asked = time.perf_counter()
        with self._state:
            self._queue.append(ask)
            while not ask.done and self._leading:
                self._state.wait()
            lead = not ask.done
            if lead:
                self._leading = True
                asks = self._take(ask)
        if lead:
            try:
                with self._lock:  # the model's lock: other model calls (explain) take it too
                    self._serve(asks)
            finally:
                with self._state:
                    self._leading = False
                    self._state.notify_all()
        if ask.error is not None:
            raise ask.error
        return ask.out

    def _take(self, ask: Ask) -> list[Ask]:
        """`ask` and up to max_batch - 1 others from the queue, oldest first (the caller holds `_state`)."""
        others = [a for a in self._queue if a is not ask][: self.max_batch - 1]
        taken = {id(a) for a in others} | {id(ask)}
        self._queue = [a for a in self._queue if id(a) not in taken]
        return [ask, *others]

    def _serve(self, asks: list[Ask]) -> None:
        self.passes += 1
        started = time.perf_counter()
        try:
            self._run_pass(asks)
        except Exception as error:  # handed to the owners' threads; one bad ask must not fail the others
            if len(asks) > 1:
                for ask in asks:  # alone, each ask gets its own result or its own error
                    ask.out = None
                    self._serve([ask])
                return
            asks[0].out, asks[0].error = None, error
        finished = time.perf_counter()
        self.served += sum(ask.error is None for ask in asks)
        for ask in asks:
            ask.started, ask.finished, ask.done = started, finished, True
