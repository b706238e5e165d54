"""guide.serving.store tells an unavailable database (StoreUnavailable: the UI says so) from an error in the SQL
itself (raised as it is: a bug, never reported as "database unavailable"), on SQLite and PostgreSQL."""

from __future__ import annotations

import psycopg.errors
import pytest
import sqlalchemy as sa

from guide.serving.store import Store, StoreUnavailable
from guide.serving.store_connection import is_unavailable

pytest_plugins = ["tests.db_fixtures"]


def test_a_sql_error_is_raised_as_itself_not_as_an_unavailable_database(store: Store):
    store.ensure_shopper("ana", "Ana", "persona")
    with store.engine.begin() as conn:  # the table now lacks a column the store writes: its SQL is wrong
        conn.execute(sa.text("ALTER TABLE events DROP COLUMN payload"))
    with pytest.raises(sa.exc.DBAPIError, match="payload") as caught:
        store.record_event("ana", "s1", "view", "item-1", payload={"n": 1})
    assert not isinstance(caught.value, StoreUnavailable)


def test_a_missing_table_is_an_unavailable_database(store: Store):
    store.ensure_shopper("ana", "Ana", "persona")
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE profile_snapshots"))
    with pytest.raises(StoreUnavailable, match="expected a reachable, writable database"):
        store.record_action("ana", "s1", "cart", "item-1", interests={"a": 1.0})


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (psycopg.errors.ReadOnlySqlTransaction, True),
        (psycopg.errors.AdminShutdown, True),
        (psycopg.errors.DiskFull, True),
        (psycopg.errors.UndefinedTable, True),
        (psycopg.errors.SyntaxError, False),
        (psycopg.errors.UndefinedColumn, False),
        (psycopg.errors.DivisionByZero, False),
    ],
)
def test_postgresql_errors_are_told_apart_by_their_sqlstate(error, unavailable):
    wrapped = sa.exc.ProgrammingError("SELECT 1", {}, error())
    assert is_unavailable(wrapped) is unavailable, error.sqlstate


def test_sqlite_errors_are_told_apart_by_their_code(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        with pytest.raises(sa.exc.OperationalError) as syntax:
            conn.execute(sa.text("SELEC 1"))
        with pytest.raises(sa.exc.OperationalError) as gone:
            conn.execute(sa.text("SELECT * FROM nowhere"))
    engine.dispose()
    assert not is_unavailable(syntax.value) and is_unavailable(gone.value)
    unopenable = sa.create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    with pytest.raises(sa.exc.OperationalError) as cannot_open:
        unopenable.connect()
    assert is_unavailable(cannot_open.value)
