"""tests/conftest.py's xdist groups reach pytest-xdist's scheduler: under `--dist loadgroup` every test of a module
runs on one worker and its id carries the group, so a module's costly fixtures are built once
(`scripts/test.sh` relies on it; pytest 9 no longer read the group pytest-xdist 3.8 writes, and nothing failed)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("tests/test_config.py", "tests/metrics/test_ranking.py")


def test_each_module_runs_on_one_worker_under_loadgroup():
    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider"]
    run = subprocess.run([*command, *MODULES], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
    workers = defaultdict(set)
    for worker, test_id in re.findall(r"^\[(gw\d+)\] .*?PASSED (\S+)", run.stdout, flags=re.MULTILINE):
        module, group = test_id.partition("::")[0], test_id.rpartition("@")[2]
        assert group == module, f"{test_id}: expected the group @{module}"
        workers[module].add(worker)
    assert set(workers) == set(MODULES), run.stdout[-2000:]
    assert all(len(found) == 1 for found in workers.values()), dict(workers)


def test_the_costliest_group_is_handed_out_first_and_a_groups_tests_stay_together():
    from collections import Counter

    from tests.scheduling import estimated_seconds, order_by_cost

    items = ["a1", "b1", "a2", "c1", "b2", "c2", "c3", "d1"]
    costs = {"a": {"seconds": 5.0, "tests": 2}, "b": {"seconds": 90.0, "tests": 2}, "c": {"seconds": 30.0, "tests": 3}}
    assert order_by_cost(items, lambda item: item[0], costs) == ["b1", "b2", "c1", "c2", "c3", "d1", "a1", "a2"]
    # an unmeasured group (d) counts as its tests times the median seconds per test (2.5, 10, 45 -> 10)
    assert estimated_seconds(costs, Counter({"d": 4, "a": 2})) == {"d": 40.0, "a": 5.0}
    # no costs file: by number of tests, as pytest-xdist's own reordering would
    assert order_by_cost(items, lambda item: item[0], {}) == ["c1", "c2", "c3", "a1", "a2", "b1", "b2", "d1"]


def test_a_measured_run_writes_the_costs_the_next_collection_is_ordered_by(tmp_path):
    """`GUIDE_GROUP_COSTS_OUT` records each group's seconds; `GUIDE_GROUP_COSTS` orders the collection by them."""
    import json
    import os

    costs = tmp_path / "costs.json"
    env = {**os.environ, "GUIDE_GROUP_COSTS_OUT": str(costs)}
    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q", "-p", "no:cacheprovider"]
    run = subprocess.run([*command, *MODULES], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stdout[-2000:]
    groups = json.loads(costs.read_text())["groups"]
    assert set(groups) == set(MODULES) and all(g["seconds"] > 0 and g["tests"] > 0 for g in groups.values())
    # make the module named last on the command line the costly one: it is now collected first
    first_named, last_named = MODULES
    groups[first_named]["seconds"], groups[last_named]["seconds"] = 1.0, 1000.0
    costs.write_text(json.dumps({"groups": groups}))
    env = {**os.environ, "GUIDE_GROUP_COSTS": str(costs)}
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *MODULES],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env,
    ).stdout.split()  # fmt: skip
    first = next(line for line in listed if "::" in line)
    assert first.startswith(last_named), listed[:3]
