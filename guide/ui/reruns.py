"""Panels that rerun alone, and the server-side time of the rerun that handles a click.

`fragment` is `st.fragment` for a panel whose clicks change only that panel (the review form and its result,
cart and buy, the tour's review step, the share link): a click reruns the panel, not the page around it.

The timing is off unless `GUIDE_RERUN_LOG` names a file (benchmarks/bench_load.py sets one in its temporary
directory). Then the callback of a timed click (`mark`) starts a clock, and the end of the run that draws its
result — the panel's own rerun, or the whole script's when the click reran the page — appends one JSON line:
the action, the product, the milliseconds from the callback to the end of that run, the CPU milliseconds the
session's script thread spent in them (`cpu_ms`: the rest of `run_ms` is waiting, for the GIL behind other
sessions' threads, for a lock or for the disk), whether the run was a panel's, and the model pass and the lock
wait inside it (`inside`). A callback is the first code a rerun runs
(Streamlit calls it right after it takes the click's message off the session's queue), so the figure is the
server's whole share of the click except the hand-over of the message to the session's script thread.
Nothing about the shopper is written: no visitor token, no review text. With `GUIDE_RERUN_PROFILE` naming a
folder as well, each timed rerun is also profiled (cProfile on the session's script thread, where the rerun
runs) into `<action>-<n>.prof` there: where its time goes.
"""

from __future__ import annotations

import cProfile
import functools
import itertools
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

LOG_ENV = "GUIDE_RERUN_LOG"
PROFILE_ENV = "GUIDE_RERUN_PROFILE"
_MARK = "rerun_mark"  # session state: the clock of the click this rerun handles
_OWED = "page_owed"  # session state: a click's result is drawn by the page, not by a panel
_WRITE = threading.Lock()  # one process serves every session: lines never interleave
_NUMBERS = itertools.count(1)  # profile files, numbered per process


def rerunning_alone() -> bool:
    """True while this run is a panel's own rerun (the page around it is not drawn again)."""
    ctx = get_script_run_ctx(suppress_warning=True)
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def owe_page() -> None:
    """A click whose result the page around the panels draws (cart, buy): the next run must be the page's."""
    st.session_state[_OWED] = True


def page_owed() -> None:
    """In a panel's own rerun: hand over to a page run when a click's result is still to be drawn. Streamlit
    merges a click with a change pending in another panel (text typed in the review box, not yet sent) into
    that panel's rerun, and the page part that shows the click's result would not be drawn."""
    if st.session_state.pop(_OWED, False) and rerunning_alone():
        st.rerun(scope="app")


def fragment(draw: Callable[..., None]) -> Callable[..., None]:
    """`st.fragment(draw)`; a click's clock stops at the end of the panel's own rerun."""

    @functools.wraps(draw)
    def timed(*args, **kwargs) -> None:
        draw(*args, **kwargs)  # a panel that hands over to a page run (`page_owed`) raises and logs nothing here
        if rerunning_alone():
            close()

    return st.fragment(timed)


def _log() -> Path | None:
    path = os.environ.get(LOG_ENV)
    return Path(path) if path else None


def mark(action: str, item_id: str) -> None:
    """Start the clock of a click (the first line of its callback); nothing when the log is off."""
    if _log() is None:
        return
    clock = {"action": action, "item": item_id, "started": time.perf_counter(), "cpu": time.thread_time()}
    if os.environ.get(PROFILE_ENV):
        clock["profile"] = cProfile.Profile()
        clock["profile"].enable()
    st.session_state[_MARK] = clock


def inside(pass_ms: float | None, wait_ms: float | None) -> None:
    """The model pass and the wait for its lock inside the click's rerun, as the app reports them."""
    if (clock := st.session_state.get(_MARK)) is not None:
        clock.update(pass_ms=pass_ms, wait_ms=wait_ms)


def close() -> None:
    """Stop the clock at the end of the run that drew the click's result and append its line."""
    clock, path = st.session_state.pop(_MARK, None), _log()
    if clock is None or path is None:
        return
    if (profile := clock.get("profile")) is not None:
        profile.disable()
        folder = Path(os.environ[PROFILE_ENV])
        folder.mkdir(parents=True, exist_ok=True)
        profile.dump_stats(folder / f"{clock['action']}-{next(_NUMBERS)}.prof")
    line = {
        "action": clock["action"],
        "item": clock["item"],
        "run_ms": round((time.perf_counter() - clock["started"]) * 1000, 1),
        "cpu_ms": round((time.thread_time() - clock["cpu"]) * 1000, 1),  # the callback and the run share a thread
        "panel_only": rerunning_alone(),
        "pass_ms": clock.get("pass_ms"),
        "wait_ms": clock.get("wait_ms"),
        "ended": time.time(),
    }
    with _WRITE, open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
