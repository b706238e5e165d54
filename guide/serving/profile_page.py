"""A shopper's profile page: their interests now, what the last action changed, how the likelihoods of their
recent products moved step by step, and the sentiment of every review they wrote (shipped and here).

The page reads the store twice, whatever the history's length: this shopper's events once (their steps,
recent products and every earlier history come from that one list) and their reviews once
(tests/serving/test_profile_page.py counts it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd

from guide.serving.catalogue import Catalogue
from guide.serving.personas import short
from guide.serving.prediction_cache import PredictionCache
from guide.serving.shoppers import Shoppers
from guide.serving.store import Store
from guide.serving.views import Change, LikelihoodPoint, Persona, ProfileView, SentimentPoint, Session


class ProfilePage:
    def __init__(
        self,
        shoppers: Shoppers,
        predictions: PredictionCache,
        catalogue: Catalogue,
        shipped_reviews: pd.DataFrame,
        store: Callable[[], Store],
    ) -> None:
        self.shoppers, self.predictions, self.catalogue = shoppers, predictions, catalogue
        self._shipped, self._store = shipped_reviews, store

    def view(self, session: Session, max_steps: int = 8, max_items: int = 5) -> ProfileView:
        """The page of this session's shopper."""
        shoppers, predictions, catalogue = self.shoppers, self.predictions, self.catalogue
        persona = shoppers.persona(session.persona_id)
        events = shoppers.events(session)  # the one read of their events
        steps = shoppers.steps(session, events)
        history_at = lambda n=None: shoppers.history(session, n, own=steps)  # noqa: E731
        history, ratings = history_at()
        profile = predictions.profile(history, ratings)
        recent = list(dict.fromkeys(e.item_id for e in reversed(events) if e.item_id in catalogue.row_of))
        recent = recent[:max_items]
        last = self._last_change(steps, history_at, profile) if steps else None
        points = []
        for step in range(max(0, len(steps) - max_steps + 1), len(steps) + 1):
            scores = predictions.scores(*history_at(step))
            if scores is None:
                continue
            label = "start" if step == 0 else f"{step}. {steps[step - 1][0]}"
            for item in recent:
                row = catalogue.row_of[item]
                title = short(catalogue.items.at[row, "title"], 32)
                points.append(LikelihoodPoint(step, label, item, title, float(scores[row])))
        likelihood, scale = predictions.scores(history, ratings), predictions.scale(history, ratings)
        return ProfileView(
            persona,
            len(history),
            len(steps),
            dict(list(profile.categories.items())[:8]) if profile else {},
            dict(list(profile.tags.items())[:10]) if profile else {},
            last,
            self._sentiment_points(persona, self._store().reviews(shopper_id=session.shopper_id)),
            points,
            [catalogue.card(catalogue.row_of[i], likelihood, scale) for i in recent],
            dict(list(profile.brands.items())[:10]) if profile else {},
        )

    def _last_change(self, steps, history_at, profile) -> Change:
        """What the shopper's latest step changed (likelihood of its product, profile, top picks)."""
        predictions, items = self.predictions, self.catalogue.items
        kind, item_id, _ = steps[-1]
        before_h, before_r = history_at(len(steps) - 1)
        before, after = predictions.scores(before_h, before_r), predictions.scores(*history_at())
        previous = predictions.profile(before_h, before_r)
        row = self.catalogue.row_of[item_id]
        return Change(
            kind,
            item_id,
            items.at[row, "title"],
            None if before is None else float(before[row]),
            float(after[row]),
            previous.categories if previous else {},
            profile.categories,
            previous.tags if previous else {},
            profile.tags,
            self.catalogue.top(before),
            self.catalogue.top(after),
        )

    def _sentiment_points(self, persona: Persona, reviews_here: list) -> list[SentimentPoint]:
        catalogue = self.catalogue
        shipped = self._shipped
        shipped = shipped[(shipped["source"] == "amazon") & (shipped["user_id"] == persona.persona_id)]
        shipped = shipped.sort_values("timestamp")
        found = self.predictions.sentiments(("persona", persona.persona_id), list(shipped["full_text"]))

        def title(item: str) -> str:
            return short(catalogue.items.at[catalogue.row_of[item], "title"]) if item in catalogue.row_of else item

        points = [
            SentimentPoint(
                datetime.fromtimestamp(r.timestamp / 1000, UTC), s.score, s.label, int(r.rating), title(r.item_id),
                "Amazon",
            )
            for r, s in zip(shipped.itertuples(), found, strict=True)
        ]  # fmt: skip
        for review in reviews_here:
            points.append(
                SentimentPoint(
                    review.created_at, review.sentiment_score, review.sentiment_label, review.stars,
                    title(review.item_id), "here",
                )
            )  # fmt: skip
        return points
