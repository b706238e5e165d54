"""The highlighted text of an explanation (`guide/ui/explain.py`): literal text, colours only of ours."""

from __future__ import annotations

import re

from guide.serving.results import Span, Why
from guide.ui import explain

INJECTION = "<script>alert('xss')</script> <img src=x onerror=alert(1)> **bold** [link](javascript:alert(2)) :red[x]"
OURS = re.compile(r'<span class="g-why" style="background:rgba\(\d+,\d+,\d+,[\d.]+\)" title="[+-][\d.]+ pts">|</span>')
ASCII_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")


def why(text: str, weights: list[float]) -> Why:
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    return Why(
        "sentiment",
        "negative",
        0.9,
        True,
        text,
        tuple(Span(s, e, w, w / 10) for (s, e), w in zip(spans, weights, strict=True)),
        1,
        12.0,
    )


def unescaped(markdown: str) -> list[str]:
    """Punctuation marks that are NOT backslash-escaped (they could start Markdown or HTML)."""
    return ASCII_PUNCTUATION.findall(re.sub(r"\\.", "", markdown))  # drop each escape pair, then look


def test_user_text_is_literal_and_the_only_html_is_our_colour_spans():
    words = INJECTION.split()
    shown = explain.highlighted(why(INJECTION, [1.0 if i % 2 else -0.8 for i in range(len(words))]))
    assert len(OURS.findall(shown)) == 2 * len(words)  # every word coloured: opening and closing tag each
    rest = OURS.sub("", shown)
    assert unescaped(rest) == [] and r"\<script\>" in rest
    assert re.sub(r"\\(.)", r"\1", rest) == " ".join(words)  # what a reader sees: the text itself


def test_direction_and_strength_pick_the_colour():
    shown = explain.highlighted(why("great smell weird cap fine", [2.0, 1.0, -2.0, 0.1, 0.0]))
    towards, against = "rgba(37,99,235,", "rgba(234,88,12,"
    assert shown.index(towards + "0.62)") < shown.index("great") < shown.index(towards + "0.37)") < shown.index("smell")
    assert shown.index(against + "0.62)") < shown.index("weird")
    assert shown.endswith(" cap fine")  # under FAINTEST of the strongest push: plain text
    assert 'title="+20.0 pts"' in shown and 'title="-20.0 pts"' in shown


def test_one_word_and_texts_without_spans():
    assert explain.highlighted(why("Terrible", [1.5])).endswith(">Terrible</span>")
    assert explain.highlighted(why("Terrible", [0.0])) == "Terrible"  # no push at all: nothing to colour
    assert explain.highlighted(why("   ", [])) == ""
    assert explain.highlighted(Why("tag", "Vegan", 0.5, True, "a < b", (), 1)) == r" a \< b"


def test_line_breaks_and_indents_cannot_make_markdown_blocks():
    shown = explain.highlighted(why("    # Title\n\n- item\n1. one", [0.0] * 6))
    assert shown == r"\# Title \- item 1\. one"


def test_the_legend_names_the_target_literally_and_what_was_done():
    text = explain.legend(why("x y", [1.0, -1.0]))
    assert "pushed towards *negative*" in text and "Each word was left out in turn" in text
    assert "(3 variants in one pass, 12 ms)" in text
    tag = Why("tag", "Vegan *[x](y)*", 0.5, True, "a b c d", (Span(0, 3, 1.0, 0.1),), 2)
    assert r"*Vegan \*\[x\]\(y\)\**" in explain.legend(tag) and "Each run of 2 words" in explain.legend(tag)


def _page_with_a_late_explanation(start: bool) -> None:
    import streamlit as st

    from guide.ui import explain

    order = []
    if start:
        explain.start()
    explain.later(lambda: (order.append("why"), st.markdown("why")))
    order.append("prediction")
    st.markdown("prediction")
    explain.finish()
    st.markdown(" then ".join(order))


def test_an_explanation_keeps_its_spot_but_is_drawn_after_the_page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_page_with_a_late_explanation, args=(True,)).run()
    assert [m.value for m in at.markdown] == ["why", "prediction", "prediction then why"]
    at = AppTest.from_function(_page_with_a_late_explanation, args=(False,)).run()  # no start: drawn at once
    assert [m.value for m in at.markdown] == ["why", "prediction", "why then prediction"]
