"""guide.training.trainer: task sampling, a short real training run (loss falls, best step kept, calibration saved)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from guide.config import SENTIMENT, TASKS, TrainConfig
from guide.training.trainer import build_model, task_probabilities, train
from guide.training.validation import validation_score

pytest.register_assert_rewrite("tests.core_fixtures")  # also a plugin: rewrite before importing it

from tests.core_fixtures import tiny_model_config, tiny_train_config  # noqa: E402

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


def test_bad_train_config_is_refused():
    with pytest.raises(ValueError, match="weighting"):
        TrainConfig(weighting="x")


def test_build_model_takes_vocabularies_from_the_data_without_touching_the_config(task_data):
    config = tiny_train_config()
    model = build_model(task_data, config)
    assert (model.config.num_tags, model.config.num_categories) == (len(task_data.tags), len(task_data.categories))
    assert model.config.num_interests == len(task_data.interests)
    assert config.model.num_tags == 0  # the caller's config is not mutated


def test_training_keeps_the_best_validation_step(tiny_checkpoint, task_data):
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
