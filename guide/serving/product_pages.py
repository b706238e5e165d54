"""One product's page: its card, text, the catalogue's and the model's tags, why it suits this shopper, its
reviews (written here first, then the shipped Amazon ones, each with the model's sentiment), similar products
and the reviews' aspect chips."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd

from guide.serving.aspect_chips import AspectIndex, AspectSummary
from guide.serving.catalogue import Catalogue
from guide.serving.personas import short
from guide.serving.prediction_cache import PredictionCache
from guide.serving.store import Store
from guide.serving.views import ProductDetail, Reason, ReviewView

_LINE_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)


class ProductPages:
    """`similar(item_id, k)`: the catalogue's nearest products; `shipped_reviews`: the shipped reviews frame."""

    def __init__(
        self,
        catalogue: Catalogue,
        predictions: PredictionCache,
        similar: Callable[[str, int], list[tuple[str, float]]],
        shipped_reviews: pd.DataFrame,
        aspect_index: AspectIndex,
        store: Callable[[], Store],
    ) -> None:
        self.catalogue, self.predictions, self._similar = catalogue, predictions, similar
        self._shipped, self.aspect_index, self._store = shipped_reviews, aspect_index, store

    def detail(self, item_id: str, history: list[str], ratings: list) -> ProductDetail:
        """The page of `item_id` for a shopper with this history."""
        catalogue, predictions = self.catalogue, self.predictions
        row = catalogue.check_item(item_id)
        likelihood, scale = predictions.scores(history, ratings), predictions.scale(history, ratings)
        item, attributes = catalogue.items.iloc[row], catalogue.attributes[row]
        similar = catalogue.rows(i for i, _ in self._similar(item_id, 4))
        profile = predictions.profile(history, ratings)
        return ProductDetail(
            card=catalogue.card(row, likelihood, scale),
            description=item["description"] or "",
            details={str(k): str(v) for k, v in (item["details"] or {}).items()},
            ingredients=item["ingredients"] or "",
            known_tags=list(item["known_tags"]),
            model_tags={t: attributes.tags[t] for t in attributes.predicted},
            model_category=attributes.category,
            category_probs=attributes.category_probs,
            reason=self.reason(row, history, ratings, profile),
            reviews=self.reviews_of(item_id),
            similar=[catalogue.card(r, likelihood, scale) for r in similar],
            in_history=item_id in history,
        )

    def reason(self, row: int, history: list[str], ratings: list, profile) -> Reason:
        """Why this product for this shopper: the nearest thing they liked, and the interests it matches."""
        if not history:
            return Reason("You are new here: buy or review something and this becomes personal.")
        items = self.catalogue.items
        item_id, category = items.at[row, "item_id"], items.at[row, "shown_category"]
        tags = set(items.at[row, "shown_tags"]) | set(self.catalogue.attributes[row].predicted)
        liked = {item: stars for item, stars in zip(history, ratings, strict=True) if item != item_id}
        neighbours = [i for i, _ in self._similar(item_id, 300) if i in liked]
        nearest = max(neighbours[:5], key=lambda i: liked[i] or 0, default=None)
        matched = []
        if profile is not None:
            matched = [name for name in list(profile.categories)[:3] if name == category]
            matched += [brand for brand in list(profile.brands)[:3] if brand == items.at[row, "brand"]]
            matched += [tag for tag in list(profile.tags)[:8] if tag in tags][:3]
        sentence = ""
        similar_title = None if nearest is None else items.at[self.catalogue.row_of[nearest], "title"]
        if nearest is not None:
            stars = liked[nearest]
            sentence = f"Similar to “{short(similar_title)}” " + (
                f"that you rated {stars:.0f}★" if stars else "that you bought"
            )
        if matched:
            interests = "matches your interest in " + ", ".join(m.removeprefix("Good for: ") for m in matched)
            sentence = f"{sentence}, and it {interests}" if sentence else f"It {interests}"
        text = f"{sentence}." if sentence else "It is unlike what this shopper usually buys."
        return Reason(text, nearest, similar_title, None if nearest is None else liked[nearest], matched)

    def reviews_of(self, item_id: str, limit: int = 20) -> list[ReviewView]:
        """Reviews written here (newest first), then the shipped Amazon ones, with model sentiment."""
        found = [
            ReviewView(r.stars, r.title, r.text, r.sentiment_label, r.sentiment_score, r.created_at, "a shopper here")
            for r in reversed(self._store().reviews(item_id=item_id))
        ]
        shipped = self._shipped[self._shipped["item_id"] == item_id].sort_values("timestamp", ascending=False)
        shipped = shipped.head(max(0, limit - len(found)))
        sentiments = self.predictions.sentiments((item_id, len(shipped)), list(shipped["full_text"]))
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

    def aspects(self, item_id: str) -> AspectSummary:
        """Aspect chips over ALL the product's reviews: the shipped ones (scored on the product's first view,
        then kept) and those written here (each scored once), so a review just sent shows at once."""
        row = self.catalogue.check_item(item_id)
        written = [(r.title, r.text) for r in reversed(self._store().reviews(item_id=item_id))]
        tags = [*self.catalogue.items.at[row, "known_tags"], *self.catalogue.attributes[row].predicted]
        return self.aspect_index.summary(item_id, written, tags)
