"""Profile page: what the model thinks this shopper is into, and how each action moved it."""

from __future__ import annotations

import streamlit as st

from guide.ui import charts, components, state
from guide.ui.visuals import md_text, percent

CHART_CONFIG = {"displayModeBar": False}


def _chart(title: str, points: list, figure, key: str, empty: str) -> None:
    """A titled chart of `points`, or a line saying what would fill it."""
    st.markdown(f"#### {title}")
    if points:
        st.plotly_chart(figure(points), key=key, config=CHART_CONFIG)
    else:
        st.caption(empty)


def main() -> None:
    svc, session = state.service(), state.current()
    view = svc.profile(session)
    st.title("Your profile")
    components.shopper_line(svc, session)
    st.caption(
        "The profile head reads the shopper's whole history (their stars included) and predicts "
        "their interest in each category (the Amazon category path), brand and tag. Buy, add to cart or "
        "review a product and watch it move."
    )
    top = next(iter(view.categories), None)
    with st.grid(4, min_column_width=150, key="profile_numbers"):  # two by two on a phone
        st.metric("Items in history", view.history_size)
        st.metric("Actions here", view.actions_here)
        st.metric("Reviews", len(view.sentiment))
        st.metric(
            f"Top interest: {md_text(top) or '—'}",
            percent(view.categories[top]) if top else "—",
            help="The category with the largest share of this shopper's predicted interest.",
        )
    if not view.categories:
        st.info(
            "A new shopper has no profile yet. Open a product in the shop and buy or review it: "
            "the charts start from there.",
            icon=":material/person_add:",
        )
        st.stop()
    last = view.last
    before_categories = last.categories_before if last else None
    before_tags = last.tags_before if last else None
    radar, tags = st.columns(2)
    with radar:
        st.markdown("#### Interest radar · top categories")
        st.plotly_chart(charts.interest_radar(view.categories, before_categories), key="radar", config=CHART_CONFIG)
    with tags:
        st.markdown("#### Tag and brand affinities")
        tag_tab, brand_tab = st.tabs(["Tags", "Brands"])
        tag_tab.plotly_chart(charts.tag_bars(view.tags, before_tags), key="tags", config=CHART_CONFIG)
        if view.brands:
            brand_tab.plotly_chart(charts.tag_bars(view.brands), key="brands", config=CHART_CONFIG)
        else:
            brand_tab.caption("This model's profile has no brand interests.")
    if last:
        st.markdown(f"#### Before / after the last action: {last.kind} of “{md_text(last.title[:70])}”")
        chart, numbers = st.columns([2, 1])
        with chart:
            st.plotly_chart(charts.before_after(last), key="before_after", config=CHART_CONFIG)
        with numbers:
            components.likelihood_metric("P(buy) of that product", last.likelihood_before, last.likelihood_after)
            st.caption("Top pick now: " + (md_text(last.top_after[0][1][:80]) if last.top_after else "—"))
    else:
        st.info(
            "No actions here yet: the charts show the shopper as their Amazon history describes them. "
            "Buy or review something to see a before/after.",
            icon=":material/info:",
        )
    mood, likely = st.columns(2)
    with mood:
        _chart("Review sentiment over time", view.sentiment, charts.sentiment_timeline, "sentiment", "No reviews yet.")
    with likely:
        _chart(
            "Purchase likelihood of recently viewed products",
            view.likelihood,
            charts.likelihood_history,
            "likelihood",
            "Open a few products: their likelihood is tracked here after every action.",
        )
    if view.recent:
        st.markdown("#### Recently viewed")
        components.product_grid(view.recent, "recent")


main()
