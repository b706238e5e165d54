"""Aspect chips on the product page: what shoppers say about scent, texture, packaging, price, effect,
longevity and colour, as the share of positive / negative mentions over all the product's reviews; opening
a chip (a popover) shows the sentences behind it. Sentences are review text: shown with `st.text` only."""

from __future__ import annotations

import streamlit as st

from guide.serving.aspect_chips import AspectChip, AspectSummary
from guide.serving.shop import ShopService, StoreUnavailable
from guide.ui.visuals import md_text

SHOWN_SENTENCES = 12  # per chip; the count says how many more there are
MARKS = {"positive": "+", "negative": "−", "neutral": "·"}
LEGEND = (
    "Each review is split into sentences; a sentence counts for an aspect when it uses one of the aspect's "
    "cue words, and the shared model's sentiment head reads each sentence as positive, neutral or negative."
)


def chip_title(chip: AspectChip) -> str:
    """`Scent · 75% + · 8% − · 12` with the shares coloured (Markdown: the label is ours, never user text)."""
    return f"{chip.label} · :green[{chip.positive:.0%} +] · :red[{chip.negative:.0%} −] · {chip.mentions}"


def _chip(chip: AspectChip, key: str) -> None:
    with st.popover(chip_title(chip), key=f"aspect-{key}-{chip.key}"):
        noun = "mention" if chip.mentions == 1 else "mentions"
        st.markdown(
            f"**{chip.label}**: {chip.mentions} {noun}, {chip.positive:.0%} positive, {chip.negative:.0%} negative"
        )
        if chip.tags:
            st.caption("Tied to this product's tags: " + ", ".join(md_text(t) for t in chip.tags))
        for mention in chip.sentences[:SHOWN_SENTENCES]:
            st.caption(f"{MARKS[mention.label]} {mention.label} ({mention.score:+.2f}) · {mention.author}")
            st.text(mention.sentence)  # review text: literal
        if len(chip.sentences) > SHOWN_SENTENCES:
            st.caption(f"… and {len(chip.sentences) - SHOWN_SENTENCES} more sentences.")


def aspect_chips(svc: ShopService, item_id: str) -> None:
    """The section: a heading, one expandable chip per aspect with mentions, or a line saying there are none."""
    st.markdown("#### What shoppers say, by aspect")
    try:
        summary: AspectSummary = svc.aspects(item_id)
    except (ValueError, StoreUnavailable) as error:
        st.caption(f"Aspects cannot be shown now: {md_text(error)}")
        return
    if not summary.chips:
        st.caption("No review sentence talks about scent, texture, packaging, price, effect, wear or colour yet.")
        return
    st.caption(f"{summary.sentences} sentences from {summary.reviews} reviews. {LEGEND}")
    with st.container(key="aspect-chips", horizontal=True, gap="small"):
        for chip in summary.chips:
            _chip(chip, item_id)
