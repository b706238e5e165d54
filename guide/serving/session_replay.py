"""A session replayed from the store, and the recap file's content.

Each of a shopper's actions here is scored again with the history, stars and text it was sent with, through the
same model in eval mode, so it reads as it did when it was sent, after a reload too. The recap adds the
shopper, their interests now and the report's headlines."""

from __future__ import annotations

from datetime import UTC, datetime

from guide.serving.actions import Actions
from guide.serving.model_card import headlines
from guide.serving.review_submission import ReviewSubmissions
from guide.serving.shoppers import HISTORY_KINDS
from guide.serving.views import Change, ModelCard, Persona, Recap, ReviewOutcome

RECAP_ACTIONS = 10  # the newest actions a recap replays (one forward pass each)


def replay(
    persona: Persona,
    events: list,
    reviews: list,
    row_of: dict[str, int],
    actions: Actions,
    submissions: ReviewSubmissions,
    limit: int = RECAP_ACTIONS,
) -> tuple[list[ReviewOutcome | Change], int]:
    """The last `limit` of a shopper's actions (`events` and `reviews`: theirs in the store), oldest first, each
    scored again as it was sent; and how many older actions were left out. A review whose text is gone from the
    store is skipped."""
    events = [e for e in events if e.kind in HISTORY_KINDS and e.item_id in row_of]
    by_id = {r.id: r for r in reviews}
    history, ratings = list(persona.history), list(persona.ratings)
    first, replayed = max(0, len(events) - limit), []
    for number, event in enumerate(events):
        payload = event.payload or {}
        stars = None if event.kind != "review" or payload.get("stars") is None else float(payload["stars"])
        if number >= first:
            row = row_of[event.item_id]
            if event.kind != "review":
                replayed.append(actions.rescore(event.kind, row, history, ratings)[1])
            elif (review := by_id.get(payload.get("review_id"))) is not None:
                text = f"{review.title}. {review.text}" if review.title else review.text
                prediction, change = actions.rescore("review", row, history, ratings, stars, text)
                replayed.append(submissions.outcome(row, review, prediction, change))
        history, ratings = [*history, event.item_id], [*ratings, stars]
    return replayed, first


def recap(
    persona: Persona,
    sandbox: bool,
    replayed: tuple[list[ReviewOutcome | Change], int],
    categories: dict[str, float],
    card: ModelCard,
    products: int,
) -> Recap:
    """What a recap file shows: the shopper, their replayed actions, their interests now (`categories`), the
    model's headlines (`card`) over a catalogue of `products`."""
    actions, left_out = replayed
    summary = card.report.get("summary") or {}
    return Recap(
        persona,
        sandbox,
        datetime.now(UTC),
        actions,
        left_out,
        dict(categories),
        headlines(card.report),
        summary.get("delta_m"),
        str(summary.get("decision_rule") or ""),
        str((card.report.get("purchase_calibration") or {}).get("meaning") or ""),
        products,
        {"sharing": str(card.config.get("sharing", "")), "weighting": card.weighting, "device": card.device},
    )
