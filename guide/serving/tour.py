"""The guided tour's rule and sandbox, and the recap of a session.

The tour shows one shopper and one product. Both are picked by a rule over the model's own answers, never by
fixed ids, so a retrained model may pick others and the tour still tells its story: the demo shopper whose
profile is most concentrated (a clear taste the profile head can see), and their most likely next product
among those the catalogue has tags for, so the model's tags can be checked against the catalogue's.

The tour acts in a sandbox: a shopper of its own per visitor (`sandbox`), which the store keeps apart like any
other (`Session.shopper_id`), so what the tour does never reaches the shopper the visitor shops as.

A recap is replayed from the store: each action is scored again with the history, stars and text it was sent
with, through the same model in eval mode, so it reads as it did when it was sent, after a reload too.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import numpy as np

from guide.serving.views import Change, Headline, Persona, Recap, ReviewOutcome, Session, TourPlan

MIN_PURCHASES = 20  # a history long enough for the profile head to read a taste from
RECAP_ACTIONS = 10  # the newest actions a recap replays (one forward pass each)
HISTORY_KINDS = ("cart", "purchase", "review")  # as ShopService.own_steps reads them


def sandbox(persona_id: str, visitor: str) -> Session:
    """The tour's own shopper for this visitor: a visitor token derived from theirs, so a reload (the URL keeps
    the visitor) finds the same sandbox, and never equal to it, so the tour never writes to their own shopper."""
    token = hashlib.sha256(f"tour:{visitor}".encode()).hexdigest()[:12]
    return Session(persona_id, token)


def _clearest(service, personas: list[Persona]) -> tuple[Persona, str, float]:
    """The persona whose profile gives its top category the largest share; ties keep the more active."""
    best = None
    for persona in personas:  # most active first
        profile = service.profile_of(list(persona.history), list(persona.ratings))
        if profile is None or not profile.categories:
            continue
        top, share = max(profile.categories.items(), key=lambda kv: kv[1])
        if best is None or share > best[2]:
            best = (persona, top, share)
    if best is None:
        raise ValueError("tour: expected a demo shopper with a profile, got none. Fix: check the checkpoint and data.")
    return best


def plan(service) -> TourPlan:
    """Whom and what the tour shows (see the module docstring); one profile pass per candidate shopper."""
    personas = list(service.personas.values())
    long_enough = [p for p in personas if p.purchases >= MIN_PURCHASES] or personas
    persona, top, share = _clearest(service, long_enough)
    history, ratings = list(persona.history), list(persona.ratings)
    scores, scale = service.scores(history, ratings), service.scale(history, ratings)
    order = [int(r) for r in np.argsort(-scores, kind="stable") if int(r) not in scale.owned]
    known = service.items["known_tags"]
    tagged = next((row for row in order if len(known.iat[row])), None)
    row = order[0] if tagged is None else tagged
    return TourPlan(
        persona.persona_id, str(service.items.at[row, "item_id"]), top, share, scale.of_row(row), tagged is not None
    )


def replay(service, session: Session, limit: int = RECAP_ACTIONS) -> tuple[list[ReviewOutcome | Change], int]:
    """The shopper's last `limit` actions here, oldest first, each scored again as it was sent; and how many
    older actions were left out. A review whose text is gone from the store is skipped."""
    persona = service.persona(session.persona_id)
    events = [
        e for e in service.store.events(session.shopper_id) if e.kind in HISTORY_KINDS and e.item_id in service.row_of
    ]
    reviews = {r.id: r for r in service.store.reviews(shopper_id=session.shopper_id)}
    history, ratings = list(persona.history), list(persona.ratings)
    first, replayed = max(0, len(events) - limit), []
    for number, event in enumerate(events):
        payload = event.payload or {}
        stars = None if event.kind != "review" or payload.get("stars") is None else float(payload["stars"])
        if number >= first:
            row = service.row_of[event.item_id]
            if event.kind != "review":
                replayed.append(service.rescore(event.kind, row, history, ratings)[1])
            elif (review := reviews.get(payload.get("review_id"))) is not None:
                text = f"{review.title}. {review.text}" if review.title else review.text
                prediction, change = service.rescore("review", row, history, ratings, stars, text)
                replayed.append(service.review_outcome(row, review, prediction, change))
        history, ratings = [*history, event.item_id], [*ratings, stars]
    return replayed, first


def _interval(values) -> tuple[float, float] | None:
    return (float(values[0]), float(values[1])) if values and len(values) == 2 else None


def headlines(report: dict) -> list[Headline]:
    """The report's summary, one row per task (empty when the checkpoint ships without a report)."""
    summary = report.get("summary") or {}
    metrics = summary.get("headline_metrics") or {}
    return [
        Headline(
            task,
            str(metrics.get(task, "")),
            row.get("MTL"),
            _interval(row.get("MTL_ci")),
            row.get("STL"),
            _interval(row.get("STL_ci")),
            str(row.get("best_peer") or ""),
            row.get("best_peer_value"),
            _interval(row.get("best_peer_ci")),
            str(row.get("vs_stl") or ""),
            str(row.get("vs_best_peer") or ""),
        )
        for task, row in (summary.get("tasks") or {}).items()
    ]


def recap(service, session: Session, sandbox_shopper: bool) -> Recap:
    """What a recap file shows: the shopper, their replayed actions, their interests now, the model's headlines."""
    actions, left_out = replay(service, session)
    history, ratings = service.history(session)
    profile = service.profile_of(history, ratings)
    card = service.model_card()
    summary = card.report.get("summary") or {}
    return Recap(
        service.persona(session.persona_id),
        sandbox_shopper,
        datetime.now(UTC),
        actions,
        left_out,
        dict(profile.categories) if profile else {},
        headlines(card.report),
        summary.get("delta_m"),
        str(summary.get("decision_rule") or ""),
        str((card.report.get("purchase_calibration") or {}).get("meaning") or ""),
        len(service.items),
        {"sharing": str(card.config.get("sharing", "")), "weighting": card.weighting, "device": card.device},
    )
