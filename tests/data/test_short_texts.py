"""The short review texts the sentiment task trains on (`guide.data.short_texts`), on the small real slice."""

from __future__ import annotations

import numpy as np

from guide.data.aspect_cues import review_sentences
from guide.data.short_texts import pick_short_texts
from guide.data.task_data import EXCLUDED, review_splits

pytest_plugins = ["tests.core_fixtures"]


def test_short_texts_come_from_training_reviews_only_and_belong_to_them(small_catalog):
    reviews = small_catalog.reviews
    split = reviews["split"].to_numpy()
    frame = pick_short_texts(reviews, split, per_source=100, seed=1)
    rows = frame["review_row"].to_numpy()
    assert len(frame) and set(split[rows]) == {"train"}  # nothing held out is ever seen
    assert (np.diff(rows) >= 0).all()  # sorted: the sampler finds a review's texts by binary search
    titles, texts = reviews["title"].to_numpy(), reviews["text"].to_numpy()
    for row, text in zip(rows, frame["text"], strict=True):
        assert text in review_sentences(titles[row], texts[row])  # its title or one sentence of its text
    per_source = reviews["source"].to_numpy()[np.unique(rows)]
    assert {s: int((per_source == s).sum()) for s in ("amazon", "clothing")} == {"amazon": 100, "clothing": 100}
    assert len(frame.groupby("review_row")) == 200 and frame.groupby("review_row").size().max() <= 2


def test_short_texts_are_seeded_and_leave_out_an_excluded_source(small_catalog):
    from guide.config import DataConfig

    reviews = small_catalog.reviews
    split = review_splits(reviews, DataConfig(sentiment_sources=("clothing",)))
    first = pick_short_texts(reviews, split, per_source=50, seed=3)
    assert first.equals(pick_short_texts(reviews, split, per_source=50, seed=3))
    assert not first.equals(pick_short_texts(reviews, split, per_source=50, seed=4))
    sources = reviews["source"].to_numpy()[first["review_row"].to_numpy()]
    assert set(sources) == {"clothing"} and EXCLUDED not in set(split[first["review_row"]])


def test_task_data_carries_the_short_texts_of_its_training_reviews(task_data, small_catalog):
    pool = task_data.short_texts
    n = len(pool.review_row)
    assert n and pool.emb.shape == (n, 384) and pool.lexicon.shape == (n, 4) and len(pool.ngrams) == n
    assert set(task_data.review_split[pool.review_row]) == {"train"}
    np.testing.assert_allclose(np.linalg.norm(pool.emb, axis=1), 1.0, atol=1e-3)  # real MiniLM vectors
    happy = [i for i, t in enumerate(pool.texts) if t.lower().startswith(("love", "great", "perfect"))]
    assert happy and (pool.lexicon[happy, 3] > 0).mean() > 0.8  # VADER compound of the short text itself
