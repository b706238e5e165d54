"""AppTest: every page and the main flows of app.py, asserting what a person sees (reviews: test_review_form.py).

The app loads the real shipped model once per test process (st.cache_resource) and writes to a
throwaway SQLite database given by GUIDE_DATABASE_URL.
"""

from __future__ import annotations

import html
import re

import pytest

from guide.ui.visuals import WORD_JOINER, md_text
from tests.ui.app_driver import (
    amazon_item,
    captions,
    cards,
    likelihoods,
    literal,
    no_problems,
    open_page,
    run_app,
    shopper,
)


def test_shop_opens_on_a_real_shopper_ranked_for_them(database):
    at = run_app()
    no_problems(at)
    assert at.title[0].value == "Shop"
    from guide.ui import state

    owned = len(set(state.load_service().personas[at.session_state["persona"]].history))
    total = 20951 - owned  # For you leaves out what the shopper already has
    assert f"{total:,} products · sorted For you · page 1 of {-(-total // 24)}" in captions(at)
    assert len(cards(at)) == 24
    shown = likelihoods(at)
    assert len(shown) == 24 and shown == sorted(shown, reverse=True)
    assert at.session_state["persona"] in at.query_params["persona"]
    assert "<svg" in cards(at)[0] or "data:image/svg+xml" in cards(at)[0]


def test_switching_persona_changes_everything_and_new_shopper_starts_cold(database):
    at = run_app()
    first_cards = cards(at)
    picker = at.sidebar.selectbox(key="persona_pick")
    second = picker.options[2]
    picker.select_index(2).run()
    no_problems(at)
    # the caption is Markdown with the name escaped as text ("long\\-wearing"): compare it as shown
    assert at.session_state["persona"] != "new" and md_text(second) in captions(at) and cards(at) != first_cards
    at.sidebar.selectbox(key="persona_pick").select("new").run()
    assert "You are new here" in at.info[0].value
    assert "not personalised yet" in cards(at)[0]


def test_search_and_filters_narrow_the_grid(database):
    at = run_app()
    at.text_input(key="shop_query").set_value("vanilla perfume").run()
    no_problems(at)
    assert "matching “vanilla perfume”" in captions(at)
    assert any("vanilla" in body.lower() for body in cards(at)[:6])
    at.text_input(key="shop_query").set_value("").run()
    at.multiselect(key="shop_categories").set_value(["Cleansers"]).run()
    at.selectbox(key="shop_sort").set_value("Price: low to high").run()
    bodies = cards(at)
    assert bodies and all("Cleansers" in body for body in bodies)
    prices = [float(p) for body in bodies for p in re.findall(r"\$([\d.,]+)", body)[:1]]
    assert prices == sorted(prices)


def test_product_deep_link_shows_tags_likelihood_reason_reviews(database):
    at = run_app()
    item = amazon_item(at)
    open_page(at, "product", product=item)
    no_problems(at)
    text = "\n".join(m.value for m in at.markdown)
    assert "**Why:**" in text and "The model's tags" in text and "Reviews (" in text
    assert at.metric[0].label == "Purchase likelihood for this shopper" and at.metric[0].value.endswith("%")
    assert any(e.kind == "view" and e.item_id == item for e in database.events(shopper(at)))


def test_root_link_with_product_opens_the_product_page(database):
    at = run_app()
    item = amazon_item(at)
    at = run_app(product=item)
    no_problems(at)
    assert "Write a review" in "\n".join(m.value for m in at.markdown)


def test_persona_deep_link_opens_that_shopper(database):
    from guide.ui import state

    persona = list(state.load_service().personas)[5]
    at = run_app(persona=persona)
    no_problems(at)
    assert at.session_state["persona"] == persona
    assert at.sidebar.selectbox(key="persona_pick").value == persona
    assert at.query_params["persona"] == [persona] or at.query_params["persona"] == persona


def test_two_sessions_never_see_each_others_actions(database):
    mine, theirs = run_app(), run_app()
    assert mine.session_state["persona"] == theirs.session_state["persona"]
    assert mine.session_state["visitor"] != theirs.session_state["visitor"]
    open_page(mine, "product", product=amazon_item(mine))
    mine.button(key="act_buy").click().run()
    assert mine.success[0].value.startswith("Bought")
    open_page(mine, "profile")
    open_page(theirs, "profile")
    assert mine.metric[1].value == "1" and theirs.metric[1].value == "0"


def test_unknown_product_and_unknown_persona_get_clear_messages(database):
    at = run_app(persona="nobody-at-all")
    no_problems(at)
    assert "pick a shopper" in at.warning[0].value
    open_page(at, "product", product="<img src=x onerror=alert(1)>")
    no_problems(at)
    assert "There is no product" in at.error[0].value and "<img" not in at.error[0].value.replace("\\<img", "")


@pytest.mark.parametrize(
    "payload",
    ["[x](https://evil.example)", "[Click here to log in](https://evil.example/login)", "![](http://h/t.png)"],
)
def test_a_markdown_persona_in_the_url_is_shown_as_literal_text(database, payload):
    from markdown_it import MarkdownIt

    at = run_app(persona=payload)
    no_problems(at)
    message = at.warning[0].value
    shown = MarkdownIt("commonmark").render(message)  # what the browser would get from this Markdown
    assert "<a " not in shown and "<img" not in shown, shown
    read = html.unescape(re.sub(r"</?p>", "", shown)).replace(WORD_JOINER, "")  # the joiner is invisible
    assert f"got '{payload}'" in read  # the literal characters


def test_other_product_errors_show_their_own_message(database, monkeypatch):
    from guide.serving.shop import ShopService

    at = run_app()
    item = amazon_item(at)

    def broken(self, session, item_id):
        raise ValueError("history: expected known items, got a damaged one. Fix: reset the demo.")

    monkeypatch.setattr(ShopService, "product", broken)
    open_page(at, "product", product=item)
    no_problems(at)
    assert "There is no product" not in at.error[0].value and "damaged one" in at.error[0].value


def test_cart_then_reset_demo_restores_the_start(database):
    at = run_app()
    item = amazon_item(at)
    open_page(at, "product", product=item)
    at.button(key="act_cart").click().run()
    no_problems(at)
    assert at.success[0].value.startswith("Added to your cart")
    open_page(at, "profile")
    assert at.metric[1].value == "1"
    at.sidebar.button[0].click().run()
    no_problems(at)
    assert "Demo reset" in at.sidebar.success[0].value
    open_page(at, "profile")
    assert at.metric[1].value == "0"


def test_model_page_shows_metrics_architecture_and_device(database):
    at = run_app()
    open_page(at, "about_model")
    no_problems(at)
    assert at.title[0].value == "The model"
    labels = {m.label: m.value for m in at.metric}
    assert labels["Runs on"] in ("CPU", "CUDA") or labels["Runs on"].startswith("CUDA")
    assert labels["Sharing"] and labels["Loss weighting"]
    assert at.get("graphviz_chart")
    assert at.dataframe  # architecture and training tables (and the metrics when a report ships)


def test_model_page_tables_the_evaluation_report(database, monkeypatch):
    from guide.ui import state

    guide = state.load_service().guide
    card = guide.model_card()
    rows = {
        "MTL": {"macro_f1": 0.71, "macro_f1_ci": [0.65, 0.77], "accuracy": 0.82, "n": 253},
        "STL": {"macro_f1": 0.69, "accuracy": 0.80, "n": 253},
        "tfidf-logreg": {"macro_f1": 0.70, "n": 253},
    }
    summary = {
        "tasks": {
            "sentiment": {
                "MTL": 0.71,
                "STL": 0.69,
                "best_peer": "tfidf-logreg",
                "best_peer_value": 0.70,
                "relative_gain_vs_stl": 0.029,
                "vs_stl": "ties",
                "vs_best_peer": "ties",
                "beats_best_peer": False,
            }
        },
        "decision_rule": "paired bootstrap 95% CI of MTL - STL excludes 0, else non-overlapping 95% CIs",
        "headline_metrics": {"sentiment": "macro_f1"},
        "delta_m": 0.029,
    }
    report = {"sentiment": {"amazon": rows}, "summary": summary, "meta": {"notes": ["peers use the same split"]}}
    monkeypatch.setattr(guide, "model_card", lambda: {**card, "metrics": report})
    at = run_app()
    open_page(at, "about_model")
    no_problems(at)
    headline = at.dataframe[0].value
    assert list(headline["task"]) == ["Review sentiment"] and headline["MTL (this model)"][0] == "0.710"
    assert headline["best peer"][0] == "tfidf-logreg 0.700" and headline["MTL vs single-task"][0] == "+2.9% (ties)"
    assert headline["MTL vs best peer"][0] == "ties"  # decided by CIs, never by the bare numbers
    detail = at.dataframe[1].value
    assert list(detail["model"]) == ["MTL", "STL", "tfidf-logreg"] and "macro_f1_ci" not in detail.columns
    assert "+2.90%" in captions(at) and "peers use the same split" in captions(at)


def test_missing_data_directory_explains_itself(database, monkeypatch, tmp_path):
    from guide.ui import state

    monkeypatch.setenv("GUIDE_DATA_DIR", str(tmp_path / "nowhere"))
    state.load_service.clear()
    try:
        at = run_app()
        assert not at.exception
        assert "The shop cannot start" in at.error[0].value and "nowhere" in at.error[0].value
    finally:
        state.load_service.clear()


def test_a_database_that_is_down_shows_a_message_and_keeps_the_model(database, monkeypatch):
    import socket

    from guide.ui import state

    service = state.load_service()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(service, "_store", None)  # as if the database went away: the next call reconnects
    monkeypatch.setattr(service, "_database_url", f"postgresql+psycopg://guide@127.0.0.1:{port}/down?connect_timeout=3")
    at = run_app()
    no_problems(at)
    message = literal(at.error[0].value)
    assert "cannot be stored" in message and "expected a reachable, writable database" in message
    at.run()
    assert state.load_service() is service and service.guide is not None  # the model was not reloaded
    monkeypatch.undo()
    at = run_app()
    no_problems(at)
    assert not at.error


def test_a_share_link_shows_the_shopper_read_only_and_cannot_act_or_reset(database):
    owner = run_app()
    item = amazon_item(owner)
    open_page(owner, "product", product=item)
    owner.button(key="act_cart").click().run()
    owner.sidebar.button(key="make_share").click().run()
    no_problems(owner)
    share = owner.session_state["share_link"]
    assert owner.session_state["visitor"] not in share and f"?share={share}" in [c.value for c in owner.sidebar.code]

    viewer = run_app(share=share)
    no_problems(viewer)
    assert "visitor" not in viewer.query_params and viewer.query_params["share"] in (share, [share])
    assert viewer.session_state["visitor"] != owner.session_state["visitor"]
    assert "read-only" in captions(viewer) and not [b for b in viewer.sidebar.button if b.label == "Reset demo"]
    open_page(viewer, "profile")
    no_problems(viewer)
    assert viewer.metric[1].value == "1"  # the owner's cart action, shown
    open_page(viewer, "product", product=amazon_item(owner))
    no_problems(viewer)
    labels = [b.label for b in viewer.button]
    assert "Add to cart" not in labels and "Buy now" not in labels and "Send review" not in labels
    assert [e.kind for e in database.events(shopper(owner))] == ["view", "cart"]  # the viewer logged nothing
    viewer.sidebar.button(key="leave_shared").click().run()  # back to the viewer's own shop
    no_problems(viewer)
    assert "share" not in viewer.query_params and shopper(viewer) != shopper(owner)
    [b for b in viewer.sidebar.button if b.label == "Reset demo"][0].click().run()
    no_problems(viewer)
    assert [e.kind for e in database.events(shopper(owner))] == ["view", "cart"]  # reset only ever hits one's own


def test_the_wait_for_the_model_is_shown_apart_from_the_pass(database, monkeypatch):
    at = run_app()
    open_page(at, "product", product=amazon_item(at))
    from guide.serving.shop import ShopService
    from guide.ui import state

    real = ShopService.record_action

    def after_a_wait(self, *args, **kwargs):  # as if other shoppers' passes held the model lock for 42 ms
        outcome = real(self, *args, **kwargs)
        self.guide.last_wait_ms = 42.0
        return outcome

    monkeypatch.setattr(state.load_service().guide, "last_wait_ms", 0.0, raising=False)  # restored afterwards
    monkeypatch.setattr(ShopService, "record_action", after_a_wait)
    at.button(key="act_cart").click().run()
    no_problems(at)
    assert re.search(r"One forward pass of the shared model \(\d+ ms on ", at.success[0].value)
    assert "42 ms waiting for the model" in captions(at) and "42 ms" not in at.success[0].value


def test_the_tour_link_opens_its_step_in_a_sandbox_and_start_over_goes_back_to_step_one(database):
    at = run_app(tour="3")
    no_problems(at)
    body = "\n".join(m.value for m in at.markdown)
    assert "Step 3 of 6" in body and "The catalogue's tags" in body
    assert at.query_params["tour"] in ("3", ["3"])
    from guide.ui import state

    service = state.load_service()
    sandbox = service.tour_session(at.session_state["visitor"])
    assert sandbox.visitor != at.session_state["visitor"]
    at.button(key="tour_next").click().run()
    at.button(key="suggest_0").click().run()
    at.button(key="send_review").click().run()
    no_problems(at)
    assert at.success[0].value.startswith("Review saved. One forward pass")
    assert len(database.reviews(shopper_id=sandbox.shopper_id)) == 1
    assert database.reviews(shopper_id=f"{sandbox.persona_id}~{at.session_state['visitor']}") == []  # not theirs
    at.button(key="tour_start_over").click().run()
    no_problems(at)
    assert at.query_params["tour"] in ("1", ["1"]) and "Step 1 of 6" in "\n".join(m.value for m in at.markdown)
    assert database.reviews(shopper_id=sandbox.shopper_id) == []
    assert at.toast[0].value.startswith("Started over in")
    assert int(re.search(r"in (\d+) ms", at.toast[0].value).group(1)) < 1000


def test_the_tour_writes_to_the_presenters_own_shop_only_when_they_switch_it_on(database):
    at = run_app(tour="4")
    from guide.ui import state

    service = state.load_service()
    own = f"{service.tour_plan().persona_id}~{at.session_state['visitor']}"
    sandbox = service.tour_session(at.session_state["visitor"]).shopper_id
    at.toggle(key="tour_keep_switch").set_value(True).run()
    at.button(key="suggest_1").click().run()
    at.button(key="send_review").click().run()
    no_problems(at)
    assert len(database.reviews(shopper_id=own)) == 1 and database.reviews(shopper_id=sandbox) == []
    for button in ("tour_next", "tour_next", "tour_back", "tour_back"):  # steps that do not draw the switch
        at.button(key=button).click().run()
    no_problems(at)
    assert "your own shop" in "\n".join(m.value for m in at.markdown)  # the choice held on every step
    assert at.success[0].value.startswith("Review saved")
    at.button(key="tour_start_over").click().run()
    assert len(database.reviews(shopper_id=own)) == 1  # Start over forgets the sandbox, never their own shop
    at.button(key="tour_next").click().run()
    at.button(key="tour_next").click().run()
    at.button(key="tour_next").click().run()
    assert at.toggle(key="tour_keep_switch").value is False and "sandbox copy" in "\n".join(
        m.value for m in at.markdown
    )
