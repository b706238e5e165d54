"""The recap file, built from plain views (no model, no Streamlit): self-contained, every string we did not
write escaped, each action's four answers before and after, and the model's headlines with their CIs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from guide.serving.results import Sentiment
from guide.serving.views import Change, Headline, Persona, Recap, ReviewOutcome, ReviewView, Standing
from guide.ui.recap import build, unavailable

INJECTION = "<script>alert('xss')</script><img src=x onerror=alert(1)>"


def change(kind: str = "review", title: str = "Rose <b>Cream</b>") -> Change:
    return Change(
        kind,
        "B001",
        title,
        0.0004,
        0.0,
        {"Skin Care › Face": 0.30, "Hair Care › Styling Tools": 0.10},
        {"Skin Care › Face": 0.34, "Hair Care › Styling Tools": 0.09},
        {"Vegan": 0.4},
        {"Vegan": 0.45},
        [("B002", "Before pick", 0.002)],
        [("B003", "After <i>pick</i>", 0.003)],
        21.0,
        "cpu",
        Standing(478, 20921, 20.4),
        Standing(20921, 20921, 0.0),
        [Standing(1, 20921, 128.0)],
        [Standing(1, 20920, 149.0)],
    )


def review(text: str = INJECTION, title: str = "<b>Title</b>") -> ReviewOutcome:
    written = ReviewView(1, title, text, "negative", -0.9, datetime(2026, 1, 2, tzinfo=UTC), "you")
    sentiment = Sentiment("negative", -0.9, {"negative": 0.93, "neutral": 0.04, "positive": 0.03})
    return ReviewOutcome(
        written, sentiment, {"Cruelty-Free": 0.52}, {"Cruelty-Free": 0.52, "Vegan": 0.31}, "Bath", change()
    )


def recap(actions: list, headlines: list[Headline] | None = None) -> Recap:
    persona = Persona("A1", "Moisturizers · 30 purchases · loves <cream> & co", "persona", 30, ("Face",), (), ())
    headline = Headline(
        "purchase", "full_hr@10", 0.1066, (0.1026, 0.1107), 0.1050, (0.1010, 0.1089), "item-kNN", 0.0788,
        (0.0753, 0.0825), "beats", "beats",
    )  # fmt: skip
    return Recap(
        persona,
        True,
        datetime(2026, 1, 2, 10, 30, tzinfo=UTC),
        actions,
        0,
        {"Skin Care › Face": 0.34, "Hair Care › Styling Tools": 0.09, "Body": 0.05},
        [headline] if headlines is None else headlines,
        0.011,
        "paired bootstrap 95% CI of MTL - STL excludes 0",
        "P(this product is the shopper's next purchase)",
        20951,
        {"sharing": "mmoe", "weighting": "uncertainty", "device": "cpu"},
    )


@pytest.fixture(scope="module")
def page() -> str:
    return build(recap([review(), change("cart", "Plain cart item")]))


def test_the_file_is_one_self_contained_document(page):
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("Plotly.newPlot") == 4  # two actions, the interests now, the model's headlines
    assert page.count("plotly.js v") == 1  # the library once, inside the file, not per chart
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)  # nothing to fetch to open it


def test_the_shoppers_words_and_every_catalogue_string_are_escaped(page):
    assert "<script>alert('xss')</script>" not in page and "<img src=x onerror" not in page
    assert "&lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt;" in page  # the review, as text
    assert "&lt;b&gt;Title&lt;/b&gt;" in page and "Rose &lt;b&gt;Cream&lt;/b&gt;" in page
    assert "loves &lt;cream&gt; &amp; co" in page and "After &lt;i&gt;pick&lt;/i&gt;" in page


def test_each_action_has_its_four_answers_before_and_after(page):
    assert "1. Reviewed “Rose &lt;b&gt;Cream&lt;/b&gt;”" in page and "2. Added to the cart “Plain cart item”" in page
    for answer in (
        "Sentiment of the review",
        "Product tags",
        "Purchase likelihood",
        "Top pick",
        "Profile: top interest",
    ):
        assert answer in page
    assert page.count("Sentiment of the review") == 1  # a cart action has no review to read
    assert "negative -0.90" in page and "#478 of 20,921 · 20× the median product" in page
    assert "Skin Care › Face 30%" in page and "Skin Care › Face 34%" in page


def test_the_model_headlines_carry_their_confidence_intervals(page):
    assert "0.107 [0.103, 0.111]" in page and "0.105 [0.101, 0.109] — beats" in page
    assert "item-kNN 0.079 [0.075, 0.083] — beats" in page and "+1.10%" in page


def test_a_session_without_actions_or_report_still_makes_a_readable_file():
    page = build(recap([], headlines=[]))
    assert "Nothing yet: no action in this session." in page and "ships without an evaluation report" in page
    assert page.count("Plotly.newPlot") == 1 and page.count("plotly.js v") == 1  # the interests chart carries it


def test_a_recap_that_cannot_be_made_says_why_as_text():
    page = unavailable("expected a reachable database, got <b>refused</b>")
    assert "could not be made" in page and "&lt;b&gt;refused&lt;/b&gt;" in page and "<b>refused</b>" not in page
