"""Load test of the shop on loopback: N concurrent shoppers in one Chromium, each a different shopper.

    .venv/bin/python benchmarks/bench_load.py [--sessions 20] [--reviews 2] [--timeout 900]
        [--server-cpus 0 --browser-cpus 1] [--profile-dir DIR]

Starts the real app (`streamlit run app.py` on a free 127.0.0.1 port, `AppServer` from the browser
tests) with its own SQLite database in a temporary directory, then drives `--sessions` browser contexts
of one Chromium (Playwright's asyncio API, so one process and one event loop drive them all). Each
session is a different shopper (a demo persona picked in the sidebar, every fifth a new visitor) and, on
products of its own, adds one to the cart and sends `--reviews` reviews carrying a token unique to it.

Reports, each beside its goal: exceptions shown in any page, cross-session leaks (a page showing
another session's shopper name or review token), reviews stored exactly once (read from the database
afterwards, with `PRAGMA integrity_check`), and for "Send review" two latencies per request, p50/p95:
the browser's (click to the result panel on screen) and the server's own (the app's `GUIDE_RERUN_LOG`,
`guide/ui/reruns.py`: from the click's callback to the end of the rerun that drew the result, with the
model pass, the wait for the model's lock and the CPU time of the session's script thread inside it: the rest
is waiting, for the GIL behind other sessions' threads, a lock or the disk); the same server time for "Add to
cart"; the CPU seconds of the server process and of the whole machine during the load, and the load average
(1 min) when the writing starts, its highest while it runs and at the end.

`--server-cpus` / `--browser-cpus` pin the server and this driver with its Chromium to CPU sets (as
`taskset -c 0` and `taskset -c 1` would), so the server's time can be read apart from the browsers'; without
them all share the machine. `--profile-dir` also profiles each timed rerun (cProfile, slower: for where the
time goes, not for the figures) and prints the top functions of the first "Send review" rerun.

Bounded: loopback only, at most 40 sessions, every wait has a timeout and the whole run stops after
`--timeout` seconds. Needs /usr/bin/chromium. The figures and their table are computed in
`benchmarks/load_figures.py`, one page's steps in `benchmarks/load_pages.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # load_figures, load_pages, also loaded by path

from load_figures import (  # noqa: E402  (the tests and profile_rerun read these here too)
    LoadSampler,
    cpu_list,
    cpu_seconds,
    cpus,
    load_average,
    machine_busy_seconds,
    per_request,  # noqa: F401  (tests/ui/test_load.py reads it here)
    print_profile,
    server_reruns,
    stored_counts,
    summarise,
    table,
)
from load_pages import (  # noqa: E402  (one page's steps; the fault tests and profile_rerun read them here)
    ARGS,
    CHROMIUM,
    FIRST_PAGE_MS,
    NEW_LABEL,
    add_to_cart,
    click_send,  # noqa: F401  (tests/serving/test_faults.py reads it here)
    inspect,
    open_product,
    open_shop,
    scout,
    send_review,
    server_done,
)

from guide.config import data_dir  # noqa: E402

MAX_SESSIONS = 40
REVIEW_WORDS = (
    "Soft on my skin and the scent is gentle, I would buy it again.",
    "It dried out my hair and the bottle leaked in the bag, disappointed.",
    "Does what it says, nothing special, fair price for the size.",
)


@dataclass
class Shopper:
    """One session's plan: who it shops as, its own products, and the token in each of its reviews."""

    index: int
    label: str
    items: list[str]
    token: str = field(default_factory=lambda: f"lt{secrets.token_hex(5)}")
    ready: bool = False  # its shop is open and the shopper picked: waiting for the writing phase

    def review_text(self, number: int) -> str:
        return f"{REVIEW_WORDS[(self.index + number) % len(REVIEW_WORDS)]} {self.token}r{number}"


@dataclass
class SessionResult:
    shopper: Shopper
    send_s: list[float] = field(default_factory=list)
    send_items: list[str] = field(default_factory=list)  # the product of each timed review (the server's key)
    confirmed: list[str] = field(default_factory=list)  # review texts whose "Review saved" panel was shown
    sent: list[str] = field(default_factory=list)
    carts: int = 0
    exceptions: int = 0
    leaks: list[str] = field(default_factory=list)
    error: str | None = None


# --- the catalogue and the shoppers ------------------------------------------------------------------
def catalogue_items(count: int, seed: int = 0) -> list[str]:
    """`count` distinct Amazon Beauty 2014 product ids with a title (from the data set's items.csv)."""
    path = data_dir() / "amazon_beauty_2014_5core" / "derived" / "items.csv"
    if not path.exists():
        raise SystemExit(f"expected the Beauty 2014 items at {path}, got nothing; fix: set GUIDE_DATA_DIR")
    with open(path, newline="") as handle:
        ids = [row["asin"] for row in csv.DictReader(handle) if row["title"].strip()]
    if len(ids) < count:
        raise SystemExit(f"expected at least {count} products in {path}, got {len(ids)}")
    return random.Random(seed).sample(ids, count)


def plan_shoppers(labels: list[str], sessions: int, per_session: int, new_every: int = 5) -> list[Shopper]:
    """Session i: the next demo persona, except every `new_every`-th (and any beyond the personas) a new
    visitor; each session gets `per_session` products no other session touches."""
    personas = [label for label in labels if label != NEW_LABEL]
    items = catalogue_items(sessions * per_session)
    plans, next_persona = [], 0
    for i in range(sessions):
        if i % new_every == new_every - 1 or next_persona >= len(personas):
            label = NEW_LABEL
        else:
            label, next_persona = personas[next_persona], next_persona + 1
        plans.append(Shopper(i, label, items[i * per_session : (i + 1) * per_session]))
    return plans


# --- one page ----------------------------------------------------------------------------------------
# --- one session -------------------------------------------------------------------------------------
async def run_session(
    browser,
    base: str,
    own: Shopper,
    everyone,
    reviews: int,
    start: asyncio.Event,
    cart: bool = True,
    rerun_log: Path | None = None,
) -> SessionResult:
    result, context = SessionResult(own), None
    rng = random.Random(own.index)
    try:
        context, page = await open_shop(browser, base, own)
        await inspect(page, own, everyone, result, "first page")
        own.ready = True
        await start.wait()
        for number in range(reviews):
            if number:  # the first product is already open
                await open_product(page, base, own.items[number])
                await inspect(page, own, everyone, result, f"product {number}")
            if number == 0 and cart:
                await add_to_cart(page)
                await server_done(rerun_log, "cart", own.items[number])
                result.carts += 1
            await page.wait_for_timeout(rng.randint(200, 1200))  # a shopper reads before writing
            text = own.review_text(number)
            result.sent.append(text)
            seconds = await send_review(page, 1 + (own.index + number) % 5, text)
            await server_done(rerun_log, "send_review", own.items[number])
            result.confirmed.append(text)
            result.send_s.append(seconds)
            result.send_items.append(own.items[number])
            await inspect(page, own, everyone, result, f"review {number}")
    except Exception as error:  # a timeout or a lost page: this session failed, the others go on
        result.error = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
    finally:
        if context is not None:
            await context.close()
    return result


async def drive(
    base: str,
    sessions: int,
    reviews: int,
    on_start=None,
    new_every: int = 5,
    cart: bool = True,
    rerun_log: Path | None = None,
) -> list[SessionResult]:
    """Open the app once, read the shoppers, then run every session at once (one browser, N contexts). With
    `rerun_log` (the app's GUIDE_RERUN_LOG) each session waits for the server's line of a click before its next."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            began = time.perf_counter()
            plans = plan_shoppers(await scout(browser, base, sessions), sessions, reviews, new_every)
            log(f"app up, {len(plans)} shoppers planned", began)
            start = asyncio.Event()
            tasks = [
                asyncio.create_task(run_session(browser, base, p, plans, reviews, start, cart, rerun_log))
                for p in plans
            ]
            await _when_ready(tasks, plans, start, on_start)
            log(f"{sum(p.ready for p in plans)} sessions on their first product; writing", began)
            results = list(await asyncio.gather(*tasks))
            log("all sessions done", began)
            return results
        finally:
            await browser.close()


def log(message: str, since: float) -> None:
    print(f"[{time.perf_counter() - since:6.1f} s] {message}", file=sys.stderr, flush=True)


async def _when_ready(tasks, plans, start: asyncio.Event, on_start) -> None:
    """Let every session open its shop first, then start the writing phase together."""
    deadline = time.monotonic() + FIRST_PAGE_MS / 1000
    while time.monotonic() < deadline and not all(p.ready or t.done() for t, p in zip(tasks, plans)):
        await asyncio.sleep(0.25)
    if on_start:
        on_start()
    start.set()


def run(
    sessions: int,
    reviews: int,
    timeout: float,
    state_dir: Path,
    server_cpus: set[int] | None = None,
    browser_cpus: set[int] | None = None,
    profile_dir: Path | None = None,
) -> dict:
    from tests.ui.test_browser import AppServer

    app, rerun_log = AppServer(state_dir), state_dir / "reruns.jsonl"
    app.env["GUIDE_RERUN_LOG"] = str(rerun_log)
    if profile_dir is not None:
        app.env["GUIDE_RERUN_PROFILE"] = str(profile_dir)
    own = os.sched_getaffinity(0)
    if server_cpus:
        os.sched_setaffinity(0, server_cpus)  # the server inherits it
    app.start()
    os.sched_setaffinity(0, browser_cpus or own)  # this driver and the Chromium it launches
    cpu: dict[str, float] = {}
    sampler = LoadSampler()

    def on_start() -> None:
        cpu.update(server=cpu_seconds(app.process.pid), machine=machine_busy_seconds(), wall=time.perf_counter())
        cpu["load"] = load_average()
        sampler.start()

    try:
        results = asyncio.run(
            asyncio.wait_for(drive(app.url, sessions, reviews, on_start, rerun_log=rerun_log), timeout)
        )
        sampler.done.set()
        load = {
            "server_cpu_s": cpu_seconds(app.process.pid) - cpu["server"],
            "machine_busy_s": machine_busy_seconds() - cpu["machine"],
            "wall_s": time.perf_counter() - cpu["wall"],
            "server_cpu_total_s": cpu_seconds(app.process.pid),
            "load_start": cpu["load"],
            "load_max": max([cpu["load"], *sampler.samples]),
            "load_average_1min_after": load_average(),
            "server_cpus": cpu_list(app.process.pid),
            "browser_cpus": cpu_list(0),
        }
    finally:
        sampler.done.set()
        app.stop()
        os.sched_setaffinity(0, own)
    counts, integrity = stored_counts(state_dir / "guide.db", results)
    return summarise(results, counts, integrity, load, server_reruns(rerun_log))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help=f"concurrent shoppers (1..{MAX_SESSIONS})")
    parser.add_argument("--reviews", type=int, default=2, help="reviews per shopper (1..5)")
    parser.add_argument("--timeout", type=float, default=900, help="stop the whole run after this many seconds")
    parser.add_argument("--server-cpus", help="CPUs of the server, as `taskset -c` takes them (e.g. 0)")
    parser.add_argument("--browser-cpus", help="CPUs of this driver and its Chromium (e.g. 1)")
    parser.add_argument("--profile-dir", type=Path, help="profile each timed rerun into this folder (slower)")
    parser.add_argument("--json", type=Path, help="also write the figures (and every request) here")
    args = parser.parse_args()
    if not 1 <= args.sessions <= MAX_SESSIONS or not 1 <= args.reviews <= 5:
        parser.error(f"expected 1..{MAX_SESSIONS} sessions and 1..5 reviews, got {args.sessions} and {args.reviews}")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"expected Chromium at {CHROMIUM}, got nothing; fix: bash scripts/test.sh installs it")
    server_cpus, browser_cpus = cpus(args.server_cpus), cpus(args.browser_cpus)
    with tempfile.TemporaryDirectory(prefix="guide-load-") as state:
        summary = run(
            args.sessions, args.reviews, args.timeout, Path(state), server_cpus, browser_cpus, args.profile_dir
        )
    print(table(summary))
    if summary["leaks"] or summary["sessions_failed"]:
        print(json.dumps({"leaks": summary["leaks"], "failed": summary["sessions_failed"]}, indent=1))
    if args.profile_dir:
        print_profile(args.profile_dir)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
