"""A review sent from the product page or the tour: checked and cleaned up (`review_text`), ONE `Guide.predict`
(sentiment, tags, P(buy), profile), ONE store transaction (review, event and profile snapshot together).

Idempotent per form: a `submission_key` sent again stores nothing and returns the first result — kept here
(`OUTCOME_ENTRIES`), else (another replica, a restart) the stored review scored again without storing anything."""

from __future__ import annotations

import threading
from collections.abc import Callable

from cachetools import LRUCache

from guide.serving.actions import Actions
from guide.serving.catalogue import Catalogue
from guide.serving.prediction_cache import PredictionCache
from guide.serving.results import Sentiment
from guide.serving.review_text import clean_review
from guide.serving.shoppers import Shoppers
from guide.serving.store import Store
from guide.serving.views import Change, ReviewOutcome, ReviewView, Session

ALREADY_SAVED = "This review was already saved (the form was sent more than once); it was not stored again."
OUTCOME_ENTRIES = 256  # review outcomes kept by submission key, so a repeated submit gets the first result


class ReviewSubmissions:
    def __init__(
        self,
        catalogue: Catalogue,
        predictions: PredictionCache,
        shoppers: Shoppers,
        actions: Actions,
        store: Callable[[], Store],
    ) -> None:
        self.catalogue, self.predictions, self.shoppers, self.actions = catalogue, predictions, shoppers, actions
        self._store = store
        self._outcomes: LRUCache[tuple[str, str], ReviewOutcome] = LRUCache(maxsize=OUTCOME_ENTRIES)
        self._lock = threading.Lock()

    def submit(
        self, session: Session, item_id: str, stars: int, text: str, title: str = "", submission_key: str | None = None
    ) -> ReviewOutcome:
        """Validate; ONE `Guide.predict`; one store transaction. A database that is down or read-only raises
        StoreUnavailable; nothing is stored."""
        row = self.catalogue.check_item(item_id)
        text, title, notice = clean_review(stars, text, title)
        first = self._first_outcome(session, submission_key)
        if first is not None:
            return first
        history, ratings = self.shoppers.history(session)
        review = f"{title}. {text}" if title else text
        prediction, change = self.actions.rescore("review", row, history, ratings, float(stars), review)
        sentiment = prediction.sentiment
        saved = self._store().save_review(
            session.shopper_id,
            session.visitor,
            item_id,
            int(stars),
            title,
            text,
            sentiment.label,
            float(sentiment.score),
            interests=prediction.profile.interests,
            submission_key=submission_key,
        )
        notice = ALREADY_SAVED if saved.replayed else notice
        outcome = self.outcome(row, saved.review, prediction, change, notice)
        return self._remember(session, submission_key, outcome)

    def outcome(self, row: int, review, prediction, change: Change, notice: str = "") -> ReviewOutcome:
        """A stored review's four answers: its sentiment, the product's tags before and after, and `change`."""
        before = self.catalogue.attributes[row]
        attributes = prediction.attributes[self.catalogue.items.at[row, "item_id"]]
        return ReviewOutcome(
            own_review(review),
            prediction.sentiment,
            {t: before.tags[t] for t in before.predicted},
            {t: attributes.tags[t] for t in attributes.predicted},
            attributes.category,
            change,
            notice,
        )

    def forget(self) -> None:
        """Drop the kept outcomes (as a restart would): a repeated key is then answered from the store."""
        with self._lock:
            self._outcomes.clear()

    def _first_outcome(self, session: Session, submission_key: str | None) -> ReviewOutcome | None:
        if submission_key is None:
            return None
        with self._lock:
            if (kept := self._outcomes.get((session.shopper_id, submission_key))) is not None:
                return kept
        saved = self._store().review_by_key(session.shopper_id, submission_key)
        if saved is None:
            return None
        return self._stored_outcome(session, submission_key, saved)

    def _stored_outcome(self, session: Session, submission_key: str, saved) -> ReviewOutcome:
        review, row = saved.review, self.catalogue.check_item(saved.review.item_id)
        history, ratings = self.shoppers.history(session)
        profile = self.predictions.profile(history, ratings)
        scores = self.predictions.scores(history, ratings)
        likelihood = None if scores is None else float(scores[row])
        attributes = self.catalogue.attributes[row]
        tags = {t: attributes.tags[t] for t in attributes.predicted}
        top = self.catalogue.top(scores)
        categories, interests = (profile.categories, profile.tags) if profile else ({}, {})
        title = self.catalogue.items.at[row, "title"]
        change = Change(
            "review", review.item_id, title, likelihood, likelihood, categories, categories, interests, interests,
            top, top, 0.0, "",
        )  # fmt: skip
        sentiment = Sentiment(review.sentiment_label, review.sentiment_score, {})
        outcome = ReviewOutcome(own_review(review), sentiment, tags, tags, attributes.category, change, ALREADY_SAVED)
        return self._remember(session, submission_key, outcome)

    def _remember(self, session: Session, submission_key: str | None, outcome: ReviewOutcome) -> ReviewOutcome:
        if submission_key is None:
            return outcome
        with self._lock:
            return self._outcomes.setdefault((session.shopper_id, submission_key), outcome)


def own_review(review) -> ReviewView:
    """A stored review as its author sees it on the result panel."""
    return ReviewView(
        review.stars, review.title, review.text, review.sentiment_label, review.sentiment_score, review.created_at,
        "you",
    )  # fmt: skip
