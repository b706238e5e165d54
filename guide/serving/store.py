"""Persistence for the shopping guide: shoppers, events, reviews and profile snapshots.

SQLAlchemy Core (no ORM). The same code runs on a SQLite file (the default, WAL mode) and on
PostgreSQL (psycopg 3) for several app replicas. Every write is one transaction on its own
connection, validated before anything is written (`store_input`); reads return plain dataclasses,
never Rows. The tables, records and connection setup are in `guide.serving.schema`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from guide.serving.schema import (  # noqa: F401  (re-exported: the store's public names)
    ACTION_KINDS,
    EVENT_KINDS,
    MAX_ID_CHARS,
    MAX_REVIEW_CHARS,
    SHOPPER_KINDS,
    SQLITE_BUSY_TIMEOUT_MS,
    Event,
    ProfileSnapshot,
    RecordedAction,
    Review,
    SavedReview,
    Shopper,
    create_schema,
    events_table,
    metadata,
    reviews_table,
    shares_table,
    shoppers_table,
    snapshots_table,
    sqlite_begin,
    sqlite_on_connect,
)
from guide.serving.store_input import bad, check_ids, check_kind, check_review, interests_to_json, to_json

logger = logging.getLogger(__name__)

_UPSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}  # on_conflict_do_nothing
# Driver errors that can mean "the database is down, unreachable, read-only or missing its tables" rather than
# bad input (ValueError, checked before writing) or a bug (IntegrityError): `_is_unavailable` tells which,
# and only those become StoreUnavailable (the UI says so instead of tracing). An error in the SQL itself (a
# syntax error, a column the table lacks) is a bug and is raised as it is, never called "unavailable".
_UNAVAILABLE = (
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


def _is_unavailable(error: Exception) -> bool:
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


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or refused the write; nothing was saved."""


def default_url() -> str:
    """`GUIDE_DATABASE_URL`, else `<GUIDE_STATE_DIR or ~/.local/share/shopping-guide>/guide.db`."""
    if url := os.environ.get("GUIDE_DATABASE_URL"):
        return url
    state_dir = Path(os.environ.get("GUIDE_STATE_DIR") or "~/.local/share/shopping-guide")
    state_dir = state_dir.expanduser().resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(state_dir / 'guide.db').as_posix()}"


def _insert(conn: Connection, table: sa.Table, **values: Any) -> int:
    return conn.execute(sa.insert(table).values(**values)).inserted_primary_key[0]


def _require_shopper(conn: Connection, shopper_id: str) -> None:
    query = sa.select(shoppers_table.c.shopper_id).where(shoppers_table.c.shopper_id == shopper_id)
    if conn.execute(query).first() is None:
        raise bad(
            "shopper_id",
            "a shopper created with ensure_shopper",
            shopper_id,
            "call Store.ensure_shopper before recording activity",
        )


def _insert_snapshot(
    conn: Connection, shopper_id: str, event_id: int, interests: str | None, now: datetime
) -> int | None:
    if interests is None:
        return None
    return _insert(conn, snapshots_table, shopper_id=shopper_id, event_id=event_id, interests=interests, created_at=now)


def _saved_by_key(conn: Connection, shopper_id: str, submission_key: str) -> SavedReview | None:
    query = sa.select(reviews_table).where(
        reviews_table.c.shopper_id == shopper_id, reviews_table.c.submission_key == submission_key
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    review = Review(**row._asdict())
    payload = to_json("payload", {"review_id": review.id, "stars": review.stars})  # as save_review wrote it
    event_id = conn.execute(
        sa.select(events_table.c.id).where(
            events_table.c.shopper_id == shopper_id, events_table.c.kind == "review", events_table.c.payload == payload
        )
    ).scalar_one()
    snapshot_id = conn.execute(
        sa.select(snapshots_table.c.id).where(snapshots_table.c.event_id == event_id)
    ).scalar_one_or_none()
    return SavedReview(review, event_id, snapshot_id, replayed=True)


def _guarded(method: Callable) -> Callable:
    """Turn a down/read-only/unreachable database into StoreUnavailable (expected/got/fix) for the caller."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except _UNAVAILABLE as error:
            if not _is_unavailable(error):
                raise
            raise self._unavailable(error) from error

    return call


class Store:
    """Database access for the app: one per process, safe to share between threads.

    Database failures (down, unreachable, read-only) raise StoreUnavailable; bad input raises ValueError.
    Either way nothing is written."""

    def __init__(self, url: str | None = None) -> None:
        parsed = sa.make_url(url or default_url())
        self.backend = parsed.get_backend_name()
        if self.backend not in _UPSERTS:
            raise bad(
                "url",
                f"a database URL for one of {sorted(_UPSERTS)}",
                parsed.render_as_string(hide_password=True),
                "set GUIDE_DATABASE_URL to sqlite:///PATH or postgresql+psycopg://...",
            )
        if self.backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.engine: sa.Engine = sa.create_engine(parsed, pool_pre_ping=self.backend != "sqlite")
        if self.backend == "sqlite":
            sa.event.listen(self.engine, "connect", sqlite_on_connect)
            sa.event.listen(self.engine, "begin", sqlite_begin)
        self._writer = self.engine.execution_options(guide_write=True)  # same pool, BEGIN IMMEDIATE
        self.where = parsed.render_as_string(hide_password=True)
        try:
            with self._writer.begin() as conn:  # under the write lock on SQLite, an advisory lock on PostgreSQL
                create_schema(conn)
        except _UNAVAILABLE as error:
            self.engine.dispose()
            if not _is_unavailable(error):
                raise
            raise self._unavailable(error) from error
        logger.info("store ready at %s", self.where)

    def _unavailable(self, error: Exception) -> StoreUnavailable:
        logger.warning("database at %s failed: %s", self.where, error)
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0][:200]
        return StoreUnavailable(
            f"database: expected a reachable, writable database at {self.where}, got: {reason}. "
            "Fix: check that the database is running and writable (GUIDE_DATABASE_URL), then try again; "
            "nothing was saved."
        )

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @_guarded
    def ensure_shopper(self, shopper_id: str, display_name: str, kind: str) -> Shopper:
        """Create the shopper if absent (race-free); return the stored shopper either way."""
        check_ids(shopper_id=shopper_id, display_name=display_name)
        check_kind(kind, SHOPPER_KINDS, "use 'persona' for demo shoppers, 'new' otherwise")
        now = datetime.now(UTC)
        statement = _UPSERTS[self.backend](shoppers_table).values(
            shopper_id=shopper_id, display_name=display_name, kind=kind, created_at=now
        )
        query = sa.select(shoppers_table).where(shoppers_table.c.shopper_id == shopper_id)
        with self._writer.begin() as conn:
            conn.execute(statement.on_conflict_do_nothing(index_elements=["shopper_id"]))
            return Shopper(**conn.execute(query).one()._asdict())

    def record_event(
        self, shopper_id: str, session_id: str, kind: str, item_id: str, payload: dict[str, Any] | None = None
    ) -> int:
        """Write one view/click/cart/purchase event; return its id."""
        return self.record_action(shopper_id, session_id, kind, item_id, payload=payload).event_id

    @_guarded
    def record_action(
        self,
        shopper_id: str,
        session_id: str,
        kind: str,
        item_id: str,
        interests: dict[str, float] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> RecordedAction:
        """Write an event and, when interests are given, a profile snapshot: all or nothing."""
        check_ids(shopper_id=shopper_id, session_id=session_id, item_id=item_id)
        check_kind(kind, ACTION_KINDS, "record reviews with Store.save_review")
        payload_json = None if payload is None else to_json("payload", payload)
        interests_json, now = interests_to_json(interests), datetime.now(UTC)
        with self._writer.begin() as conn:
            _require_shopper(conn, shopper_id)
            event_id = _insert(
                conn,
                events_table,
                shopper_id=shopper_id,
                session_id=session_id,
                kind=kind,
                item_id=item_id,
                payload=payload_json,
                created_at=now,
            )
            snapshot_id = _insert_snapshot(conn, shopper_id, event_id, interests_json, now)
        return RecordedAction(event_id, snapshot_id)

    @_guarded
    def save_review(
        self,
        shopper_id: str,
        session_id: str,
        item_id: str,
        stars: int,
        title: str,
        text: str,
        sentiment_label: str,
        sentiment_score: float,
        interests: dict[str, float] | None = None,
        submission_key: str | None = None,
    ) -> SavedReview:
        """Write the review, its 'review' event and an optional snapshot: all or nothing.

        With a `submission_key` (one per review form) a repeat of the same submission stores nothing and
        returns the first one's SavedReview with `replayed=True`, even when both arrive at once."""
        check_ids(shopper_id=shopper_id, session_id=session_id, item_id=item_id)
        if submission_key is not None:
            check_ids(submission_key=submission_key)
        check_review(stars, title, text, sentiment_label, sentiment_score)
        interests_json, now = interests_to_json(interests), datetime.now(UTC)
        values = {
            "shopper_id": shopper_id,
            "item_id": item_id,
            "stars": int(stars),
            "title": title,
            "text": text,
            "sentiment_label": sentiment_label,
            "sentiment_score": float(sentiment_score),
            "created_at": now,
            "submission_key": submission_key,
        }
        try:
            with self._writer.begin() as conn:
                _require_shopper(conn, shopper_id)
                if submission_key is not None and (first := _saved_by_key(conn, shopper_id, submission_key)):
                    return first
                review_id = _insert(conn, reviews_table, **values)
                payload = to_json("payload", {"review_id": review_id, "stars": int(stars)})
                event_id = _insert(
                    conn,
                    events_table,
                    shopper_id=shopper_id,
                    session_id=session_id,
                    kind="review",
                    item_id=item_id,
                    payload=payload,
                    created_at=now,
                )
                snapshot_id = _insert_snapshot(conn, shopper_id, event_id, interests_json, now)
        except sa.exc.IntegrityError:
            if submission_key is None:
                raise
            with self.engine.connect() as conn:  # a concurrent submit with this key committed first
                first = _saved_by_key(conn, shopper_id, submission_key)
            if first is None:
                raise
            return first
        return SavedReview(Review(id=review_id, **values), event_id, snapshot_id)

    @_guarded
    def review_by_key(self, shopper_id: str, submission_key: str) -> SavedReview | None:
        """The review stored under this submission key (as a replay), or None."""
        with self.engine.connect() as conn:
            return _saved_by_key(conn, shopper_id, submission_key)

    @_guarded
    def share_id(self, shopper_id: str) -> str:
        """The shopper's public, read-only share id (made on first use): it shows them, it cannot act as them."""
        check_ids(shopper_id=shopper_id)
        statement = _UPSERTS[self.backend](shares_table).values(
            share_id=secrets.token_urlsafe(12), shopper_id=shopper_id, created_at=datetime.now(UTC)
        )
        query = sa.select(shares_table.c.share_id).where(shares_table.c.shopper_id == shopper_id)
        with self._writer.begin() as conn:
            _require_shopper(conn, shopper_id)
            conn.execute(statement.on_conflict_do_nothing(index_elements=["shopper_id"]))
            return conn.execute(query).scalar_one()

    @_guarded
    def shared_shopper(self, share_id: str) -> str | None:
        """The shopper id behind a share id, or None for an unknown one."""
        if not isinstance(share_id, str) or not 0 < len(share_id) <= MAX_ID_CHARS or "\0" in share_id:
            return None
        query = sa.select(shares_table.c.shopper_id).where(shares_table.c.share_id == share_id)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    @_guarded
    def events(self, shopper_id: str, limit: int | None = None) -> list[Event]:
        """The shopper's events, oldest first; with `limit`, only the most recent `limit`."""
        if limit is not None and (type(limit) is not int or limit < 1):
            raise bad("limit", "None or a positive int", limit, "pass e.g. limit=50")
        query = (
            sa.select(events_table)
            .where(events_table.c.shopper_id == shopper_id)
            .order_by(events_table.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Event(**{**row._asdict(), "payload": _from_json(row.payload)}) for row in reversed(rows)]

    @_guarded
    def reviews(self, shopper_id: str | None = None, item_id: str | None = None) -> list[Review]:
        """Reviews, oldest first, optionally only one shopper's and/or one item's."""
        query = sa.select(reviews_table).order_by(reviews_table.c.id)
        if shopper_id is not None:
            query = query.where(reviews_table.c.shopper_id == shopper_id)
        if item_id is not None:
            query = query.where(reviews_table.c.item_id == item_id)
        with self.engine.connect() as conn:
            return [Review(**row._asdict()) for row in conn.execute(query)]

    def latest_profile(self, shopper_id: str) -> ProfileSnapshot | None:
        """The shopper's newest profile snapshot, or None before the first one."""
        found = self._snapshots(shopper_id, limit=1)
        return found[0] if found else None

    def profile_history(self, shopper_id: str) -> list[ProfileSnapshot]:
        """All the shopper's profile snapshots, oldest first."""
        return self._snapshots(shopper_id, limit=None)[::-1]

    @_guarded
    def _snapshots(self, shopper_id: str, limit: int | None) -> list[ProfileSnapshot]:
        query = (
            sa.select(snapshots_table)
            .where(snapshots_table.c.shopper_id == shopper_id)
            .order_by(snapshots_table.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                ProfileSnapshot(**{**row._asdict(), "interests": _from_json(row.interests)})
                for row in conn.execute(query)
            ]

    @_guarded
    def reset_shopper(self, shopper_id: str) -> dict[str, int]:
        """Delete the shopper's snapshots, reviews and events (keep the shopper); return counts."""
        check_ids(shopper_id=shopper_id)
        deleted = {}
        with self._writer.begin() as conn:
            for table in (snapshots_table, reviews_table, events_table):  # children first
                result = conn.execute(sa.delete(table).where(table.c.shopper_id == shopper_id))
                deleted[table.name] = result.rowcount
        logger.info("reset shopper %s: deleted %s", shopper_id, deleted)
        return deleted

    def healthcheck(self) -> dict[str, Any]:
        """Run one query; report {'ok', 'backend', 'detail'} rather than raise."""
        try:
            with self.engine.connect() as conn:
                query = sa.select(sa.func.count()).select_from(shoppers_table)
                count = conn.execute(query).scalar_one()
        except sa.exc.SQLAlchemyError as error:
            logger.warning("store healthcheck failed: %s", error)
            return {"ok": False, "backend": self.backend, "detail": str(error)}
        return {"ok": True, "backend": self.backend, "detail": f"{count} shoppers"}


def _from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
