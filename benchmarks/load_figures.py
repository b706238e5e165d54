"""The load benchmark's figures (`benchmarks/bench_load.py` drives the sessions): what the database stored, the
app's rerun log per request, CPU and load-average readings of the server and the machine, percentiles, the
summary and its table beside the goals, a rerun's profile; and the `taskset -c` style CPU sets it pins to."""

from __future__ import annotations

import json
import os
import pstats
import sqlite3
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench_load import SessionResult

GOAL_P95_S = 2.0  # the browser's "Send review" -> result, 12 sessions, the server on a core of its own
GOAL_SERVER_P95_S = 1.0  # the server's own share of it


def stored_counts(database: Path, results: list[SessionResult]) -> tuple[dict[str, int], str]:
    """How often each sent review text is in the database, and `PRAGMA integrity_check`."""
    with sqlite3.connect(database) as conn:  # as the app opens it: a WAL left by a crash is recovered
        counts = {}
        for result in results:
            for text in result.sent:
                counts[text] = conn.execute("SELECT count(*) FROM reviews WHERE text = ?", (text,)).fetchone()[0]
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return counts, check


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores; /proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def server_reruns(path: Path) -> dict[tuple[str, str], dict]:
    """The app's GUIDE_RERUN_LOG: (action, product) -> its line (each session acts on products of its own)."""
    if not path.exists():
        return {}
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(line["action"], line["item"]): line for line in lines}


def logged(path: Path, action: str, item: str) -> bool:
    """Whether the app's GUIDE_RERUN_LOG has the line of this click yet (a line half written reads as not yet)."""
    try:
        return (action, item) in server_reruns(path)
    except json.JSONDecodeError:
        return False


def per_request(results: list[SessionResult], reruns: dict[tuple[str, str], dict]) -> list[dict]:
    """Each timed "Send review": the browser's seconds beside the server's line for the same product."""
    rows = []
    for result in results:
        for seconds, item in zip(result.send_s, result.send_items, strict=True):
            server = reruns.get(("send_review", item), {})
            rows.append({"session": result.shopper.index, "item": item, "browser_s": seconds, **server})
    return rows


def summarise(results: list[SessionResult], counts: dict[str, int], integrity: str, load: dict, reruns: dict) -> dict:
    confirmed = [t for r in results for t in r.confirmed]
    requests = per_request(results, reruns)
    server = [r["run_ms"] / 1000 for r in requests if "run_ms" in r]
    passes = [r["pass_ms"] for r in requests if r.get("pass_ms") is not None]
    waits = [r["wait_ms"] for r in requests if r.get("wait_ms") is not None]
    cpu = [r["cpu_ms"] for r in requests if r.get("cpu_ms") is not None]
    carts = [line["run_ms"] / 1000 for (action, _), line in reruns.items() if action == "cart"]
    browser = [r["browser_s"] for r in requests]
    return {
        "sessions": len(results),
        "sessions_failed": [f"{r.shopper.index}: {r.error}" for r in results if r.error],
        "reviews_sent": len(counts),
        "reviews_confirmed": len(confirmed),
        "confirmed_stored_once": sum(counts.get(t) == 1 for t in confirmed),
        "stored_more_than_once": sum(c > 1 for c in counts.values()),
        "stored_unconfirmed": sum(c > 0 for t, c in counts.items() if t not in confirmed),
        "integrity_check": integrity,
        "carts": sum(r.carts for r in results),
        "exceptions": sum(r.exceptions for r in results),
        "leaks": [leak for r in results for leak in r.leaks],
        "send_p50_s": percentile(browser, 50),
        "send_p95_s": percentile(browser, 95),
        "server_timed": len(server),
        "server_panel_only": sum(bool(r.get("panel_only")) for r in requests),
        "server_p50_s": percentile(server, 50),
        "server_p95_s": percentile(server, 95),
        "pass_p50_ms": percentile(passes, 50),
        "pass_p95_ms": percentile(passes, 95),
        "wait_p50_ms": percentile(waits, 50),
        "wait_p95_ms": percentile(waits, 95),
        "cpu_p50_ms": percentile(cpu, 50),
        "cpu_p95_ms": percentile(cpu, 95),
        "cart_server_p50_s": percentile(carts, 50),
        "cart_server_p95_s": percentile(carts, 95),
        "requests": requests,
        **load,
    }


def _verdict(value: float | None, goal: float) -> str:
    if value is None:
        return f"≤ {goal:g} s: not measured"
    if value <= goal:
        return f"≤ {goal:g} s: met"
    return f"≤ {goal:g} s: NOT met, by {value - goal:.2f} s ({value / goal:.1f}x)"


def table(summary: dict) -> str:
    def fmt(value, unit="", digits=2):
        return "–" if value is None else f"{value:.{digits}f}{unit}"

    def pair(low, high, unit, digits=2):
        return f"{fmt(summary[low], unit, digits)} / {fmt(summary[high], unit, digits)}"

    once, confirmed = summary["confirmed_stored_once"], summary["reviews_confirmed"]
    rows = [
        ("sessions (failed)", f"{summary['sessions']} ({len(summary['sessions_failed'])})", "0 failed"),
        ("exceptions shown in a page", str(summary["exceptions"]), "0"),
        ("cross-session leaks", str(len(summary["leaks"])), "0"),
        (
            "reviews confirmed / stored exactly once",
            f"{confirmed} / {once} (twice: {summary['stored_more_than_once']})",
            "all, once",
        ),
        ("SQLite integrity_check", summary["integrity_check"], "ok"),
        ("'Send review' browser: click -> result, p50", fmt(summary["send_p50_s"], " s"), "–"),
        (
            "'Send review' browser: click -> result, p95",
            fmt(summary["send_p95_s"], " s"),
            _verdict(summary["send_p95_s"], GOAL_P95_S),
        ),
        ("'Send review' server: callback -> rerun end, p50", fmt(summary["server_p50_s"], " s"), "–"),
        (
            "'Send review' server: callback -> rerun end, p95",
            fmt(summary["server_p95_s"], " s"),
            _verdict(summary["server_p95_s"], GOAL_SERVER_P95_S),
        ),
        (
            "  server-timed requests / of them the panel's own rerun",
            f"{summary['server_timed']} of {confirmed} / {summary['server_panel_only']}",
            "all / –",
        ),
        ("  inside it: model pass, p50 / p95", pair("pass_p50_ms", "pass_p95_ms", " ms", 0), "–"),
        ("  inside it: wait for the model lock, p50 / p95", pair("wait_p50_ms", "wait_p95_ms", " ms", 0), "–"),
        ("  inside it: CPU of its script thread, p50 / p95", pair("cpu_p50_ms", "cpu_p95_ms", " ms", 0), "–"),
        (
            "'Add to cart' server: callback -> rerun end, p50 / p95",
            pair("cart_server_p50_s", "cart_server_p95_s", " s"),
            "–",
        ),
        (
            "server CPU s / machine busy CPU s / wall s (load phase)",
            f"{summary['server_cpu_s']:.1f} / {summary['machine_busy_s']:.1f} / {summary['wall_s']:.1f}",
            "–",
        ),
        (
            "load average (1 min): start / highest / end",
            f"{summary['load_start']:.1f} / {summary['load_max']:.1f} / {summary['load_average_1min_after']:.1f}",
            f"{os.cpu_count()} cores",
        ),
        ("CPUs: server / browsers", f"{summary['server_cpus']} / {summary['browser_cpus']}", "–"),
    ]
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    return "\n".join(f"{name:<{width}}  {value:>{value_width}}  goal {goal}" for name, value, goal in rows)


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


class LoadSampler(threading.Thread):
    """The 1-minute load average once a second while the sessions write (its highest is what they met)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(1.0):
            self.samples.append(load_average())


def cpus(spec: str | None) -> set[int] | None:
    """`taskset -c` style CPU list ("0", "1-3", "0,2") as a set; None keeps the process's own."""
    if not spec:
        return None
    chosen = set()
    for part in spec.split(","):
        low, _, high = part.partition("-")
        chosen.update(range(int(low), int(high or low) + 1))
    available = os.sched_getaffinity(0)
    if not chosen <= available:
        raise SystemExit(f"expected CPUs among {sorted(available)}, got {spec!r}; fix: pick from `nproc`")
    return chosen


def cpu_list(pid: int) -> str:
    return ",".join(map(str, sorted(os.sched_getaffinity(pid))))


def print_profile(profile_dir: Path, top: int = 25) -> None:
    """The first "Send review" rerun's profile: its top functions by cumulative time."""
    found = sorted(profile_dir.glob("send_review-*.prof"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    if not found:
        print(f"no send_review profile in {profile_dir}")
        return
    print(f"profile of one 'Send review' rerun ({found[0]}):")
    pstats.Stats(str(found[0]), stream=sys.stdout).sort_stats("cumulative").print_stats(top)
