"""Shared fixtures: the real shipped `Guide` (loaded once per session) and a `ShopService` over it on a
throwaway SQLite database.

Real-data tests: a test marked `realdata`, or one that uses a fixture built from the public data sets
(listed in REAL_DATA_FIXTURES), is skipped with a one-line reason when the data directory or the shipped
checkpoint is absent, so a clone without `../shared/data` still runs every synthetic test. CI has the
data and runs them all."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from _pytest.nodeid import NodeId

from guide.config import DEFAULT_CHECKPOINT, data_dir
from tests import scheduling

pytest.register_assert_rewrite("tests.db_fixtures")  # test modules import its helpers before it is a plugin

# Fixtures whose values are built from the public data sets or the shipped checkpoint.
REAL_DATA_FIXTURES = {
    "shipped_guide",
    "shop",
    "small_catalog",
    "task_data",
    "tiny_checkpoint",
    "tiny_checkpoint_dir",
    "guide",
    "full_catalog",
    "encoder",
    "beauty",
    "app",
    "bad_rows_root",
}
DATA_FOLDERS = ("amazon_all_beauty_5core", "amazon_beauty_2014_5core", "sephora_products", "womens_clothing_reviews")


def real_data_missing() -> str | None:
    """Why real-data tests cannot run here (None when they can)."""
    root = data_dir()
    missing = [name for name in DATA_FOLDERS if not (root / name).is_dir()]
    if missing:
        return (
            f"real data absent: {root} lacks {', '.join(missing)} "
            "(run `python -m guide data fetch` or set GUIDE_DATA_DIR)"
        )
    return None


# Under pytest-xdist (`scripts/test.sh` runs `-n 2 --dist loadgroup`) each test runs on the worker of its group.
# Tests that share a costly fixture across modules are one group, so it is built once: the four tiny twins (three
# modules read them), the PostgreSQL server; the browser tests share one worker too, so two Chromiums never compete.
# Every other test goes with its module, so a module's own fixtures (a peer report, a trained model, the app's
# service) are never built on both workers, while the session fixtures many modules read (the task data, the tiny
# model, the shipped Guide) are built at most once per worker and the modules spread over both. xdist hands out
# the groups with the most tests first, then the next one to whichever worker runs dry.
XDIST_GROUPS = (
    ("twins", lambda item, names: bool({"runs", "artifact"} & names)),
    ("browser", lambda item, names: item.get_closest_marker("browser") is not None),
    ("postgres", lambda item, names: "postgres" in item.nodeid or "postgres_url" in names),
)


def xdist_group(item) -> str:
    """The xdist group of `item`: a shared group of XDIST_GROUPS, else its module's file."""
    names = set(getattr(item, "fixturenames", ()))
    return next((group for group, belongs in XDIST_GROUPS if belongs(item, names)), item.nodeid.split("::")[0])


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    reason = real_data_missing()
    for item in items:  # before the other hooks, so pytest-xdist's reads the groups
        if REAL_DATA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.realdata)
        if reason and item.get_closest_marker("realdata"):
            item.add_marker(pytest.mark.skip(reason=reason))
        item.add_marker(pytest.mark.xdist_group(xdist_group(item)))
    items[:] = scheduling.order_by_cost(items, xdist_group, scheduling.read_costs())  # costliest group first
    result = yield
    # pytest-xdist 3.8 (under --dist loadgroup) writes "<id>@<group>" into `item._nodeid`, which pytest 9 no longer
    # reads (a node's id is `item._id`): without this the groups were silently dropped and every test scheduled
    # on its own (tests/test_xdist_groups.py).
    for item in items:
        grouped = getattr(item, "_nodeid", None)
        if grouped and grouped != item.nodeid:
            item._id = NodeId.parse(grouped)
    return result


_measured: dict[str, list] = {}  # group -> [seconds, test ids]


def pytest_runtest_logreport(report):
    """With $GUIDE_GROUP_COSTS_OUT set, the controller sums each group's seconds (tests/scheduling.py)."""
    if os.environ.get(scheduling.RECORD_ENV):
        seconds_and_tests = _measured.setdefault(scheduling.group_of_report(report.nodeid), [0.0, set()])
        seconds_and_tests[0] += report.duration
        seconds_and_tests[1].add(report.nodeid)


def pytest_sessionfinish(session):
    path = os.environ.get(scheduling.RECORD_ENV)
    if path and _measured and not hasattr(session.config, "workerinput"):
        seconds = {group: s for group, (s, _) in _measured.items()}
        scheduling.write_costs(path, seconds, {group: len(ids) for group, (_, ids) in _measured.items()})


@pytest.fixture(scope="session")
def shipped_guide():
    """The checkpoint the app would serve: `GUIDE_CHECKPOINT`, else the shipped assets/model."""
    folder = Path(os.environ.get("GUIDE_CHECKPOINT") or DEFAULT_CHECKPOINT)
    if not (folder / "config.json").exists():
        pytest.skip(f"no checkpoint in {folder}; train one with `python -m guide train`")
    from guide import Guide

    try:
        return Guide.load(folder)
    except FileNotFoundError as error:  # the public data sets are not beside the checkout
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def shop(shipped_guide, tmp_path_factory):
    from guide.serving.shop import ShopService
    from guide.serving.store import Store

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('shop') / 'shop.db'}")
    yield ShopService(shipped_guide, store)
    store.close()


@pytest.fixture
def visitor() -> str:
    """A fresh visitor per test, so tests sharing the session's database never see each other."""
    return secrets.token_hex(6)
