"""The catalogue as the shop shows it: every product with the category and tags a shopper sees, its cards, the
filters' facets, and browsing (search, filters, sort, pages) over the scores of a shopper's history.

Shown tags are the catalogue's own, else the model's (marked predicted); the shown category is the catalogue's
own, else the model's (`Guide.catalog["display_category"]`). Nothing here calls the model but the search; the
scores come in from the caller (`PredictionCache`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from guide.serving.standing import LikelihoodScale
from guide.serving.views import BrowsePage, Filters, ProductCard

CATALOGUE_SORTS = {
    "Price: low to high": ("price", True),
    "Price: high to low": ("price", False),
    "Top rated": ("rating", False),
    "Most loved": ("popularity", False),
}  # name -> (column, ascending)
SORTS = ("For you", "Best match", *CATALOGUE_SORTS)
SEARCH_HITS = 96  # semantic hits kept for a query, before filters and sorting
MAX_FILTER_QUERY_CHARS = 200
NEW_HERE = "You are new here, so 'For you' starts with the most loved products. Buy or review one to make it yours."


class Catalogue:
    """The shop's products (`items`, one row per catalogue row) and browsing over them. `guide` gives the
    catalogue, its attributes and the product search."""

    def __init__(self, guide) -> None:
        self._search = guide.search
        items = guide.catalog.reset_index(drop=True)  # a copy: the Guide's frame stays untouched
        self.row_of = {item: row for row, item in enumerate(items["item_id"])}
        self.attributes = guide.attributes_by_row()
        items["shown_category"] = items["display_category"].fillna("Other")
        items["tags_predicted"] = [not len(known) for known in items["known_tags"]]
        items["shown_tags"] = [
            list(known) if len(known) else predicted
            for known, predicted in zip(items["known_tags"], guide.predicted_tags(5), strict=True)
        ]
        self.items: pd.DataFrame = items
        self._facets: dict[str, list] | None = None

    def check_item(self, item_id: str) -> int:
        """The row of a catalogue product; ValueError (expected / got / fix) for anything else."""
        if not isinstance(item_id, str) or item_id not in self.row_of:
            got = item_id[:60] if isinstance(item_id, str) else item_id
            raise ValueError(
                f"product: expected an id from the catalogue, got {got!r}. Fix: open the product from the shop."
            )
        return self.row_of[item_id]

    def rows(self, item_ids) -> list[int]:
        """The rows of the catalogue products among `item_ids` (others left out), in order."""
        return [self.row_of[item] for item in item_ids if item in self.row_of]

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
        history: list[str],
        likelihood: np.ndarray | None,
        scale: LikelihoodScale | None,
        query: str = "",
        filters: Filters | None = None,
        sort: str = "For you",
        page: int = 1,
        page_size: int = 24,
    ) -> BrowsePage:
        """One page of products for a shopper with this `history` and its scores (`likelihood`, None for a
        shopper without history): the search's hits or every product, filtered, sorted, paged. "For you" leaves
        out what the shopper already has."""
        if sort not in SORTS:
            raise ValueError(f"sort: expected one of {SORTS}, got {sort!r}")
        query = (query or "").strip()[:MAX_FILTER_QUERY_CHARS]
        rows = np.arange(len(self.items))
        if query:  # relevance order; rows the search did not return are not shown
            rows = np.array(self.rows(i for i, _ in self._search(query, k=SEARCH_HITS)), dtype=int)
        rows = rows[(filters or Filters()).mask(self.items)[rows]]
        if sort == "For you" and history:  # what the shopper already has is not a next purchase
            rows = rows[~np.isin(rows, self.rows(history))]
        notice = NEW_HERE if likelihood is None and sort == "For you" else ""
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

    def top(self, scores: np.ndarray | None, n: int = 5) -> list[tuple[str, str, float]]:
        """(item_id, title, score) of the `n` highest `scores`."""
        if scores is None:
            return []
        best = np.argsort(-scores)[:n]
        return [(self.items.at[r, "item_id"], self.items.at[r, "title"], float(scores[r])) for r in best]
