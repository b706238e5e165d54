"""Persistence for the shopping guide: shoppers, events, reviews and profile snapshots.

SQLAlchemy Core (no ORM). The same code runs on a SQLite file (the default, WAL mode) and on
PostgreSQL (psycopg 3) for several app replicas. Every write is one transaction on its own
connection, validated before anything is written (`store_input`); reads return plain dataclasses,
never Rows. The tables and records are in `guide.serving.schema`; the URL, the engine and which driver
errors mean an unavailable database in `guide.serving.store_connection`.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import UTC, datetime
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
from guide.serving.store_connection import (  # noqa: F401  (StoreUnavailable, default_url: re-exported)
    UNAVAILABLE,
    StoreUnavailable,
    connect,
    default_url,
    guarded,
    is_unavailable,
    unavailable,
)
from guide.serving.store_input import bad, check_ids, check_kind, check_review, interests_to_json, to_json

logger = logging.getLogger(__name__)

_UPSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}  # on_conflict_do_nothing


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


class Store:
    """Database access for the app: one per process, safe to share between threads.

    Database failures (down, unreachable, read-only) raise StoreUnavailable; bad input raises ValueError.
    Either way nothing is written."""

    def __init__(self, url: str | None = None) -> None:
        self.engine, self.backend, self.where = connect(url)
        self._writer = self.engine.execution_options(guide_write=True)  # same pool, BEGIN IMMEDIATE
        try:
            with self._writer.begin() as conn:  # under the write lock on SQLite, an advisory lock on PostgreSQL
                create_schema(conn)
        except UNAVAILABLE as error:
            self.engine.dispose()
            if not is_unavailable(error):
                raise
            raise unavailable(self.where, error) from error
        logger.info("store ready at %s", self.where)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @guarded
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

    @guarded
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

    @guarded
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

    @guarded
    def review_by_key(self, shopper_id: str, submission_key: str) -> SavedReview | None:
        """The review stored under this submission key (as a replay), or None."""
        with self.engine.connect() as conn:
            return _saved_by_key(conn, shopper_id, submission_key)

    @guarded
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

    @guarded
    def shared_shopper(self, share_id: str) -> str | None:
        """The shopper id behind a share id, or None for an unknown one."""
        if not isinstance(share_id, str) or not 0 < len(share_id) <= MAX_ID_CHARS or "\0" in share_id:
            return None
        query = sa.select(shares_table.c.shopper_id).where(shares_table.c.share_id == share_id)
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one_or_none()

    @guarded
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

    @guarded
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

    @guarded
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

    @guarded
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
