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
