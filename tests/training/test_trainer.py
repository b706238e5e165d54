"""guide.training.trainer and its validation: task sampling, a short real training run (loss falls, best step kept,
calibration saved), and the purchase part of the best-step score."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from guide.config import PURCHASE, SENTIMENT, TASKS
from guide.model.losses import purchase_loss
from guide.training.batches import TaskSampler
from guide.training.trainer import build_model, task_probabilities, train
from guide.training.validation import validation_score

pytest.register_assert_rewrite("tests.core_fixtures")  # also a plugin: rewrite before importing it

from tests.core_fixtures import (  # noqa: E402
    few_validation_shoppers,
    single_threaded,
    tiny_model_config,
    tiny_train_config,
)

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")

SIZES = {"purchase": 2000, "attributes": 800, "sentiment": 20000, "profile": 2000}


def test_uniform_sampling_draws_every_task_every_step():
    assert task_probabilities(SIZES, "uniform", 0.3) == {t: 1.0 for t in SIZES}


def test_proportional_sampling_follows_data_set_size():
    chance = task_probabilities(SIZES, "proportional", 0.3)
    assert chance["sentiment"] == 1.0
    for task, size in SIZES.items():
        assert chance[task] == pytest.approx(size / 20000)


def test_annealed_sampling_moves_from_proportional_to_uniform():
    start = task_probabilities(SIZES, "annealed", 0.0)
    middle = task_probabilities(SIZES, "annealed", 0.5)
    end = task_probabilities(SIZES, "annealed", 1.0)
    assert start == pytest.approx(task_probabilities(SIZES, "proportional", 0.0))
    assert end == pytest.approx({t: 1.0 for t in SIZES})
    assert start["attributes"] < middle["attributes"] < end["attributes"]
    assert middle["attributes"] == pytest.approx(math.sqrt(800 / 20000))


def test_sampling_survives_an_empty_task_and_rejects_unknown_names():
    chance = task_probabilities({"a": 0, "b": 10}, "proportional", 0.0)
    assert 0 < chance["a"] < chance["b"] == 1.0
    with pytest.raises(ValueError, match="sampling"):
        task_probabilities(SIZES, "greedy", 0.0)


def test_build_model_takes_vocabularies_from_the_data_without_touching_the_config(task_data):
    config = tiny_train_config()
    model = build_model(task_data, config)
    assert (model.config.num_tags, model.config.num_categories) == (len(task_data.tags), len(task_data.categories))
    assert model.config.num_interests == len(task_data.interests)
    assert config.model.num_tags == 0  # the caller's config is not mutated


def test_training_keeps_the_best_validation_step(tiny_checkpoint, task_data, monkeypatch):
    from guide.training import validation

    monkeypatch.setattr(validation, "VALIDATION_SHOPPERS", 300)  # the shoppers the fixture's checks ranked
    history = tiny_checkpoint.meta["history"]
    assert [h["step"] for h in history] == [20, 40]
    best = max(history, key=lambda h: h["score"])
    assert tiny_checkpoint.meta["best_step"] == best["step"]
    score, metrics = validation_score(tiny_checkpoint.model, task_data, "cpu")
    assert score == pytest.approx(best["score"], abs=1e-6)  # the returned weights are the best step's
    assert set(metrics) == set(TASKS)
    assert all(set(h["loss"]) <= set(TASKS) and all(np.isfinite(list(h["loss"].values()))) for h in history)


def test_training_writes_calibration_for_every_tag(tiny_checkpoint, task_data):
    calibration = tiny_checkpoint.calibration
    thresholds = calibration["tag_thresholds"]
    assert len(thresholds) == len(task_data.tags) == len(tiny_checkpoint.tags)
    assert all(0.0 < t < 1.0 for t in thresholds)
    assert len(calibration["sentiment_bias"]) == 3
    assert 0.01 <= calibration["purchase_temperature"] <= 5.0  # the grid's range
    fusion = calibration["purchase_fusion"]
    assert set(fusion) == {"neural", "content", "transitions"} and any(fusion.values())
    assert tiny_checkpoint.categories == task_data.categories
    assert tiny_checkpoint.fingerprint  # ties the weights to the data they saw


def test_single_task_training_lowers_the_loss_and_calibrates_only_its_task(task_data):
    config = tiny_train_config(
        steps=30, eval_every=1, batch_size=32, weighting="equal", model=tiny_model_config(tasks=(SENTIMENT,))
    )
    checkpoint = train(task_data, config, progress=False)
    losses = [h["loss"][SENTIMENT] for h in checkpoint.meta["history"]]
    assert len(losses) == 30
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:3])
    assert list(checkpoint.model.heads) == [SENTIMENT]
    assert set(checkpoint.calibration) == {"sentiment_bias"}
    assert checkpoint.fingerprint == ""  # no catalogue given


# --- the purchase draw: every position of a train window against a shared candidate set ---------------
def _purchase_draw(task_data, seed: int = 0, users: int = 24, negatives: int = 64, length: int = 50):
    sampler = TaskSampler(task_data, 16, negatives, np.random.default_rng(seed), "cpu", purchase_users=users,
                          max_length=length)  # fmt: skip
    replay = np.random.default_rng()
    replay.bit_generator.state = sampler.rng.bit_generator.state
    picks = replay.choice(len(task_data.purchase["train"].sequences), users)  # the draw's first random call
    batch, targets = sampler.draw(PURCHASE)
    return picks, batch, targets


def test_purchase_draw_targets_index_the_true_next_products(task_data):
    sequences = task_data.purchase["train"].sequences
    length = 50
    picks, batch, targets = _purchase_draw(task_data, length=length)
    rows = batch["items"]["rows"].numpy()  # catalogue row of each product in the batch's block
    mask = batch["history_mask"].numpy()
    history = rows[batch["history"].numpy()]
    candidates = rows[batch["candidates"].numpy()]
    nxt = targets["next"].numpy()
    assert batch["all_positions"] and len(nxt) == mask.sum()  # one target per real position, row-major
    expected_inputs, expected_next = [], []
    for i in picks:
        window = sequences[i][-(length + 1) :]
        expected_inputs.append(window[:-1])
        expected_next.append(window[1:])
    for j, inputs in enumerate(expected_inputs):
        np.testing.assert_array_equal(history[j][mask[j]], inputs)
        assert mask[j].sum() == len(inputs) and not mask[j][len(inputs) :].any()  # left-aligned, then padding
    np.testing.assert_array_equal(candidates[nxt], np.concatenate(expected_next))
    assert set(np.concatenate(expected_next).tolist()) <= set(candidates.tolist())  # every target is a candidate
    assert len(np.unique(candidates)) == len(candidates)  # one column per product: no duplicate positive


def test_purchase_draw_caps_windows_at_the_model_length(task_data):
    sequences = task_data.purchase["train"].sequences
    picks, batch, targets = _purchase_draw(task_data, seed=3, users=64, length=4)
    mask = batch["history_mask"].numpy()
    assert mask.shape[1] <= 4
    np.testing.assert_array_equal(mask.sum(1), [min(len(sequences[i]), 5) - 1 for i in picks])


def test_purchase_draw_feeds_the_model_and_its_loss_learns(task_data):
    torch.manual_seed(0)
    model = build_model(task_data, tiny_train_config(model=tiny_model_config(tasks=(PURCHASE,))))
    _, batch, targets = _purchase_draw(task_data, users=8, negatives=32)
    logits = model(batch)[PURCHASE]
    assert logits.shape == (len(targets["next"]), len(batch["candidates"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss = purchase_loss(model(batch)[PURCHASE], targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.isfinite(losses).all() and losses[-1] < 0.7 * losses[0]


def full_ranking_ndcg(scores: np.ndarray, pool: np.ndarray, targets: np.ndarray, seen: list[np.ndarray]) -> float:
    """NDCG@10 of each target among every pool product, what the shopper bought before set aside: by counting."""
    gains, column = [], {item: j for j, item in enumerate(pool)}
    for row, target, bought in zip(scores, targets, seen, strict=True):
        keep = np.ones(len(pool), bool)
        keep[[column[item] for item in bought if item in column]] = False
        rank = int((row[keep] > row[column[target]]).sum())
        gains.append(1 / np.log2(rank + 2) if rank < 10 else 0.0)
    return float(np.mean(gains))


def test_purchase_enters_the_step_score_as_its_full_ranking_ndcg_on_the_other_tasks_scale(tiny_checkpoint, task_data):
    from guide.model.outputs import item_representations, purchase_scores
    from guide.training import validation

    model = tiny_checkpoint.model
    with few_validation_shoppers(), single_threaded():
        _, metrics = validation.validation_score(model, task_data, "cpu")
        split = task_data.purchase["valid"]
        picked = np.sort(np.random.default_rng(0).permutation(len(split.target))[: validation.VALIDATION_SHOPPERS])
        part = split.subset(picked)
        reps = item_representations(model, task_data, "cpu")
        scores = purchase_scores(model, task_data, part, "cpu", task_data.amazon_rows, reps)
    full = full_ranking_ndcg(scores, task_data.amazon_rows, part.target, part.seen)
    assert 0 < full < 0.5
    assert metrics["purchase"] == pytest.approx(validation.FULL_RANKING_SCALE * full, rel=1e-4)
