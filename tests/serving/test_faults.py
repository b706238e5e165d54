"""SIGKILL of the real app server while browser sessions are writing reviews: every review whose
"Review saved" panel was shown is in the SQLite file (exactly once), and the file passes
`PRAGMA integrity_check`. The server is `streamlit run app.py` on a loopback port (`AppServer` from the
browser tests); the sessions are the load benchmark's (`benchmarks/bench_load.py`), in one Chromium."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.ui.test_browser import CHROMIUM, AppServer
from tests.ui.test_load import load_bench

SESSIONS = 3
KILL_AFTER = 3  # confirmed reviews (over all sessions) before the kill, which comes while others are in flight
MAX_REVIEWS = 15  # per session: a bound in case the kill never comes
BOUND_S = 240

pytestmark = [
    pytest.mark.browser,
    pytest.mark.realdata,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"browser tests need Debian's Chromium at {CHROMIUM}"),
]
bench_load = load_bench()


@dataclass
class Writer:
    """One session writing reviews one after another on its product page."""

    shopper: object
    page: object = None
    confirmed: list[str] = field(default_factory=list)
    in_flight: str | None = None  # the review sent whose result is not shown yet


async def write_until_stopped(browser, base: str, writer: Writer, stop: asyncio.Event) -> None:
    _, writer.page = await bench_load.open_shop(browser, base, writer.shopper)
    for number in range(MAX_REVIEWS):
        if stop.is_set():
            return
        text = writer.shopper.review_text(number)
        writer.in_flight = text
        outcome = await bench_load.click_send(writer.page, 1 + number % 5, text)
        await outcome.get_by_text("Review saved", exact=False).first.wait_for(timeout=60_000)
        writer.confirmed.append(text)
        writer.in_flight = None


async def shown_after_kill(writer: Writer) -> list[str]:
    """A result the page received before the kill but the writer had not yet seen."""
    text = writer.in_flight
    if text is None or writer.page is None:
        return []
    panel = writer.page.locator(".st-key-outcome").filter(has_text=text).get_by_text("Review saved", exact=False)
    return [text] if await panel.count() else []


async def kill_while_writing(app: AppServer) -> tuple[list[Writer], list[str]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=bench_load.ARGS)
        try:
            labels = await bench_load.scout(browser, app.url, SESSIONS)
            plans = bench_load.plan_shoppers(labels, SESSIONS, 1, new_every=SESSIONS)
            writers, stop = [Writer(plan) for plan in plans], asyncio.Event()
            tasks = [asyncio.create_task(write_until_stopped(browser, app.url, w, stop)) for w in writers]
            while sum(len(w.confirmed) for w in writers) < KILL_AFTER or not any(w.in_flight for w in writers):
                if all(task.done() for task in tasks):
                    raise AssertionError(f"every writer stopped before the kill: {[t.exception() for t in tasks]}")
                await asyncio.sleep(0.05)
            in_flight = [w.in_flight for w in writers if w.in_flight]
            app.process.send_signal(signal.SIGKILL)
            app.process.wait(timeout=30)
            app.process = None
            stop.set()
            await asyncio.sleep(1)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for writer in writers:
                writer.confirmed += await shown_after_kill(writer)
            return writers, in_flight
        finally:
            await browser.close()


def test_sigkill_while_writing_loses_no_confirmed_review(tmp_path):
    app = AppServer(tmp_path)
    app.start()
    started = time.monotonic()
    try:
        writers, in_flight = asyncio.run(asyncio.wait_for(kill_while_writing(app), timeout=BOUND_S))
    finally:
        app.stop()  # a no-op once killed
    assert time.monotonic() - started < BOUND_S
    assert in_flight, "the kill came while no review was being written"
    confirmed = [text for writer in writers for text in writer.confirmed]
    assert len(confirmed) >= KILL_AFTER
    with sqlite3.connect(tmp_path / "guide.db") as conn:  # opening recovers the WAL, as a restarted app does
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        stored = dict(conn.execute("SELECT text, count(*) FROM reviews GROUP BY text").fetchall())
        events = conn.execute("SELECT count(*) FROM events WHERE kind = 'review'").fetchone()[0]
    assert {text: stored.get(text, 0) for text in confirmed} == dict.fromkeys(confirmed, 1)
    assert set(stored) <= set(confirmed) | set(in_flight)  # nothing else was written
    assert max(stored.values()) == 1 and events == sum(stored.values())  # a review and its event, or neither
