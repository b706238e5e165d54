"""Per-browser-session state and the one shared, cached service.

The service (model + encoder + catalogue) is loaded once per process with `st.cache_resource` and is
read-only; what differs per browser session lives in `st.session_state`: the visitor token, the
chosen persona and the last action's outcome. The visitor token and persona are mirrored in the URL
(`?persona=…&visitor=…`) so a reload, a server restart or a shared link finds the same shopper.
"""

from __future__ import annotations

import logging
import re
import secrets

import streamlit as st

from guide.serving.personas import NEW_SHOPPER
from guide.serving.shop import ShopService
from guide.serving.views import Session

logger = logging.getLogger(__name__)

SHOP, PRODUCT, PROFILE, MODEL = (
    "guide/ui/shop.py",
    "guide/ui/product.py",
    "guide/ui/profile.py",
    "guide/ui/about_model.py",
)
_VISITOR = re.compile(r"^[a-f0-9]{12}$")


@st.cache_resource(show_spinner="Loading the model and the catalogue (once per server)…")
def load_service() -> ShopService:
    return ShopService.open()


def service() -> ShopService:
    """The shared service, or a clear message and a stop when it cannot load (exceptions are not cached)."""
    try:
        return load_service()
    except (FileNotFoundError, ValueError) as error:
        logger.exception("the shop could not start")
        st.error(f"The shop cannot start: {error}", icon="🚫")
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


def sync(svc: ShopService) -> Session:
    """Apply a `?persona=` deep link, keep the URL in step, and return this session's shopper."""
    _init(svc)
    state = st.session_state
    wanted = st.query_params.get("persona")
    if wanted and wanted != state.persona:
        try:
            svc.persona(wanted)
            switch_persona(wanted)
        except ValueError as error:
            st.warning(f"{error} Showing {svc.persona(state.persona).label} instead.", icon="👤")
    st.query_params["persona"] = state.persona
    st.query_params["visitor"] = state.visitor
    session = current()
    if session.shopper_id not in state.started:  # one write per shopper and session, not per rerun
        try:
            svc.start(session)
        except ValueError as error:  # an unusable id or database: say so, do not trace back
            st.error(f"Your activity cannot be stored: {error}")
            st.stop()
        state.started.add(session.shopper_id)
    return session


def current() -> Session:
    return Session(st.session_state.persona, st.session_state.visitor)


def switch_persona(persona_id: str) -> None:
    state = st.session_state
    state.persona = persona_id
    state.persona_pick = persona_id
    st.query_params["persona"] = persona_id  # else the next run's URL check would switch back
    state.outcome = None
    state.last_view = None


def remember_action(item_id: str, outcome) -> None:
    st.session_state.touched.add(st.session_state.persona)
    st.session_state.outcome = (item_id, outcome)


def reset_demo(svc: ShopService) -> dict[str, int]:
    """Forget everything this visitor did (every persona they used) and start over."""
    state = st.session_state
    personas = state.touched | {state.persona}
    deleted = svc.reset([Session(p, state.visitor) for p in personas])
    for key in [k for k in state if k.startswith(("shop_", "review_"))]:
        del state[key]
    switch_persona(default_persona(svc))
    state.touched = set()
    return deleted


def params(**extra: str) -> dict[str, str]:
    """Query parameters for a link that keeps this shopper."""
    return {"persona": st.session_state.persona, "visitor": st.session_state.visitor, **extra}


def open_product(item_id: str) -> None:
    st.switch_page(PRODUCT, query_params=params(product=item_id))
