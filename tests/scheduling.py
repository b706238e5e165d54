"""The order pytest-xdist hands out the test groups: the costliest first (longest-processing-time-first).

Under `--dist loadgroup` a worker takes the next whole group when it is nearly out of tests. xdist's own order
(`--loadscope-reorder`, its default) is by number of tests, so a group of few but slow tests (the four tiny
twins, a module that trains a model) could be handed out last and leave one worker alone at the end while the
other idles. `scripts/test.sh` passes `--no-loadscope-reorder`, which keeps the collection order, and
`tests/conftest.py` sorts the collection by each group's measured seconds (`tests/group_costs.json`).

The costs are measured, not guessed: `GUIDE_GROUP_COSTS_OUT=tests/group_costs.json bash scripts/test.sh` sums
every test's set-up, call and tear-down time per group on the two workers and writes them. A group the file does
not know (a new module) counts as its number of tests times the median seconds per test of the known groups;
with no file at all the groups go by their number of tests, as pytest-xdist's own reordering would.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

COSTS = Path(__file__).with_name("group_costs.json")
COSTS_ENV = "GUIDE_GROUP_COSTS"  # another costs file to order by (tests of this module use it)
RECORD_ENV = "GUIDE_GROUP_COSTS_OUT"  # where a run writes the costs it measured


def read_costs(path: Path | str | None = None) -> dict[str, dict]:
    """{group: {"seconds": s, "tests": n}} from `path` (else $GUIDE_GROUP_COSTS, else tests/group_costs.json);
    empty when there is no file, so a checkout without one keeps the collection order."""
    path = Path(path or os.environ.get(COSTS_ENV) or COSTS)
    if not path.exists():
        return {}
    return json.loads(path.read_text())["groups"]


def estimated_seconds(costs: dict[str, dict], counts: Counter) -> dict[str, float]:
    """Each collected group's seconds: measured, or its tests times the median seconds per test."""
    rates = [c["seconds"] / c["tests"] for c in costs.values() if c.get("tests")]
    rate = statistics.median(rates) if rates else 1.0
    return {group: costs[group]["seconds"] if group in costs else n * rate for group, n in counts.items()}


def order_by_cost(items: Sequence, group_of: Callable[[object], str], costs: dict[str, dict]) -> list:
    """`items` with the costliest group first; a group's tests stay together and in their own order."""
    groups = [group_of(item) for item in items]
    seconds = estimated_seconds(costs, Counter(groups))
    first_seen = {group: i for i, group in reversed(list(enumerate(groups)))}
    order = sorted(range(len(items)), key=lambda i: (-seconds[groups[i]], first_seen[groups[i]], i))
    return [items[i] for i in order]


def group_of_report(nodeid: str) -> str:
    """The group pytest-xdist appended to a test id ("tests/x.py::test@group"), else the test's module."""
    return nodeid.rpartition("@")[2] if "@" in nodeid.rpartition("::")[2] else nodeid.partition("::")[0]


def write_costs(path: Path | str, seconds: dict[str, float], tests: dict[str, int]) -> None:
    groups = {g: {"seconds": round(seconds[g], 3), "tests": tests[g]} for g in sorted(seconds, key=seconds.get)[::-1]}
    note = f"seconds per xdist group, summed over set-up, call and tear-down; written by {RECORD_ENV}=..."
    Path(path).write_text(json.dumps({"note": note, "groups": groups}, indent=1) + "\n")
