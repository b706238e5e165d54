"""The guided tour: six real states of the app in order, each with a two-line story, "Step N of M" and
Next / Back, so a presenter can show the whole story without knowing where each piece lives.

Presenter-proof: the step is kept in the URL (`?tour=N`, beside the visitor), so a reload stays on it and a link
opens it; the tour acts as its own sandbox shopper (`ShopService.tour_session`), so it never writes to the
presenter's own shop unless they switch that on; "Start over" forgets what the tour did and returns to step 1;
"Download recap" writes one self-contained HTML file of the session (built only when pressed).
"""

from __future__ import annotations

import time

import streamlit as st

from guide.serving.shop import ShopService, StoreUnavailable
from guide.serving.views import Session
from guide.ui import recap, state
from guide.ui.tour_steps import STEPS, Tour, forget
from guide.ui.visuals import md_text

PARAM = "tour"


def _step() -> int:
    """The step in the URL, 1 when it is missing or not a step."""
    try:
        step = int(st.query_params.get(PARAM, "1"))
    except ValueError:
        step = 1
    return min(max(step, 1), len(STEPS))


def _go(step: int) -> None:
    st.query_params[PARAM] = str(step)


def _tour(svc: ShopService) -> Tour:
    plan = svc.tour_plan()
    if st.session_state.get("tour_keep"):  # the presenter said so: act as this shopper in their own shop
        return Tour(svc, plan, Session(plan.persona_id, st.session_state.visitor), sandbox=False)
    return Tour(svc, plan, svc.tour_session(st.session_state.visitor), sandbox=True)


def _start_over(svc: ShopService, tour: Tour) -> None:
    """Forget what the tour did (its sandbox in the store, its state here) and go back to step 1."""
    started = time.perf_counter()
    try:
        svc.reset([svc.tour_session(st.session_state.visitor)])  # never the presenter's own shop
    except StoreUnavailable as error:
        st.session_state.tour_error = str(error)
        return
    forget(tour)
    _go(1)
    st.session_state.tour_restarted_ms = (time.perf_counter() - started) * 1000


def _recap(svc: ShopService, tour: Tour):
    """The download's content, made when the button is pressed (in a thread of its own: no Streamlit calls); a
    store that is down gives a file that says so rather than a download that silently fails."""
    session, sandbox = tour.session, tour.sandbox

    def build() -> str:
        try:
            return recap.build(svc.recap(session, sandbox))
        except (ValueError, StoreUnavailable) as error:
            return recap.unavailable(str(error))

    return build


def _nav(svc: ShopService, tour: Tour, step: int) -> None:
    with st.container(horizontal=True, gap="small", key="tour_nav"):
        st.button(
            "Back", icon=":material/arrow_back:", key="tour_back", disabled=step == 1, on_click=_go, args=(step - 1,)
        )
        st.button(
            "Next",
            icon=":material/arrow_forward:",
            type="primary",
            key="tour_next",
            disabled=step == len(STEPS),
            on_click=_go,
            args=(step + 1,),
        )
        st.button(
            "Start over",
            icon=":material/restart_alt:",
            key="tour_start_over",
            on_click=_start_over,
            args=(svc, tour),
            help="Forget what the tour did (its sandbox shopper; your own shop is untouched) and go back to step 1.",
        )
        st.download_button(
            "Download recap",
            data=_recap(svc, tour),
            file_name="shopping-guide-recap.html",
            mime="text/html",
            icon=":material/download:",
            key="tour_recap",
            on_click="ignore",
            help="One HTML file to send round: the shopper, what the tour did, each action's four answers before "
            "and after with the charts, and the model's headline figures. Opens offline.",
        )


def _start(svc: ShopService, session: Session) -> None:
    """Make sure the store knows the tour's shopper (once per browser session)."""
    if session.shopper_id not in st.session_state.started:
        svc.start(session)
        st.session_state.started.add(session.shopper_id)


def main() -> None:
    svc = state.service()
    if state.read_only():
        st.info("The tour runs on a sandbox shopper of your own; this page shows someone else's shop, read-only.")
        st.button("Shop as yourself", icon=":material/person:", key="tour_leave_shared", on_click=state.leave_shared)
        st.stop()
    try:
        with st.spinner("Choosing the tour's shopper and product (once per server)…"):
            tour = _tour(svc)
    except ValueError as error:  # no demo shopper with a profile: say so rather than trace back
        st.error(f"The tour cannot start: {md_text(error)}", icon=":material/error:")
        st.stop()
    try:
        _start(svc, tour.session)
    except (ValueError, StoreUnavailable) as error:
        st.error(f"The tour cannot store its actions: {md_text(error)}", icon=":material/database:")
        st.stop()
    step = _step()
    st.query_params[PARAM] = str(step)  # a bad or missing step reads as what is shown
    current = STEPS[step - 1]
    with st.container(key="tour_head"):
        st.markdown(f"### :primary-badge[Step {step} of {len(STEPS)}] {current.title}")
        with st.container(key="tour_story"):
            st.markdown(current.story(tour))
    _nav(svc, tour, step)
    if error := st.session_state.pop("tour_error", None):
        st.error(md_text(error), icon=":material/error:")
    if restarted := st.session_state.pop("tour_restarted_ms", None):
        st.toast(f"Started over in {restarted:.0f} ms: back to step 1.", icon=":material/restart_alt:")
    current.draw(tour)


main()
