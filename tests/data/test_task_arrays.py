"""guide.data.task_data: the arrays per task and split built from the catalogue (shapes, the brand-disjoint attribute
split, the supervised tags) and the purchase task's leave-one-out protocol on the benchmark."""

from __future__ import annotations

import numpy as np
import pytest

from guide.config import DataConfig

pytest_plugins = ["tests.core_fixtures"]

BENCHMARK_SHOPPERS = 22363  # the published benchmark's shoppers (tests/data/test_catalog.py counts them in full)


# --- task data ---------------------------------------------------------------------------------------
def test_attribute_split_is_brand_disjoint(small_catalog, task_data):
    brands = small_catalog.items["brand"].str.lower().to_numpy()
    by_split = {s: set(brands[task_data.attr_split == s]) for s in ("train", "valid", "test")}
    assert by_split["valid"] and by_split["test"]
    assert not by_split["train"] & by_split["test"]
    assert not by_split["train"] & by_split["valid"]
    assert not by_split["valid"] & by_split["test"]


def test_task_data_shapes_agree_with_the_catalogue(small_catalog, task_data):
    n, r = len(small_catalog.items), len(small_catalog.reviews)
    t, c = len(small_catalog.tags), len(small_catalog.categories)
    assert task_data.item_emb.shape == (n, 384) and task_data.item_feats.shape == (n, 3)
    assert len(task_data.item_ngrams) == n and len(task_data.review_ngrams) == r
    assert task_data.review_emb.shape == (r, 384) and task_data.review_labels.shape == (r,)
    assert task_data.tag_targets.shape == task_data.tag_mask.shape == (n, t)
    assert task_data.cat_targets.shape == (n,) and task_data.cat_targets.max() < c
    k = len(task_data.interests)
    assert task_data.item_interest.shape == (n, k) and task_data.interest_kinds.shape == (k,)
    assert task_data.interests[-t:] == task_data.tags  # the tags close the interest vocabulary
    assert set(task_data.interest_kinds) == {"path1", "path2", "path3", "brand", "tag"}
    np.testing.assert_allclose(task_data.item_interest.sum(1), 1.0, atol=1e-5)
    assert task_data.review_lexicon.shape == (r, 4)
    m = len(task_data.format_rows)
    assert m and task_data.format_emb.shape == (3, m, 384) and [len(g) for g in task_data.format_ngrams] == [m] * 3
    assert set(task_data.attr_split[task_data.format_rows]) == {"train"}  # held-out products never get variants
    shoppers = BENCHMARK_SHOPPERS
    assert {k: len(v.target) for k, v in task_data.purchase.items()} == {"train": shoppers, "valid": shoppers,
                                                                          "test": shoppers}  # fmt: skip
    assert all(len(v.users) == len(v.history) == len(v.seen) == shoppers for v in task_data.purchase.values())
    assert task_data.purchase["train"].users == task_data.purchase["valid"].users == task_data.purchase["test"].users
    assert len(task_data.purchase["train"].sequences) == shoppers
    assert task_data.purchase["train"].negatives is None
    for split in ("valid", "test"):
        assert task_data.purchase[split].negatives.shape == (shoppers, DataConfig().eval_negatives)
        assert task_data.purchase[split].sequences is None
    sources = small_catalog.items["source"].to_numpy()
    assert len(task_data.amazon_rows) == 12101 and (sources[task_data.amazon_rows] == "beauty2014").all()
    assert set(task_data.amazon_rows) == set(np.flatnonzero(sources == "beauty2014"))


def test_attribute_targets_supervise_only_known_tags(small_catalog, task_data):
    sources = small_catalog.items["source"].to_numpy()
    sephora_rows = sources == "sephora"
    assert (task_data.tag_mask[sephora_rows] == 1).all() and (task_data.cat_targets[sephora_rows] >= 0).all()
    assert (task_data.cat_targets[~sephora_rows] == -1).all()
    assert (task_data.tag_targets <= task_data.tag_mask).all()  # no positive label outside the mask
    assert (task_data.attr_split[(sources == "amazon") & (task_data.tag_mask.sum(1) == 0)] == "none").all()


# --- the purchase task on the benchmark ---------------------------------------------------------------
@pytest.fixture(scope="module")
def benchmark_sequences(small_catalog) -> dict[str, np.ndarray]:
    """Each benchmark shopper's purchases as catalogue rows, oldest first, read straight from the catalogue."""
    inter = small_catalog.interactions
    inter = inter[inter["source"] == "beauty2014"].sort_values(["user_id", "timestamp"], kind="stable")
    return {user: small_catalog.rows(list(items)) for user, items in inter.groupby("user_id")["item_id"]}


def test_purchase_splits_are_leave_one_out_per_shopper(task_data, benchmark_sequences):
    train, valid, test = (task_data.purchase[s] for s in ("train", "valid", "test"))
    assert set(train.users) == set(benchmark_sequences)
    for i, user in enumerate(train.users):
        sequence = benchmark_sequences[user]
        np.testing.assert_array_equal(train.sequences[i], sequence[:-2])
        assert (train.target[i], valid.target[i], test.target[i]) == tuple(sequence[-3:])
        np.testing.assert_array_equal(train.seen[i], sequence[:-3])
        np.testing.assert_array_equal(valid.seen[i], sequence[:-2])
        np.testing.assert_array_equal(test.seen[i], sequence[:-1])


def test_nothing_in_validation_or_test_is_ever_trained_on(task_data):
    """Per shopper: the validation and test targets never appear in what training reads (the train sequences,
    the train history and target) and never in the validation history; the test history holds the
    validation product (as the protocol allows: it is no training target) but never the test target."""
    train, valid, test = (task_data.purchase[s] for s in ("train", "valid", "test"))
    for i in range(len(train.users)):
        held_out = {int(valid.target[i]), int(test.target[i])}
        trained = set(train.sequences[i].tolist())
        assert not held_out & trained, train.users[i]
        assert set(train.history[i].tolist()) | {int(train.target[i])} <= trained
        assert not held_out & set(valid.history[i].tolist()) and not held_out & set(valid.seen[i].tolist())
        assert valid.target[i] in test.history[i] and test.target[i] not in test.history[i]
        assert test.target[i] not in test.seen[i]


def test_purchase_draws_read_only_the_train_sequences(task_data):
    """What TaskSampler._purchase can draw (inputs and next products) comes from the picked shoppers' train
    sequences only, so it never holds their validation or test product."""
    from guide.training.batches import TaskSampler

    train, valid, test = (task_data.purchase[s] for s in ("train", "valid", "test"))
    seed, users, length = 5, 64, 50
    sampler = TaskSampler(task_data, 16, 256, np.random.default_rng(seed), "cpu", purchase_users=users,
                          max_length=length)  # fmt: skip
    for _ in range(3):
        replay = np.random.default_rng()
        replay.bit_generator.state = sampler.rng.bit_generator.state
        picks = replay.choice(len(train.sequences), users)  # the draw's first use of the sampler's generator
        batch, targets = sampler.draw("purchase")
        rows = batch["items"]["rows"].numpy()
        history, mask = rows[batch["history"].numpy()], batch["history_mask"].numpy()
        nexts = np.split(rows[batch["candidates"].numpy()][targets["next"].numpy()], np.cumsum(mask.sum(1))[:-1])
        for j, i in enumerate(picks):
            window = train.sequences[i][-(length + 1) :]
            np.testing.assert_array_equal(history[j][mask[j]], window[:-1])
            np.testing.assert_array_equal(nexts[j], window[1:])
            drawn = set(history[j][mask[j]].tolist()) | set(nexts[j].tolist())
            assert valid.target[i] not in drawn and test.target[i] not in drawn


def test_purchase_eval_negatives_are_unseen_unique_benchmark_products(task_data, benchmark_sequences):
    pool = set(task_data.amazon_rows.tolist())
    for split in ("valid", "test"):
        part = task_data.purchase[split]
        for user, target, negatives in zip(part.users, part.target, part.negatives, strict=True):
            own = set(benchmark_sequences[user].tolist())  # everything the shopper ever bought, test item included
            assert target in own
            assert len(set(negatives.tolist())) == len(negatives), (split, user)
            assert not own & set(negatives.tolist()), (split, user)
            assert set(negatives.tolist()) <= pool
    # drawn apart for the two splits
    assert not np.array_equal(task_data.purchase["valid"].negatives, task_data.purchase["test"].negatives)


def _unseen_as_first_written(rng, pool, seen, count):
    """The negatives' draw as the shipped model's data was built (a list scan per draw): the oracle."""
    out, seen_set = [], set(seen.tolist())
    while len(out) < count:
        out.extend(int(r) for r in rng.choice(pool, count) if int(r) not in seen_set and int(r) not in out)
    return np.array(out[:count], np.int64)


@pytest.mark.parametrize("seed", range(20))
def test_faster_negative_draws_give_the_same_products_in_the_same_order(seed):
    """`_unseen` keeps a set of what it took instead of scanning a list: the benchmark's 1 + 99 negatives (and the
    validation scores that pick a best step) must not change with it."""
    from guide.data.task_data import _unseen

    setup = np.random.default_rng(seed)
    pool = np.unique(setup.integers(0, 200 + 40 * seed, 150 + 30 * seed))
    seen = setup.choice(pool, 10 + seed, replace=False)
    count = min(99, len(pool) - len(seen) - 1)
    new, old = np.random.default_rng(seed), np.random.default_rng(seed)
    for _ in range(3):  # one generator across shoppers, as in the build
        np.testing.assert_array_equal(_unseen(new, pool, seen, count), _unseen_as_first_written(old, pool, seen, count))


def test_purchase_history_is_the_most_recent_items_in_order(task_data, benchmark_sequences):
    limit = DataConfig().max_history
    cut = {"train": 3, "valid": 2, "test": 1}
    capped = 0
    for split, part in task_data.purchase.items():
        for user, history, ratings in zip(part.users, part.history, part.ratings, strict=True):
            before = benchmark_sequences[user][: -cut[split]]
            np.testing.assert_array_equal(history, before[-limit:])
            assert len(ratings) == len(history) and not ratings.any()  # the benchmark has no stars
            capped += len(before) > limit
    assert capped > 0  # the real data exercise the cap
    assert max(len(h) for h in task_data.purchase["test"].history) == limit
