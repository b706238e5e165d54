"""A small load test in CI: three concurrent browser sessions (two demo personas and a new visitor) in one
Chromium against the real app, each adding to the cart and sending reviews on products of its own.
No exception in any page, no session ever shows another's shopper or review, every confirmed
review is in the database exactly once, and the server timed each one as its panel's own rerun.
The full benchmark is `benchmarks/bench_load.py`."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import pytest

from tests.ui.test_browser import CHROMIUM, ROOT, AppServer


def load_bench():
    """benchmarks/bench_load.py by path (a site-packages module is also called `benchmarks`)."""
    if "bench_load" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_load", ROOT / "benchmarks" / "bench_load.py")
        sys.modules["bench_load"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["bench_load"]


bench_load = load_bench()

SESSIONS, REVIEWS = 3, 1

pytestmark = [
    pytest.mark.browser,
    pytest.mark.realdata,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"browser tests need Debian's Chromium at {CHROMIUM}"),
]


@pytest.fixture(scope="module")
def load_run(tmp_path_factory):
    state = tmp_path_factory.mktemp("load-state")
    app, rerun_log = AppServer(state), state / "reruns.jsonl"
    app.env["GUIDE_RERUN_LOG"] = str(rerun_log)
    app.start()
    try:
        # each session waits for the server's line of its click before the next click or closing its page
        drive = bench_load.drive(app.url, SESSIONS, REVIEWS, new_every=SESSIONS, rerun_log=rerun_log)
        results = asyncio.run(asyncio.wait_for(drive, timeout=240))
    finally:
        app.stop()
    return results, state / "guide.db"


def test_every_session_finishes_as_a_different_shopper(load_run):
    results, _ = load_run
    assert [r.error for r in results] == [None] * SESSIONS
    labels = [r.shopper.label for r in results]
    assert labels[-1] == bench_load.NEW_LABEL and len(set(labels)) == SESSIONS  # two personas and a new visitor
    assert [len(r.confirmed) for r in results] == [REVIEWS] * SESSIONS
    assert [r.carts for r in results] == [1] * SESSIONS


def test_no_exception_and_no_leak_between_sessions(load_run):
    results, _ = load_run
    assert sum(r.exceptions for r in results) == 0
    assert [leak for r in results for leak in r.leaks] == []


def test_each_confirmed_review_is_stored_exactly_once(load_run):
    results, database = load_run
    counts, integrity = bench_load.stored_counts(database, results)
    confirmed = [text for r in results for text in r.confirmed]
    assert len(confirmed) == SESSIONS * REVIEWS
    assert {text: counts[text] for text in confirmed} == dict.fromkeys(confirmed, 1)
    assert integrity == "ok"


def test_each_send_is_timed_on_the_server_as_its_panels_own_rerun(load_run):
    results, database = load_run
    reruns = bench_load.server_reruns(database.parent / "reruns.jsonl")
    requests = bench_load.per_request(results, reruns)
    assert len(requests) == SESSIONS * REVIEWS
    assert all(r["panel_only"] for r in requests), requests  # "Send review" reran its panel, not the page
    assert all(r["run_ms"] >= r["pass_ms"] > 0 for r in requests), requests
    carts = [line for (action, _), line in reruns.items() if action == "cart"]
    assert len(carts) == SESSIONS and not any(line["panel_only"] for line in carts)  # the cart reruns the page
