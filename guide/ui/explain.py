"""Why: the words that moved a prediction, highlighted in the text, with a short legend.

The weights come from occlusion through the shared model (`ShopService.why_review` / `why_tags`). They take
a batch of the sentence encoder, so a page draws its predictions first: between `start()` and `finish()`
(the page's first and last lines) an explanation keeps its spot on the page and is filled in at the end; a panel
that reruns alone does the same for itself inside `deferred()`.

The text is the shopper's or the catalogue's, never ours: every character of it goes through `md_text`
(the one helper that makes text literal in Markdown), and the only HTML is our own colour spans around
those escaped words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st

from guide.serving.results import Span, Why
from guide.serving.views import ReviewView
from guide.ui import reruns, state
from guide.ui.visuals import md_text

TOWARDS = (37, 99, 235)  # blue: the span pushed the prediction towards what the model says
AGAINST = (234, 88, 12)  # orange: it pushed against it
FAINTEST = 0.15  # spans under this share of the text's strongest push stay plain
TOP_WORDS = 3  # named in the caption beside the colours, for readers who do not see them
_PENDING = "why_pending"


def start() -> None:
    """From here on, `later` keeps a spot and waits for `finish` (forgets spots of an interrupted run)."""
    st.session_state[_PENDING] = []


def later(draw: Callable[[], None]) -> None:
    """Draw here, after the rest of the page when `start` ran, else now."""
    pending = st.session_state.get(_PENDING)
    if pending is None:
        draw()
        return
    spot = st.empty()
    spot.caption("Finding the words that moved it…")
    pending.append((spot, draw))


def finish() -> None:
    for spot, draw in st.session_state.pop(_PENDING, None) or []:
        with spot.container():
            draw()


@contextmanager
def deferred() -> Iterator[None]:
    """A panel's `start` and `finish` when the panel reruns alone (the page's own do not run then); inside the
    page's run, its explanations wait for the page's `finish` like any other."""
    if not reruns.rerunning_alone():
        yield
        return
    start()
    try:
        yield
    except BaseException:  # a stop or a rerun of the panel: its spots are gone with it
        st.session_state.pop(_PENDING, None)
        raise
    finish()


def _colour(span: Span, strongest: float) -> str | None:
    share = abs(span.weight) / strongest if strongest > 0 else 0.0
    if share < FAINTEST:
        return None
    red, green, blue = TOWARDS if span.weight > 0 else AGAINST
    return f"rgba({red},{green},{blue},{0.12 + 0.5 * share:.2f})"


def highlighted(why: Why) -> str:
    """The text as Markdown: every character literal (md_text), runs of spaces one space, and each span
    that moved the prediction inside a colour span of ours (the stronger, the deeper)."""
    strongest = max((abs(s.weight) for s in why.spans), default=0.0)
    parts, last = [], 0
    for span in why.spans:
        parts.append(" " if last and why.text[last : span.start] else "")
        words = md_text(why.text[span.start : span.end])
        colour = _colour(span, strongest)
        parts.append(
            words
            if colour is None
            else f'<span class="g-why" style="background:{colour}" title="{span.delta * 100:+.1f} pts">{words}</span>'
        )
        last = span.end
    if tail := why.text[last:].strip():
        parts.append(" " + md_text(tail))
    return "".join(parts)


def _chip(colour: tuple[int, int, int]) -> str:
    red, green, blue = colour
    return f'<span class="g-why" style="background:rgba({red},{green},{blue},0.5)">&nbsp;&nbsp;&nbsp;</span>'


def legend(why: Why) -> str:
    target = md_text(why.target)
    unit = "word" if why.words_per_span == 1 else f"run of {why.words_per_span} words"
    return (
        f"{_chip(TOWARDS)} pushed towards *{target}* · {_chip(AGAINST)} pushed against it · deeper colour, "
        f"stronger push. Each {unit} was left out in turn and the text read again by the same model "
        f"({len(why.spans) + 1} variants in one pass, {why.elapsed_ms:,.0f} ms)."
    )


def _named(why: Why, sign: int) -> str:
    spans = why.strongest(TOP_WORDS, sign)
    return ", ".join(f"“{md_text(why.text[s.start : s.end])}” ({s.delta * 100:+.1f} pts)" for s in spans) or "none"


def show(why: Why) -> None:
    st.markdown(highlighted(why), unsafe_allow_html=True)  # user text escaped by md_text; the tags are ours
    st.caption(legend(why), unsafe_allow_html=True)
    st.caption(f"Most for *{md_text(why.target)}*: {_named(why, 1)} · most against: {_named(why, -1)}")


def _review(review: ReviewView) -> None:
    with st.container(border=True, key="why-review"):
        try:
            why = state.service().why_review(review)
        except ValueError as error:
            st.caption(f"No explanation: {md_text(error)}")
            return
        st.markdown(f"**Why *{md_text(why.target)}*: the words that moved it** · P = {why.probability:.0%}")
        show(why)


def review(review: ReviewView) -> None:
    """The review's text with the words that moved its sentiment highlighted."""
    later(lambda: _review(review))


def _tags(item_id: str) -> None:
    with st.container(border=True, key="why-tags"):
        st.markdown("**Why these tags: the words of the product's text that moved them**")
        try:
            whys = state.service().why_tags(item_id)
        except ValueError as error:
            st.caption(f"No explanation: {md_text(error)}")
            return
        if not whys:
            st.caption("The catalogue has no text for this product, so there is nothing to explain.")
            return
        if not whys[0].predicted:
            st.caption("No tag is over its threshold; this is the most likely one, to show what pulls at it.")
        labels = [f"{md_text(w.target)} · {w.probability:.0%}" for w in whys]
        for tab, why in zip(st.tabs(labels), whys, strict=True):
            with tab:
                show(why)


def tags(item_id: str) -> None:
    """The product's text with the words that moved its predicted tags highlighted, one tab per tag."""
    later(lambda: _tags(item_id))
