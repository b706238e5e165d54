"""The shop as the UI sees it: the one door over the model facade (`Guide`) and the store (`Store`).

Every method takes the browser session's `Session` (which persona, seen by which visitor) and
returns plain dataclasses. A shopper's history is what they bought on Amazon (shipped) followed by
what they did here (cart, purchase and review events in the store), so it survives restarts and
each visitor has their own. Bad input raises ValueError (expected / got / fix); nothing is written.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import unicodedata
from collections import OrderedDict
from datetime import UTC, datetime

import numpy as np

from guide.metrics.affinity import affinity_matrix
from guide.serving.aspects import AspectIndex, AspectSummary
from guide.serving.personas import (
    NEW_SHOPPER,
    build_personas,
    build_profile_view,
    demo_shoppers,
    explain,
    new_shopper,
    top_items,
)
from guide.serving.results import Profile, Sentiment, Why
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
    Standing,
    TourPlan,
    TwinView,
)

logger = logging.getLogger(__name__)

HISTORY_KINDS = ("cart", "purchase", "review")  # events that add an item to the shopper's history
SHOP_ACTIONS = ("view", "cart", "purchase")
CATALOGUE_SORTS = {
    "Price: low to high": ("price", True),
    "Price: high to low": ("price", False),
    "Top rated": ("rating", False),
    "Most loved": ("popularity", False),
}  # name -> (column, ascending)
SORTS = ("For you", "Best match", *CATALOGUE_SORTS)
SEARCH_HITS = 96  # semantic hits kept for a query, before filters and sorting
MAX_TITLE_CHARS = 200
MAX_FILTER_QUERY_CHARS = 200
_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
CACHE_ENTRIES = 512  # model results kept per history (a catalogue of scores is ~70 kB)
ALREADY_SAVED = "This review was already saved (the form was sent more than once); it was not stored again."
OUTCOME_ENTRIES = 256  # review outcomes kept by submission key, so a repeated submit gets the first result
__all__ = ["ShopService", "StoreUnavailable", "clean_review"]  # StoreUnavailable: what the UI catches


class ShopService:
    """Read-only model + per-shopper state in the store; one instance serves every session.

    The model is loaded once; the database is connected on first use (`store`). A database that is
    down raises StoreUnavailable from the call that needed it, and the next call tries again: the
    model never reloads because of the database."""

    def __init__(self, guide, store: Store | None = None, database_url: str | None = None) -> None:
        self.guide = guide
        self._store, self._database_url, self._store_lock = store, database_url, threading.Lock()
        self._warming = False  # the encoder warm-up thread has been started (warm_up)
        self._outcomes: OrderedDict[tuple[str, str], ReviewOutcome] = OrderedDict()
        items = guide.catalog.reset_index(drop=True)  # a copy: the Guide's frame stays untouched
        self.row_of = {item: row for row, item in enumerate(items["item_id"])}
        self.attributes = guide.attributes_by_row()
        items["shown_category"] = items["display_category"].fillna("Other")
        items["tags_predicted"] = [not len(known) for known in items["known_tags"]]
        items["shown_tags"] = [
            list(known) if len(known) else predicted
            for known, predicted in zip(items["known_tags"], guide.predicted_tags(5), strict=True)
        ]
        self.items = items
        by_id = items.set_index("item_id")
        interactions = guide.interactions
        main = {i: (p[0] if len(p) else None) for i, p in zip(items["item_id"], items["category_path"], strict=True)}
        demo = demo_shoppers(interactions, main)
        self.personas = build_personas(
            interactions[interactions["user_id"].isin(demo)],
            by_id["shown_category"].to_dict(),
            by_id["shown_tags"].to_dict(),
            by_id["brand"].to_dict(),
        )
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self._facets: dict[str, list] | None = None
        self._lock = threading.Lock()
        self.aspect_index = AspectIndex(guide)
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

    # --- shoppers ------------------------------------------------------------------------------
    def persona_choices(self) -> list[Persona]:
        return [new_shopper(), *self.personas.values()]

    def persona(self, persona_id: str) -> Persona:
        if persona_id == NEW_SHOPPER:
            return new_shopper()
        if persona_id not in self.personas:
            got = persona_id[:60] if isinstance(persona_id, str) else persona_id
            raise ValueError(
                f"shopper: expected one of the {len(self.personas)} demo shoppers or "
                f"'{NEW_SHOPPER}', got {got!r}. Fix: pick a shopper in the sidebar."
            )
        return self.personas[persona_id]

    def start(self, session: Session) -> Persona:
        """Check the persona and make sure the store knows this visitor's shopper."""
        persona = self.persona(session.persona_id)
        self.store.ensure_shopper(session.shopper_id, persona.label[:200], persona.kind)
        return persona

    def own_steps(self, session: Session) -> list[tuple[str, str, float | None]]:
        """(kind, item_id, stars) of this shopper's history-changing events, oldest first."""
        steps = []
        for event in self.store.events(session.shopper_id):
            if event.kind in HISTORY_KINDS and event.item_id in self.row_of:
                stars = (event.payload or {}).get("stars") if event.kind == "review" else None
                steps.append((event.kind, event.item_id, None if stars is None else float(stars)))
        return steps

    def history(self, session: Session, steps: int | None = None) -> tuple[list[str], list]:
        """Shipped history then this shopper's own steps (the first `steps` of them, or all)."""
        persona = self.persona(session.persona_id)
        own = self.own_steps(session)[:steps]
        return ([*persona.history, *(item for _, item, _ in own)], [*persona.ratings, *(stars for _, _, stars in own)])

    def reset(self, sessions: list[Session]) -> dict[str, int]:
        """Delete what these shoppers did here (events, reviews, snapshots); shipped history stays."""
        totals: dict[str, int] = {}
        for session in sessions:
            for table, count in self.store.reset_shopper(session.shopper_id).items():
                totals[table] = totals.get(table, 0) + count
        return totals

    # --- read-only share links -----------------------------------------------------------------
    def share_link(self, session: Session) -> str:
        """The public id of a read-only link to this shopper's pages; never the private visitor token."""
        self.start(session)
        return self.store.share_id(session.shopper_id)

    def shared_session(self, share_id: str) -> Session:
        """The shopper behind a share link, to SHOW only: the UI must not act, log or reset as them."""
        shopper_id = self.store.shared_shopper(share_id)
        if shopper_id is None:
            got = share_id[:40] if isinstance(share_id, str) else share_id
            raise ValueError(
                f"share link: expected a link made with 'Share this shopper', got {got!r}. "
                "Fix: ask whoever shared it for a new link."
            )
        persona_id, _, visitor = shopper_id.rpartition("~")
        return Session(persona_id, visitor)

    # --- model calls, cached per history -------------------------------------------------------
    def _cached(self, key: tuple, compute):
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        return self._remember(key, compute())

    def _remember(self, key: tuple, value):
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return value

    def scores(self, history: list[str], ratings: list) -> np.ndarray | None:
        """P(buy next) for every catalogue row; None for a shopper with no history (cold start)."""
        if not history:
            return None
        return self._cached(
            ("scores", tuple(history), tuple(ratings)),
            lambda: np.asarray(self.guide.score_catalog(history, ratings=ratings)),
        )

    def scale(self, history: list[str], ratings: list) -> LikelihoodScale | None:
        """Where each of this history's likelihoods stands among the products it does not own (rank, median
        multiple); sorted once per history. None for a shopper with no history."""
        scores = self.scores(history, ratings)
        if scores is None:
            return None
        owned = [self.row_of[item] for item in history if item in self.row_of]
        return self._cached(("scale", tuple(history), tuple(ratings)), lambda: LikelihoodScale(scores, owned))

    def profile_of(self, history: list[str], ratings: list) -> Profile | None:
        if not history:
            return None
        return self._cached(
            ("profile", tuple(history), tuple(ratings)), lambda: self.guide.profile(history, ratings=ratings)
        )

    def sentiments(self, key: tuple, texts: list[str]) -> list[Sentiment]:
        return self._cached(("sentiment", *key), lambda: self.guide.sentiment(texts)) if texts else []

    # --- why: the words behind a prediction (occlusion through the shared model, serving/explain.py) ----
    def why_review(self, review: ReviewView) -> Why:
        """The words that moved a review's sentiment, read as it was scored (title, then text)."""
        from guide.serving.explain import explain_review

        text = f"{review.title}. {review.text}" if review.title else review.text
        return self._cached(("why-review", text), lambda: explain_review(self.guide, text))

    def why_tags(self, item_id: str) -> list[Why]:
        """The words of a product's text that moved its predicted tags (most confident first)."""
        from guide.serving.explain import explain_product

        self.check_item(item_id)
        return self._cached(("why-tags", item_id), lambda: explain_product(self.guide, item_id))

    # --- browsing ------------------------------------------------------------------------------
    def facets(self) -> dict[str, list]:
        """What the filters offer: categories, tags and brands (by frequency), price bounds. The
        catalogue never changes while the app runs, so this is computed once (it is read every rerun)."""
        if self._facets is None:
            tags = self.items["shown_tags"].explode().dropna()
            brands = self.items["brand"][self.items["brand"].str.len() > 0]
            self._facets = {
                "categories": list(self.items["shown_category"].value_counts().index),
                "tags": list(tags.value_counts().index),
                "brands": sorted(brands.unique(), key=str.lower),
                "price": [float(self.items["price"].min()), float(self.items["price"].max())],
            }
        return self._facets

    def browse(
        self,
        session: Session,
        query: str = "",
        filters: Filters | None = None,
        sort: str = "For you",
        page: int = 1,
        page_size: int = 24,
    ) -> BrowsePage:
        if sort not in SORTS:
            raise ValueError(f"sort: expected one of {SORTS}, got {sort!r}")
        history, ratings = self.history(session)
        likelihood, scale = self.scores(history, ratings), self.scale(history, ratings)
        query = (query or "").strip()[:MAX_FILTER_QUERY_CHARS]
        rows = np.arange(len(self.items))
        if query:  # relevance order; rows the search did not return are not shown
            rows = np.array(
                [self.row_of[i] for i, _ in self.guide.search(query, k=SEARCH_HITS) if i in self.row_of],
                dtype=int,
            )
        rows = rows[(filters or Filters()).mask(self.items)[rows]]
        if sort == "For you" and history:  # what the shopper already has is not a next purchase
            rows = rows[~np.isin(rows, [self.row_of[i] for i in history if i in self.row_of])]
        notice = ""
        if likelihood is None and sort == "For you":
            notice = (
                "You are new here, so 'For you' starts with the most loved products. "
                "Buy or review one to make it yours."
            )
        rows = self._sorted(rows, likelihood, sort, bool(query))
        pages = max(1, math.ceil(len(rows) / page_size))
        page = min(max(1, int(page)), pages)
        shown = rows[(page - 1) * page_size : page * page_size]
        cards = [self.card(r, likelihood, scale) for r in shown]
        return BrowsePage(cards, len(rows), page, pages, query, sort, notice)

    def _sorted(self, rows: np.ndarray, likelihood, sort: str, searched: bool) -> np.ndarray:
        if sort == "Best match" and searched:
            return rows  # the search's own relevance order
        if sort in CATALOGUE_SORTS:
            column, ascending = CATALOGUE_SORTS[sort]
            values = self.items[column].to_numpy(dtype=float)[rows]
            key = np.where(np.isnan(values), np.inf, values if ascending else -values)  # unknown last
        else:  # the model's purchase likelihood; popularity for a shopper without history
            key = -(likelihood if likelihood is not None else self.items["popularity"].to_numpy(float))[rows]
        return rows[np.argsort(key, kind="stable")]

    def card(self, row: int, likelihood: np.ndarray | None, scale: LikelihoodScale | None = None) -> ProductCard:
        """A product as a card; with the history's `scale`, its likelihood also carries rank and median multiple."""
        item = self.items.iloc[row]
        price, rating = float(item["price"]), float(item["rating"])
        return ProductCard(
            item["item_id"],
            item["title"],
            item["brand"],
            None if math.isnan(price) else price,
            None if math.isnan(rating) else rating,
            item["shown_category"],
            item["source"],
            list(item["shown_tags"][:3]),
            bool(item["tags_predicted"]),
            None if likelihood is None else float(likelihood[row]),
            None if scale is None else scale.of_row(row),
        )

    def cards(self, session: Session, item_ids: list[str]) -> list[ProductCard]:
        history, ratings = self.history(session)
        likelihood, scale = self.scores(history, ratings), self.scale(history, ratings)
        return [self.card(self.row_of[i], likelihood, scale) for i in item_ids if i in self.row_of]

    def check_item(self, item_id: str) -> int:
        if not isinstance(item_id, str) or item_id not in self.row_of:
            got = item_id[:60] if isinstance(item_id, str) else item_id
            raise ValueError(
                f"product: expected an id from the catalogue, got {got!r}. Fix: open the product from the shop."
            )
        return self.row_of[item_id]

    # --- one product ---------------------------------------------------------------------------
    def product(self, session: Session, item_id: str) -> ProductDetail:
        row = self.check_item(item_id)
        history, ratings = self.history(session)
        likelihood, scale = self.scores(history, ratings), self.scale(history, ratings)
        item, attributes = self.items.iloc[row], self.attributes[row]
        similar = [self.row_of[i] for i, _ in self.guide.similar(item_id, k=4) if i in self.row_of]
        return ProductDetail(
            card=self.card(row, likelihood, scale),
            description=item["description"] or "",
            details={str(k): str(v) for k, v in (item["details"] or {}).items()},
            ingredients=item["ingredients"] or "",
            known_tags=list(item["known_tags"]),
            model_tags={t: attributes.tags[t] for t in attributes.predicted},
            model_category=attributes.category,
            category_probs=attributes.category_probs,
            reason=explain(self, row, history, ratings, self.profile_of(history, ratings)),
            reviews=self.reviews_of(item_id),
            similar=[self.card(r, likelihood, scale) for r in similar],
            in_history=item_id in history,
        )

    def aspects(self, item_id: str) -> AspectSummary:
        """Aspect chips over ALL the product's reviews: the shipped ones (scored on the product's first view,
        then kept) and those written here (each scored once), so a review just sent shows at once."""
        row = self.check_item(item_id)
        written = [(r.title, r.text) for r in reversed(self.store.reviews(item_id=item_id))]
        tags = [*self.items.at[row, "known_tags"], *self.attributes[row].predicted]
        return self.aspect_index.summary(item_id, written, tags)

    def reviews_of(self, item_id: str, limit: int = 20) -> list[ReviewView]:
        """Reviews written here (newest first), then the shipped Amazon ones, with model sentiment."""
        found = [
            ReviewView(r.stars, r.title, r.text, r.sentiment_label, r.sentiment_score, r.created_at, "a shopper here")
            for r in reversed(self.store.reviews(item_id=item_id))
        ]
        shipped = self.guide.reviews
        shipped = shipped[shipped["item_id"] == item_id].sort_values("timestamp", ascending=False)
        shipped = shipped.head(max(0, limit - len(found)))
        sentiments = self.sentiments((item_id, len(shipped)), list(shipped["full_text"]))
        for review, sentiment in zip(shipped.itertuples(), sentiments, strict=True):
            text = _LINE_BREAK.sub("\n", review.text)  # the Amazon texts keep the site's <br /> tags
            found.append(
                ReviewView(
                    int(review.rating),
                    review.title,
                    text,
                    sentiment.label,
                    sentiment.score,
                    datetime.fromtimestamp(review.timestamp / 1000, UTC),
                    "Amazon shopper",
                    str(review.review_id),
                )
            )
        return found[:limit]

    # --- the single-task twins beside the shared model (serving/twins.py) --------------------------------
    def twin_view(self, session: Session, item_id: str) -> TwinView:
        """What the attributes, sentiment, profile and purchase twins said about this product, its shipped
        reviews and this shopper's shipped history, beside the shared model; a note instead when the twins'
        predictions are not shipped or stale."""
        return build_twin_view(self, session, item_id)

    def twin_review_note(self) -> str:
        """Why a review just written has no sentiment-twin verdict beside the shared model's."""
        return self.twins.fresh_review_note()

    # --- acting --------------------------------------------------------------------------------
    def record_action(self, session: Session, item_id: str, kind: str) -> Change | None:
        """A view is logged with its likelihood; cart/purchase add the item and move the profile."""
        row = self.check_item(item_id)
        if kind not in SHOP_ACTIONS:
            raise ValueError(f"action: expected one of {SHOP_ACTIONS}, got {kind!r}")
        history, ratings = self.history(session)
        if kind == "view":
            before = self.scores(history, ratings)
            payload = None if before is None else {"likelihood": float(before[row])}
            self.store.record_event(session.shopper_id, session.visitor, kind, item_id, payload)
            return None
        prediction, change = self.rescore(kind, row, history, ratings)
        self.store.record_action(
            session.shopper_id, session.visitor, kind, item_id, interests=prediction.profile.interests
        )
        return change

    def submit_review(
        self, session: Session, item_id: str, stars: int, text: str, title: str = "", submission_key: str | None = None
    ) -> ReviewOutcome:
        """Validate; ONE `Guide.predict` (sentiment, tags, P(buy), profile); one store transaction.

        `submission_key` (one per review form): sending the same form again stores nothing and returns
        the first result. A database that is down or read-only raises StoreUnavailable; nothing is stored."""
        row = self.check_item(item_id)
        text, title, notice = clean_review(stars, text, title)
        first = self._first_outcome(session, submission_key)
        if first is not None:
            return first
        history, ratings = self.history(session)
        review = f"{title}. {text}" if title else text
        prediction, change = self.rescore("review", row, history, ratings, float(stars), review)
        sentiment = prediction.sentiment
        saved = self.store.save_review(
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
        outcome = self.review_outcome(row, saved.review, prediction, change, notice)
        return self._remember_outcome(session, submission_key, outcome)

    def review_outcome(self, row: int, review, prediction, change: Change, notice: str = "") -> ReviewOutcome:
        """A stored review's four answers: its sentiment, the product's tags before and after, and `change`."""
        attributes = prediction.attributes[self.items.at[row, "item_id"]]
        return ReviewOutcome(
            _own_review(review),
            prediction.sentiment,
            {t: self.attributes[row].tags[t] for t in self.attributes[row].predicted},
            {t: attributes.tags[t] for t in attributes.predicted},
            attributes.category,
            change,
            notice,
        )

    def _first_outcome(self, session: Session, submission_key: str | None) -> ReviewOutcome | None:
        """The result of an earlier submit with this key: kept here, else (another replica, a restart)
        the stored review, scored again without storing anything."""
        if submission_key is None:
            return None
        with self._lock:
            if (kept := self._outcomes.get((session.shopper_id, submission_key))) is not None:
                return kept
        saved = self.store.review_by_key(session.shopper_id, submission_key)
        if saved is None:
            return None
        return self._stored_outcome(session, submission_key, saved)

    def _stored_outcome(self, session: Session, submission_key: str, saved) -> ReviewOutcome:
        review, row = saved.review, self.check_item(saved.review.item_id)
        history, ratings = self.history(session)
        profile = self.profile_of(history, ratings)
        scores = self.scores(history, ratings)
        likelihood = None if scores is None else float(scores[row])
        attributes = self.attributes[row]
        tags = {t: attributes.tags[t] for t in attributes.predicted}
        top = top_items(self.items, scores)
        change = Change(
            "review",
            review.item_id,
            self.items.at[row, "title"],
            likelihood,
            likelihood,
            profile.categories if profile else {},
            profile.categories if profile else {},
            profile.tags if profile else {},
            profile.tags if profile else {},
            top,
            top,
            0.0,
            "",
        )
        sentiment = Sentiment(review.sentiment_label, review.sentiment_score, {})
        view = _own_review(review)
        outcome = ReviewOutcome(view, sentiment, tags, tags, attributes.category, change, ALREADY_SAVED)
        return self._remember_outcome(session, submission_key, outcome)

    def _remember_outcome(self, session: Session, submission_key: str | None, outcome: ReviewOutcome):
        if submission_key is not None:
            with self._lock:
                self._outcomes.setdefault((session.shopper_id, submission_key), outcome)
                while len(self._outcomes) > OUTCOME_ENTRIES:
                    self._outcomes.popitem(last=False)
                return self._outcomes[(session.shopper_id, submission_key)]
        return outcome

    def _predict(self, history, ratings, review, item_id):
        """The one forward pass of an action; its catalogue scores and profile fill the cache."""
        prediction = self.guide.predict(history, items=None, review=review, ratings=ratings, review_item=item_id)
        scores = np.fromiter(prediction.purchase.values(), dtype=float, count=len(self.items))
        self._remember(("scores", tuple(history), tuple(ratings)), scores)
        self._remember(("profile", tuple(history), tuple(ratings)), prediction.profile)
        return prediction, scores

    def rescore(self, kind: str, row: int, history: list[str], ratings: list, stars=None, review=None):
        """An action's one forward pass (the history plus this product, with the review text if any) and what it
        changed against the history before: (Prediction, Change). Nothing is stored here."""
        item_id = self.items.at[row, "item_id"]
        prediction, after = self._predict([*history, item_id], [*ratings, stars], review, item_id)
        return prediction, self._change(kind, row, history, ratings, after, prediction)

    def replay(self, session: Session, limit: int = 10) -> tuple[list[ReviewOutcome | Change], int]:
        """This shopper's last `limit` actions here, each scored again from the store as it was sent (the same
        history, stars and text through the same model: the same answers), and how many older ones were left out."""
        from guide.serving.tour import replay

        return replay(self, session, limit)

    def _change(self, kind, row, history, ratings, after, prediction) -> Change:
        """Before/after of one action. Likelihoods are placed among the products the shopper did not own at that
        point (what "For you" lists): the top picks leave out what they have, as the shop does."""
        before, profile_before = self.scores(history, ratings), self.profile_of(history, ratings)
        scale = self.scale(history, ratings)
        owned = scale.owned if scale is not None else frozenset(self.row_of[i] for i in history if i in self.row_of)
        now = LikelihoodScale(after, owned | {row})  # the product is the shopper's now
        top_before, standings_before = self._picks(scale)
        top_after, standings_after = self._picks(now)
        return Change(
            kind,
            self.items.at[row, "item_id"],
            self.items.at[row, "title"],
            None if before is None else float(before[row]),
            prediction.purchase[self.items.at[row, "item_id"]],
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
        picks = top_items(self.items, candidates, n)
        return picks, [scale.of_row(self.row_of[item]) for item, _, _ in picks]

    # --- profile and model ---------------------------------------------------------------------
    def profile(self, session: Session) -> ProfileView:
        return build_profile_view(self, session)

    # --- the guided tour and the recap (serving/tour.py) ----------------------------------------------
    def tour_plan(self) -> TourPlan:
        """The tour's shopper and product, by the rule in `serving/tour.py`; worked out once per service."""
        from guide.serving.tour import plan

        with self._plan_lock:
            if self._tour_plan is None:
                self._tour_plan = plan(self)
            return self._tour_plan

    def tour_session(self, visitor: str) -> Session:
        """The tour's sandbox shopper for this visitor (its own history in the store, apart from theirs)."""
        from guide.serving.tour import sandbox

        return sandbox(self.tour_plan().persona_id, visitor)

    def headlines(self) -> list[Headline]:
        """Each task's headline figure (shared model, single-task twin, best peer, with 95% CIs) from the report."""
        from guide.serving.tour import headlines

        return headlines(self.model_card().report)

    def recap(self, session: Session, sandbox: bool = False) -> Recap:
        """Everything a recap file shows about this shopper's session and the model."""
        from guide.serving.tour import recap

        return recap(self, session, sandbox)

    def model_card(self) -> ModelCard:
        card = self.guide.model_card()
        return ModelCard(
            card.get("metrics") or {},
            card.get("config") or {},
            str(card.get("weighting", "")),
            str(card.get("sampling", "")),
            str(card.get("device", "")),
            str(card.get("fingerprint", "")),
            float(card.get("last_inference_ms") or 0.0),
            card.get("train") or {},
            _with_matrix(card.get("affinity") or {}, tuple(card.get("config", {}).get("tasks", ()))),
        )


def _with_matrix(affinity: dict, tasks: tuple[str, ...]) -> dict:
    """The recorded affinity plus its mean cosine matrix over the second half of training (early probes
    mostly show the random initialisation)."""
    records = affinity.get("records") or []
    tasks = tuple(affinity.get("tasks") or tasks)
    if not records or len(tasks) < 2:
        return {}
    return dict(affinity, tasks=list(tasks), matrix=affinity_matrix(records, tasks, last_share=0.5).tolist())


# Characters that show nothing on their own: format (Cf: zero-width space/joiners, BOM, word joiner, bidi
# marks), separators, controls, combining marks without a base, and the blank letters/symbols that
# Unicode files elsewhere (Hangul fillers, braille blank). A review made only of these is empty.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Me", "Co", "Cn"})
_EDGE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})  # trimmed from both ends; a trailing accent (Mn) stays
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
# C0 controls but tab and newline, DEL, and lone surrogates: PostgreSQL refuses NUL (and psycopg cannot
# encode a surrogate) while SQLite stores them, so they go before storing and both backends keep the same text.
_UNSTORABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def _visible(text: str) -> bool:
    return any(
        not char.isspace() and char not in _BLANK_LETTERS and unicodedata.category(char) not in _INVISIBLE_CATEGORIES
        for char in text
    )


def _trimmed(text: str) -> str:
    """`text` without whitespace or invisible format/space characters at either end (accents stay)."""
    edge = [char.isspace() or char in _BLANK_LETTERS or unicodedata.category(char) in _EDGE for char in text]
    first = edge.index(False) if False in edge else len(text)
    last = len(edge) - edge[::-1].index(False) if False in edge else first
    return text[first:last]


def _storable(text: str) -> str:
    """Drop what a database cannot store the same everywhere; `\r\n` becomes `\n`."""
    return _UNSTORABLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _own_review(review) -> ReviewView:
    """A stored review as its author sees it on the result panel."""
    return ReviewView(
        review.stars, review.title, review.text, review.sentiment_label, review.sentiment_score, review.created_at,
        "you",
    )  # fmt: skip


def clean_review(stars, text, title) -> tuple[str, str, str]:
    """(text, title, notice) ready to score and store, or ValueError saying what to fix."""
    if isinstance(stars, bool) or not isinstance(stars, (int, np.integer)) or not 1 <= stars <= 5:
        raise ValueError(f"stars: expected a whole number from 1 to 5, got {stars!r}. Fix: pick 1 to 5 stars.")
    if title is not None and not isinstance(title, str):
        raise ValueError(f"title: expected text, got {type(title).__name__}")
    if not isinstance(text, str) or not _visible(text):
        raise ValueError("review: expected some words, got an empty review. Fix: write what you think of it.")
    text, title, notice = _trimmed(_storable(text)), _trimmed(_storable(title or ""))[:MAX_TITLE_CHARS], ""
    if len(text) > MAX_REVIEW_CHARS:
        notice = (
            f"Your review had {len(text):,} characters. Reviews keep the first {MAX_REVIEW_CHARS:,}, "
            "so it was shortened before it was scored and saved."
        )
        text = text[:MAX_REVIEW_CHARS].rstrip()
    return text, title, notice
