"""The single-task twins' stored predictions (`guide/evaluation/twin_export.py`), read on first use.

No pruned twin fits a few MB without moving its predictions (the export measures it), so the shop shows
what each twin said when the artifact was exported: tags and category per catalogue product, sentiment per
shipped review, top interests and next products per shopper's shipped history. A missing artifact is a
state ("not shipped"), never an error, and so is a stale one: exported for another checkpoint or data, or
from twins trained another way than this checkpoint's twins would be. Its predictions are then not shown,
and the note says what to run.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT
from guide.model.run_key import config_key
from guide.model.twin_artifact import ARTIFACT, DEFAULT_OUT, FORMAT, twin_hashes
from guide.serving.views import Persona, ReviewView, TwinReview, TwinShopper, TwinTag, TwinView

logger = logging.getLogger(__name__)

TWINS_ENV = "GUIDE_TWINS"  # another artifact than assets/twins/twins.npz (tests, a second model)
SHOWN, MISSING, STALE, UNREADABLE = "shown", "not shipped", "stale", "unreadable"
EXPORT = "python -m guide twins"


def default_path() -> Path:
    env = os.environ.get(TWINS_ENV)
    return Path(env).expanduser() if env else DEFAULT_OUT / ARTIFACT


@dataclass(frozen=True)
class TwinTags:
    tags: dict[str, tuple[float, bool]]  # the twin's stored top tags -> (probability, over its threshold)
    category: str
    category_prob: float


@dataclass(frozen=True)
class TwinShopperAnswer:
    categories: dict[str, float]  # top interest categories, renormalised over the categories
    picks: list[tuple[str, float]]  # (item_id, P(next purchase))


class StoredTwins:
    """The artifact of one checkpoint's twins. `status` is SHOWN only when it belongs to `checkpoint`."""

    def __init__(self, checkpoint, path: Path | str | None = None):
        self.path = Path(path) if path else default_path()
        self._checkpoint = checkpoint
        self._lock = threading.Lock()
        self._loaded = False
        self.status, self.note, self.meta = MISSING, "", {}
        self._arrays: dict[str, np.ndarray] = {}

    # --- loading -------------------------------------------------------------------------------------
    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            self.status, self.note = self._read()
            self._loaded = True
            if self.status != SHOWN:
                self._arrays = {}
                logger.info("single-task twins: %s (%s)", self.status, self.note)

    def _read(self) -> tuple[str, str]:
        if not self.path.exists():
            return MISSING, (
                f"The single-task twins' predictions are not shipped ({self.path.name} is absent); {EXPORT} "
                "writes them once `python -m guide evaluate --twins ...` has trained the twins."
            )
        try:
            with np.load(self.path, allow_pickle=False) as stored:
                self._arrays = {name: stored[name] for name in stored.files}
            self.meta = json.loads(str(self._arrays.pop("meta")))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            return (
                UNREADABLE,
                f"The twins' predictions in {self.path.name} cannot be read ({error}); run {EXPORT} again.",
            )
        reason = self._stale_reason()
        if reason:
            return (
                STALE,
                f"The twins' predictions were exported for {reason}, so they are not shown; run {EXPORT} again.",
            )
        self._index()
        return SHOWN, ""

    def _stale_reason(self) -> str:
        checkpoint, meta = self._checkpoint, self.meta
        if meta.get("format") != FORMAT:
            return f"artifact format {meta.get('format')} (this code reads {FORMAT})"
        shipped = meta.get("shipped", {})
        if shipped.get("fingerprint") != checkpoint.fingerprint:
            return f"other data (fingerprint {shipped.get('fingerprint')}, the model's {checkpoint.fingerprint})"
        if shipped.get("config_hash") != config_key(checkpoint.config):
            return f"another model (config {shipped.get('config_hash')}, this one {config_key(checkpoint.config)})"
        expected = twin_hashes(checkpoint)
        for task, twin in meta.get("twins", {}).items():
            if twin.get("config_hash") != expected.get(task):
                got, wanted = twin.get("config_hash"), expected.get(task)
                return f"a {task} twin trained another way (config {got}, expected {wanted})"
        return ""

    def _index(self) -> None:
        arrays = self._arrays
        self._items = {item.decode(): row for row, item in enumerate(arrays["item_id"])}
        self._shoppers = {user.decode(): row for row, user in enumerate(arrays["shopper_id"])}
        reviews = arrays.get(f"{SENTIMENT}.review_id")
        self._reviews = {} if reviews is None else {r.decode(): row for row, r in enumerate(reviews)}

    def ready(self) -> bool:
        self._load()
        return self.status == SHOWN

    def has(self, task: str) -> bool:
        return self.ready() and task in self.meta.get("twins", {})

    # --- answers -------------------------------------------------------------------------------------
    def tags(self, item_id: str) -> TwinTags | None:
        if not self.has(ATTRIBUTES) or item_id not in self._items:
            return None
        row, twin, a = self._items[item_id], self.meta["twins"][ATTRIBUTES], self._arrays
        names, categories = twin["tags"], twin["categories"]
        tags = {
            names[j]: (float(p), bool(over))
            for j, p, over in zip(
                a["attributes.tag_index"][row],
                a["attributes.tag_prob"][row],
                a["attributes.tag_over"][row],
                strict=True,
            )
        }
        first = int(a["attributes.category_index"][row][0])
        return TwinTags(tags, categories[first], float(a["attributes.category_prob"][row][0]))

    def sentiment(self, review_id: str) -> tuple[str, dict[str, float]] | None:
        if not self.has(SENTIMENT) or review_id not in self._reviews:
            return None
        row, labels = self._reviews[review_id], self.meta["sentiment_labels"]
        probs = self._arrays["sentiment.review_probs"][row]
        label = labels[int(self._arrays["sentiment.review_label"][row])]
        return label, {name: float(p) for name, p in zip(labels, probs, strict=True)}

    def shopper(self, user_id: str) -> TwinShopperAnswer | None:
        """The profile and purchase twins after this shopper's shipped history."""
        if not (self.has(PROFILE) and self.has(PURCHASE)) or user_id not in self._shoppers:
            return None
        row, a = self._shoppers[user_id], self._arrays
        profile = self.meta["twins"][PROFILE]
        names = profile.get("interest_categories", profile["categories"])  # older artifacts: the categories
        categories = {
            names[j]: float(p)
            for j, p in zip(a["profile.interest_index"][row], a["profile.interest_prob"][row], strict=True)
        }
        stored_items = a["item_id"]
        picks = [
            (stored_items[j].decode(), float(p))
            for j, p in zip(a["purchase.product_index"][row], a["purchase.product_prob"][row], strict=True)
        ]
        return TwinShopperAnswer(categories, picks)

    def fresh_review_note(self) -> str:
        """Why the sentiment twin gives no verdict on a review just written (it is not run live)."""
        self._load()
        pruning = (self.meta.get("twins", {}).get(SENTIMENT) or {}).get("pruning") if self.status == SHOWN else None
        if not pruning:
            return "The sentiment twin is not shipped to run live, so it has no verdict on a new review."
        limits = self.meta.get("limits", {})
        smallest = min(pruning["variants"].items(), key=lambda kv: kv[1]["bytes"])
        close = [r for r in pruning["variants"].values() if r["max_change"] <= limits.get("tolerance", 0)]
        closest = min(r["bytes"] for r in close) if close else None
        within = ""
        if closest:
            within = f", the smallest within {limits.get('tolerance', 0):g} of its answers {closest / 1e6:.1f} MB"
        return (
            f"The sentiment twin does not run here, so it has no verdict on a new review: its smallest pruned form "
            f"({smallest[0]}) is {smallest[1]['bytes'] / 1e6:.1f} MB{within} (a shipped twin must fit "
            f"{limits.get('ship_bytes', 0) / 1e6:.0f} MB). Its stored answers for the shop's own reviews are on "
            "the product page."
        )


# --- the view the product page shows -----------------------------------------------------------------------
def build_twin_view(
    twins: StoredTwins,
    catalogue,
    predictions,
    item_id: str,
    persona: Persona,
    reviews: Callable[[], list[ReviewView]],
    actions_here: Callable[[], int],
) -> TwinView:
    """What the attributes, sentiment, profile and purchase twins said about this product, its shipped reviews
    (`reviews`: the product page's) and this `persona`'s shipped history, beside the shared model (`catalogue`:
    the shop's `Catalogue`, `predictions`: its `PredictionCache`; `actions_here`: the shopper's own step count)."""
    row = catalogue.check_item(item_id)
    if not twins.ready():
        return TwinView(twins.status, twins.note)
    view = TwinView(SHOWN, f"Exported {str(twins.meta.get('created', ''))[:10]}.")
    attributes, twin = catalogue.attributes[row], twins.tags(item_id)
    if twin is not None:
        shown = list(dict.fromkeys([*attributes.predicted, *(t for t, (_, over) in twin.tags.items() if over)]))
        view.tags = [
            TwinTag(t, attributes.tags[t], t in attributes.predicted, *twin.tags.get(t, (None, False))) for t in shown
        ]
        view.model_category, view.twin_category = attributes.category, twin.category
        view.twin_category_prob = twin.category_prob
    for review in reviews():
        answer = twins.sentiment(review.review_id) if review.review_id else None
        if answer is None:
            continue
        view.reviews += 1
        if answer[0] == review.sentiment_label:
            view.agreeing += 1
        else:
            view.disagreements.append(
                TwinReview(review.title, review.text, review.stars, review.sentiment_label, *answer)
            )
    view.shopper, view.shopper_note = _shopper(twins, catalogue, predictions, persona, actions_here)
    return view


def _shopper(twins, catalogue, predictions, persona: Persona, actions_here) -> tuple[TwinShopper | None, str]:
    """The profile and purchase twins after the persona's shipped history, beside the shared model's answer
    for the same history (this visitor's own actions are in neither)."""
    if not persona.history:
        return None, "A new shopper has no shipped history, so the profile and purchase twins were not asked."
    answer = twins.shopper(persona.persona_id)
    if answer is None:
        return None, "The profile and purchase twins' answers for this shopper are not in the shipped file."
    history, ratings = list(persona.history), list(persona.ratings)
    profile, titles = predictions.profile(history, ratings), catalogue.items["title"]
    model = dict(list(profile.categories.items())[: len(answer.categories)])
    picks = [(i, titles.iat[catalogue.row_of[i]], p) for i, p in answer.picks if i in catalogue.row_of]
    model_picks = catalogue.top(predictions.scores(history, ratings), len(answer.picks))
    return TwinShopper(model, answer.categories, model_picks, picks, actions_here()), ""
