"""Building blocks the pages share: the sidebar, product grids, reviews and result panels.

User-written text (review titles and bodies) only ever goes through `st.text`, which shows it
literally: no Markdown, no HTML. Catalogue text goes through escaped HTML (visuals) or `md_text`.
"""

from __future__ import annotations

import streamlit as st

from guide.serving.personas import NEW_SHOPPER
from guide.serving.shop import ShopService
from guide.serving.views import ProductCard, ReviewView
from guide.ui import state
from guide.ui.visuals import card_html, md_text, percent, points

SENTIMENT_COLORS = {"positive": "green", "neutral": "gray", "negative": "red"}
SENTIMENT_ICONS = {
    "positive": ":material/sentiment_satisfied:",
    "neutral": ":material/sentiment_neutral:",
    "negative": ":material/sentiment_dissatisfied:",
}


def _picked() -> None:
    state.switch_persona(st.session_state.persona_pick)


def _reset(svc: ShopService) -> None:
    deleted = state.reset_demo(svc)
    st.session_state.reset_note = (
        f"Demo reset: removed {deleted.get('events', 0)} actions and "
        f"{deleted.get('reviews', 0)} reviews; back to the first shopper."
    )


def sidebar(svc: ShopService) -> None:
    with st.sidebar:
        st.markdown("### Who is shopping?")
        choices = {p.persona_id: p for p in svc.persona_choices()}
        st.session_state.setdefault("persona_pick", st.session_state.persona)
        st.selectbox(
            "Shopper",
            list(choices),
            key="persona_pick",
            on_change=_picked,
            format_func=lambda pid: choices[pid].label,
            help="Real Amazon beauty shoppers, named from their own purchase history, "
            "or a new shopper who starts with nothing.",
        )
        persona = choices[st.session_state.persona]
        if persona.persona_id == NEW_SHOPPER:
            st.caption("Starts empty: recommendations are the most loved products until you act.")
        else:
            st.caption(
                f"{persona.purchases} real Amazon purchases (2018–2023). Mostly "
                f"{md_text(', '.join(persona.top_categories[:3]))}."
            )
        st.button(
            "Reset demo",
            icon=":material/restart_alt:",
            on_click=_reset,
            args=(svc,),
            help="Forget everything you did here (all shoppers) and start over.",
        )
        if note := st.session_state.pop("reset_note", None):
            st.success(note)
        st.divider()
        st.caption(
            "Data: Amazon Reviews 2023 All_Beauty (Hou et al. 2024) · Sephora products "
            "(Nady Inky, Kaggle, CC BY 4.0) · Women's clothing reviews (Kaggle, CC0)."
        )


def shopper_line(svc: ShopService, session) -> None:
    """Who the page is for; on a phone the sidebar with the picker is behind the menu button."""
    label = svc.persona(session.persona_id).label
    st.caption(f"Shopping as **{md_text(label)}** · change shopper in the sidebar (☰ on a phone)")


def product_grid(cards: list[ProductCard], key: str) -> None:
    if not cards:
        st.info("No products match. Try fewer filters or another search.", icon=":material/search_off:")
        return
    with st.grid(4, min_column_width=160, gap="small", key=f"{key}_grid"):
        for card in cards:
            with st.container(border=True):
                st.html(card_html(card))
                st.page_link(
                    state.PRODUCT,
                    label="View details",
                    icon=":material/arrow_forward:",
                    query_params=state.params(product=card.item_id),
                )


def sentiment_badge(label: str, score: float) -> None:
    st.badge(
        f"{label} {score:+.2f}",
        color=SENTIMENT_COLORS.get(label, "gray"),
        icon=SENTIMENT_ICONS.get(label),
        help="The model's reading of the review text: P(positive) − P(negative), from −1 to +1.",
    )


def review_block(review: ReviewView, key: str) -> None:
    with st.container(border=True, key=f"review-{key}"):
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            st.markdown(f"**{'★' * review.stars}{'☆' * (5 - review.stars)}**")
            sentiment_badge(review.sentiment_label, review.sentiment_score)
            st.caption(f"{review.author} · {review.created_at:%d %b %Y}")
        if review.title:
            with st.container(key=f"review-title-{key}"):  # the key lets the stylesheet make it bold
                st.text(review.title)  # user text: literal, never Markdown or HTML
        st.text(review.text)


def likelihood_metric(label: str, before: float | None, after: float | None) -> None:
    st.metric(
        label, percent(after), points(before, after), help="P(this shopper buys it next), from the purchase head."
    )
