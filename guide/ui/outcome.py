"""The panel that reports what one action changed: each of the model's four answers, before and after."""

from __future__ import annotations

import streamlit as st

from guide.serving.personas import short
from guide.serving.views import Change, ReviewOutcome
from guide.ui import charts, components, state
from guide.ui import explain as why
from guide.ui.visuals import md_text, percent, points


def _top_picks(title: str, picks: list[tuple[str, str, float]]) -> None:
    st.markdown(f"**{title}**")
    if not picks:
        st.caption("none yet (new shopper)")
    for item_id, name, likelihood in picks:
        st.page_link(
            state.PRODUCT,
            label=f"{percent(likelihood)} · {md_text(short(name, 44))}",
            query_params=state.params(product=item_id),
        )


def _profile_move(change: Change) -> None:
    st.markdown("**Profile**")
    if not change.categories_after:
        st.caption("No profile yet.")
        return
    top = next(iter(change.categories_after))
    st.metric(
        f"Top interest: {md_text(top)}",
        percent(change.categories_after[top]),
        points(change.categories_before.get(top), change.categories_after[top]),
        help="Share of the shopper's interest in their top category, from the profile head.",
    )
    first_before = next(iter(change.categories_before), None)
    if first_before and first_before != top:
        st.caption(f"Was {md_text(first_before)} before.")


def _sentiment(outcome: ReviewOutcome) -> None:
    st.markdown("**Sentiment of your review**")
    components.sentiment_badge(outcome.sentiment.label, outcome.sentiment.score)
    probs = outcome.sentiment.probs
    st.caption(" · ".join(f"{label} {probs.get(label, 0):.0%}" for label in ("negative", "neutral", "positive")))
    st.caption(md_text(state.service().twin_review_note()))  # why the sentiment twin has no verdict on it


def _tags(outcome: ReviewOutcome) -> None:
    st.markdown("**Product tags (re-tagged)**")
    added = [t for t in outcome.tags_after if t not in outcome.tags_before]
    removed = [t for t in outcome.tags_before if t not in outcome.tags_after]
    shown = list(outcome.tags_after.items())[:4]
    st.caption(", ".join(f"{md_text(t)} {p:.0%}" for t, p in shown) or "no tag over its threshold")
    if added or removed:
        st.caption(f"New: {md_text(', '.join(added)) or '—'} · dropped: {md_text(', '.join(removed)) or '—'}")
    else:
        st.caption(f"Unchanged; category {md_text(outcome.category_after)}. Tags read the product's own text.")


def _waited(wait_ms: float | None) -> None:
    """The wait for the model (other sessions' passes hold its lock), apart from the pass itself."""
    if wait_ms is not None and wait_ms >= 1:
        st.caption(f"Before it, {wait_ms:.0f} ms waiting for the model while other shoppers' passes ran.")


def show_outcome(outcome: ReviewOutcome | Change, labels: dict[str, str]) -> None:
    review = outcome if isinstance(outcome, ReviewOutcome) else None
    change = review.change if review else outcome
    with st.container(border=True, key="outcome"):
        what = "Review saved" if review else labels.get(change.kind, change.kind)
        st.success(
            f"{what}. One forward pass of the shared model ({change.elapsed_ms:.0f} ms on "
            f"{md_text(change.device or 'cpu')}) answered all at once:",
            icon=":material/check_circle:",
        )
        _waited(st.session_state.get("outcome_wait_ms"))
        if review and review.notice:
            st.warning(review.notice, icon=":material/content_cut:")
        columns = st.columns(4 if review else 2)
        if review:
            with columns[0]:
                _sentiment(review)
            with columns[1]:
                _tags(review)
        with columns[-2]:
            st.markdown("**Purchase likelihood**")
            components.likelihood_metric("this product, for you", change.likelihood_before, change.likelihood_after)
        with columns[-1]:
            _profile_move(change)
        st.markdown("**Interests that moved most**")
        st.plotly_chart(charts.before_after(change), key="outcome_chart", config={"displayModeBar": False})
        before, after = st.columns(2)
        with before:
            _top_picks("Top picks before", change.top_before)
        with after:
            _top_picks("Top picks now", change.top_after)
        if review:
            st.markdown("**Your review, as saved**")
            components.review_block(review.review, "yours")
            why.review(review.review)
