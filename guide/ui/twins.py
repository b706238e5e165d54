"""What the single-task twins say, beside the shared model, on the product page.

A twin is the same network trained on one task alone (`python -m guide evaluate --twins`); its answers were
stored when exported (`guide/evaluation/twin_export.py`), the shared model's are live. Where the two differ
is where training the tasks together changed the answer. Every catalogue, review and tag string goes
through `md_text`.
"""

from __future__ import annotations

import streamlit as st

from guide.serving.personas import short
from guide.serving.shop import ShopService, StoreUnavailable
from guide.serving.views import Session, TwinShopper, TwinView
from guide.ui.visuals import md_text, percent

SHOWN_TAGS = 10  # rows of the tag table, most likely first; the count says how many more
SHOWN_DISAGREEMENTS = 4  # reviews read differently, listed; the count says how many more
EXCERPT_CHARS = 180
ABOUT = (
    "Each twin is the same network trained on one task alone. Their answers were stored when they were "
    "exported; the shared model's are live. Where they differ is where learning the tasks together changed "
    "the answer."
)


def _mark(probability: float | None, over: bool) -> str:
    if probability is None:
        return "—"
    return f"{'✓ ' if over else ''}{probability:.0%}"


def _tags(view: TwinView) -> None:
    st.markdown("**Tags and category**")
    st.caption(
        f"Category: shared model *{md_text(view.model_category)}* · attributes twin *{md_text(view.twin_category)}* "
        f"({view.twin_category_prob:.0%})"
    )
    if not view.tags:
        st.caption("Neither puts a tag over its threshold.")
        return
    ranked = sorted(view.tags, key=lambda t: -max(t.model, t.twin or 0.0))
    rows = ["| tag | shared model | attributes twin |", "|---|---|---|"]
    rows += [f"| {md_text(t.tag)} | {_mark(t.model, t.model_over)} | {_mark(t.twin, t.twin_over)} |" for t in ranked]
    st.markdown("\n".join(rows[: 2 + SHOWN_TAGS]))
    more = f" {len(ranked) - SHOWN_TAGS} more tags are predicted by one or both." if len(ranked) > SHOWN_TAGS else ""
    st.caption(f"✓ over that model's own threshold (a predicted tag); — not among the twin's stored top 8.{more}")


def _reviews(view: TwinView) -> None:
    st.markdown("**Sentiment of the reviews on this page**")
    if not view.reviews:
        st.caption("No shipped review on this page to compare (reviews written here were never read by the twin).")
        return
    st.caption(
        f"Same label on {view.agreeing} of {view.reviews} reviews ({view.agreeing / view.reviews:.0%}); "
        f"read differently: {len(view.disagreements)}."
    )
    for review in view.disagreements[:SHOWN_DISAGREEMENTS]:
        probs = " · ".join(f"{label[:3]} {p:.0%}" for label, p in review.twin_probs.items())
        with st.container(border=True):
            st.caption(
                f"{'★' * review.stars}{'☆' * (5 - review.stars)} · shared model **{md_text(review.model_label)}** · "
                f"twin **{md_text(review.twin_label)}** ({probs})"
            )
            text = f"{review.title}. {review.text}" if review.title else review.text
            st.caption(md_text(short(text, EXCERPT_CHARS)))
    if len(view.disagreements) > SHOWN_DISAGREEMENTS:
        st.caption(f"… and {len(view.disagreements) - SHOWN_DISAGREEMENTS} more.")


def _picks(shopper: TwinShopper) -> None:
    """The two top-pick lists side by side; ● marks a product both name."""
    common = {i for i, _, _ in shopper.model_picks} & {i for i, _, _ in shopper.twin_picks}

    def cell(pick: tuple[str, str, float] | None) -> str:
        if pick is None:
            return ""
        item_id, name, probability = pick
        return f"{'● ' if item_id in common else ''}{percent(probability)} · {md_text(short(name, 34))}"

    rows = ["| shared model | purchase twin |", "|---|---|"]
    for number in range(max(len(shopper.model_picks), len(shopper.twin_picks))):
        model = shopper.model_picks[number] if number < len(shopper.model_picks) else None
        twin = shopper.twin_picks[number] if number < len(shopper.twin_picks) else None
        rows.append(f"| {cell(model)} | {cell(twin)} |")
    st.caption(f"Top {len(shopper.twin_picks)} next products: {len(common)} in common (●).")
    st.markdown("\n".join(rows))


def _shopper(shopper: TwinShopper | None, note: str) -> None:
    st.markdown("**This shopper's interests and next products**")
    if shopper is None:
        st.caption(md_text(note))
        return
    model = " · ".join(f"{md_text(c)} {p:.0%}" for c, p in list(shopper.model_categories.items())[:3])
    twin = " · ".join(f"{md_text(c)} {p:.0%}" for c, p in list(shopper.twin_categories.items())[:3])
    st.caption(f"Shared model: {model}")
    st.caption(f"Profile twin: {twin}")
    _picks(shopper)
    if shopper.actions_left_out:
        st.caption(f"Both after the shipped history only: your {shopper.actions_left_out} actions here are left out.")


def twin_section(svc: ShopService, session: Session, item_id: str) -> None:
    """The section: the twins' tags, category, review sentiment and the shopper's answers beside the shared
    model's, or one line saying why they are not shown."""
    st.markdown("#### What the single-task twins say")
    try:
        view = svc.twin_view(session, item_id)
    except (ValueError, StoreUnavailable) as error:
        st.caption(f"The twins cannot be shown now: {md_text(error)}")
        return
    if view.status != "shown":
        st.caption(md_text(view.note), help=ABOUT)
        return
    st.caption(f"{ABOUT} {md_text(view.note)}")
    with st.container(key="twins"):
        tags, reviews, shopper = st.columns(3, gap="medium")
        with tags:
            _tags(view)
        with reviews:
            _reviews(view)
        with shopper:
            _shopper(view.shopper, view.shopper_note)
