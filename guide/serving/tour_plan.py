"""The guided tour's plan: whom and what it shows (a rule), and the sandbox shopper it acts as.

The tour shows one shopper and one product. Both are picked by a rule over the model's own answers, never by
fixed ids, so a retrained model may pick others and the tour still tells its story: the demo shopper whose
profile is most concentrated (a clear taste the profile head can see), and their most likely next product
among those the catalogue has tags for, so the model's tags can be checked against the catalogue's.

The tour acts in a sandbox: a shopper of its own per visitor (`sandbox`), which the store keeps apart like any
other (`Session.shopper_id`), so what the tour does never reaches the shopper the visitor shops as.

"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from guide.serving.views import Persona, Session, TourPlan

MIN_PURCHASES = 20  # a history long enough for the profile head to read a taste from


def sandbox(persona_id: str, visitor: str) -> Session:
    """The tour's own shopper for this visitor: a visitor token derived from theirs, so a reload (the URL keeps
    the visitor) finds the same sandbox, and never equal to it, so the tour never writes to their own shopper."""
    token = hashlib.sha256(f"tour:{visitor}".encode()).hexdigest()[:12]
    return Session(persona_id, token)


def _clearest(predictions, personas: list[Persona]) -> tuple[Persona, str, float]:
    """The persona whose profile gives its top category the largest share; ties keep the more active."""
    best = None
    for persona in personas:  # most active first
        profile = predictions.profile(list(persona.history), list(persona.ratings))
        if profile is None or not profile.categories:
            continue
        top, share = max(profile.categories.items(), key=lambda kv: kv[1])
        if best is None or share > best[2]:
            best = (persona, top, share)
    if best is None:
        raise ValueError("tour: expected a demo shopper with a profile, got none. Fix: check the checkpoint and data.")
    return best


def plan(personas: list[Persona], predictions, items: pd.DataFrame) -> TourPlan:
    """Whom and what the tour shows (see the module docstring) among the demo `personas` (most active first),
    from `predictions` (the shop's `PredictionCache`) over the shop's `items`; one profile pass per candidate."""
    long_enough = [p for p in personas if p.purchases >= MIN_PURCHASES] or personas
    persona, top, share = _clearest(predictions, long_enough)
    history, ratings = list(persona.history), list(persona.ratings)
    scores, scale = predictions.scores(history, ratings), predictions.scale(history, ratings)
    order = [int(r) for r in np.argsort(-scores, kind="stable") if int(r) not in scale.owned]
    known = items["known_tags"]
    tagged = next((row for row in order if len(known.iat[row])), None)
    row = order[0] if tagged is None else tagged
    return TourPlan(
        persona.persona_id, str(items.at[row, "item_id"]), top, share, scale.of_row(row), tagged is not None
    )
