"""How the store reaches its database: the URL (`default_url`), the engine with SQLite's connection setup
(`connect`), and which driver errors mean the database cannot serve (`is_unavailable`), turned into
`StoreUnavailable` for the caller (`guarded`) while bad input and bugs are raised as they are."""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from guide.serving.schema import sqlite_begin, sqlite_on_connect
from guide.serving.store_input import bad

logger = logging.getLogger(__name__)

BACKENDS = ("postgresql", "sqlite")
# Driver errors that can mean "the database is down, unreachable, read-only or missing its tables" rather than
# bad input (ValueError, checked before writing) or a bug (IntegrityError): `is_unavailable` tells which,
# and only those become StoreUnavailable (the UI says so instead of tracing). An error in the SQL itself (a
# syntax error, a column the table lacks) is a bug and is raised as it is, never called "unavailable".
UNAVAILABLE = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.InternalError,
    sa.exc.ProgrammingError,
    sa.exc.TimeoutError,
)
# PostgreSQL SQLSTATEs (classes or codes) of an unavailable database: connection (08), resources such as a
# full disk or too many connections (53), shut down or restarting (57), I/O (58), read-only transaction
# (25006), no such database (3D), authentication (28), missing tables (42P01).
_PG_UNAVAILABLE = ("08", "53", "57", "58", "25006", "3D", "28", "42P01")


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or refused the write; nothing was saved."""


def is_unavailable(error: Exception) -> bool:
    """True when `error` says the database cannot serve (down, unreachable, locked, read-only, full, corrupt,
    missing its tables); False when the SQL itself is wrong."""
    if isinstance(error, (sa.exc.InterfaceError, sa.exc.TimeoutError)):
        return True
    orig = getattr(error, "orig", None)
    if sqlstate := getattr(orig, "sqlstate", None):  # PostgreSQL (psycopg)
        return sqlstate.startswith(_PG_UNAVAILABLE)
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:  # SQLite: SQLITE_ERROR is a SQL error (syntax, no such column) unless a table is gone
        return (code & 0xFF) != sqlite3.SQLITE_ERROR or str(orig).startswith("no such table")
    return isinstance(error, sa.exc.OperationalError)  # no code: the connection itself failed


def unavailable(where: str, error: Exception) -> StoreUnavailable:
    """The StoreUnavailable (expected / got / fix) of the database at `where` failing with `error`."""
    logger.warning("database at %s failed: %s", where, error)
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:200]
    return StoreUnavailable(
        f"database: expected a reachable, writable database at {where}, got: {reason}. "
        "Fix: check that the database is running and writable (GUIDE_DATABASE_URL), then try again; "
        "nothing was saved."
    )


def guarded(method: Callable) -> Callable:
    """A store method whose down/read-only/unreachable database raises StoreUnavailable (at `self.where`)."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except UNAVAILABLE as error:
            if not is_unavailable(error):
                raise
            raise unavailable(self.where, error) from error

    return call


def default_url() -> str:
    """`GUIDE_DATABASE_URL`, else `<GUIDE_STATE_DIR or ~/.local/share/shopping-guide>/guide.db`."""
    if url := os.environ.get("GUIDE_DATABASE_URL"):
        return url
    state_dir = Path(os.environ.get("GUIDE_STATE_DIR") or "~/.local/share/shopping-guide")
    state_dir = state_dir.expanduser().resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(state_dir / 'guide.db').as_posix()}"


def sqlite_folder(url: sa.URL) -> Path | None:
    """The folder to create for an SQLite file database: the file path's parent. None in memory and for an SQLite
    URI filename (`sqlite:///file:PATH?mode=ro&uri=true`): SQLite reads the URI itself (a read-only one must not
    create anything), and `file:PATH` taken as a path would make a folder named `file:` in the working directory."""
    database = url.database
    if database in (None, "", ":memory:") or database.startswith("file:") or url.query.get("uri") == "true":
        return None
    return Path(database).expanduser().parent


def connect(url: str | None) -> tuple[sa.Engine, str, str]:
    """(engine, backend, where) of `url` (None: `default_url()`): the folder of an SQLite file created, SQLite's
    connection setup (`schema.sqlite_on_connect`, `sqlite_begin`) attached; `where` hides the password."""
    parsed = sa.make_url(url or default_url())
    backend = parsed.get_backend_name()
    where = parsed.render_as_string(hide_password=True)
    if backend not in BACKENDS:
        raise bad(
            "url",
            f"a database URL for one of {sorted(BACKENDS)}",
            where,
            "set GUIDE_DATABASE_URL to sqlite:///PATH or postgresql+psycopg://...",
        )
    if backend == "sqlite" and (folder := sqlite_folder(parsed)) is not None:
        folder.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, pool_pre_ping=backend != "sqlite")
    if backend == "sqlite":
        sa.event.listen(engine, "connect", sqlite_on_connect)
        sa.event.listen(engine, "begin", sqlite_begin)
    return engine, backend, where
