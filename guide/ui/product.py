"""Product page: what it is (catalogue vs model tags), how likely this shopper buys it and why,
reviews with the model's sentiment, similar products; and the actions: cart, buy, write a review."""

from __future__ import annotations

import hashlib
import secrets

import streamlit as st

from guide.serving.shop import MAX_REVIEW_CHARS, ShopService, StoreUnavailable
from guide.serving.views import ProductDetail, Session
from guide.ui import components, state
from guide.ui import explain as why
from guide.ui.aspects import aspect_chips
from guide.ui.outcome import show_outcome
from guide.ui.twins import twin_section
from guide.ui.visuals import md_text, money, stars, swatch_img

ACTION_LABELS = {"cart": "Added to your cart", "purchase": "Bought"}
READ_ONLY = "This is a shared, read-only page: open your own shop to buy or review."


def _wait_ms(svc: ShopService) -> float | None:
    """How long the last pass waited for the model lock (other sessions' passes), when the Guide says."""
    return getattr(svc.guide, "last_wait_ms", None)


def _act(svc: ShopService, session: Session, item_id: str, kind: str) -> None:
    if state.read_only():  # a share link never acts as the shopper it shows
        st.session_state.action_error = READ_ONLY
        return
    try:
        state.remember_action(item_id, svc.record_action(session, item_id, kind), _wait_ms(svc))
    except (ValueError, StoreUnavailable) as error:
        st.session_state.action_error = str(error)


def _submission_key(item_id: str) -> str:
    """The form's idempotency key: a nonce made when the form is first drawn, bound to what the form
    holds. Pressing "Send review" again (a double click, a retry) sends the same key, so the review is
    stored once; a different review (other text, stars or product) gets a key of its own."""
    nonce = st.session_state.setdefault("review_nonce", secrets.token_hex(8))  # normally made by _review_form
    content = "\x1f".join(
        str(part)
        for part in (
            item_id,
            st.session_state.get("review_stars"),
            st.session_state.get("review_title", ""),
            st.session_state.get("review_text", ""),
        )
    )
    return f"{nonce}-{hashlib.sha256(content.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


def _submit_review(svc: ShopService, session: Session, item_id: str) -> None:
    if state.read_only():
        st.session_state.action_error = READ_ONLY
        return
    picked = st.session_state.get("review_stars")  # 0..4 from the star widget, None when unset
    if picked is None:
        st.session_state.action_error = "Pick 1 to 5 stars before sending your review."
        return
    try:
        outcome = svc.submit_review(
            session,
            item_id,
            int(picked) + 1,
            st.session_state.get("review_text", ""),
            st.session_state.get("review_title", ""),
            submission_key=_submission_key(item_id),
        )
    except (ValueError, StoreUnavailable) as error:  # nothing was stored; the form keeps the text
        st.session_state.action_error = str(error)
        return
    state.remember_action(item_id, outcome, _wait_ms(svc))
    st.session_state.review_text, st.session_state.review_title = "", ""
    st.session_state.review_stars = None


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
            components.likelihood_metric("Purchase likelihood for this shopper", None, card.likelihood)
        st.markdown(f"**Why:** {md_text(detail.reason.text)}")
        if state.read_only():
            st.caption(READ_ONLY)
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


def _tags(detail: ProductDetail) -> None:
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
            for tag, confidence in list(detail.model_tags.items())[:8]:
                mark = " ✓ also in the catalogue" if tag in detail.known_tags else ""
                st.progress(min(1.0, confidence), text=f"{md_text(tag)} · {confidence:.0%}{mark}")
        else:
            st.caption("No tag is over its confidence threshold.")


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


def _review_form(svc: ShopService, session: Session, item_id: str) -> None:
    st.session_state.setdefault("review_nonce", secrets.token_hex(8))  # this form's idempotency nonce
    with st.form("review_form", border=True):
        st.markdown("**Write a review**")
        st.feedback("stars", key="review_stars")
        st.text_input("Title (optional)", key="review_title", max_chars=200)
        st.text_area(
            "Your review",
            key="review_text",
            height=120,
            placeholder="What did you like or not? The model reads it as you send it.",
        )
        st.caption(
            f"Reviews keep up to {MAX_REVIEW_CHARS:,} characters; a longer one is shortened and you "
            "are told. Sending runs one forward pass of the model and saves your review."
        )
        st.form_submit_button(
            "Send review", icon=":material/send:", type="primary", on_click=_submit_review, args=(svc, session, item_id)
        )


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
    if outcome and outcome[0] == item_id:
        show_outcome(outcome[1], ACTION_LABELS)
    st.markdown("#### What it is: the catalogue's tags and the model's")
    _tags(detail)
    why.tags(item_id)
    twins = st.container()  # filled after the rest of the page: stored answers, read on first use
    with st.expander("Product details", icon=":material/description:"):
        _details(detail)
    aspects = st.container()  # filled last: a product's first view scores its review sentences (~1 s on CPU)
    reviews, write = st.columns([3, 2], gap="large")
    with write:
        if not state.read_only():
            _review_form(svc, session, item_id)
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
