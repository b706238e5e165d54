"""A tiny synthetic `TaskData` (no data sets, no encoder) for tests of training draws and batched outputs.

Review row r carries its own id in `review_emb[r, 0]`, so a test can tell which reviews a batch holds
(text blocks do not carry row ids); product blocks carry theirs in `rows`.
"""

from __future__ import annotations

import numpy as np

from guide.data.task_data import PurchaseSplit, TaskData

TAGS = [f"tag{i}" for i in range(5)]
CATEGORIES = [f"cat{i}" for i in range(4)]  # the sizes of tests.core_fixtures.synthetic_model
BUCKETS = 64  # synthetic_model's ngram_buckets


def _bags(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """Bags of 1..6 distinct n-gram ids (bucket 0 is padding); every sixth bag holds one gram."""
    return [np.sort(rng.choice(np.arange(1, BUCKETS), 1 + r % 6, replace=False)).astype(np.int64) for r in range(count)]


def _purchase_split(rng: np.random.Generator, items: int, shoppers: int, negatives: int) -> PurchaseSplit:
    sequences = [rng.choice(items, int(rng.integers(2, 9)), replace=False).astype(np.int64) for _ in range(shoppers)]
    history = [s[:-1] for s in sequences]
    return PurchaseSplit(
        users=[f"u{i}" for i in range(shoppers)],
        history=history,
        ratings=[rng.integers(0, 6, len(h)).astype(np.float32) for h in history],
        target=np.array([s[-1] for s in sequences], np.int64),
        negatives=rng.choice(items, (shoppers, negatives)).astype(np.int64),
        sequences=sequences,
        seen=history,
    )


def synthetic_task_data(
    items: int = 40,
    amazon_reviews: int = 10,
    other_reviews: int = 90,
    held_out_reviews: int = 20,
    shoppers: int = 30,
    seed: int = 0,
) -> TaskData:
    """`items` products; train reviews from 'amazon' and 'clothing' (either count may be 0) plus
    `held_out_reviews` valid/test reviews of both sources; `shoppers` purchase sequences per split."""
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((items, 384)).astype(np.float32)
    reviews = amazon_reviews + other_reviews + held_out_reviews
    review_emb = rng.standard_normal((reviews, 384)).astype(np.float32)
    review_emb[:, 0] = np.arange(reviews)  # the row id, readable back from a batch
    held_sources = np.array(["amazon", "clothing"])[np.arange(held_out_reviews) % 2]
    tags, categories = len(TAGS), len(CATEGORIES)
    cat_targets = rng.integers(0, categories, items).astype(np.int64)
    cat_targets[::7] = -1  # unknown category
    interest = rng.random((items, categories + tags)).astype(np.float32)
    return TaskData(
        item_emb=emb / np.linalg.norm(emb, axis=1, keepdims=True),
        item_ngrams=_bags(rng, items),
        item_feats=rng.standard_normal((items, 3)).astype(np.float32),
        review_emb=review_emb,
        review_ngrams=_bags(rng, reviews),
        review_labels=rng.integers(0, 3, reviews).astype(np.int64),
        review_split=np.array(
            ["train"] * (amazon_reviews + other_reviews) + ["valid", "test"] * (held_out_reviews // 2)
        ),
        review_source=np.concatenate([["amazon"] * amazon_reviews, ["clothing"] * other_reviews, held_sources]),
        review_stars=rng.integers(1, 6, reviews).astype(np.float32),
        review_lexicon=rng.random((reviews, 4)).astype(np.float32),
        tags=list(TAGS),
        categories=list(CATEGORIES),
        tag_targets=(rng.random((items, tags)) > 0.5).astype(np.float32),
        tag_mask=(rng.random((items, tags)) > 0.3).astype(np.float32),
        cat_targets=cat_targets,
        attr_split=np.array(["train", "train", "valid", "test", "none"])[np.arange(items) % 5],
        item_interest=interest / interest.sum(1, keepdims=True),
        amazon_rows=np.arange(items // 2),
        idf=np.ones(BUCKETS, np.float32),
        purchase={split: _purchase_split(rng, items, shoppers, 6) for split in ("train", "valid", "test")},
    )


def bags_of(block: dict) -> list[np.ndarray]:
    """The n-gram bag of each row of a text block (flat ids + offsets)."""
    ngrams, offsets = block["ngrams"].numpy(), block["offsets"].numpy()
    ends = [*offsets[1:], len(ngrams)]
    return [ngrams[start:end] for start, end in zip(offsets, ends)]
