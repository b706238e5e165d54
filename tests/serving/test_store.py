"""Tests for guide.serving.store on a SQLite file and on a throwaway local PostgreSQL server
(`tests/db_fixtures.py`; the schema and connection setup are tested in test_schema.py)."""

from __future__ import annotations

import math
import threading
from datetime import UTC

import pytest
import sqlalchemy as sa

from guide.serving import store as store_module
from guide.serving.store import MAX_REVIEW_CHARS, Store, StoreUnavailable, metadata
from tests.db_fixtures import free_port
from tests.db_fixtures import sample_review as _review

pytest_plugins = ["tests.db_fixtures"]  # store / sqlite_url / postgres_url: each backend, fresh per test


def _counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables
        }


def test_ensure_shopper_is_idempotent(store):
    first = store.ensure_shopper("ana", "Ana", "persona")
    again = store.ensure_shopper("ana", "Another name", "new")
    assert again == first
    assert (first.display_name, first.kind) == ("Ana", "persona")
    assert first.created_at.tzinfo == UTC


def test_events_round_trip_and_limit(store):
    store.ensure_shopper("ana", "Ana", "persona")
    ids = [
        store.record_event("ana", "s1", kind, f"item-{n}", payload={"n": n, "tags": ["a"]})
        for n, kind in enumerate(["view", "click", "cart", "purchase"])
    ]
    events = store.events("ana")
    assert [event.id for event in events] == ids == sorted(ids)
    assert [event.kind for event in events] == ["view", "click", "cart", "purchase"]
    assert events[2].payload == {"n": 2, "tags": ["a"]}
    assert events[0].session_id == "s1" and events[0].created_at.tzinfo == UTC
    assert [event.id for event in store.events("ana", limit=2)] == ids[2:]
    assert store.events("nobody") == []


def test_save_review_round_trip(store):
    store.ensure_shopper("ana", "Ana", "persona")
    text = "<script>alert(1)</script> 'quoted' \"double\" ; DROP TABLE reviews; -- émoji 💄\n"
    saved = _review(store, text=text, title="  spaced  ")
    assert store.reviews("ana") == [saved.review] == store.reviews(item_id="lipstick")
    assert saved.review.text == text and saved.review.title == "  spaced  "
    assert store.reviews(shopper_id="ana", item_id="other") == []
    [event] = store.events("ana")
    assert (event.id, event.kind, event.payload) == (
        saved.event_id,
        "review",
        {"review_id": saved.review.id, "stars": 4},
    )
    profile = store.latest_profile("ana")
    assert (profile.id, profile.event_id) == (saved.snapshot_id, saved.event_id)
    assert profile.interests == {"lips": 0.7, "vegan": 0.3}


def test_nul_is_handled_the_same_on_both_backends(store):
    """PostgreSQL refuses NUL in text (DataError) where SQLite stores it: the store refuses it on both, and
    clean_review, which the service runs first, strips it so the same text is stored everywhere."""
    from guide.serving.shop import clean_review

    store.ensure_shopper("ana", "Ana", "new")
    for field in ("text", "title"):
        with pytest.raises(ValueError, match="NUL"):
            _review(store, **{field: "bad\x00text"})
    assert _counts(store)["reviews"] == 0 and _counts(store)["events"] == 0
    text, title, _ = clean_review(4, "Lasts\x00 all\x01 day.", "Ni\x00ce")
    saved = _review(store, text=text, title=title)
    assert [(r.text, r.title) for r in store.reviews()] == [("Lasts all day.", "Nice")] == [(text, title)]
    assert saved.review.text == "Lasts all day."


def test_review_at_the_length_limit_is_accepted(store):
    store.ensure_shopper("ana", "Ana", "persona")
    assert len(_review(store, text="x" * MAX_REVIEW_CHARS, interests=None).review.text) == 5000


def test_record_action_and_profile_history(store):
    store.ensure_shopper("ana", "Ana", "new")
    assert store.latest_profile("ana") is None and store.profile_history("ana") == []
    plain = store.record_action("ana", "s1", "view", "serum")
    assert plain.snapshot_id is None
    first = store.record_action("ana", "s1", "click", "serum", interests={"skincare": 1.0})
    second = store.record_action("ana", "s1", "cart", "serum", interests={"skincare": 0.5})
    history = store.profile_history("ana")
    assert [snapshot.id for snapshot in history] == [first.snapshot_id, second.snapshot_id]
    assert [snapshot.event_id for snapshot in history] == [first.event_id, second.event_id]
    assert store.latest_profile("ana") == history[-1]
    assert history[-1].interests == {"skincare": 0.5}


def test_reset_shopper_only_touches_that_shopper(store):
    for shopper_id in ("ana", "ben"):
        store.ensure_shopper(shopper_id, shopper_id.title(), "persona")
        store.record_action(shopper_id, "s1", "view", "serum", interests={"skincare": 1.0})
        _review(store, shopper_id)
    kept = (store.events("ben"), store.reviews("ben"), store.profile_history("ben"))
    deleted = store.reset_shopper("ana")
    assert deleted == {"profile_snapshots": 2, "reviews": 1, "events": 2}
    assert (store.events("ana"), store.reviews("ana"), store.profile_history("ana")) == ([], [], [])
    assert (store.events("ben"), store.reviews("ben"), store.profile_history("ben")) == kept
    assert _counts(store)["shoppers"] == 2


BAD_CALLS = {
    "stars zero": lambda s: _review(s, stars=0),
    "stars six": lambda s: _review(s, stars=6),
    "stars float": lambda s: _review(s, stars=4.5),
    "stars bool": lambda s: _review(s, stars=True),
    "stars text": lambda s: _review(s, stars="5"),
    "empty text": lambda s: _review(s, text=""),
    "blank text": lambda s: _review(s, text=" \n\t "),
    "text too long": lambda s: _review(s, text="x" * (MAX_REVIEW_CHARS + 1)),
    "title none": lambda s: _review(s, title=None),
    "nan score": lambda s: _review(s, sentiment_score=math.nan),
    "bad interests": lambda s: _review(s, interests={"lips": "high"}),
    "empty item": lambda s: _review(s, item_id=""),
    "blank session": lambda s: _review(s, session_id="   "),
    "unknown shopper": lambda s: _review(s, shopper_id="ghost"),
    "unknown event kind": lambda s: s.record_event("ana", "s1", "like", "serum"),
    "review via record_event": lambda s: s.record_event("ana", "s1", "review", "serum"),
    "empty shopper id": lambda s: s.record_event("", "s1", "view", "serum"),
    "payload not json": lambda s: s.record_event("ana", "s1", "view", "serum", payload={1, 2}),
    "snapshot nan": lambda s: s.record_action("ana", "s1", "view", "x", interests={"a": math.inf}),
    "unknown shopper kind": lambda s: s.ensure_shopper("zed", "Zed", "admin"),
    "blank display name": lambda s: s.ensure_shopper("zed", " ", "new"),
}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_invalid_input_raises_and_writes_nothing(store, call):
    store.ensure_shopper("ana", "Ana", "persona")
    before = _counts(store)
    with pytest.raises(ValueError, match=r"expected .*, got .*\. Fix: "):
        call(store)
    assert _counts(store) == before


@pytest.mark.parametrize("stage", ["event", "snapshot"])
def test_save_review_is_all_or_nothing(store, monkeypatch, stage):
    store.ensure_shopper("ana", "Ana", "persona")
    before = _counts(store)
    real_insert, real_snapshot = store_module._insert, store_module._insert_snapshot

    def failing_insert(conn, table, **values):
        if table is store_module.events_table:
            raise RuntimeError("disk full while writing the event")
        return real_insert(conn, table, **values)

    def dangling_snapshot(conn, shopper_id, event_id, interests, now):
        # A snapshot pointing at a missing event: the database itself rejects it (foreign key).
        return real_snapshot(conn, shopper_id, event_id + 10_000, interests, now)

    if stage == "event":
        monkeypatch.setattr(store_module, "_insert", failing_insert)
        expected = RuntimeError
    else:
        monkeypatch.setattr(store_module, "_insert_snapshot", dangling_snapshot)
        expected = sa.exc.IntegrityError
    with pytest.raises(expected):
        _review(store)
    assert _counts(store) == before
    monkeypatch.undo()
    _review(store)  # the store is still usable after the rollback
    assert _counts(store)["reviews"] == before["reviews"] + 1


def test_a_database_failure_after_the_review_row_stores_none_of_review_event_or_snapshot(store, monkeypatch):
    """The review row is written, then the database fails on the transaction's second statement (the
    'review' event): the review is rolled back with it, the caller gets StoreUnavailable, and the same
    form can be sent again and is stored once (not replayed from a half-written first try)."""
    store.ensure_shopper("ana", "Ana", "persona")
    before = _counts(store)
    real_insert, written_before_failure = store_module._insert, []

    def failing_insert(conn, table, **values):
        if table is store_module.events_table:
            query = sa.select(sa.func.count()).select_from(store_module.reviews_table)
            written_before_failure.append(conn.execute(query).scalar_one())  # the review row exists in there
            raise sa.exc.OperationalError("INSERT INTO events", {}, OSError("disk I/O error"))
        return real_insert(conn, table, **values)

    monkeypatch.setattr(store_module, "_insert", failing_insert)
    with pytest.raises(StoreUnavailable, match="disk I/O error.*nothing was saved"):
        _review(store, submission_key="form-1")
    assert written_before_failure == [before["reviews"] + 1]  # it failed midway, not before the first write
    assert _counts(store) == before
    assert (store.reviews("ana"), store.events("ana"), store.profile_history("ana")) == ([], [], [])
    assert store.review_by_key("ana", "form-1") is None
    monkeypatch.undo()
    saved = _review(store, submission_key="form-1")  # the retry is a first submission, not a replay
    assert not saved.replayed
    assert [r.id for r in store.reviews("ana")] == [saved.review.id]
    assert [(e.id, e.payload["review_id"]) for e in store.events("ana")] == [(saved.event_id, saved.review.id)]
    assert [(p.id, p.event_id) for p in store.profile_history("ana")] == [(saved.snapshot_id, saved.event_id)]


def test_record_action_is_all_or_nothing(store, monkeypatch):
    store.ensure_shopper("ana", "Ana", "persona")
    before = _counts(store)

    def failing_snapshot(*_arguments):
        raise RuntimeError("crash between the event and the snapshot")

    monkeypatch.setattr(store_module, "_insert_snapshot", failing_snapshot)
    with pytest.raises(RuntimeError):
        store.record_action("ana", "s1", "click", "serum", interests={"skincare": 1.0})
    assert _counts(store) == before


@pytest.mark.parametrize("sharing", ["one store", "store per thread"])
def test_concurrent_writers_all_land(store, sharing):
    store.ensure_shopper("ana", "Ana", "persona")
    url = store.engine.url.render_as_string(hide_password=False)
    start, errors = threading.Barrier(4), []

    def write(thread: int) -> None:
        own = store if sharing == "one store" else Store(url)
        try:
            start.wait()
            for n in range(25):
                interests = {"lips": float(n)} if n % 5 == 0 else None
                own.record_action("ana", f"t{thread}", "view", f"item-{n}", interests=interests)
        except Exception as error:  # noqa: BLE001 - re-raised via the assert in the main thread
            errors.append(error)
        finally:
            if own is not store:
                own.close()

    threads = [threading.Thread(target=write, args=(thread,)) for thread in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    events = store.events("ana")
    assert len(events) == len({event.id for event in events}) == 100
    assert len(store.profile_history("ana")) == 4 * 5


def test_healthcheck(store, monkeypatch):
    assert store.healthcheck() == {"ok": True, "backend": store.backend, "detail": "0 shoppers"}
    unreachable = sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    monkeypatch.setattr(store, "engine", unreachable)
    health = store.healthcheck()
    assert health["ok"] is False and health["detail"]


def test_data_survives_reopening(sqlite_url):
    with Store(sqlite_url) as first:
        first.ensure_shopper("ana", "Ana", "persona")
        saved = _review(first)
    with Store(sqlite_url) as second:
        assert second.reviews("ana") == [saved.review]
        assert second.latest_profile("ana").interests == {"lips": 0.7, "vegan": 0.3}
        assert [event.kind for event in second.events("ana")] == ["review"]


def test_default_url_uses_state_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("GUIDE_DATABASE_URL", raising=False)
    monkeypatch.setenv("GUIDE_STATE_DIR", str(tmp_path / "state" / "nested"))
    expected = f"sqlite:///{tmp_path / 'state' / 'nested' / 'guide.db'}"
    assert store_module.default_url() == expected
    with Store() as store:
        store.ensure_shopper("ana", "Ana", "persona")
    assert (tmp_path / "state" / "nested" / "guide.db").is_file()
    monkeypatch.setenv("GUIDE_DATABASE_URL", "sqlite:///elsewhere.db")
    assert store_module.default_url() == "sqlite:///elsewhere.db"


def test_unsupported_database_is_refused():
    with pytest.raises(ValueError, match="GUIDE_DATABASE_URL"):
        Store("mysql://user@127.0.0.1/guide")


# --- one review per submission, however often it is sent -------------------------------------------
def test_a_repeated_submission_key_stores_once_and_returns_the_first(store):
    store.ensure_shopper("ana", "Ana", "new")
    first = _review(store, submission_key="form-1")
    again = _review(store, submission_key="form-1", text="Edited while the first was in flight.")
    assert not first.replayed and again.replayed
    assert (again.review, again.event_id, again.snapshot_id) == (first.review, first.event_id, first.snapshot_id)
    assert _counts(store)["reviews"] == 1 and _counts(store)["events"] == 1
    assert store.review_by_key("ana", "form-1") == again and store.review_by_key("ana", "other") is None
    second_form = _review(store, submission_key="form-2")
    assert not second_form.replayed and _counts(store)["reviews"] == 2  # a new form is a new review
    store.ensure_shopper("bo", "Bo", "new")
    assert not _review(store, "bo", submission_key="form-1").replayed  # keys are per shopper


def test_concurrent_submits_with_one_key_store_once(store):
    store.ensure_shopper("ana", "Ana", "new")
    url = store.engine.url.render_as_string(hide_password=False)
    start, results, errors = threading.Barrier(4), [], []

    def submit() -> None:
        own = Store(url)
        try:
            start.wait()
            results.append(_review(own, submission_key="double-click"))
        except Exception as error:  # noqa: BLE001 - asserted in the main thread
            errors.append(error)
        finally:
            own.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(results) == 4
    assert len({result.review.id for result in results}) == 1 and sum(not r.replayed for r in results) == 1
    assert _counts(store)["reviews"] == 1 and _counts(store)["events"] == 1


# --- a database that is down or read-only ------------------------------------------------------------
def test_an_sqlite_uri_filename_makes_no_folder_of_its_own(sqlite_url, tmp_path, monkeypatch):
    """`sqlite:///file:PATH?mode=ro&uri=true` is SQLite's to read: no folder named `file:` in the working directory
    (the store once made `file:/tmp/...` there, taking the URI for a relative path)."""
    with Store(sqlite_url):
        pass
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    try:
        Store(f"sqlite:///file:{tmp_path / 'guide.db'}?mode=ro&uri=true").close()
    except StoreUnavailable:  # the schema check needs the write lock: refused either way, nothing made
        pass
    assert list(work.iterdir()) == []
    with Store("sqlite:///shop/state/guide.db"):  # a plain relative path still gets its folder
        pass
    assert [p.name for p in work.iterdir()] == ["shop"] and (work / "shop" / "state" / "guide.db").exists()


def test_a_read_only_sqlite_database_raises_store_unavailable_and_keeps_its_data(sqlite_url, tmp_path):
    with Store(sqlite_url) as writable:
        writable.ensure_shopper("ana", "Ana", "new")
        before = _counts(writable)
    read_only = f"sqlite:///file:{tmp_path / 'guide.db'}?mode=ro&uri=true"
    try:
        store = Store(read_only)
    except StoreUnavailable as error:  # the schema check itself needs the write lock
        message = str(error)
    else:
        with store, pytest.raises(StoreUnavailable) as raised:
            _review(store)
        message = str(raised.value)
    assert "expected a reachable, writable database" in message and "Fix:" in message
    assert "nothing was saved" in message
    with Store(sqlite_url) as writable:
        assert _counts(writable) == before


def test_a_stopped_postgres_raises_store_unavailable():
    with pytest.raises(StoreUnavailable, match=r"expected a reachable, writable database .*Fix: "):
        Store(f"postgresql+psycopg://guide@127.0.0.1:{free_port()}/nowhere?connect_timeout=3")


def test_a_database_going_down_later_raises_store_unavailable(store, monkeypatch):
    store.ensure_shopper("ana", "Ana", "new")
    store.engine.dispose()

    def refuse(*args, **kwargs):
        raise sa.exc.OperationalError("connect", {}, OSError("connection refused"))

    monkeypatch.setattr(store.engine, "connect", refuse)
    monkeypatch.setattr(store._writer, "connect", refuse)
    for call in (lambda: _review(store), lambda: store.events("ana"), lambda: store.reset_shopper("ana")):
        with pytest.raises(StoreUnavailable, match="connection refused"):
            call()
    monkeypatch.undo()
    assert _counts(store)["reviews"] == 0


# --- read-only share links -----------------------------------------------------------------------------
def test_share_id_is_stable_public_and_maps_back(store):
    store.ensure_shopper("ana~0123456789ab", "Ana", "persona")
    share = store.share_id("ana~0123456789ab")
    assert share == store.share_id("ana~0123456789ab") and "0123456789ab" not in share
    assert store.shared_shopper(share) == "ana~0123456789ab"
    assert store.shared_shopper("nope") is None and store.shared_shopper("\0") is None
    with pytest.raises(ValueError, match="ensure_shopper"):
        store.share_id("nobody")
