"""Persistence for the shopping guide: shoppers, events, reviews and profile snapshots.

SQLAlchemy Core (no ORM). The same code runs on a SQLite file (the default, WAL mode) and on
PostgreSQL (psycopg 3) for several app replicas. Every write is one transaction on its own
connection, validated before anything is written; reads return plain dataclasses, never Rows.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

logger = logging.getLogger(__name__)

MAX_REVIEW_CHARS = 5000  # the service truncates before calling; the store refuses longer text
MAX_ID_CHARS = 200  # VARCHAR limit on PostgreSQL; checked here so SQLite behaves the same
SHOPPER_KINDS = ("persona", "new")
ACTION_KINDS = ("view", "click", "cart", "purchase")
EVENT_KINDS = (*ACTION_KINDS, "review")  # 'review' events come only from save_review
SQLITE_BUSY_TIMEOUT_MS = 10_000  # concurrent writers wait for the lock instead of failing
_UPSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}  # on_conflict_do_nothing
SCHEMA_LOCK_KEY = 0x5E0_61DE  # PostgreSQL advisory lock taken while creating tables (any 64-bit constant)
# Driver errors that mean "the database is down, unreachable, read-only or missing its tables" rather than
# bad input (ValueError, checked before writing) or a bug (IntegrityError): the UI says so instead of tracing.
_UNAVAILABLE = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.InternalError,
    sa.exc.ProgrammingError,
    sa.exc.TimeoutError,
)


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or refused the write; nothing was saved."""


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite hands them back naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _pk() -> sa.Column:
    # SQLite autoincrements only INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)


def _text_id(name: str, **options: Any) -> sa.Column:
    return sa.Column(name, sa.String(MAX_ID_CHARS), nullable=False, **options)


def _shopper_fk() -> sa.Column:
    return sa.Column("shopper_id", sa.ForeignKey("shoppers.shopper_id"), nullable=False, index=True)


def _kind(values: tuple[str, ...]) -> sa.Column:
    allowed = sa.CheckConstraint(f"kind IN ({', '.join(repr(value) for value in values)})")
    return sa.Column("kind", sa.String(16), allowed, nullable=False)


def _created() -> sa.Column:
    return sa.Column("created_at", UTCDateTime, nullable=False)


metadata = sa.MetaData()
shoppers_table = sa.Table(
    "shoppers",
    metadata,
    _text_id("shopper_id", primary_key=True),
    _text_id("display_name"),
    _kind(SHOPPER_KINDS),
    _created(),
)
events_table = sa.Table(
    "events",
    metadata,
    _pk(),
    _shopper_fk(),
    _text_id("session_id"),
    _kind(EVENT_KINDS),
    _text_id("item_id"),
    sa.Column("payload", sa.Text),
    _created(),
)
reviews_table = sa.Table(
    "reviews",
    metadata,
    _pk(),
    _shopper_fk(),
    _text_id("item_id", index=True),
    sa.Column("stars", sa.Integer, sa.CheckConstraint("stars BETWEEN 1 AND 5"), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("sentiment_label", sa.String(MAX_ID_CHARS), nullable=False),
    sa.Column("sentiment_score", sa.Float, nullable=False),
    _created(),
    # One per review form: a second press of "Send review" carries the same key and stores nothing new.
    sa.Column("submission_key", sa.String(MAX_ID_CHARS), nullable=True),
    sa.Index("ux_reviews_submission", "shopper_id", "submission_key", unique=True),
)
shares_table = sa.Table(  # read-only share links: a public id that shows a shopper, never acts as them
    "shares",
    metadata,
    _text_id("share_id", primary_key=True),
    sa.Column("shopper_id", sa.ForeignKey("shoppers.shopper_id"), nullable=False, unique=True),
    _created(),
)
snapshots_table = sa.Table(
    "profile_snapshots",
    metadata,
    _pk(),
    _shopper_fk(),
    sa.Column("event_id", sa.ForeignKey("events.id"), nullable=True),
    sa.Column("interests", sa.Text, nullable=False),
    _created(),
)


@dataclass(frozen=True)
class Shopper:
    shopper_id: str
    display_name: str
    kind: str
    created_at: datetime


@dataclass(frozen=True)
class Event:
    id: int
    shopper_id: str
    session_id: str
    kind: str
    item_id: str
    payload: dict[str, Any] | None
    created_at: datetime


@dataclass(frozen=True)
class Review:
    id: int
    shopper_id: str
    item_id: str
    stars: int
    title: str
    text: str
    sentiment_label: str
    sentiment_score: float
    created_at: datetime
    submission_key: str | None = None


@dataclass(frozen=True)
class ProfileSnapshot:
    id: int
    shopper_id: str
    event_id: int | None
    interests: dict[str, float]
    created_at: datetime


@dataclass(frozen=True)
class RecordedAction:
    event_id: int
    snapshot_id: int | None  # None when no interests were given


@dataclass(frozen=True)
class SavedReview:
    review: Review
    event_id: int
    snapshot_id: int | None
    replayed: bool = False  # True when the submission key was already stored: this is the first result


def default_url() -> str:
    """`GUIDE_DATABASE_URL`, else `<GUIDE_STATE_DIR or ~/.local/share/shopping-guide>/guide.db`."""
    if url := os.environ.get("GUIDE_DATABASE_URL"):
        return url
    state_dir = Path(os.environ.get("GUIDE_STATE_DIR") or "~/.local/share/shopping-guide")
    state_dir = state_dir.expanduser().resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(state_dir / 'guide.db').as_posix()}"


def _bad(what: str, expected: str, got: Any, fix: str) -> ValueError:
    return ValueError(f"{what}: expected {expected}, got {got!r}. Fix: {fix}.")


def _check_ids(**ids: Any) -> None:
    for name, value in ids.items():
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_CHARS or "\0" in value:
            got = value[:80] if isinstance(value, str) else value
            raise _bad(name, f"a non-empty string of at most {MAX_ID_CHARS} characters", got, f"pass a valid {name}")


def _check_kind(kind: Any, allowed: tuple[str, ...], fix: str) -> None:
    if kind not in allowed:
        raise _bad("kind", f"one of {allowed}", kind, fix)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _to_json(name: str, value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise _bad(
            name,
            "JSON-serialisable data without NaN/inf",
            type(value).__name__,
            f"pass plain dicts, lists, strings and finite numbers ({error})",
        ) from error


def _interests_json(interests: dict[str, float] | None) -> str | None:
    if interests is None:
        return None
    if not isinstance(interests, dict) or not all(
        isinstance(key, str) and _is_number(value) for key, value in interests.items()
    ):
        raise _bad(
            "interests",
            "a dict of str -> finite float",
            interests,
            "pass the profile's interest distribution as plain floats",
        )
    return _to_json("interests", {key: float(value) for key, value in interests.items()})


def _check_review(stars: Any, title: Any, text: Any, label: Any, score: Any) -> None:
    if isinstance(stars, bool) or not isinstance(stars, Integral) or not 1 <= stars <= 5:
        raise _bad("stars", "an int from 1 to 5", stars, "clamp the rating widget to 1..5")
    if not isinstance(text, str) or not text.strip():
        raise _bad("text", "non-empty review text", text, "ask the shopper to write something")
    if len(text) > MAX_REVIEW_CHARS:
        raise _bad(
            "text",
            f"at most {MAX_REVIEW_CHARS} characters",
            f"{len(text)} characters",
            "truncate the review in the service before saving",
        )
    if not isinstance(title, str):
        raise _bad("title", "a string (may be empty)", title, "pass '' when there is no title")
    for name, value in (("text", text), ("title", title)):
        if "\0" in value:  # PostgreSQL refuses NUL in text while SQLite keeps it: refuse it on both
            raise _bad(name, "text without NUL characters", value[:80], "clean it with shop.clean_review first")
    _check_ids(sentiment_label=label)
    if not _is_number(score):
        raise _bad("sentiment_score", "a finite float", score, "pass the model's score as a float")


def _insert(conn: Connection, table: sa.Table, **values: Any) -> int:
    return conn.execute(sa.insert(table).values(**values)).inserted_primary_key[0]


def _require_shopper(conn: Connection, shopper_id: str) -> None:
    query = sa.select(shoppers_table.c.shopper_id).where(shoppers_table.c.shopper_id == shopper_id)
    if conn.execute(query).first() is None:
        raise _bad(
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
    payload = _to_json("payload", {"review_id": review.id, "stars": review.stars})  # as save_review wrote it
    event_id = conn.execute(
        sa.select(events_table.c.id).where(
            events_table.c.shopper_id == shopper_id, events_table.c.kind == "review", events_table.c.payload == payload
        )
    ).scalar_one()
    snapshot_id = conn.execute(
        sa.select(snapshots_table.c.id).where(snapshots_table.c.event_id == event_id)
    ).scalar_one_or_none()
    return SavedReview(review, event_id, snapshot_id, replayed=True)


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    # Take transaction control from pysqlite so that writers can BEGIN IMMEDIATE (_sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _switch_to_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _switch_to_wal(cursor) -> None:
    # Switching a fresh file to WAL needs an exclusive lock, and SQLite answers "database is locked"
    # at once, without calling the busy handler, while another connection is switching it: replicas
    # opening an empty file together hit this about one time in ten. Retry for the busy timeout.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_begin(conn: Connection) -> None:
    # A deferred transaction that reads then writes fails at once with SQLITE_BUSY when another
    # writer got there first; taking the write lock up front makes it wait out busy_timeout.
    write = conn.get_execution_options().get("guide_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _guarded(method: Callable) -> Callable:
    """Turn a down/read-only/unreachable database into StoreUnavailable (expected/got/fix) for the caller."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except _UNAVAILABLE as error:
            raise self._unavailable(error) from error

    return call


def _create_schema(conn: Connection) -> None:
    """Tables, then the columns added since (create_all never alters an existing table)."""
    if conn.dialect.name == "postgresql":
        # Replicas starting together on an empty database would race in CREATE TABLE (one dies with a
        # UniqueViolation on pg_type): take turns. The lock ends with the transaction.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
    metadata.create_all(conn)
    columns = {column["name"] for column in sa.inspect(conn).get_columns("reviews")}
    if "submission_key" not in columns:  # a database made before idempotent review submits
        conn.execute(sa.text(f"ALTER TABLE reviews ADD COLUMN submission_key VARCHAR({MAX_ID_CHARS})"))
        next(i for i in reviews_table.indexes if i.name == "ux_reviews_submission").create(conn)
        logger.info("added reviews.submission_key to an existing database")


class Store:
    """Database access for the app: one per process, safe to share between threads.

    Database failures (down, unreachable, read-only) raise StoreUnavailable; bad input raises ValueError.
    Either way nothing is written."""

    def __init__(self, url: str | None = None) -> None:
        parsed = sa.make_url(url or default_url())
        self.backend = parsed.get_backend_name()
        if self.backend not in _UPSERTS:
            raise _bad(
                "url",
                f"a database URL for one of {sorted(_UPSERTS)}",
                parsed.render_as_string(hide_password=True),
                "set GUIDE_DATABASE_URL to sqlite:///PATH or postgresql+psycopg://...",
            )
        if self.backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self.engine: sa.Engine = sa.create_engine(parsed, pool_pre_ping=self.backend != "sqlite")
        if self.backend == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_on_connect)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        self._writer = self.engine.execution_options(guide_write=True)  # same pool, BEGIN IMMEDIATE
        self.where = parsed.render_as_string(hide_password=True)
        try:
            with self._writer.begin() as conn:  # under the write lock on SQLite, an advisory lock on PostgreSQL
                _create_schema(conn)
        except _UNAVAILABLE as error:
            self.engine.dispose()
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
        _check_ids(shopper_id=shopper_id, display_name=display_name)
        _check_kind(kind, SHOPPER_KINDS, "use 'persona' for demo shoppers, 'new' otherwise")
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
        _check_ids(shopper_id=shopper_id, session_id=session_id, item_id=item_id)
        _check_kind(kind, ACTION_KINDS, "record reviews with Store.save_review")
        payload_json = None if payload is None else _to_json("payload", payload)
        interests_json, now = _interests_json(interests), datetime.now(UTC)
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
        _check_ids(shopper_id=shopper_id, session_id=session_id, item_id=item_id)
        if submission_key is not None:
            _check_ids(submission_key=submission_key)
        _check_review(stars, title, text, sentiment_label, sentiment_score)
        interests_json, now = _interests_json(interests), datetime.now(UTC)
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
                payload = _to_json("payload", {"review_id": review_id, "stars": int(stars)})
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
        _check_ids(shopper_id=shopper_id)
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
            raise _bad("limit", "None or a positive int", limit, "pass e.g. limit=50")
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
        _check_ids(shopper_id=shopper_id)
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
