"""The review form, on the product page and in the tour: stars, title, text, and a draft that keeps them.

What a person has typed is kept per product in `st.session_state.review_drafts`: each field is copied there as
it changes and copied back when the form is drawn again, because Streamlit forgets the state of a widget that a
run did not draw (a page switch, the tour's Next and Back). So a rerun never loses a half-written review, and a
draft for one product never shows on another. It is not an `st.form` for the same reason: a form's fields reach
the server only when it is sent, so a half-written text would live only in the browser.

Sending is idempotent: the submission key is a nonce bound to what the form holds, so pressing "Send review"
again (a double click, a retry) stores the review once and shows the first result. The pages draw the form inside
a panel that reruns alone (`reruns.fragment`), so a click or a changed field redraws the panel, not the page;
the form shows its own errors for that reason (the page's top is not drawn again).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

import streamlit as st

from guide.serving.shop import MAX_REVIEW_CHARS, ShopService, StoreUnavailable
from guide.serving.views import ReviewOutcome, Session
from guide.ui import reruns, state
from guide.ui.visuals import md_text

FIELDS = ("stars", "title", "text")
DRAFTS = "review_drafts"  # item_id -> {field: value}; cleared with the other review_ keys by "Reset demo"
READ_ONLY = "This is a shared, read-only page: open your own shop to buy or review."
Sent = Callable[[ReviewOutcome, float | None], None]  # (the outcome, the wait for the model lock in ms)


def key(field: str, item_id: str) -> str:
    """The widget key of one field of one product's form."""
    return f"review_{field}_{item_id}"


def wait_ms(svc: ShopService) -> float | None:
    """How long the last pass waited for the model lock (other sessions' passes), when the Guide says."""
    return getattr(svc.guide, "last_wait_ms", None)


def _drafts() -> dict[str, dict]:
    return st.session_state.setdefault(DRAFTS, {})


def keep(item_id: str) -> None:
    """Copy the form's fields into the product's draft (each field's on_change)."""
    _drafts()[item_id] = {field: st.session_state.get(key(field, item_id)) for field in FIELDS}


def _restore(item_id: str) -> None:
    """Give the widgets back the draft's values when Streamlit has forgotten them."""
    draft = _drafts().get(item_id, {})
    for field in FIELDS:
        if key(field, item_id) not in st.session_state and draft.get(field) is not None:
            st.session_state[key(field, item_id)] = draft[field]


def fill(item_id: str, stars: int, text: str, title: str = "") -> None:
    """Put a suggested review into the form (a callback: it runs before the widgets are drawn)."""
    values = {"stars": stars - 1, "title": title, "text": text}  # the star widget counts from 0
    for field, value in values.items():
        st.session_state[key(field, item_id)] = value
    keep(item_id)


def clear(item_id: str) -> None:
    """Empty the form and forget its draft, once its review is saved."""
    for field, value in (("stars", None), ("title", ""), ("text", "")):
        st.session_state[key(field, item_id)] = value
    _drafts().pop(item_id, None)


def forget(item_id: str) -> None:
    """Drop the draft and the widgets' state (the tour's Start over)."""
    _drafts().pop(item_id, None)
    for field in FIELDS:
        st.session_state.pop(key(field, item_id), None)


def submission_key(item_id: str) -> str:
    """The form's idempotency key: a nonce made when the form is first drawn, bound to what the form holds, so
    sending the same review again gets the same key and a different review (text, stars or product) its own."""
    nonce = st.session_state.setdefault("review_nonce", secrets.token_hex(8))
    content = "\x1f".join(str(st.session_state.get(key(field, item_id), "")) for field in FIELDS)
    content = f"{item_id}\x1f{content}"
    return f"{nonce}-{hashlib.sha256(content.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


def _send(svc: ShopService, session: Session, item_id: str, sent: Sent, error_key: str) -> None:
    reruns.mark("send_review", item_id)
    keep(item_id)
    if state.read_only():  # a share link never acts as the shopper it shows
        st.session_state[error_key] = READ_ONLY
        return
    picked = st.session_state.get(key("stars", item_id))  # 0..4 from the star widget, None when unset
    if picked is None:
        st.session_state[error_key] = "Pick 1 to 5 stars before sending your review."
        return
    try:
        outcome = svc.submit_review(
            session,
            item_id,
            int(picked) + 1,
            st.session_state.get(key("text", item_id)) or "",
            st.session_state.get(key("title", item_id)) or "",
            submission_key=submission_key(item_id),
        )
    except (ValueError, StoreUnavailable) as error:  # nothing was stored; the form keeps the text
        st.session_state[error_key] = str(error)
        return
    waited = wait_ms(svc)
    reruns.inside(outcome.change.elapsed_ms, waited)
    sent(outcome, waited)
    clear(item_id)


def draw(
    svc: ShopService,
    session: Session,
    item_id: str,
    sent: Sent,
    error_key: str = "review_error",
    suggestions: tuple[tuple[str, int, str], ...] = (),
    with_title: bool = True,
) -> None:
    """The form; `suggestions` are (button label, stars, text) that fill it in one click."""
    st.session_state.setdefault("review_nonce", secrets.token_hex(8))  # this session's idempotency nonce
    _restore(item_id)
    with st.container(border=True, key="review_form"):
        st.markdown("**Write a review**")
        if error := st.session_state.pop(error_key, None):  # this form's own: a rerun of its panel shows it
            st.error(md_text(error), icon=":material/error:")
        if suggestions:
            with st.container(horizontal=True, gap="small"):
                for number, (label, stars, text) in enumerate(suggestions):
                    st.button(label, key=f"suggest_{number}", on_click=fill, args=(item_id, stars, text))
        st.feedback("stars", key=key("stars", item_id), on_change=keep, args=(item_id,))
        if with_title:
            st.text_input("Title (optional)", key=key("title", item_id), max_chars=200, on_change=keep, args=(item_id,))
        st.text_area(
            "Your review",
            key=key("text", item_id),
            height=110,
            placeholder="What did you like or not? The model reads it as you send it.",
            on_change=keep,
            args=(item_id,),
        )
        st.caption(
            f"Reviews keep up to {MAX_REVIEW_CHARS:,} characters; a longer one is shortened and you "
            "are told. Sending runs one forward pass of the model and saves your review."
        )
        st.button(
            "Send review",
            icon=":material/send:",
            type="primary",
            key="send_review",
            on_click=_send,
            args=(svc, session, item_id, sent, error_key),
        )
