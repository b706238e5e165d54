"""Per-browser-session state and the one shared, cached service.

The service (model + encoder + catalogue) is loaded once per process with `st.cache_resource` and is
read-only; what differs per browser session lives in `st.session_state`: the visitor token, the
chosen persona and the last action's outcome. The visitor token and persona are mirrored in the URL
(`?persona=…&visitor=…`) so a reload or a server restart finds the same shopper.

The visitor token is private: it IS the shopper. To show a shopper to someone else the app makes a
read-only link (`?share=<public id>`): it shows that shopper's pages, and every way to act (cart, buy,
review, reset, even a logged view) is off; the owner's token never reaches the viewer's URL or session.
"""

from __future__ import annotations

import gc
import logging
import re
import secrets

import streamlit as st

from guide.serving.personas import NEW_SHOPPER
from guide.serving.shop import ShopService, StoreUnavailable
from guide.serving.views import Session
from guide.ui.visuals import md_text

logger = logging.getLogger(__name__)

SHOP, PRODUCT, PROFILE, MODEL, TOUR = (
    "guide/ui/shop.py",
    "guide/ui/product.py",
    "guide/ui/profile.py",
    "guide/ui/about_model.py",
    "guide/ui/tour.py",
)
_VISITOR = re.compile(r"^[a-f0-9]{12}$")


@st.cache_resource(show_spinner="Loading the model and the catalogue (once per server)…")
def load_service() -> ShopService:
    service = ShopService.open(warm_up=False)  # app.py starts the warm-up after the first page has run
    # The model and the catalogue are ~580,000 objects the cyclic collector would walk at every full collection
    # (~0.25 s holding the GIL, every session waiting); they live as long as the process: leave them out of it.
    gc.freeze()
    return service


def service() -> ShopService:
    """The shared service, or a clear message and a stop when it cannot load (exceptions are not cached)."""
    try:
        return load_service()
    except (FileNotFoundError, ValueError) as error:
        logger.exception("the shop could not start")
        st.error(f"The shop cannot start: {md_text(error)}", icon="🚫")
        st.info(
            "Set GUIDE_DATA_DIR to the folder with the three public data sets (see README, 'Data') "
            "and make sure assets/model holds a checkpoint, then reload this page."
        )
        st.stop()


def default_persona(svc: ShopService) -> str:
    return next(iter(svc.personas), NEW_SHOPPER)


def _init(svc: ShopService) -> None:
    state = st.session_state
    if "visitor" not in state:
        token = st.query_params.get("visitor", "")
        state.visitor = token if _VISITOR.match(token) else secrets.token_hex(6)
        state.persona = default_persona(svc)
        state.touched = set()
        state.started = set()  # shopper ids the store knows about in this session
        state.outcome = None  # (item_id, ReviewOutcome | Change) of the last action
        state.last_view = None


def read_only() -> bool:
    """True while this session shows someone else's shopper through a share link."""
    return st.session_state.get("shared") is not None


def _shared(svc: ShopService, share_id: str) -> Session | None:
    """The shopper behind `?share=`, or None (with a message) when the link is unknown."""
    state = st.session_state
    if state.get("shared_id") != share_id:
        try:
            state.shared, state.shared_id = svc.shared_session(share_id), share_id
        except ValueError as error:
            st.warning(f"{md_text(error)} Showing your own shop instead.", icon=":material/link_off:")
            leave_shared()
            return None
        except StoreUnavailable as error:  # the link may be fine: the database that knows it is not reachable
            st.error(f"This shared shop cannot be loaded right now: {md_text(error)}", icon=":material/database:")
            st.stop()
    return state.shared


def leave_shared() -> None:
    """Back to this browser's own shopper (a share link only ever showed someone else's)."""
    st.session_state.shared, st.session_state.shared_id = None, None
    st.query_params.pop("share", None)


def sync(svc: ShopService) -> Session:
    """Apply a `?share=` or `?persona=` link, keep the URL in step, and return the shopper to show."""
    _init(svc)
    state = st.session_state
    share_id = st.query_params.get("share") or state.get("shared_id")  # a page switch may drop the URL's
    if share_id and (shared := _shared(svc, share_id)) is not None:
        for private in ("visitor", "persona"):  # the viewer's own token stays out of a shared page's URL
            st.query_params.pop(private, None)
        st.query_params["share"] = share_id  # shared until "Shop as yourself"
        return shared
    wanted = st.query_params.get("persona")
    if wanted and wanted != state.persona:
        try:
            svc.persona(wanted)
            switch_persona(wanted)
        except ValueError as error:
            shown = svc.persona(state.persona).label
            st.warning(f"{md_text(error)} Showing {md_text(shown)} instead.", icon="👤")  # the URL's text, literal
    st.query_params["persona"] = state.persona
    st.query_params["visitor"] = state.visitor
    session = current()
    if session.shopper_id not in state.started:  # one write per shopper and session, not per rerun
        try:
            svc.start(session)
        except (ValueError, StoreUnavailable) as error:  # an unusable id or database: say so, do not trace back
            st.error(f"Your activity cannot be stored: {md_text(error)}", icon=":material/database:")
            st.stop()
        state.started.add(session.shopper_id)
    return session


def current() -> Session:
    """The shopper this page shows: a shared one (read-only), else this browser's own."""
    shared = st.session_state.get("shared")
    return shared if shared is not None else Session(st.session_state.persona, st.session_state.visitor)


def switch_persona(persona_id: str) -> None:
    state = st.session_state
    state.persona = persona_id
    state.persona_pick = persona_id
    st.query_params["persona"] = persona_id  # else the next run's URL check would switch back
    state.outcome = None
    state.last_view = None
    state.share_link = None  # a link made for the previous shopper


def remember_action(item_id: str, outcome, wait_ms: float | None = None) -> None:
    st.session_state.touched.add(st.session_state.persona)
    st.session_state.outcome = (item_id, outcome)
    st.session_state.outcome_wait_ms = wait_ms  # the wait for the model lock, shown apart from the pass


def reset_demo(svc: ShopService) -> dict[str, int]:
    """Forget everything this visitor did (every persona they used) and start over."""
    state = st.session_state
    if read_only():  # a share link shows a shopper; it can never reset them
        raise PermissionError("reset: expected your own shop, got a shared read-only page. Fix: open your own shop.")
    personas = state.touched | {state.persona}
    deleted = svc.reset([Session(p, state.visitor) for p in personas])
    for key in [k for k in state if k.startswith(("shop_", "review_"))]:
        del state[key]
    switch_persona(default_persona(svc))
    state.touched = set()
    return deleted


def params(**extra: str) -> dict[str, str]:
    """Query parameters for a link that keeps this shopper (a shared page's links stay shared)."""
    if read_only():
        return {"share": st.session_state.shared_id, **extra}
    return {"persona": st.session_state.persona, "visitor": st.session_state.visitor, **extra}


def share_params(svc: ShopService) -> dict[str, str]:
    """Query parameters of a read-only link to this shopper: their public share id, never the visitor token."""
    return {"share": svc.share_link(current())}


def open_product(item_id: str) -> None:
    st.switch_page(PRODUCT, query_params=params(product=item_id))


def open_tour(step: str = "1") -> None:
    """The guided tour at `step` (`?tour=N` keeps the step in the URL, so a reload stays on it)."""
    st.switch_page(TOUR, query_params=params(tour=step))
