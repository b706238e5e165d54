"""md_text: the one helper that makes text we did not write literal inside Markdown.

Checked by rendering with markdown-it (CommonMark + GFM tables/strikethrough): the escaped text must come
out as the very characters that went in, with no link, image, HTML, emphasis, code, heading or table.
"""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from guide.ui.visuals import WORD_JOINER, md_text

PAYLOADS = [
    "[Click here to log in](https://evil.example/login)",
    "![](http://host/track.png)",
    "<img src=x onerror=alert(1)><script>alert(1)</script>",
    "`code` **bold** __under__ *em* _em_ ~~gone~~",
    "# heading",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "$x^2$ and $$\\int$$",
    ":red[coloured] :material/home: :smile:",
    "<https://evil.example> www.evil.example mail@evil.example",
    "1. list\n- item\n> quote",
    "&lt;b&gt; &amp; \\*not escaped\\*",
    "[ref]: https://evil.example\n[ref]",
]
RENDERER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
MARKUP = re.compile(r"<(?!/?p>)[a-z/]")  # any tag but the paragraph the renderer wraps text in


def rendered(text: str) -> str:
    return RENDERER.render(f"Shown: {md_text(text)}").strip()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_md_text_shows_the_payload_literally(payload):
    out = rendered(payload)
    assert not MARKUP.search(out), out
    assert out.startswith("<p>") and out.endswith("</p>") and out.count("<p>") == 1
    literal = html.unescape(out[len("<p>") : -len("</p>")])
    assert literal.replace(WORD_JOINER, "") == "Shown: " + re.sub(r"[\r\n]+", " ", payload)  # as a person reads it


@pytest.mark.parametrize("mark", list("[]()!<>`*_#|~$:&\\"))
def test_every_significant_mark_is_escaped(mark):
    assert md_text(f"a{mark}b") == f"a\\{mark}b"


def test_line_breaks_become_spaces_and_none_is_empty():
    assert md_text("one\ntwo\r\nthree\u2028four") == "one two three four"
    assert md_text(None) == "" and md_text("") == ""
    assert md_text(ValueError("got '[x](y)'")) == "got \\'\\[x\\]\\(y\\)\\'"


def test_radar_axes_stay_distinct_for_category_paths():
    from guide.ui.charts import axis_labels, interest_radar

    names = ["Hair Care › Conditioners", "Hair Care › Styling Products", "Skin Care › Face", "Makeup › Face"]
    labels = axis_labels(names)
    assert labels == ["Conditioners", "Styling Products", "Face (Skin Care)", "Face (Makeup)"]
    assert len(set(axis_labels(["A › " + "x" * 30 + "1", "B › " + "x" * 30 + "2"]))) == 2  # equal once cut
    fig = interest_radar(dict(zip(names, (0.4, 0.3, 0.2, 0.1), strict=True)))
    assert list(fig.data[-1].theta) == labels + labels[:1]  # four axes, not two merged "Hair Care › …"


# The expressions GFM's renderer in Streamlit links bare text with, once escapes are read
# (mdast-util-gfm-autolink-literal: a scheme URL or www. name, and an e-mail address).
GFM_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)", re.IGNORECASE | re.ASCII)
GFM_EMAIL = re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.ASCII)


@pytest.mark.parametrize(
    "value",
    ["https://evil.example/login", "HTTP://EVIL.EXAMPLE", "see www.evil.example now", "mail@evil.example", *PAYLOADS],
)
def test_a_bare_url_or_address_never_becomes_a_live_link(value):
    """Escaping alone leaves "https://evil.example" as text GFM links; what the renderer reads must not match."""
    assert GFM_URL.search(value) or GFM_EMAIL.search(value) or "evil" not in value  # the oracle sees the raw one
    text = html.unescape(re.sub(r"<[^>]+>", "", rendered(value)))  # the text nodes GFM's autolinker reads
    assert not GFM_URL.search(text) and not GFM_EMAIL.search(text), text
    assert text.replace(WORD_JOINER, "") == "Shown: " + re.sub(r"[\r\n]+", " ", value)


@pytest.mark.parametrize("top", [0.00031, 0.0009, 0.0042, 0.013, 0.07, 0.15, 0.62, 1.0])
def test_likelihood_ticks_never_repeat_a_label(top):
    """The profile's P(buy next) axis: every tick from 0 to the highest point reads differently."""
    from guide.serving.views import LikelihoodPoint
    from guide.ui.charts import likelihood_history, percent_ticks

    axis = percent_ticks(top)
    values = [k * axis["dtick"] for k in range(int(top / axis["dtick"]) + 2)]
    labels = [f"{v * 100:.{int(axis['tickformat'][1:-1])}f}%" for v in values]  # d3's ".N%", as Python writes it
    assert len(set(labels)) == len(labels) >= 3, labels
    point = LikelihoodPoint(step=0, step_label="start", item_id="x", title="A product", likelihood=top)
    assert likelihood_history([point]).layout.yaxis.dtick == axis["dtick"]
