"""The guided tour's six steps. Each draws a real state of the app for the tour's shopper with the parts the
pages use (product cards, the tag columns, the review form, the outcome panel, the profile and model charts),
and says in two lines what it shows. Which shopper and product: `ShopService.tour_plan()` (a rule, not ids).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from guide.serving.personas import short
from guide.serving.shop import ShopService, StoreUnavailable
from guide.serving.views import Persona, ReviewOutcome, Session, TourPlan
from guide.ui import charts, components, reruns, review_form, state
from guide.ui.outcome import show_outcome
from guide.ui.visuals import md_text, money, percent, points, standing_text, stars, swatch_img

CHART = {"displayModeBar": False}
GLOWING = "Not bad at all, I'd buy it again. My skin feels soft and the scent is lovely."
HARSH = "Broke me out within a day and the smell is awful. Total waste of money."
SUGGESTIONS = (  # (button label, stars, text): one glowing, one harsh; the presenter may write their own
    ("★★★★★ “Not bad at all, I'd buy it again…”", 5, GLOWING),
    ("★ “Broke me out within a day…”", 1, HARSH),
)
OUTCOME = "tour_outcome"  # (shopper_id, ReviewOutcome) of the tour's last review, or None while writing one
WRITING = "tour_writing"  # the presenter asked for a new review: do not show the stored one again


@dataclass(frozen=True)
class Tour:
    """What every step reads: the service, the plan, and the session the tour acts as."""

    svc: ShopService
    plan: TourPlan
    session: Session
    sandbox: bool  # the tour's own shopper (False: the presenter chose to save into their own shop)

    @property
    def persona(self) -> Persona:
        return self.svc.persona(self.plan.persona_id)

    def shipped(self) -> tuple[list[str], list]:
        """The shopper's shipped history (what step 1 describes, whatever the tour did since)."""
        return list(self.persona.history), list(self.persona.ratings)


@dataclass(frozen=True)
class Step:
    title: str
    story: Callable[[Tour], str]  # two lines of Markdown: what this state shows, and why it matters
    draw: Callable[[Tour], None]


# --- 1. the shopper ---------------------------------------------------------------------------------------------
def _shopper_story(tour: Tour) -> str:
    persona, plan = tour.persona, tour.plan
    return (
        f"**{md_text(persona.label)}** is a real Amazon shopper; the model knows only their {persona.purchases} "
        f"purchases and stars. Its profile head reads a clear taste: *{md_text(plan.top_interest)}* takes "
        f"{plan.top_share:.0%} of their interest."
    )


def _shopper(tour: Tour) -> None:
    profile = tour.svc.profile_of(*tour.shipped())
    persona = tour.persona
    facts, radar = st.columns([2, 3], gap="medium")
    with facts:
        st.markdown("**Their latest purchases** (and their stars)")
        latest = list(zip(persona.history, persona.ratings, strict=True))[::-1][:5]
        cards = {card.item_id: card for card in tour.svc.cards(tour.session, [item for item, _ in latest])}
        for item, rating in latest:
            if item in cards:
                given = "★" * int(rating or 0) or "no stars"
                st.caption(f"{given} · {md_text(short(cards[item].title, 60))} · *{md_text(cards[item].category)}*")
    with radar:
        st.markdown("**Their interests, as the profile head reads them**")
        if profile is not None:
            st.plotly_chart(charts.interest_radar(profile.categories), key="tour_radar", config=CHART)


# --- 2. for you --------------------------------------------------------------------------------------------------
def _for_you_story(tour: Tour) -> str:
    return (
        f"“For you” scores all {len(tour.svc.items):,} products for this shopper in one pass and leads with these. "
        "Every probability is small, so each card also says its rank and how many times the median product it is."
    )


def _for_you(tour: Tour) -> None:
    page = tour.svc.browse(tour.session, "", None, "For you", 1, 4)
    components.product_grid(page.cards, "tour_for_you")
    if page.cards:
        top = page.cards[0]
        reason = tour.svc.product(tour.session, top.item_id).reason
        st.markdown(f"**Why “{md_text(short(top.title, 60))}” first:** {md_text(reason.text)}")


# --- 3. what the product is --------------------------------------------------------------------------------------
def _tags_story(tour: Tour) -> str:
    title = md_text(short(tour.svc.items.at[tour.svc.row_of[tour.plan.item_id], "title"], 70))
    where = standing_text(tour.plan.standing).split(" · ")[0] or "one"
    if not tour.plan.tagged:
        return (
            f"**{title}** is {where} in their For you; the catalogue has no tags for it, so the model's fill the gap."
        )
    return (
        f"**{title}** is {where} in their For you: the best-ranked product the catalogue has its own tags for. The "
        "model reads only the product's text; ✓ marks a tag both name."
    )


def _tags(tour: Tour) -> None:
    detail = tour.svc.product(tour.session, tour.plan.item_id)
    card = detail.card
    picture, about = st.columns([1, 4], gap="small")
    with picture:
        st.html(f"<div class='g-hero'>{swatch_img(card.item_id, card.category, card.brand, card.title, 110)}</div>")
    with about:
        st.markdown(f"**{md_text(card.title)}**")
        st.caption(f"{md_text(card.brand) or 'Unknown brand'} · {money(card.price)} · {stars(card.rating)}")
        if card.likelihood is not None:
            where = standing_text(card.standing) or "in their history now (the tour reviewed it)"
            st.caption(f"{percent(card.likelihood)} chance it's their next buy · {where}")
    components.tag_columns(detail, shown=6)


# --- 4. one review, one forward pass -----------------------------------------------------------------------------
def _review_story(tour: Tour) -> str:
    where = "the tour's sandbox copy of this shopper" if tour.sandbox else "your own shop (you chose to keep it)"
    return (
        "Send a review (a suggestion or your own words): the shared model reads it in **one forward pass** and "
        f"answers all four questions at once, before → after below. It is saved to {where}."
    )


def _remember(tour: Tour) -> Callable[[ReviewOutcome, float | None], None]:
    def sent(outcome: ReviewOutcome, wait_ms: float | None) -> None:
        st.session_state[OUTCOME] = (tour.session.shopper_id, outcome)
        st.session_state[WRITING] = False
        st.session_state.outcome_wait_ms = wait_ms
        if not tour.sandbox:  # the presenter's own shop: "Reset demo" forgets it like any of their actions
            st.session_state.touched.add(tour.plan.persona_id)

    return sent


def last_review(tour: Tour) -> ReviewOutcome | None:
    """The tour's last review: as sent in this session, else (after a reload) replayed from the store."""
    kept = st.session_state.get(OUTCOME)
    if kept and kept[0] == tour.session.shopper_id:
        return kept[1]
    if st.session_state.get(WRITING):
        return None
    try:
        actions, _ = tour.svc.replay(tour.session, limit=3)
    except (ValueError, StoreUnavailable):
        return None
    reviews = [a for a in actions if isinstance(a, ReviewOutcome) and a.change.item_id == tour.plan.item_id]
    if reviews:
        st.session_state[OUTCOME] = (tour.session.shopper_id, reviews[-1])
    return reviews[-1] if reviews else None


def _keep_in_own_shop() -> None:
    """The switch, kept apart from its widget so the choice holds on the steps that do not draw it. It changes
    whom the tour acts as and what its story says, so the whole tour reruns, not only the review's panel."""
    st.session_state.tour_keep = st.session_state.tour_keep_switch
    st.rerun()


def _write_another() -> None:
    st.session_state[OUTCOME], st.session_state[WRITING] = None, True


@reruns.fragment
def _review(tour: Tour) -> None:
    """The form, or the last review's four answers (a panel that reruns alone: sending, a suggestion, the switch
    and "Write another" redraw this step's panel, not the tour around it)."""
    outcome = last_review(tour)
    if outcome is None:
        review_form.draw(
            tour.svc,
            tour.session,
            tour.plan.item_id,
            _remember(tour),
            error_key="tour_error",
            suggestions=SUGGESTIONS,
            with_title=False,
        )
        if "tour_keep_switch" not in st.session_state:  # Streamlit forgot the widget on another step
            st.session_state.tour_keep_switch = bool(st.session_state.get("tour_keep"))
        st.toggle(
            "Save it in my own shop too",
            key="tour_keep_switch",
            on_change=_keep_in_own_shop,
            help="Off (the default): the tour writes to its own sandbox copy of this shopper, so your shop and "
            "history stay as they are. On: the review goes into your own shop, as this shopper.",
        )
        return
    said, again = st.columns([4, 1], vertical_alignment="center")
    review = outcome.review
    said.caption(f"Your review {'★' * review.stars}{'☆' * (5 - review.stars)} · “{md_text(short(review.text, 140))}”")
    again.button("Write another", icon=":material/edit:", key="tour_again", on_click=_write_another)
    show_outcome(outcome, {}, key="tour_outcome", saved_review=False)


# --- 5. the profile, before and after ----------------------------------------------------------------------------
def _profile_story(tour: Tour) -> str:
    return (
        "The same pass read the history again with the review in it: dashed is the profile before, filled is now. "
        "The purchase scores moved with it, so “For you” is already different."
    )


def _profile(tour: Tour) -> None:
    view = tour.svc.profile(tour.session)
    last = view.last
    if last is None:
        st.info("Send a review in step 4 first: this step shows how it moved the profile.", icon=":material/edit:")
        return
    top = next(iter(view.categories), None)
    if top:
        st.metric(
            f"Top interest: {md_text(top)}",
            percent(view.categories[top]),
            points(last.categories_before.get(top), view.categories[top]),
            help="Share of the shopper's interest in their top category, before and after the last action.",
        )
    radar, tags = st.columns(2)
    with radar:
        st.markdown("**Categories** · before and now")
        st.plotly_chart(
            charts.interest_radar(view.categories, last.categories_before), key="tour_profile", config=CHART
        )
    with tags:
        st.markdown("**Tags** · before and now")
        st.plotly_chart(charts.tag_bars(view.tags, last.tags_before, top=6), key="tour_tags", config=CHART)


# --- 6. the shared model against its single-task twins -----------------------------------------------------------
def _model_story(tour: Tour) -> str:
    return (
        "Each single-task twin is the same network trained on one task alone, tested on the same split. Bars are "
        "the headline metric with 95% CIs; beats, ties or behind is decided by those CIs, not the bare numbers."
    )


def _model(tour: Tour) -> None:
    headlines = tour.svc.headlines()
    if not headlines:
        st.info("This checkpoint ships without an evaluation report (`python -m guide evaluate --full --save`).")
        return
    verdicts, chart = st.columns([2, 3], gap="medium")
    with verdicts:
        for headline in headlines:
            title = charts.TASK_TITLES.get(headline.task, md_text(headline.task))
            st.markdown(
                f"**{title}** · {md_text(headline.metric)} {_figure(headline.shared, headline.shared_ci)}: "
                f"**{md_text(headline.vs_twin or 'no CI')}** its twin ({_figure(headline.twin, headline.twin_ci)}), "
                f"{md_text(headline.vs_peer or 'no CI')} the best peer"
            )
        st.page_link(state.MODEL, label="The model page: every metric, task affinity", icon=":material/neurology:")
    with chart:
        st.plotly_chart(charts.headline_chart(headlines), key="tour_model", config=CHART)
    st.caption(
        "That is the tour. **Download recap** writes all of it into one file to send round; **Start over** "
        "readies the tour for the next audience."
    )


def _figure(value: float | None, interval: tuple[float, float] | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")


STEPS = (
    Step("Meet the shopper", _shopper_story, _shopper),
    Step("For you, and why", _for_you_story, _for_you),
    Step("What it is: the model's tags beside the catalogue's", _tags_story, _tags),
    Step("One review, one forward pass", _review_story, _review),
    Step("The profile moved", _profile_story, _profile),
    Step("One shared model against four single-task twins", _model_story, _model),
)


def forget(tour: Tour) -> None:
    """Drop what the tour keeps in this browser session (its review, drafts, the own-shop switch)."""
    for name in (OUTCOME, WRITING, "tour_keep", "tour_keep_switch", "tour_error"):
        st.session_state.pop(name, None)
    review_form.forget(tour.plan.item_id)
