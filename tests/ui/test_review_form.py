"""AppTest: the product page's review form (guide/ui/review_form.py): a review's four answers and the profile
it moves, bad and huge reviews, injection strings, a form sent twice, the words behind a prediction, and a
half-written review kept across reruns and pages; asserting what a person sees."""

from __future__ import annotations

import json
import re

import pytest

from tests.ui.app_driver import (
    amazon_item,
    captions,
    literal,
    no_problems,
    open_page,
    run_app,
    send_review,
    shopper,
)

INJECTION = "<script>alert('xss')</script><img src=x onerror=alert(1)> **bold** [link](javascript:alert(2))"


def test_review_shows_the_four_answers_and_moves_the_profile(database):
    at = run_app()
    item = amazon_item(at)
    open_page(at, "profile")
    radar_before = at.get("plotly_chart")[0].proto.spec
    open_page(at, "product", product=item)
    send_review(at, 5, "Absolutely love it, my skin has never felt this soft.", "Holy grail")
    no_problems(at)
    assert at.success[0].value.startswith("Review saved. One forward pass")
    body = "\n".join(m.value for m in at.markdown)
    assert "Sentiment of your review" in body and "positive" in body
    assert "Product tags (re-tagged)" in body and "Purchase likelihood" in body
    texts = [t.value for t in at.text]  # the review as saved, shown as literal text: its title, then its text
    assert texts[texts.index("Holy grail") + 1] == "Absolutely love it, my skin has never felt this soft."
    open_page(at, "profile")
    no_problems(at)
    assert at.metric[1].value == "1"  # actions here
    assert any("Before / after the last action: review" in m.value for m in at.markdown)
    radar_after = at.get("plotly_chart")[0].proto.spec
    assert radar_after != radar_before and "before last action" in radar_after
    names = [trace.get("name") for trace in json.loads(radar_after)["data"]]
    assert names == ["before last action", "now"]


@pytest.mark.parametrize(
    "stars, text, message",
    [
        (4, "   ", "empty review"),
        (None, "Nice", "Pick 1 to 5 stars"),
    ],
)
def test_bad_reviews_show_a_message_and_store_nothing(database, stars, text, message):
    at = run_app()
    item = amazon_item(at)
    open_page(at, "product", product=item)
    send_review(at, stars, text)
    no_problems(at)
    assert message in at.error[0].value
    assert database.reviews(shopper_id=shopper(at)) == [] and database.events(shopper(at))[-1].kind == "view"
    assert not at.success


def test_huge_review_is_truncated_with_a_visible_notice(database):
    at = run_app()
    open_page(at, "product", product=amazon_item(at))
    send_review(at, 3, "It is fine. " * 9000)
    no_problems(at)
    assert "shortened" in at.warning[0].value and "5,000" in at.warning[0].value


def test_injection_strings_are_shown_as_plain_text(database):
    at = run_app()
    open_page(at, "product", product=amazon_item(at))
    send_review(at, 2, INJECTION, title="<b>title</b>")
    no_problems(at)
    assert INJECTION in [t.value for t in at.text] and "<b>title</b>" in [t.value for t in at.text]
    for shown in (re.sub(r'<span class="g-why"[^>]*>|</span>', "", m.value) for m in at.markdown):
        assert "<script>" not in shown and "onerror=" not in shown, shown  # escaped (`onerror\\=`) is text
    assert not any("<script>" in h.value for h in at.get("html"))


def test_sending_the_same_review_form_again_stores_it_once(database):
    at = run_app()
    item = amazon_item(at)
    open_page(at, "product", product=item)
    send_review(at, 4, "Smells lovely and lasts.", "Nice")
    no_problems(at)
    assert at.success[0].value.startswith("Review saved")
    send_review(at, 4, "Smells lovely and lasts.", "Nice")  # the same form sent again (a retry, a double click)
    no_problems(at)
    assert at.success[0].value.startswith("Review saved")  # the first result, shown again
    assert len(database.reviews(shopper_id=shopper(at))) == 1
    assert [e.kind for e in database.events(shopper(at))].count("review") == 1
    send_review(at, 2, "Actually it faded by noon.")  # a different review is a new submission
    assert len(database.reviews(shopper_id=shopper(at))) == 2


def test_why_highlights_the_words_behind_the_tags_and_the_review_sentiment(database):
    at = run_app()
    item = amazon_item(at)
    open_page(at, "product", product=item)
    no_problems(at)
    body = "\n".join(m.value for m in at.markdown)
    assert "Why these tags: the words of the product's text that moved them" in body
    assert any('<span class="g-why" style="background:rgba(' in m.value for m in at.markdown)
    assert "pushed towards" in captions(at) and "variants in one pass" in captions(at)
    send_review(at, 1, "<b>Awful</b>, it burned my skin and smelled like glue. Total waste of money.")
    no_problems(at)
    body = "\n".join(m.value for m in at.markdown)
    assert "**Why *negative*: the words that moved it**" in body
    shown = next(m.value for m in at.markdown if r"\<b\>Awful\<\/b\>" in m.value)  # the review, highlighted
    plain = literal(re.sub(r'<span class="g-why"[^>]*>|</span>', "", shown))
    assert plain == "<b>Awful</b>, it burned my skin and smelled like glue. Total waste of money."
    assert "<b>" not in re.sub(r'<span class="g-why"[^>]*>|</span>', "", shown)  # only our spans are HTML
    assert "Most for *negative*:" in captions(at)


def test_a_half_written_review_survives_reruns_and_page_switches_per_product(database):
    from guide.ui.review_form import key

    at = run_app()
    first = amazon_item(at)
    open_page(at, "product", product=first)
    at.text_area(key=key("text", first)).set_value("Half-written: the texture is").run()
    at.button(key="act_cart").click().run()  # a rerun that draws the outcome panel above the form
    assert at.text_area(key=key("text", first)).value == "Half-written: the texture is"
    open_page(at, "profile")  # Streamlit forgets the widgets of a page it did not draw
    assert at.session_state["review_drafts"][first]["text"] == "Half-written: the texture is"
    from guide.ui import state

    owned = state.load_service().personas[at.session_state["persona"]].history
    second = next(i for i in state.load_service().items["item_id"] if i not in (first, *owned))
    open_page(at, "product", product=second)
    assert not at.text_area(key=key("text", second)).value  # a draft belongs to its own product
    open_page(at, "product", product=first)
    no_problems(at)
    assert at.text_area(key=key("text", first)).value == "Half-written: the texture is"
