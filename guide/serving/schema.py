"""The store's schema: limits, tables, the records reads return, and how a connection is set up (SQLite
pragmas and write transactions; the schema created race-free on both backends). `guide.serving.store`
holds the `Store` that uses them.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

logger = logging.getLogger(__name__)

MAX_REVIEW_CHARS = 5000  # the service truncates before calling; the store refuses longer text
MAX_ID_CHARS = 200  # VARCHAR limit on PostgreSQL; checked here so SQLite behaves the same
SHOPPER_KINDS = ("persona", "new")
ACTION_KINDS = ("view", "click", "cart", "purchase")
EVENT_KINDS = (*ACTION_KINDS, "review")  # 'review' events come only from save_review
SQLITE_BUSY_TIMEOUT_MS = 10_000  # concurrent writers wait for the lock instead of failing
SCHEMA_LOCK_KEY = 0x5E0_61DE  # PostgreSQL advisory lock taken while creating tables (any 64-bit constant)


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


def sqlite_on_connect(dbapi_connection, _record) -> None:
    # Take transaction control from pysqlite so that writers can BEGIN IMMEDIATE (sqlite_begin).
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


def sqlite_begin(conn: Connection) -> None:
    # A deferred transaction that reads then writes fails at once with SQLITE_BUSY when another
    # writer got there first; taking the write lock up front makes it wait out busy_timeout.
    write = conn.get_execution_options().get("guide_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def create_schema(conn: Connection) -> None:
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
