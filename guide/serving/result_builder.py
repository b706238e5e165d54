"""The model's read outputs as the plain results `Guide` returns (`guide/serving/results.py`): a review's
sentiment with the class offsets fitted on validation, a product's tags over their tuned thresholds and its
likeliest categories, a shopper's interest profile and its parts. Vocabularies and calibration come from the
checkpoint; nothing here runs the model (`guide/serving/model_pass.py` does)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from guide.config import PROFILE, SENTIMENT_LABELS
from guide.data.interests import BRAND_PREFIX
from guide.data.text import MAX_CHARS
from guide.model.checkpoint import Checkpoint
from guide.model.tasks import task_spec
from guide.serving.results import Attributes, Profile, Sentiment


class ResultBuilder:
    """Builds `Sentiment`, `Attributes` and `Profile` from one checkpoint's outputs."""

    def __init__(self, checkpoint: Checkpoint):
        self.config = checkpoint.model.config
        self.tags, self.categories = checkpoint.tags, checkpoint.categories
        self.interests = checkpoint.interest_names
        # the parts a profile is shown in, each renormalised: categories (the path's second level), brands, tags
        self.interest_parts = {
            part: checkpoint.interest_columns(kind)
            for part, kind in (("categories", "path2"), ("brands", "brand"), ("tags", "tag"))
        }
        calibration = checkpoint.calibration
        self.tag_thresholds = np.array(calibration.get("tag_thresholds", [0.5] * len(self.tags)))
        self.sentiment_bias = np.array(calibration.get("sentiment_bias", [0.0, 0.0, 0.0]))

    def sentiments(self, logits: torch.Tensor, texts: list[str]) -> list[Sentiment]:
        """One `Sentiment` per text from its logits (n, 3); the label reads the fitted class offsets."""
        log_probs = torch.log_softmax(logits, -1).cpu().numpy()
        probs = np.exp(log_probs)
        labels = (log_probs + self.sentiment_bias).argmax(1)
        return [
            Sentiment(
                SENTIMENT_LABELS[k], float(p[2] - p[0]), dict(zip(SENTIMENT_LABELS, map(float, p))), len(t) > MAX_CHARS
            )
            for k, p, t in zip(labels, probs, texts)
        ]

    def attributes(self, tag_probs: np.ndarray, cat_probs: np.ndarray) -> Attributes:
        """One product's `Attributes` from its tag and category probabilities."""
        order = np.argsort(-tag_probs)
        predicted = [self.tags[j] for j in order if tag_probs[j] >= self.tag_thresholds[j]]
        top = np.argsort(-cat_probs)[:5]
        return Attributes(
            {t: float(p) for t, p in zip(self.tags, tag_probs)},
            predicted,
            self.categories[top[0]],
            {self.categories[j]: float(cat_probs[j]) for j in top},
        )

    def profile(self, logits: torch.Tensor) -> Profile:
        """A shopper's `Profile` from their row of the profile head's logits."""
        probs = task_spec(PROFILE).read(logits, self.config)[0].cpu().numpy()
        interests = dict(sorted(zip(self.interests, map(float, probs)), key=lambda kv: -kv[1]))
        parts = {}
        for part, columns in self.interest_parts.items():
            share = probs[columns] / max(float(probs[columns].sum()), 1e-12)
            names = [self.interests[j].removeprefix(BRAND_PREFIX) for j in columns]
            parts[part] = dict(sorted(zip(names, map(float, share)), key=lambda kv: -kv[1]))
        return Profile(interests, **parts)

    def predicted_tags(self, tag_probs: np.ndarray, limit: int) -> list[list[str]]:
        """Per row of `tag_probs` (n, tags), the tags over their thresholds, most confident first, at most `limit`."""
        order = np.argsort(-tag_probs, axis=1)
        over = np.take_along_axis(tag_probs >= self.tag_thresholds, order, axis=1)
        return [[self.tags[j] for j in row[keep][:limit]] for row, keep in zip(order, over, strict=True)]


class RowAttributes:
    """A read-only sequence of catalogue rows' `Attributes`, computed on access."""

    def __init__(self, builder: ResultBuilder, item_tags: np.ndarray, item_cats: np.ndarray):
        self._builder, self._item_tags, self._item_cats = builder, item_tags, item_cats

    def __len__(self) -> int:
        return len(self._item_tags)

    def __getitem__(self, row: int) -> Attributes:
        return self._builder.attributes(self._item_tags[row], self._item_cats[row])


def with_categories(items: pd.DataFrame, model_category: list[str]) -> pd.DataFrame:
    """A copy of `items` with the model's category and the one shown: the catalogue's own (Sephora's, or the
    first two levels of an Amazon category path), else the model's."""
    path = pd.Series([" › ".join(p[:2]) if len(p) else None for p in items["category_path"]], index=items.index)
    own = items["category"].where(items["category"].notna(), path)
    model = pd.Series(model_category, index=items.index)
    return items.assign(model_category=model, display_category=own.where(own.notna(), model))
