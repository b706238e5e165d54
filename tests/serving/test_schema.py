"""Tests for guide.serving.schema: how a connection is set up and how the schema is created, also by
replicas starting together on an empty database (SQLite file and throwaway PostgreSQL, `tests/db_fixtures.py`)."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from guide.serving import store as store_module
from guide.serving.store import Store, metadata
from tests.db_fixtures import sample_review as _review

pytest_plugins = ["tests.db_fixtures"]


def test_sqlite_pragmas(sqlite_url):
    with Store(sqlite_url) as store, store.engine.connect() as conn:
        pragma = conn.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA busy_timeout").scalar() == store_module.SQLITE_BUSY_TIMEOUT_MS


def test_replicas_starting_together_on_an_empty_database_all_come_up(empty_url):
    start, opened, errors = threading.Barrier(4), [], []

    def open_store() -> None:
        try:
            start.wait()
            opened.append(Store(empty_url))
        except Exception as error:  # noqa: BLE001 - asserted in the main thread
            errors.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(opened) == 4
    opened[0].ensure_shopper("ana", "Ana", "new")
    assert all(store.healthcheck()["detail"] == "1 shoppers" for store in opened)
    for store in opened:
        store.close()


def test_replicas_opening_a_new_sqlite_file_together_never_see_it_locked(tmp_path):
    # Switching a new file to WAL raced about one time in ten (SQLite answers "database is locked"
    # without waiting); thirty rounds would miss a regression about one time in twenty-four.
    for round_ in range(30):
        url = f"sqlite:///{tmp_path / f'fresh-{round_}.db'}"
        start, opened, errors = threading.Barrier(4), [], []

        def open_store(url: str, start: threading.Barrier, opened: list, errors: list) -> None:
            try:
                start.wait()
                opened.append(Store(url))
            except Exception as error:  # noqa: BLE001 - asserted in the main thread
                errors.append(error)

        threads = [threading.Thread(target=open_store, args=(url, start, opened, errors)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for store in opened:
            store.close()
        assert errors == [], f"round {round_}: {errors}"
        assert len(opened) == 4


def test_an_older_database_gets_the_submission_key_column(sqlite_url):
    engine = sa.create_engine(sqlite_url)
    old = sa.MetaData()
    for table in metadata.sorted_tables:  # the schema as it was before idempotent submits
        table.to_metadata(old)
    old.tables["reviews"]._columns.remove(old.tables["reviews"].c.submission_key)
    old.tables["reviews"].indexes.clear()
    old.create_all(engine)
    engine.dispose()
    with Store(sqlite_url) as store:
        store.ensure_shopper("ana", "Ana", "new")
        first = _review(store, submission_key="form-1")
        assert _review(store, submission_key="form-1").review.id == first.review.id
