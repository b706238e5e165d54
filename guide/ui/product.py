"""Product page: what it is (catalogue vs model tags), how likely this shopper buys it and why,
reviews with the model's sentiment, similar products; and the actions: cart, buy, write a review.

The review form with its result and the reviews reruns alone (`reruns.fragment`): "Send review" redraws that
panel with what it changed; the rest of the page (tags, Why, twins, aspects, similar products) shows the
product as it was opened and is drawn again on the next page run. Cart and buy rerun the page; a click on them
while the review box holds unsent text is merged by Streamlit into the review panel's rerun, which then hands
over to a page run (`reruns.page_owed`) so that the click's result is drawn.
"""

from __future__ import annotations

import streamlit as st

from guide.serving.shop import ShopService, StoreUnavailable
from guide.serving.views import ProductDetail, ReviewOutcome, ReviewView, Session
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
    reruns.owe_page()


def _shown(item_id: str, review: bool):
    """The last action's result when it was on this product and of this panel's kind (a review or not)."""
    outcome = st.session_state.outcome
    if outcome and outcome[0] == item_id and isinstance(outcome[1], ReviewOutcome) == review:
        return outcome[1]
    return None


def _actions(svc: ShopService, session: Session, item_id: str, in_history: bool) -> None:
    """Cart and buy, and right under them what the last one changed (a click reruns the page)."""
    if error := st.session_state.pop("action_error", None):
        st.error(md_text(error), icon=":material/error:")
    with st.container(horizontal=True):
        st.button(
            "Add to cart",
            icon=":material/add_shopping_cart:",
            key="act_cart",
            on_click=_act,
            args=(svc, session, item_id, "cart"),
        )
        st.button(
            "Buy now",
            icon=":material/shopping_bag:",
            type="primary",
            key="act_buy",
            on_click=_act,
            args=(svc, session, item_id, "purchase"),
        )
    if in_history:
        st.caption("Already in this shopper's history.")
    if (shown := _shown(item_id, review=False)) is not None:
        show_outcome(shown, ACTION_LABELS)


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
        _actions(svc, session, card.item_id, detail.in_history)


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


@reruns.fragment
def _write(svc: ShopService, session: Session, item_id: str, reviews: list[ReviewView]) -> None:
    """The last review's result, the reviews and the form (a panel that reruns alone: "Send review" redraws
    this, with the review just saved at the top of the list, not the page around it)."""
    reruns.page_owed()  # a cart click merged into this panel's rerun: its result is the page's to draw
    with why.deferred():  # the saved review's Why is drawn after the form and the list
        if (shown := _shown(item_id, review=True)) is not None:  # its four answers right above the form sent
            show_outcome(shown, ACTION_LABELS)
        if reruns.rerunning_alone():  # the page's list is as it was opened: read it again, with this session's
            reviews = svc.reviews_of(item_id)
        listed, write = st.columns([3, 2], gap="large")
        with write:
            if not state.read_only():
                review_form.draw(svc, session, item_id, _sent(item_id))
        with listed:
            st.markdown(f"#### Reviews ({len(reviews)})")
            st.caption("Badges show the model's sentiment of each text, not the stars.")
            for number, review in enumerate(reviews):
                components.review_block(review, str(number))
            if not reviews:
                st.caption("No reviews yet. Be the first.")


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
    why.start()  # explanations wait for the end of the page: predictions first
    _hero(detail, svc, session)
    st.markdown("#### What it is: the catalogue's tags and the model's")
    components.tag_columns(detail)
    why.tags(item_id)
    twins = st.container()  # filled after the rest of the page: stored answers, read on first use
    with st.expander("Product details", icon=":material/description:"):
        _details(detail)
    aspects = st.container()  # filled last: a product's first view scores its review sentences (~1 s on CPU)
    _write(svc, session, item_id, detail.reviews)
    st.markdown("#### Similar products")
    components.product_grid(detail.similar, "similar")
    with aspects:
        aspect_chips(svc, item_id)
    with twins:
        twin_section(svc, session, item_id)
    why.finish()


main()
