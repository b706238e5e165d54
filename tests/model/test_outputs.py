"""guide.model.outputs: batched outputs do not depend on how they are chunked or how candidates are given."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from guide.model import outputs
from guide.model.outputs import encode_catalog, eval_candidates, item_representations, purchase_scores

pytest.register_assert_rewrite("tests.core_fixtures")  # also a plugin: rewrite before importing it

from tests.core_fixtures import synthetic_model  # noqa: E402
from tests.synthetic_tasks import synthetic_task_data  # noqa: E402

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")

ITEMS = 40


@pytest.fixture(scope="module")
def data():
    return synthetic_task_data(items=ITEMS, shoppers=30)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return synthetic_model("mmoe", num_items=ITEMS, dropout=0.3, sequence_dropout=0.3).train()


def test_encode_catalog_in_chunks_equals_one_pass(model, data, monkeypatch):
    whole = encode_catalog(model, data.item_emb, data.item_ngrams, data.item_feats, "cpu")
    assert not model.training  # dropout is off for the outputs (the fixture left it in training mode)
    monkeypatch.setattr(outputs, "CHUNK", 7)  # 40 products: 5 full chunks and one of 5
    chunked = encode_catalog(model, data.item_emb, data.item_ngrams, data.item_feats, "cpu")
    assert set(chunked) == set(whole) and whole
    for task, reps in whole.items():
        assert reps.shape[0] == ITEMS, task
        torch.testing.assert_close(chunked[task], reps, rtol=1e-5, atol=1e-6, msg=task)
    monkeypatch.setattr(outputs, "CHUNK", 1)
    single = encode_catalog(model, data.item_emb, data.item_ngrams, data.item_feats, "cpu")
    for task, reps in whole.items():
        torch.testing.assert_close(single[task], reps, rtol=1e-5, atol=1e-6, msg=task)


def test_item_representations_encode_the_task_data_catalogue(model, data):
    direct = encode_catalog(model, data.item_emb, data.item_ngrams, data.item_feats, "cpu")
    via_data = item_representations(model, data, "cpu")
    for task in direct:
        torch.testing.assert_close(via_data[task], direct[task])


def test_shared_candidates_score_like_the_same_candidates_tiled_per_shopper(model, data, monkeypatch):
    split = data.purchase["valid"]
    shared = np.array([3, 0, 17, 39, 8, 8, 21], np.int64)  # a repeat scores twice, at both positions
    n = len(split.target)
    tiled = np.tile(shared, (n, 1))
    reps = item_representations(model, data, "cpu")
    one_set = purchase_scores(model, data, split, "cpu", shared, reps)
    per_shopper = purchase_scores(model, data, split, "cpu", tiled, reps)
    assert one_set.shape == per_shopper.shape == (n, len(shared))
    np.testing.assert_allclose(one_set, per_shopper, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(one_set[:, 4], one_set[:, 5], rtol=0, atol=1e-6)
    assert np.ptp(one_set, axis=0).max() > 0  # shoppers differ: the comparison is not of constants
    monkeypatch.setattr(outputs, "CHUNK", 8)  # shoppers go 2 at a time: the same scores
    np.testing.assert_allclose(purchase_scores(model, data, split, "cpu", shared, reps), one_set, rtol=1e-5, atol=1e-5)
    without_reps = purchase_scores(model, data, split, "cpu", shared)  # encodes the catalogue itself
    np.testing.assert_allclose(without_reps, one_set, rtol=1e-5, atol=1e-5)


def test_per_shopper_candidates_score_each_shoppers_own_rows(model, data):
    split = data.purchase["valid"]
    candidates = eval_candidates(split)  # (n, 1 + negatives): the target first
    assert candidates.shape == (len(split.target), 1 + split.negatives.shape[1])
    reps = item_representations(model, data, "cpu")
    scores = purchase_scores(model, data, split, "cpu", candidates, reps)
    full = purchase_scores(model, data, split, "cpu", np.arange(ITEMS), reps)  # every product for everyone
    np.testing.assert_allclose(scores, np.take_along_axis(full, candidates, axis=1), rtol=1e-5, atol=1e-5)
