"""Product page: what it is (catalogue vs model tags), how likely this shopper buys it and why,
reviews with the model's sentiment, similar products; and the actions: cart, buy, write a review."""

from __future__ import annotations

import streamlit as st

from guide.serving.shop import ShopService, StoreUnavailable
from guide.serving.views import ProductDetail, ReviewOutcome, Session
from guide.ui import components, reruns, review_form, state
from guide.ui import explain as why
from guide.ui.aspects import aspect_chips
from guide.ui.outcome import show_outcome
from guide.ui.twins import twin_section
from guide.ui.visuals import md_text, money, stars, swatch_img

ACTION_LABELS = {"cart": "Added to your cart", "purchase": "Bought"}


def _act(svc: ShopService, session: Session, item_id: str, kind: str) -> None:
    reruns.mark(kind, item_id)
    if state.read_only():  # a share link never acts as the shopper it shows
        st.session_state.action_error = review_form.READ_ONLY
        return
    try:
        change = svc.record_action(session, item_id, kind)
    except (ValueError, StoreUnavailable) as error:
        st.session_state.action_error = str(error)
        return
    waited = review_form.wait_ms(svc)
    reruns.inside(change.elapsed_ms if change else None, waited)
    state.remember_action(item_id, change, waited)


def _hero(detail: ProductDetail, svc: ShopService, session: Session) -> None:
    card = detail.card
    picture, about = st.columns([1, 2], gap="medium")
    with picture:
        st.html(f"<div class='g-hero'>{swatch_img(card.item_id, card.category, card.brand, card.title, 150)}</div>")
    with about:
        st.caption(f"{md_text(card.category)} · {'Sephora' if card.source == 'sephora' else 'Amazon'}")
        st.markdown(f"### {md_text(card.title)}")
        st.markdown(f"{md_text(card.brand) or 'Unknown brand'} · **{money(card.price)}** · {stars(card.rating)}")
        if card.likelihood is not None:
            components.likelihood_metric("Purchase likelihood for this shopper", None, card.likelihood, card.standing)
        st.markdown(f"**Why:** {md_text(detail.reason.text)}")
        if state.read_only():
            st.caption(review_form.READ_ONLY)
            return
        with st.container(horizontal=True):
            st.button(
                "Add to cart",
                icon=":material/add_shopping_cart:",
                key="act_cart",
                on_click=_act,
                args=(svc, session, card.item_id, "cart"),
            )
            st.button(
                "Buy now",
                icon=":material/shopping_bag:",
                type="primary",
                key="act_buy",
                on_click=_act,
                args=(svc, session, card.item_id, "purchase"),
            )
        if detail.in_history:
            st.caption("Already in this shopper's history.")


def _details(detail: ProductDetail) -> None:
    if detail.description:
        st.markdown(md_text(detail.description))
    if detail.details:
        rows = {k: v for k, v in detail.details.items() if k not in ("UPC", "Package Dimensions")}
        if rows:
            st.table({"detail": list(rows), "value": list(rows.values())})
    if detail.ingredients:
        with st.expander("Ingredients"):
            st.text(detail.ingredients)
    if not (detail.description or detail.details or detail.ingredients):
        st.caption("The catalogue has no further details for this product.")


def _sent(item_id: str):
    """What a sent review leaves behind: the page's outcome panel (as for cart and buy)."""
    return lambda outcome, wait: state.remember_action(item_id, outcome, wait)


def main() -> None:
    svc, session = state.service(), state.current()
    item_id = st.query_params.get("product", "")
    st.page_link(state.SHOP, label="Back to the shop", icon=":material/arrow_back:", query_params=state.params())
    components.shopper_line(svc, session)
    if not item_id:
        st.info("Pick a product in the shop to see it here.", icon=":material/storefront:")
        st.stop()
    if item_id not in svc.row_of:  # only an unknown id is "no product"; other errors say what they are
        st.error(
            f"There is no product with the id “{md_text(item_id[:60])}” in this catalogue. "
            "The link may be old or mistyped.",
            icon=":material/search_off:",
        )
        st.stop()
    try:
        detail = svc.product(session, item_id)
        if st.session_state.last_view != item_id and not state.read_only():  # one view per opening; none shared
            svc.record_action(session, item_id, "view")
            st.session_state.last_view = item_id
    except (ValueError, StoreUnavailable) as error:
        st.error(f"This product cannot be shown: {md_text(error)}", icon=":material/error:")
        st.stop()
    if error := st.session_state.pop("action_error", None):
        st.error(md_text(error), icon=":material/error:")
    why.start()  # explanations wait for the end of the page: predictions first
    _hero(detail, svc, session)
    outcome = st.session_state.outcome
    shown = outcome if outcome and outcome[0] == item_id else None
    if shown and not isinstance(shown[1], ReviewOutcome):  # cart or buy: right under the buttons pressed
        show_outcome(shown[1], ACTION_LABELS)
    st.markdown("#### What it is: the catalogue's tags and the model's")
    components.tag_columns(detail)
    why.tags(item_id)
    twins = st.container()  # filled after the rest of the page: stored answers, read on first use
    with st.expander("Product details", icon=":material/description:"):
        _details(detail)
    aspects = st.container()  # filled last: a product's first view scores its review sentences (~1 s on CPU)
    if shown and isinstance(shown[1], ReviewOutcome):  # a review: its four answers right above the form sent
        show_outcome(shown[1], ACTION_LABELS)
    reviews, write = st.columns([3, 2], gap="large")
    with write:
        if not state.read_only():
            review_form.draw(svc, session, item_id, _sent(item_id))
    with reviews:
        st.markdown(f"#### Reviews ({len(detail.reviews)})")
        st.caption("Badges show the model's sentiment of each text, not the stars.")
        for number, review in enumerate(detail.reviews):
            components.review_block(review, str(number))
        if not detail.reviews:
            st.caption("No reviews yet. Be the first.")
    st.markdown("#### Similar products")
    components.product_grid(detail.similar, "similar")
    with aspects:
        aspect_chips(svc, item_id)
    with twins:
        twin_section(svc, session, item_id)
    why.finish()


main()
