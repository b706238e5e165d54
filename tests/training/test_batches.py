"""guide.training.batches: TaskSampler draws on a tiny synthetic TaskData (targets line up with the rows
drawn, Amazon keeps its share of the sentiment batch, gram dropout thins bags but never empties one)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from guide.config import ATTRIBUTES, SENTIMENT
from guide.training.batches import AMAZON_SHARE, TaskSampler
from tests.synthetic_tasks import bags_of, synthetic_task_data


def _sampler(data, batch_size: int = 32, seed: int = 0, drop: float = 0.0) -> TaskSampler:
    return TaskSampler(data, batch_size, 8, np.random.default_rng(seed), "cpu", drop)


def _review_ids(batch: dict) -> np.ndarray:
    return batch["reviews"]["emb"][:, 0].numpy().round().astype(np.int64)  # synthetic rows carry their id there


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_attribute_draw_targets_belong_to_the_products_drawn(seed):
    data = synthetic_task_data(seed=seed)
    batch, targets = _sampler(data, seed=seed).draw(ATTRIBUTES)
    block = batch["items"]
    rows = block["rows"].numpy()[batch["attr_index"].numpy()]  # catalogue row of each target row
    assert len(rows) == 32 and set(rows) <= set(data.split_rows("train"))
    assert len(np.unique(block["rows"].numpy())) == len(block["rows"])  # each product encoded once
    np.testing.assert_array_equal(targets["tags"].numpy(), data.tag_targets[rows])
    np.testing.assert_array_equal(targets["tag_mask"].numpy(), data.tag_mask[rows])
    np.testing.assert_array_equal(targets["category"].numpy(), data.cat_targets[rows])
    np.testing.assert_array_equal(block["emb"].numpy(), data.item_emb[block["rows"].numpy()])
    np.testing.assert_array_equal(block["feats"].numpy(), data.item_feats[block["rows"].numpy()])
    for row, bag in zip(block["rows"].numpy(), bags_of(block)):
        np.testing.assert_array_equal(bag, data.item_ngrams[row])  # no dropout asked: whole bags


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sentiment_draw_labels_belong_to_the_reviews_drawn(seed):
    data = synthetic_task_data(seed=seed)
    batch, targets = _sampler(data, seed=seed).draw(SENTIMENT)
    ids = _review_ids(batch)
    assert set(ids) <= set(data.review_rows("train"))  # never a validation or test review
    np.testing.assert_array_equal(targets["labels"].numpy(), data.review_labels[ids])
    assert targets["labels"].dtype == torch.int64
    for row, bag in zip(ids, bags_of(batch["reviews"])):
        np.testing.assert_array_equal(bag, data.review_ngrams[row])


AMAZON_SMALL = pytest.param(10, 190, id="amazon-5%")  # was diluted to 11 of 64 before the fix


@pytest.mark.parametrize("amazon, other", [AMAZON_SMALL, pytest.param(100, 100, id="amazon-50%")])
def test_sentiment_draw_keeps_at_least_the_amazon_share(amazon, other):
    data = synthetic_task_data(amazon_reviews=amazon, other_reviews=other)
    sampler = _sampler(data, batch_size=64)
    for _ in range(5):
        batch, _ = sampler.draw(SENTIMENT)
        sources = data.review_source[_review_ids(batch)]
        assert set(sources) == {"amazon", "clothing"}
        assert np.mean(sources == "amazon") >= AMAZON_SHARE


@pytest.mark.parametrize("amazon, other, only", [(0, 50, "clothing"), (50, 0, "amazon")])
def test_sentiment_draw_with_one_source_draws_only_it(amazon, other, only):
    data = synthetic_task_data(amazon_reviews=amazon, other_reviews=other)
    batch, targets = _sampler(data).draw(SENTIMENT)
    ids = _review_ids(batch)
    assert len(ids) == 32 and set(data.review_source[ids]) == {only}
    np.testing.assert_array_equal(targets["labels"].numpy(), data.review_labels[ids])


@pytest.mark.parametrize("task", [ATTRIBUTES, SENTIMENT])
def test_gram_dropout_removes_grams_but_never_empties_a_bag(task):
    data = synthetic_task_data(amazon_reviews=40, other_reviews=160)
    sampler = _sampler(data, batch_size=64, drop=0.9)
    kept = total = 0
    for _ in range(5):
        batch, _ = sampler.draw(task)
        if task == ATTRIBUTES:
            block, originals = batch["items"], [data.item_ngrams[r] for r in batch["items"]["rows"].numpy()]
        else:
            block, originals = batch["reviews"], [data.review_ngrams[r] for r in _review_ids(batch)]
        for bag, original in zip(bags_of(block), originals, strict=True):
            assert len(bag) >= 1  # an empty bag would make the text's lexical vector zero
            assert set(bag) <= set(original)  # only removes, never adds
            if len(original) == 1:
                np.testing.assert_array_equal(bag, original)  # a one-gram text keeps its gram
            kept, total = kept + len(bag), total + len(original)
    assert kept < 0.5 * total  # 90% asked: most grams are gone


def test_attribute_draw_shows_products_in_their_free_text_formats():
    data = synthetic_task_data(seed=3)
    train = data.split_rows("train")
    with_variants = np.sort(train[::2])  # half the training products have free-text variants
    data.format_rows = with_variants
    data.format_emb = np.stack([np.full((len(with_variants), 384), 10.0 * (f + 1), np.float32) for f in range(3)])
    data.format_ngrams = [[np.array([f + 1]) for _ in with_variants] for f in range(3)]
    sampler = TaskSampler(data, 64, 8, np.random.default_rng(0), "cpu", 0.0, format_share=1.0)
    batch, targets = sampler.draw(ATTRIBUTES)
    block = batch["items"]
    assert "rows" not in block and batch["attr_index"].tolist() == list(range(64))  # one text per draw
    emb, feats = block["emb"].numpy(), block["feats"].numpy()
    free = np.isin(emb[:, 0], [10.0, 20.0, 30.0])
    assert free.any() and (~free).any()
    np.testing.assert_array_equal(feats[free], 0.0)  # free text: no price, rating or popularity
    bags = bags_of(block)
    for i in np.flatnonzero(free):
        assert bags[i].tolist() == [int(emb[i, 0] // 10)]  # the format's own n-grams
    # every catalogue-format row is a product without variants, and the targets are the drawn product's
    rows = [int(np.flatnonzero((data.item_emb == e).all(1))[0]) for e in emb[~free]]
    assert not set(rows) & set(with_variants.tolist())
    np.testing.assert_array_equal(targets["tags"].numpy()[~free], data.tag_targets[rows])


def test_attribute_draw_without_format_share_is_the_catalogue_draw():
    data = synthetic_task_data(seed=4)
    data.format_rows = data.split_rows("train")
    data.format_emb = np.zeros((3, len(data.format_rows), 384), np.float32)
    data.format_ngrams = [[np.array([1]) for _ in data.format_rows] for _ in range(3)]
    batch, _ = TaskSampler(data, 32, 8, np.random.default_rng(0), "cpu", 0.0, format_share=0.0).draw(ATTRIBUTES)
    assert "rows" in batch["items"]  # unique catalogue rows, features and all


def _with_short_texts(data, every: int = 2):
    """Give every `every`-th training review two short texts whose embedding holds -(review row + 1) and whose
    n-gram bag is [7, row], so a batch says which review each short text came from."""
    from guide.data.short_texts import ShortTexts

    rows = np.repeat(data.review_rows("train")[::every], 2)
    emb = np.zeros((len(rows), 384), np.float32)
    emb[:, 0] = -(rows + 1.0)
    data.short_texts = ShortTexts(
        review_row=rows, emb=emb, ngrams=[np.array([7, r]) for r in rows],
        lexicon=np.full((len(rows), 4), -1.0, np.float32), texts=[f"short {r}" for r in rows],
    )  # fmt: skip
    return set(rows.tolist())


def test_sentiment_draw_shows_short_texts_with_the_label_of_their_review():
    data = synthetic_task_data(seed=5, amazon_reviews=40, other_reviews=160)
    with_short = _with_short_texts(data)
    sampler = TaskSampler(data, 64, 8, np.random.default_rng(0), "cpu", 0.0, sentence_share=1.0)
    shown = 0
    for _ in range(3):
        batch, targets = sampler.draw(SENTIMENT)
        block, labels = batch["reviews"], targets["labels"].numpy()
        first, lexicon, bags = block["emb"][:, 0].numpy(), block["lexicon"].numpy(), bags_of(block)
        short = first < 0
        rows = np.where(short, -first - 1, first).astype(int)
        assert set(rows[short].tolist()) <= with_short and not set(rows[~short].tolist()) & with_short
        np.testing.assert_array_equal(labels, data.review_labels[rows])  # a short text keeps its review's label
        np.testing.assert_array_equal(lexicon[short], -1.0)  # and has lexicon features of its own
        for i in np.flatnonzero(short):
            assert bags[i].tolist() == [7, rows[i]]
        for i in np.flatnonzero(~short):
            np.testing.assert_array_equal(lexicon[i], data.review_lexicon[rows[i]])
        shown += short.sum()
    assert shown > 0
    assert set(data.review_split[rows]) == {"train"}


def test_sentiment_draw_without_sentence_share_shows_whole_reviews():
    data = synthetic_task_data(seed=6)
    _with_short_texts(data, every=1)
    batch, _ = TaskSampler(data, 64, 8, np.random.default_rng(0), "cpu", 0.0, sentence_share=0.0).draw(SENTIMENT)
    assert (batch["reviews"]["emb"][:, 0].numpy() >= 0).all()


def test_sentiment_balance_adds_the_log_prior_of_the_training_labels():
    data = synthetic_task_data(seed=3)
    _, plain = _sampler(data).draw(SENTIMENT)
    assert "adjust" not in plain  # off by default: plain cross-entropy
    sampler = TaskSampler(data, 32, 8, np.random.default_rng(0), "cpu", 0.0, sentiment_balance=1.0)
    _, targets = sampler.draw(SENTIMENT)
    train = data.review_labels[data.review_split == "train"]
    counts = np.bincount(train, minlength=3) + 1.0
    np.testing.assert_allclose(targets["adjust"].numpy(), np.log(counts / counts.sum()), rtol=1e-5)
