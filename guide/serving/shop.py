"""The shop as the UI sees it: one door over the model facade (`Guide`) and the store (`Store`), composed of
small parts that each do one job and get only what they need:

- `Shoppers` (shoppers.py): personas, a visitor's history in the store, reset, share links;
- `PredictionCache` (prediction_cache.py): the model's answers per history and per text, kept;
- `Catalogue` (catalogue.py): the products as shown, cards, facets, browsing;
- `ProductPages` (product_pages.py): a product's page, its reviews and aspect chips;
- `Actions` (actions.py) and `ReviewSubmissions` (review_submission.py, text clean-up in review_text.py):
  what a shopper does and what it changed, a review in one pass and one transaction, once per form;
- `ProfilePage` (profile_page.py), the tour's plan (tour_plan.py), a replayed session (session_replay.py), the
  model card (model_card.py) and the single-task twins (twins.py).

Every method takes the browser session's `Session` (which persona, seen by which visitor) and returns plain
dataclasses. Bad input raises ValueError (expected / got / fix); nothing is written.
"""

from __future__ import annotations

import logging
import os
import threading

import numpy as np

from guide.serving import session_replay, tour_plan
from guide.serving.actions import Actions
from guide.serving.aspect_chips import AspectIndex, AspectSummary
from guide.serving.catalogue import SORTS, Catalogue
from guide.serving.model_card import card_view, headlines
from guide.serving.personas import demo_personas
from guide.serving.prediction_cache import PredictionCache
from guide.serving.product_pages import ProductPages
from guide.serving.profile_page import ProfilePage
from guide.serving.results import Profile, Sentiment, Why
from guide.serving.review_submission import ReviewSubmissions
from guide.serving.review_text import clean_review
from guide.serving.shoppers import Shoppers
from guide.serving.standing import LikelihoodScale
from guide.serving.store import MAX_REVIEW_CHARS, Store, StoreUnavailable
from guide.serving.twins import StoredTwins, build_twin_view
from guide.serving.views import (
    BrowsePage,
    Change,
    Filters,
    Headline,
    ModelCard,
    Persona,
    ProductCard,
    ProductDetail,
    ProfileView,
    Recap,
    ReviewOutcome,
    ReviewView,
    Session,
    TourPlan,
    TwinView,
)

logger = logging.getLogger(__name__)

# What the UI imports from here besides the service: StoreUnavailable (what it catches), the sorts, the limits.
__all__ = ["MAX_REVIEW_CHARS", "SORTS", "ShopService", "StoreUnavailable", "clean_review"]


class ShopService:
    """Read-only model + per-shopper state in the store; one instance serves every session.

    The model is loaded once; the database is connected on first use (`store`). A database that is
    down raises StoreUnavailable from the call that needed it, and the next call tries again: the
    model never reloads because of the database."""

    def __init__(self, guide, store: Store | None = None, database_url: str | None = None) -> None:
        self.guide = guide
        self._store, self._database_url, self._store_lock = store, database_url, threading.Lock()
        self._warming = False  # the encoder warm-up thread has been started (warm_up)
        self.catalogue = Catalogue(guide)
        self.items, self.row_of, self.attributes = (
            self.catalogue.items,
            self.catalogue.row_of,
            self.catalogue.attributes,
        )
        self.personas = demo_personas(self.items, guide.interactions)
        self.shoppers = Shoppers(self.personas, lambda: self.store, self.row_of.__contains__)
        self.predictions = PredictionCache(guide, self.row_of)
        self.aspect_index = AspectIndex(guide)
        self.products = ProductPages(
            self.catalogue, self.predictions, guide.similar, guide.reviews, self.aspect_index, lambda: self.store
        )
        self.actions = Actions(self.catalogue, self.predictions, self.shoppers, lambda: self.store)
        self.submissions = ReviewSubmissions(
            self.catalogue, self.predictions, self.shoppers, self.actions, lambda: self.store
        )
        self.profile_page = ProfilePage(
            self.shoppers, self.predictions, self.catalogue, guide.reviews, lambda: self.store
        )
        self.twins = StoredTwins(guide.checkpoint)  # the single-task twins' stored answers, read on first use
        self._tour_plan: TourPlan | None = None  # made on first use (tour_plan)
        self._plan_lock = threading.Lock()

    @classmethod
    def open(cls, checkpoint: str | None = None, database_url: str | None = None, warm_up: bool = True) -> ShopService:
        """The model (`GUIDE_CHECKPOINT`, else the shipped one), the data (`GUIDE_DATA_DIR`) and the
        store (`GUIDE_DATABASE_URL`, else SQLite under `GUIDE_STATE_DIR`). With `warm_up`, the sentence
        encoder starts loading in the background at once; the app passes False and calls `warm_up()`
        after its first page, so the warm-up does not compete with that page for the interpreter."""
        from guide.serving.facade import Guide, use_serving_threads

        service = cls(Guide.load(checkpoint or os.environ.get("GUIDE_CHECKPOINT") or None), database_url=database_url)
        use_serving_threads()  # after the load (encoding the catalogue uses every core): one thread per pass
        if warm_up:
            service.warm_up()
        return service

    def warm_up(self) -> None:
        """Load the sentence encoder in a background thread, once per service (later calls do nothing)."""
        with self._store_lock:
            if self._warming:
                return
            self._warming = True
        threading.Thread(target=self._warm_up, name="guide-warm-up", daemon=True).start()

    @property
    def store(self) -> Store:
        """The database, connected on first use; StoreUnavailable when it cannot be (tried again next call)."""
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    self._store = Store(self._database_url)
        return self._store

    def _warm_up(self) -> None:
        """Load the sentence encoder now, so the first search does not wait for it; then pick the tour's shopper
        and product, so "Take the tour" does not wait for their profile passes either."""
        try:
            self.guide.search("gentle moisturizer", k=1)
        except (ValueError, OSError, RuntimeError) as error:
            logger.warning("search warm-up failed (%s); the first search will load the encoder", error)
        try:
            self.tour_plan()
        except (ValueError, RuntimeError) as error:
            logger.warning("tour warm-up failed (%s); the tour will pick its shopper when opened", error)

    # --- shoppers (shoppers.py) ------------------------------------------------------------------
    def persona_choices(self) -> list[Persona]:
        return self.shoppers.choices()

    def persona(self, persona_id: str) -> Persona:
        return self.shoppers.persona(persona_id)

    def start(self, session: Session) -> Persona:
        return self.shoppers.start(session)

    def own_steps(self, session: Session) -> list[tuple[str, str, float | None]]:
        return self.shoppers.steps(session)

    def history(self, session: Session, steps: int | None = None) -> tuple[list[str], list]:
        return self.shoppers.history(session, steps)

    def reset(self, sessions: list[Session]) -> dict[str, int]:
        return self.shoppers.reset(sessions)

    def share_link(self, session: Session) -> str:
        return self.shoppers.share_link(session)

    def shared_session(self, share_id: str) -> Session:
        return self.shoppers.shared_session(share_id)

    # --- model answers, kept per history (prediction_cache.py) ----------------------------------------
    def scores(self, history: list[str], ratings: list) -> np.ndarray | None:
        return self.predictions.scores(history, ratings)

    def scale(self, history: list[str], ratings: list) -> LikelihoodScale | None:
        return self.predictions.scale(history, ratings)

    def profile_of(self, history: list[str], ratings: list) -> Profile | None:
        return self.predictions.profile(history, ratings)

    def sentiments(self, key: tuple, texts: list[str]) -> list[Sentiment]:
        return self.predictions.sentiments(key, texts)

    def why_review(self, review: ReviewView) -> Why:
        """The words that moved a review's sentiment, read as it was scored (title, then text)."""
        return self.predictions.why_review(f"{review.title}. {review.text}" if review.title else review.text)

    def why_tags(self, item_id: str) -> list[Why]:
        """The words of a product's text that moved its predicted tags (most confident first)."""
        self.catalogue.check_item(item_id)
        return self.predictions.why_tags(item_id)

    # --- browsing (catalogue.py) -----------------------------------------------------------------
    def facets(self) -> dict[str, list]:
        return self.catalogue.facets()

    def browse(
        self,
        session: Session,
        query: str = "",
        filters: Filters | None = None,
        sort: str = "For you",
        page: int = 1,
        page_size: int = 24,
    ) -> BrowsePage:
        if sort not in SORTS:  # before the store is read
            raise ValueError(f"sort: expected one of {SORTS}, got {sort!r}")
        history, ratings = self.history(session)
        likelihood, scale = self.scores(history, ratings), self.scale(history, ratings)
        return self.catalogue.browse(history, likelihood, scale, query, filters, sort, page, page_size)

    def cards(self, session: Session, item_ids: list[str]) -> list[ProductCard]:
        history, ratings = self.history(session)
        likelihood, scale = self.scores(history, ratings), self.scale(history, ratings)
        return [self.catalogue.card(row, likelihood, scale) for row in self.catalogue.rows(item_ids)]

    def check_item(self, item_id: str) -> int:
        return self.catalogue.check_item(item_id)

    # --- one product (product_pages.py, twins.py) --------------------------------------------------------
    def product(self, session: Session, item_id: str) -> ProductDetail:
        self.check_item(item_id)
        return self.products.detail(item_id, *self.history(session))

    def aspects(self, item_id: str) -> AspectSummary:
        return self.products.aspects(item_id)

    def reviews_of(self, item_id: str, limit: int = 20) -> list[ReviewView]:
        return self.products.reviews_of(item_id, limit)

    def twin_view(self, session: Session, item_id: str) -> TwinView:
        """What the attributes, sentiment, profile and purchase twins said about this product, its shipped
        reviews and this shopper's shipped history, beside the shared model; a note instead when the twins'
        predictions are not shipped or stale."""
        return build_twin_view(
            self.twins,
            self.catalogue,
            self.predictions,
            item_id,
            self.persona(session.persona_id),
            lambda: self.reviews_of(item_id),
            lambda: len(self.own_steps(session)),
        )

    def twin_review_note(self) -> str:
        """Why a review just written has no sentiment-twin verdict beside the shared model's."""
        return self.twins.fresh_review_note()

    # --- acting (actions.py, review_submission.py) ----------------------------------------------------
    def record_action(self, session: Session, item_id: str, kind: str) -> Change | None:
        return self.actions.record(session, item_id, kind)

    def submit_review(
        self, session: Session, item_id: str, stars: int, text: str, title: str = "", submission_key: str | None = None
    ) -> ReviewOutcome:
        return self.submissions.submit(session, item_id, stars, text, title, submission_key)

    def replay(self, session: Session, limit: int = session_replay.RECAP_ACTIONS):
        """This shopper's last `limit` actions here, each scored again from the store as it was sent (the same
        history, stars and text through the same model: the same answers), and how many older ones were left out."""
        persona, store = self.persona(session.persona_id), self.store
        events, reviews = store.events(session.shopper_id), store.reviews(shopper_id=session.shopper_id)
        return session_replay.replay(persona, events, reviews, self.row_of, self.actions, self.submissions, limit)

    # --- profile, tour, recap and model (profile_page.py, tour_plan.py, session_replay.py, model_card.py) ------
    def profile(self, session: Session) -> ProfileView:
        return self.profile_page.view(session)

    def tour_plan(self) -> TourPlan:
        """The tour's shopper and product, by the rule in `serving/tour_plan.py`; worked out once per service."""
        with self._plan_lock:
            if self._tour_plan is None:
                self._tour_plan = tour_plan.plan(list(self.personas.values()), self.predictions, self.items)
            return self._tour_plan

    def tour_session(self, visitor: str) -> Session:
        """The tour's sandbox shopper for this visitor (its own history in the store, apart from theirs)."""
        return tour_plan.sandbox(self.tour_plan().persona_id, visitor)

    def headlines(self) -> list[Headline]:
        """Each task's headline figure (shared model, single-task twin, best peer, with 95% CIs) from the report."""
        return headlines(self.model_card().report)

    def recap(self, session: Session, sandbox: bool = False) -> Recap:
        """Everything a recap file shows about this shopper's session and the model."""
        replayed = self.replay(session)
        profile = self.profile_of(*self.history(session))
        categories = profile.categories if profile else {}
        persona = self.persona(session.persona_id)
        return session_replay.recap(persona, sandbox, replayed, categories, self.model_card(), len(self.items))

    def model_card(self) -> ModelCard:
        return card_view(self.guide.model_card())
