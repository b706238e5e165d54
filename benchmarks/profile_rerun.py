"""What one "Send review" costs the server, on an otherwise idle app, and where that time goes.

    .venv/bin/python benchmarks/profile_rerun.py [--reviews 6] [--top 25] [--server-cpus 0 --browser-cpus 1]

Starts the real app twice (`streamlit run app.py` on a free 127.0.0.1 port, `AppServer` from the browser tests,
its own SQLite database in a temporary directory) and drives ONE Chromium session: it opens `--reviews`
products one after another (each a page run) and sends one review on each ("Send review" reruns the review
panel alone, `st.fragment`), waiting for each to finish before the next, so nothing else runs in the server.
The first product and its review warm the app up and are not counted.

First run, timed: per "Send review" the server's own time (`GUIDE_RERUN_LOG`, `guide/ui/reruns.py`: callback to
the end of the panel's rerun), the CPU time of the session's script thread inside it, and the server process's
CPU from the click until the browser has the result (every thread: the script thread, plus the event loop that
serialises and sends the rerun's messages); the same process CPU for opening a product (a page run).
Second run, profiled (`GUIDE_RERUN_PROFILE`: cProfile on the script thread, which slows it): the sends' profiles
merged, the share of a rerun in each part of it (`AREAS`) and the top functions by cumulative time.

These per-click CPU costs are what `benchmarks/bench_load.py`'s sessions queue for on the server's one core.
Needs /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pstats
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _bench_load():
    """benchmarks/bench_load.py by path (a site-packages module is also called `benchmarks`)."""
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "benchmarks" / "bench_load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_load"] = module
    spec.loader.exec_module(module)
    return module


bench_load = _bench_load()

# Parts of a "Send review" rerun: (label, file fragment, function name); each is the cumulative time of that
# function in the script thread's profile, as a share of the whole rerun (parts can nest: shares do not add).
AREAS = (
    ("callback: the review through the model + store (submit_review)", "guide/serving/shop.py", "submit_review"),
    ("  of it: the forward pass (Guide.predict)", "guide/serving/facade.py", "predict"),
    ("  of it: the store's transaction (save_review)", "guide/serving/store.py", "save_review"),
    ("panel: the saved review's Why (why_review, occlusion)", "guide/serving/shop.py", "why_review"),
    ("panel: the product's reviews read again (reviews_of)", "guide/serving/shop.py", "reviews_of"),
    ("panel: the result (show_outcome)", "guide/ui/outcome.py", "show_outcome"),
    ("  of it: the interests chart built (charts.before_after)", "guide/ui/charts.py", "before_after"),
    ("  of it: st.plotly_chart (figure -> JSON)", "streamlit/elements/plotly_chart.py", "plotly_chart"),
    ("panel: the reviews listed (review_block)", "guide/ui/components.py", "review_block"),
    ("panel: the form (review_form.draw)", "guide/ui/review_form.py", "draw"),
    ("every element: Streamlit's enqueue of its delta", "streamlit/delta_generator.py", "_enqueue"),
)


def area_seconds(stats: pstats.Stats, path_part: str, name: str) -> float:
    """Cumulative seconds of the function `name` in a file whose path contains `path_part` (summed over
    same-named functions there, but a recursive one counted once per outermost call, as pstats does)."""
    return sum(entry[3] for (file, _, function), entry in stats.stats.items() if function == name and path_part in file)


def timed_run(state: Path, items: list[str], cpus: tuple[set[int] | None, set[int] | None], profile: Path | None):
    """One server, one browser session: per product its page run's and its send's costs."""
    from playwright.sync_api import sync_playwright

    from tests.ui.test_browser import AppServer

    app = AppServer(state)
    app.env["GUIDE_RERUN_LOG"] = str(state / "reruns.jsonl")
    if profile is not None:
        app.env["GUIDE_RERUN_PROFILE"] = str(profile)
    own = os.sched_getaffinity(0)
    if cpus[0]:
        os.sched_setaffinity(0, cpus[0])  # the server inherits it
    app.start()
    os.sched_setaffinity(0, cpus[1] or own)
    opens, carts, stars, sends, rss_mb = [], [], [], [], None
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=bench_load.CHROMIUM, args=bench_load.ARGS)
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.set_default_timeout(bench_load.FIRST_PAGE_MS)
            for number, item in enumerate(items):
                before = bench_load.cpu_seconds(app.process.pid)
                page.goto(f"{app.url}/product?product={item}")
                _settle(page, "Write a review")
                opened = bench_load.cpu_seconds(app.process.pid)
                page.locator(".st-key-act_cart").get_by_role("button", name="Add to cart").click()  # a page rerun
                _settle(page, "Added to your cart")
                carted = bench_load.cpu_seconds(app.process.pid)
                text = f"{bench_load.REVIEW_WORDS[number % len(bench_load.REVIEW_WORDS)]} pr{number}"
                page.get_by_role("radio", name=f"{1 + number % 5} out of 5 stars").click()  # reruns the panel
                _settle(page)
                starred = bench_load.cpu_seconds(app.process.pid)
                page.get_by_label("Your review").fill(text)  # sent with the click (the box loses focus)
                clicked = bench_load.cpu_seconds(app.process.pid)
                page.get_by_role("button", name="Send review").click()
                page.locator(".st-key-outcome").filter(has_text=text).get_by_text("Review saved").wait_for()
                _settle(page)
                sends.append(bench_load.cpu_seconds(app.process.pid) - clicked)
                opens.append(opened - before)
                carts.append(carted - opened)
                stars.append(starred - carted)
            browser.close()
        rss_mb = resident_mb(app.process.pid)
    finally:
        app.stop()
        os.sched_setaffinity(0, own)
    lines = [json.loads(line) for line in (state / "reruns.jsonl").read_text().splitlines()]
    reruns = [line for line in lines if line["action"] == "send_review"]
    return opens[1:], carts[1:], stars[1:], sends[1:], reruns[1:], rss_mb  # the first product warms up


def resident_mb(pid: int) -> float:
    """The server's resident memory (VmRSS) in MB."""
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _settle(page, text: str | None = None) -> None:
    if text:
        page.get_by_text(text, exact=False).first.wait_for()
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
    page.wait_for_timeout(500)  # the event loop sends what the rerun queued: counted in the process CPU


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values):7.1f} ms (min {min(values):.1f}, max {max(values):.1f})"


def report_timing(opens, carts, stars, sends, reruns: list[dict], rss_mb) -> None:
    """Each click's costs, medians over the products (process CPU in seconds, the log's lines in ms)."""
    outside = [s * 1000 - r["cpu_ms"] for s, r in zip(sends, reruns, strict=True)]
    print(f"'Send review' alone on an idle server, {len(reruns)} sends (the median over them):")
    print(f"  server time, callback -> end of the panel's rerun  {median_ms([r['run_ms'] for r in reruns])}")
    print(f"  CPU of the script thread inside it                  {median_ms([r['cpu_ms'] for r in reruns])}")
    print(f"  of it the model pass (wall)                         {median_ms([r['pass_ms'] for r in reruns])}")
    print(f"  server process CPU, click -> result sent            {median_ms([s * 1000 for s in sends])}")
    print(f"  of it outside the rerun (after its end; event loop) {median_ms(outside)}")
    alone = sum(r["panel_only"] for r in reruns)
    print(f"  panel's own rerun (not the page's)                  {alone} of {len(reruns)}")
    print(f"picking the stars before it (a panel rerun), process CPU {median_ms([s * 1000 for s in stars])}")
    print(f"opening a product (a page run), process CPU           {median_ms([s * 1000 for s in opens])}")
    print(f"'Add to cart' (a page rerun), process CPU             {median_ms([s * 1000 for s in carts])}")
    print(f"server resident memory at the end                     {rss_mb:.0f} MB")


def report_profile(folder: Path, top: int) -> None:
    files = sorted(folder.glob("send_review-*.prof"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))[1:]
    if not files:
        print(f"no 'Send review' profile in {folder}")
        return
    stats = pstats.Stats(*map(str, files))
    total = stats.total_tt / len(files)
    print(f"\nprofiled (cProfile, the script thread; slower than above), {len(files)} sends, per send:")
    print(f"  whole rerun (callback + panel) {total * 1000:7.1f} ms  100%")
    for label, path_part, name in AREAS:
        seconds = area_seconds(stats, path_part, name) / len(files)
        print(f"  {label:<62} {seconds * 1000:7.1f} ms  {seconds / total:4.0%}")
    print(f"\ntop {top} functions by cumulative time, summed over the {len(files)} sends:")
    stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=6, help="products opened and reviewed (the first warms up)")
    parser.add_argument("--top", type=int, default=25, help="functions listed from the profile")
    parser.add_argument("--server-cpus", help="CPUs of the server, as `taskset -c` takes them (e.g. 0)")
    parser.add_argument("--browser-cpus", help="CPUs of this driver and its Chromium (e.g. 1)")
    parser.add_argument("--no-profile", action="store_true", help="the timed run only")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `timeout` stops the app server with us
    if not 2 <= args.reviews <= 20:
        parser.error(f"expected 2..20 reviews, got {args.reviews}")
    cpus = (bench_load.cpus(args.server_cpus), bench_load.cpus(args.browser_cpus))
    items = bench_load.catalogue_items(args.reviews, seed=1)
    print(f"load average (1 min) before: {bench_load.load_average():.2f} on {os.cpu_count()} cores")
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="guide-rerun-") as state:
        report_timing(*timed_run(Path(state), items, cpus, None))
    if not args.no_profile:
        with tempfile.TemporaryDirectory(prefix="guide-rerun-") as state:
            timed_run(Path(state), items, cpus, Path(state) / "profiles")
            report_profile(Path(state) / "profiles", args.top)
    print(f"\nload average (1 min) after: {bench_load.load_average():.2f}; {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
