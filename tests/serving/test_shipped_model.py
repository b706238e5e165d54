"""The shipped checkpoint on reviews it never saw in training: its sentiment score tracks the stars.

Uses the real `assets/model` (through `shipped_guide`) and the test split of both review sources;
the review embeddings come from the shipped cache, so this runs in seconds."""

from __future__ import annotations

import numpy as np
import pytest

from guide.metrics import spearman


@pytest.mark.parametrize("source", ["amazon", "clothing"])
def test_sentiment_score_tracks_human_ratings_on_unseen_reviews(shipped_guide, source):
    reviews = shipped_guide.reviews
    held_out = reviews[(reviews["source"] == source) & (reviews["split"] == "test")]
    held_out = held_out.sample(n=min(250, len(held_out)), random_state=0)
    results = shipped_guide.sentiment(held_out["full_text"].tolist())
    scores = np.array([r.score for r in results])
    stars = held_out["rating"].to_numpy(dtype=float)
    assert spearman(scores, stars) > 0.4
    assert scores[stars <= 2].mean() < scores[stars == 3].mean() < scores[stars >= 4].mean()
    labels = np.array([r.label for r in results])
    assert (labels[stars >= 4] == "positive").mean() > 0.8
