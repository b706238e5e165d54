"""ShopService over the real shipped Guide and a throwaway store: personas, browsing, actions, reviews."""

from __future__ import annotations

import ast
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from guide.serving.personas import NEW_SHOPPER
from guide.serving.shop import ShopService, StoreUnavailable, clean_review
from guide.serving.store import MAX_REVIEW_CHARS, Store
from guide.serving.views import Filters, Session

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def persona_id(shop) -> str:
    return next(iter(shop.personas))


@pytest.fixture
def session(shop, persona_id, visitor) -> Session:
    session = Session(persona_id, visitor)
    shop.start(session)
    return session


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def amazon_item(shop, not_in: list[str]) -> str:
    items = shop.items
    return next(i for i in items.loc[items["source"] == "amazon", "item_id"] if i not in not_in)


# --- personas ------------------------------------------------------------------------------------
def test_personas_are_real_shoppers_picked_for_a_demo_and_named_from_their_history(shop):
    interactions = shop.guide.interactions
    personas = list(shop.personas.values())
    benchmark_users = set(interactions.loc[interactions["source"] == "beauty2014", "user_id"])
    picked = [p for p in personas if p.persona_id in benchmark_users]
    assert 12 <= len(picked) < len(personas) < 40  # a range for a demo, not 22,616 names in a picker
    sizes = [p.purchases for p in picked]
    assert max(sizes) >= 50 and min(sizes) <= 6  # long and short histories
    assert len({p.top_categories[0].split(" › ")[0] for p in picked}) >= 4  # different main categories
    for persona in personas:
        rows = interactions[interactions["user_id"] == persona.persona_id].sort_values("timestamp", kind="stable")
        assert list(persona.history) == list(rows["item_id"])
        assert f"{persona.purchases} purchases" in persona.label
        assert persona.label.startswith(persona.top_categories[0])
    labels = [p.label for p in shop.persona_choices()]
    assert labels[0].startswith("New shopper") and len(set(labels)) == len(labels)


def test_unknown_persona_is_refused_with_a_fix(shop):
    with pytest.raises(ValueError, match="pick a shopper"):
        shop.persona("nobody")


# --- browsing ------------------------------------------------------------------------------------
def test_for_you_ranks_the_whole_catalogue_by_purchase_likelihood(shop, session):
    page = shop.browse(session, sort="For you", page=1)
    owned = {shop.row_of[i] for i in shop.history(session)[0] if i in shop.row_of}
    assert len(shop.items) == 20951 and page.total == len(shop.items) - len(owned) and len(page.cards) == 24
    assert not owned & {shop.row_of[card.item_id] for card in page.cards}  # For you leaves out what they have
    likelihoods = [card.likelihood for card in page.cards]
    assert all(0 <= p <= 1 for p in likelihoods) and likelihoods == sorted(likelihoods, reverse=True)
    scores = shop.scores(*shop.history(session))
    assert likelihoods[0] == pytest.approx(float(np.max(scores)))


def test_cold_start_shopper_gets_popular_products_and_a_notice(shop, visitor):
    session = Session(NEW_SHOPPER, visitor)
    shop.start(session)
    page = shop.browse(session)
    assert page.notice and all(card.likelihood is None for card in page.cards)
    popularity = [shop.items.at[shop.row_of[c.item_id], "popularity"] for c in page.cards]
    assert popularity == sorted(popularity, reverse=True)


def test_search_filters_sort_and_pages(shop, session):
    found = shop.browse(session, "gentle cleanser", sort="Best match")
    assert 0 < found.total <= 96 and any("cleans" in c.title.lower() for c in found.cards[:5])
    cleansers = shop.browse(
        session, filters=Filters(categories=("Cleansers",), price_max=30.0), sort="Price: high to low"
    )
    prices = [c.price for c in cleansers.cards]
    assert all(c.category == "Cleansers" for c in cleansers.cards)
    assert all(p is not None and p <= 30 for p in prices) and prices == sorted(prices, reverse=True)
    last = shop.browse(session, page=10_000)
    assert last.page == last.pages and 0 < len(last.cards) <= 24
    vegan = shop.browse(session, filters=Filters(tags=("Vegan",)))
    assert all("Vegan" in shop.items.at[shop.row_of[c.item_id], "shown_tags"] for c in vegan.cards)
    with pytest.raises(ValueError, match="sort"):
        shop.browse(session, sort="cheapest")


def test_product_detail_explains_the_likelihood(shop, session):
    history, _ = shop.history(session)
    item = amazon_item(shop, history)
    detail = shop.product(session, item)
    assert detail.card.item_id == item and 0 <= detail.card.likelihood <= 1
    assert detail.reason.text.endswith(".") and item not in [c.item_id for c in detail.similar]
    assert detail.reviews and all(r.sentiment_label in ("negative", "neutral", "positive") for r in detail.reviews)
    assert all(0 <= p <= 1 for p in detail.model_tags.values())
    with pytest.raises(ValueError, match="catalogue"):
        shop.product(session, "NOT-AN-ITEM")


# --- acting --------------------------------------------------------------------------------------
def test_cart_adds_to_history_and_moves_the_profile(shop, session):
    before, _ = shop.history(session)
    item = amazon_item(shop, before)
    assert shop.record_action(session, item, "view") is None
    assert shop.history(session)[0] == before  # a view is logged, not bought
    change = shop.record_action(session, item, "cart")
    assert shop.history(session)[0] == [*before, item]
    assert change.likelihood_before is not None and change.likelihood_after is not None
    assert change.categories_before != change.categories_after
    assert [e.kind for e in shop.store.events(session.shopper_id)] == ["view", "cart"]
    assert shop.store.latest_profile(session.shopper_id).interests
    with pytest.raises(ValueError, match="action"):
        shop.record_action(session, item, "steal")


def test_review_is_one_forward_pass_and_one_transaction(shop, session, monkeypatch):
    """One predict and one store write (save_review, carrying the snapshot); a database failure midway
    through that write leaves no review, event or snapshot behind (the store-level version of this is
    test_store.py::test_a_database_failure_after_the_review_row_stores_none_of_review_event_or_snapshot)."""
    from guide.serving import store as store_module

    store = shop.store
    history, ratings = shop.history(session)
    item = amazon_item(shop, history)
    stored_before = (store.reviews(session.shopper_id), store.events(session.shopper_id))
    profiles_before = store.profile_history(session.shopper_id)
    real_insert = store_module._insert

    def fail_on_the_event(conn, table, **values):  # the transaction's second statement, after the review row
        if table is store_module.events_table:
            raise sa.exc.OperationalError("INSERT INTO events", {}, OSError("disk I/O error"))
        return real_insert(conn, table, **values)

    with monkeypatch.context() as failing:
        failing.setattr(store_module, "_insert", fail_on_the_event)
        with pytest.raises(StoreUnavailable, match="nothing was saved"):
            shop.submit_review(session, item, 1, "Terrible. It broke me out and smells awful.", "Never again")
    assert (store.reviews(session.shopper_id), store.events(session.shopper_id)) == stored_before
    assert store.profile_history(session.shopper_id) == profiles_before
    assert shop.history(session) == (history, ratings)

    calls, writes = [], []
    real_predict = shop.guide.predict
    monkeypatch.setattr(shop.guide, "predict", lambda *a, **k: calls.append(k) or real_predict(*a, **k))
    for name in ("save_review", "record_action", "record_event"):
        real = getattr(store, name)
        monkeypatch.setattr(
            store, name, lambda *a, _name=name, _real=real, **k: writes.append((_name, k)) or _real(*a, **k)
        )
    outcome = shop.submit_review(session, item, 1, "Terrible. It broke me out and smells awful.", "Never again")
    assert len(calls) == 1 and calls[0]["review"].startswith("Never again.")
    assert [name for name, _ in writes] == ["save_review"] and writes[0][1]["interests"]  # snapshot in the same write
    assert outcome.sentiment.label == "negative" and outcome.sentiment.score < 0
    assert outcome.review.text.startswith("Terrible") and outcome.review.stars == 1
    assert outcome.change.kind == "review" and outcome.change.elapsed_ms > 0
    assert outcome.change.categories_after and outcome.tags_after is not None
    history_after, ratings_after = shop.history(session)
    assert history_after[-1] == item and ratings_after[-1] == 1.0
    saved = store.reviews(shopper_id=session.shopper_id)
    assert [r.sentiment_label for r in saved] == ["negative"]
    [event] = [e for e in store.events(session.shopper_id) if e.kind == "review"]
    assert event.payload["review_id"] == saved[0].id
    assert store.latest_profile(session.shopper_id).event_id == event.id  # written together, linked
    assert shop.reviews_of(item)[0].text == outcome.review.text  # newest review shown first
    view = shop.profile(session)
    assert view.last.kind == "review" and view.actions_here == 1
    assert any(point.where == "here" for point in view.sentiment)


@pytest.mark.parametrize(
    "stars, text, message",
    [
        (5, "", "empty review"),
        (5, "   \n\t ", "empty review"),
        (5, "\u200b\u200c\u200d\ufeff\u2060", "empty review"),  # zero-width characters only
        (5, "\u00a0\u3000\u2028\u180e\u3164\u2800\u034f\x00", "empty review"),  # blank, but not to strip()
        (0, "fine", "1 to 5"),
        (6, "fine", "1 to 5"),
        (True, "fine", "1 to 5"),
        (4.5, "fine", "1 to 5"),
    ],
)
def test_bad_reviews_change_nothing(shop, session, stars, text, message):
    item = amazon_item(shop, [])
    with pytest.raises(ValueError, match=message):
        shop.submit_review(session, item, stars, text)
    assert shop.store.events(session.shopper_id) == [] and shop.store.reviews(shopper_id=session.shopper_id) == []


def test_a_huge_review_is_truncated_with_a_notice(shop, session):
    outcome = shop.submit_review(session, amazon_item(shop, []), 4, "Good. " * 20_000)
    assert "shortened" in outcome.notice and len(outcome.review.text) <= MAX_REVIEW_CHARS
    with pytest.raises(ValueError, match="catalogue"):
        shop.submit_review(session, "<script>", 4, "nice")


def test_visitors_never_see_each_other_and_reset_forgets(shop, persona_id):
    mine, theirs = Session(persona_id, "a" * 12), Session(persona_id, "b" * 12)
    for session in (mine, theirs):
        shop.start(session)
        shop.reset([session])
    item = amazon_item(shop, list(shop.personas[persona_id].history))
    shop.submit_review(mine, item, 5, "Lovely")
    assert item in shop.history(mine)[0] and item not in shop.history(theirs)[0]
    deleted = shop.reset([mine])
    assert deleted["reviews"] == 1 and shop.history(mine)[0] == list(shop.personas[persona_id].history)


def test_model_card_reports_device_and_architecture(shop):
    card = shop.model_card()
    assert card.device.startswith(("cpu", "cuda")) and card.config["sharing"]
    assert card.weighting


# --- layering ------------------------------------------------------------------------------------
def _imports(path: Path) -> set[str]:
    """Every module a file imports, with its parents ('guide.serving.store' also gives 'guide')."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        modules = (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        )
        for module in modules:
            parts = module.split(".")
            names |= {".".join(parts[: i + 1]) for i in range(len(parts))}
    return names


def test_the_ui_calls_the_service_only_and_the_package_never_imports_streamlit():
    forbidden = {
        "torch",
        "sentence_transformers",
        "sqlalchemy",
        "sqlite3",
        "guide.serving.store",
        "guide.serving.facade",
        "guide.model",
        "guide.data.text",
        "guide.data",
    }
    for path in [ROOT / "app.py", *sorted((ROOT / "guide" / "ui").glob("*.py"))]:
        assert not _imports(path) & forbidden, path
    for path in (ROOT / "guide").rglob("*.py"):
        if "ui" not in path.relative_to(ROOT / "guide").parts:
            assert "streamlit" not in _imports(path), path


# --- clean_review (no model needed) ----------------------------------------------------------------
@pytest.mark.parametrize(
    "text", ["\u200b", "\ufeff\u2060\u200d", "\u200b \u00a0\u202f\u2061\u2800", "\x00\x01\x1f", "\u3164\ufe0f"]
)
def test_a_review_of_invisible_characters_is_empty(text):
    with pytest.raises(ValueError, match="empty review"):
        clean_review(4, text, "")


def test_clean_review_drops_nul_and_controls_but_keeps_lines_tabs_and_accents():
    text, title, notice = clean_review(4, "\u200bGood\x00 stuff\x07\r\nreally\tcafe\u0301\u200b", "Ti\x00tle\x1b")
    assert (text, title, notice) == ("Good stuff\nreally\tcafe\u0301", "Title", "")
    assert clean_review(4, "\ud800ok", "")[0] == "ok"  # a lone surrogate cannot be encoded for PostgreSQL


# --- one review per form, a database that fails, share links ---------------------------------------
def test_sending_one_form_twice_stores_one_review_and_returns_the_first_result(shop, session, monkeypatch):
    calls = []
    real_predict = shop.guide.predict
    monkeypatch.setattr(shop.guide, "predict", lambda *a, **k: calls.append(k) or real_predict(*a, **k))
    item = amazon_item(shop, shop.history(session)[0])
    first = shop.submit_review(session, item, 5, "Lovely texture.", submission_key="form-1")
    again = shop.submit_review(session, item, 5, "Lovely texture.", submission_key="form-1")
    assert again is first and len([c for c in calls if c.get("review")]) == 1  # the review was scored once
    assert len(shop.store.reviews(shopper_id=session.shopper_id)) == 1
    assert [e.kind for e in shop.store.events(session.shopper_id)] == ["review"]
    shop.submissions.forget()  # as on another replica or after a restart: the store still knows the key
    replay = shop.submit_review(session, item, 5, "Lovely texture.", submission_key="form-1")
    assert "already saved" in replay.notice and replay.review.text == "Lovely texture."
    assert len(shop.store.reviews(shopper_id=session.shopper_id)) == 1
    shop.submit_review(session, item, 4, "Still lovely.", submission_key="form-2")  # a new form
    assert len(shop.store.reviews(shopper_id=session.shopper_id)) == 2


@pytest.fixture
def read_only_url(tmp_path, persona_id):
    """A SQLite file that already knows the shopper, opened read-only."""
    path = tmp_path / "ro.db"
    with Store(f"sqlite:///{path}") as store:
        store.ensure_shopper(f"{persona_id}~{'c' * 12}", "Shopper", "persona")
    return f"sqlite:///file:{path}?mode=ro&uri=true", f"sqlite:///{path}"


def test_a_read_only_or_stopped_database_raises_a_clear_error_and_keeps_the_model(shop, persona_id, read_only_url):
    session = Session(persona_id, "c" * 12)
    for url in (read_only_url[0], f"postgresql+psycopg://guide@127.0.0.1:{_free_port()}/down?connect_timeout=3"):
        service = ShopService(shop.guide, database_url=url)  # what the app caches: the model, no connection yet
        item = amazon_item(service, list(shop.personas[persona_id].history))
        with pytest.raises(StoreUnavailable, match=r"expected a reachable, writable database.*nothing was saved"):
            service.submit_review(session, item, 5, "Lovely texture.")
        with pytest.raises(StoreUnavailable):
            service.start(session)
        assert service.guide is shop.guide  # the model stays; the database is what failed
        if url.startswith("postgresql"):
            assert service._store is None  # never connected: the next call simply tries again
    with Store(read_only_url[1]) as store:
        assert store.reviews() == [] and store.events(session.shopper_id) == []


def test_a_share_link_names_the_shopper_but_not_their_private_token(shop, session):
    share = shop.share_link(session)
    assert session.visitor not in share and share == shop.share_link(session)
    assert shop.shared_session(share) == session
    with pytest.raises(ValueError, match="share link: expected"):
        shop.shared_session("made-up")


def test_warm_up_starts_one_background_load_however_often_it_is_called(shipped_guide, tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(ShopService, "_warm_up", lambda self: started.append(self))
    monkeypatch.setattr("guide.Guide.load", lambda *a, **k: shipped_guide)
    service = ShopService.open(database_url=f"sqlite:///{tmp_path / 'w.db'}", warm_up=False)
    assert started == []  # the app's first page runs before the encoder loads
    for _ in range(3):
        service.warm_up()
    for thread in [t for t in threading.enumerate() if t.name == "guide-warm-up"]:
        thread.join(5)
    assert started == [service]
