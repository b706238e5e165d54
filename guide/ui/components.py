"""Building blocks the pages share: the sidebar, product grids, reviews and result panels.

User-written text (review titles and bodies) only ever goes through `st.text`, which shows it
literally: no Markdown, no HTML. Catalogue text goes through escaped HTML (visuals) or `md_text`.
"""

from __future__ import annotations

import streamlit as st

from guide.serving.personas import NEW_SHOPPER
from guide.serving.shop import ShopService, StoreUnavailable
from guide.serving.views import ProductCard, ProductDetail, ReviewView, Standing
from guide.ui import reruns, state
from guide.ui.visuals import card_html, md_text, percent, points, standing_text

SENTIMENT_COLORS = {"positive": "green", "neutral": "gray", "negative": "red"}
SENTIMENT_ICONS = {
    "positive": ":material/sentiment_satisfied:",
    "neutral": ":material/sentiment_neutral:",
    "negative": ":material/sentiment_dissatisfied:",
}


def _picked() -> None:
    state.switch_persona(st.session_state.persona_pick)


def _reset(svc: ShopService) -> None:
    try:
        deleted = state.reset_demo(svc)
    except (StoreUnavailable, PermissionError) as error:
        st.session_state.reset_error = str(error)
        return
    st.session_state.reset_note = (
        f"Demo reset: removed {deleted.get('events', 0)} actions and "
        f"{deleted.get('reviews', 0)} reviews; back to the first shopper."
    )


def _shared_sidebar(svc: ShopService) -> None:
    """A share link's sidebar: whom it shows, that it is read-only, and the way back to one's own shop."""
    st.markdown("### A shared shopper")
    st.caption(
        f"You are looking at **{md_text(svc.persona(state.current().persona_id).label)}** through a read-only "
        "link: you can browse their shop and profile, but not buy, review or reset for them."
    )
    st.button("Shop as yourself", icon=":material/person:", key="leave_shared", on_click=state.leave_shared)


def _make_share_link(svc: ShopService) -> None:
    try:
        st.session_state.share_link = state.share_params(svc)["share"]
    except StoreUnavailable as error:
        st.session_state.share_error = str(error)


@reruns.fragment
def _share_button(svc: ShopService) -> None:
    """A read-only link to this shopper: the public share id, never the private visitor token (made on
    request, not every rerun: it is a database write). A panel that reruns alone."""
    if error := st.session_state.pop("share_error", None):
        st.error(md_text(error), icon=":material/database:")
    st.button(
        "Share this shopper (read-only)",
        icon=":material/share:",
        key="make_share",
        on_click=_make_share_link,
        args=(svc,),
    )
    if link := st.session_state.get("share_link"):
        st.caption("Anyone with this link sees this shopper's pages, read-only; they cannot act as them:")
        st.code(f"?share={link}", language=None)
        st.page_link(state.SHOP, label="Open the read-only page", query_params={"share": link})


def _tour_sidebar(svc: ShopService) -> None:
    """The tour's sidebar: whom the tour shows, and that the presenter's own shopper is left as it was."""
    st.markdown("### Guided tour")
    try:
        shown = svc.persona(svc.tour_plan().persona_id).label
    except ValueError as error:
        st.caption(md_text(error))
        return
    own = svc.persona(st.session_state.persona).label
    st.caption(
        f"The tour shows **{md_text(shown)}** through a sandbox copy of them: what it does stays out of your own "
        f"shop, where you shop as **{md_text(own)}**. Leave the tour with *Shop* in the top bar."
    )


def sidebar(svc: ShopService, tour: bool = False) -> None:
    with st.sidebar:
        if state.read_only():
            _shared_sidebar(svc)
            return
        if tour:
            _tour_sidebar(svc)
            return
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
                f"{persona.purchases} real Amazon purchases. Mostly {md_text(', '.join(persona.top_categories[:3]))}."
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
        if error := st.session_state.pop("reset_error", None):
            st.error(md_text(error), icon=":material/database:")
        _share_button(svc)
        st.divider()
        st.caption(
            "Data: Amazon Beauty 2014 5-core (He & McAuley 2016; S3-Rec preprocessing) · Amazon Reviews 2023 "
            "All_Beauty (Hou et al. 2024) · Sephora products (Nady Inky, Kaggle, CC BY 4.0) · Women's clothing "
            "reviews (Kaggle, CC0)."
        )


def shopper_line(svc: ShopService, session) -> None:
    """Who the page is for; on a phone the sidebar with the picker is behind the menu button."""
    label = svc.persona(session.persona_id).label
    if state.read_only():
        st.caption(f"Viewing **{md_text(label)}** through a shared link · read-only")
        return
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


LIKELIHOOD_HELP = (
    "The chance that this is the shopper's next purchase among all the products they do not own yet: the "
    "shared model's purchase score (with content similarity and what others bought next), turned into a "
    "probability calibrated on validation shoppers. Over ~21,000 products every probability is small, so beside "
    "it: its rank among those products and how many times the median product's probability it is."
)


def likelihood_metric(label: str, before: float | None, after: float | None, standing: Standing | None = None) -> None:
    st.metric(label, percent(after), points(before, after), help=LIKELIHOOD_HELP)
    if standing is not None:
        st.caption(standing_text(standing))


def tag_columns(detail: ProductDetail, shown: int = 8) -> None:
    """The catalogue's tags beside the model's (with confidence; ✓ where both name the tag)."""
    catalogue, model = st.columns(2)
    with catalogue:
        st.markdown("**The catalogue's tags**")
        if detail.known_tags:
            st.markdown(" ".join(f":gray-badge[{md_text(t)}]" for t in detail.known_tags))
        else:
            st.caption("None: this product came without tags (most Amazon items do).")
    with model:
        st.markdown(f"**The model's tags** · category *{md_text(detail.model_category)}*")
        if detail.model_tags:
            for tag, confidence in list(detail.model_tags.items())[:shown]:
                mark = " ✓ also in the catalogue" if tag in detail.known_tags else ""
                st.progress(min(1.0, confidence), text=f"{md_text(tag)} · {confidence:.0%}{mark}")
        else:
            st.caption("No tag is over its confidence threshold.")
