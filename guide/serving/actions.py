"""A shopper's actions on a product — view, cart, purchase — and what one changed.

A view is logged with its likelihood. Cart, purchase and review add the product to the history: ONE forward
pass of the history with it (`rescore`, the review's text in the same pass) gives the new scores and profile,
and `Change` puts them beside the history's before, with each likelihood's place among the products the
shopper did not own at that point (what "For you" lists)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from guide.serving.catalogue import Catalogue
from guide.serving.prediction_cache import PredictionCache
from guide.serving.results import Prediction
from guide.serving.shoppers import Shoppers
from guide.serving.standing import LikelihoodScale
from guide.serving.store import Store
from guide.serving.views import Change, Session, Standing

SHOP_ACTIONS = ("view", "cart", "purchase")


class Actions:
    def __init__(
        self, catalogue: Catalogue, predictions: PredictionCache, shoppers: Shoppers, store: Callable[[], Store]
    ) -> None:
        self.catalogue, self.predictions, self.shoppers, self._store = catalogue, predictions, shoppers, store

    def record(self, session: Session, item_id: str, kind: str) -> Change | None:
        """A view is logged with its likelihood; cart/purchase add the item and move the profile."""
        row = self.catalogue.check_item(item_id)
        if kind not in SHOP_ACTIONS:
            raise ValueError(f"action: expected one of {SHOP_ACTIONS}, got {kind!r}")
        history, ratings = self.shoppers.history(session)
        if kind == "view":
            before = self.predictions.scores(history, ratings)
            payload = None if before is None else {"likelihood": float(before[row])}
            self._store().record_event(session.shopper_id, session.visitor, kind, item_id, payload)
            return None
        prediction, change = self.rescore(kind, row, history, ratings)
        self._store().record_action(
            session.shopper_id, session.visitor, kind, item_id, interests=prediction.profile.interests
        )
        return change

    def rescore(
        self, kind: str, row: int, history: list[str], ratings: list, stars=None, review: str | None = None
    ) -> tuple[Prediction, Change]:
        """An action's one forward pass (the history plus this product, with the review text if any) and what it
        changed against the history before: (Prediction, Change). Nothing is stored here."""
        item_id = self.catalogue.items.at[row, "item_id"]
        prediction, after = self.predictions.predict([*history, item_id], [*ratings, stars], review, item_id)
        return prediction, self._change(kind, row, history, ratings, after, prediction)

    def _change(self, kind, row, history, ratings, after, prediction) -> Change:
        """Before/after of one action. Likelihoods are placed among the products the shopper did not own at that
        point (what "For you" lists): the top picks leave out what they have, as the shop does."""
        items, predictions = self.catalogue.items, self.predictions
        before, profile_before = predictions.scores(history, ratings), predictions.profile(history, ratings)
        scale = predictions.scale(history, ratings)
        owned = scale.owned if scale is not None else frozenset(self.catalogue.rows(history))
        now = LikelihoodScale(after, owned | {row})  # the product is the shopper's now
        top_before, standings_before = self._picks(scale)
        top_after, standings_after = self._picks(now)
        return Change(
            kind,
            items.at[row, "item_id"],
            items.at[row, "title"],
            None if before is None else float(before[row]),
            prediction.purchase[items.at[row, "item_id"]],
            profile_before.categories if profile_before else {},
            prediction.profile.categories,
            profile_before.tags if profile_before else {},
            prediction.profile.tags,
            top_before,
            top_after,
            prediction.elapsed_ms,
            prediction.device,
            None if scale is None else scale.of_row(row),
            None if row in owned else LikelihoodScale(after, owned).of_row(row),  # the products ranked before
            standings_before,
            standings_after,
        )

    def _picks(self, scale: LikelihoodScale | None, n: int = 5) -> tuple[list, list[Standing | None]]:
        """The `n` most likely products the shopper does not own, with their standings."""
        if scale is None:
            return [], []
        candidates = scale.scores.copy()
        candidates[list(scale.owned)] = -np.inf
        picks = self.catalogue.top(candidates, n)
        return picks, [scale.of_row(self.catalogue.row_of[item]) for item, _, _ in picks]
