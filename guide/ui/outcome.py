"""The panel that reports what one action changed: each of the model's four answers, before and after, in one
screen (1280 × 800): a row of four short before → after columns (sentiment, tags, likelihood, profile), then the
top likelihoods and the interests that moved most side by side. The product page and the tour both draw it."""

from __future__ import annotations

import streamlit as st

from guide.serving.personas import short
from guide.serving.views import Change, ReviewOutcome, Standing
from guide.ui import charts, components, state
from guide.ui import explain as why
from guide.ui.visuals import md_text, percent, points, standing_text, times

SHOWN_PICKS = 3
SHOWN_TAGS = 3


def _pick(pick: tuple[str, str, float] | None, standing: Standing | None) -> str:
    if pick is None:
        return "—"
    multiple = f" ({times(standing.times_median)})" if standing and standing.times_median is not None else ""
    return f"{percent(pick[2])}{multiple} · {md_text(short(pick[1], 24))}"


def _nth(values: list, number: int):
    return values[number] if number < len(values) else None


def _top_picks(change: Change) -> None:
    """The most likely next products before and after, side by side: what "For you" would lead with."""
    st.markdown("**Top likelihoods** · before → after", help=components.LIKELIHOOD_HELP)
    if not change.top_after:
        st.caption("none yet (new shopper)")
        return
    rows = ["| # | before | after |", "|---|---|---|"]
    for number in range(min(SHOWN_PICKS, len(change.top_after))):
        before = _pick(_nth(change.top_before, number), _nth(change.top_standings_before, number))
        after = _pick(change.top_after[number], _nth(change.top_standings_after, number))
        rows.append(f"| {number + 1} | {before} | {after} |")
    st.markdown("\n".join(rows))


def _likelihood(change: Change) -> None:
    st.markdown("**Purchase likelihood**", help=components.LIKELIHOOD_HELP)
    moved = points(change.likelihood_before, change.likelihood_after)
    st.markdown(
        f"{percent(change.likelihood_before)} → **{percent(change.likelihood_after)}**"
        + (f" ({moved})" if moved else "")
    )
    before, after = change.standing_before, change.standing_after
    if before is not None and after is not None:
        multiple = ""
        if before.times_median is not None and after.times_median is not None:
            multiple = f" · {times(before.times_median)} → {times(after.times_median)} the median product"
        st.caption(f"this product, now in the history: #{before.rank:,} → #{after.rank:,} of {after.of:,}{multiple}")
    elif before is not None or after is not None:
        st.caption(f"this product, for this shopper · {standing_text(after or before)}")
    else:
        st.caption("this product, already in the history before: not ranked among the next buys")


def _profile_move(change: Change) -> None:
    st.markdown("**Profile**", help="The shopper's top interest category, from the profile head, before and after.")
    if not change.categories_after:
        st.caption("No profile yet.")
        return
    top = next(iter(change.categories_after))
    moved = points(change.categories_before.get(top), change.categories_after[top])
    st.markdown(
        f"{percent(change.categories_before.get(top))} → **{percent(change.categories_after[top])}**"
        + (f" ({moved})" if moved else "")
    )
    first_before = next(iter(change.categories_before), None)
    was = f"; was {md_text(first_before)} before" if first_before and first_before != top else ""
    st.caption(f"top interest: {md_text(top)}{was}")


def _sentiment(outcome: ReviewOutcome) -> None:
    st.markdown("**Sentiment of your review**")
    components.sentiment_badge(outcome.sentiment.label, outcome.sentiment.score)
    probs = outcome.sentiment.probs
    shares = " · ".join(f"{label[:3]} {probs.get(label, 0):.0%}" for label in ("negative", "neutral", "positive"))
    st.caption(f"before: no review · {shares}", help=md_text(state.service().twin_review_note()))


def _tag_line(tags: dict[str, float]) -> str:
    shown = list(tags.items())[:SHOWN_TAGS]
    return (
        " · ".join(f"{md_text(t.removeprefix('Good for: '))} {p:.0%}" for t, p in shown) or "no tag over its threshold"
    )


def _tags(outcome: ReviewOutcome) -> None:
    st.markdown("**Product tags (re-tagged)**")
    added = [t for t in outcome.tags_after if t not in outcome.tags_before]
    removed = [t for t in outcome.tags_before if t not in outcome.tags_after]
    if added or removed:
        st.caption(f"before: {_tag_line(outcome.tags_before)}  \nafter: {_tag_line(outcome.tags_after)}")
        st.caption(f"New: {md_text(', '.join(added)) or '—'} · dropped: {md_text(', '.join(removed)) or '—'}")
    else:
        st.caption(f"{_tag_line(outcome.tags_after)} — unchanged: tags read the product's own text")


def _moved_chart(change: Change, key: str):
    """The interests chart of `change`, built once per result: a panel that reruns alone (a changed field of the
    form below it, a suggestion) draws the same result again, and the chart is a pure function of it."""
    charts_kept = st.session_state.setdefault("outcome_charts", {})  # panel key -> (change, figure)
    kept = charts_kept.get(key)
    if kept is None or kept[0] is not change:
        kept = charts_kept[key] = (change, charts.before_after(change, top=5, height=175))
    return kept[1]


def _waited(wait_ms: float | None) -> None:
    """The wait for the model (other sessions' passes hold its lock), apart from the pass itself."""
    if wait_ms is not None and wait_ms >= 1:
        st.caption(f"Before it, {wait_ms:.0f} ms waiting for the model while other shoppers' passes ran.")


def show_outcome(
    outcome: ReviewOutcome | Change, labels: dict[str, str], key: str = "outcome", saved_review: bool = True
) -> None:
    """The panel; `saved_review` adds the review as saved with the words that moved its sentiment, below it."""
    review = outcome if isinstance(outcome, ReviewOutcome) else None
    change = review.change if review else outcome
    with st.container(border=True, key=key):
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
            _likelihood(change)
        with columns[-1]:
            _profile_move(change)
        picks, moved = st.columns([3, 2])
        with picks:
            _top_picks(change)
        with moved:
            st.markdown("**Interests that moved most**")
            st.plotly_chart(_moved_chart(change, key), key=f"{key}_chart", config={"displayModeBar": False})
        if review and saved_review:
            st.markdown("**Your review, as saved**")
            components.review_block(review.review, "yours")
            st.caption(md_text(state.service().twin_review_note()))  # why the sentiment twin has no verdict on it
            why.review(review.review)
