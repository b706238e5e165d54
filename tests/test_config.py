"""guide.config: dataclasses validate where they are made, env overrides, names that match registries."""

from __future__ import annotations

from pathlib import Path

import pytest

from guide import config
from guide.config import (
    ATTRIBUTES,
    PURCHASE,
    SAMPLINGS,
    SHARING_SCHEMES,
    TASKS,
    WEIGHTINGS,
    DataConfig,
    ModelConfig,
    TrainConfig,
)


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_data_config_rejects_fractions_outside_unit_interval(fraction):
    with pytest.raises(ValueError, match=r"expected a fraction in \(0, 1\].*fix"):
        DataConfig(sephora_fraction=fraction)
    with pytest.raises(ValueError, match="clothing_fraction"):
        DataConfig(clothing_fraction=fraction)


@pytest.mark.parametrize("field", ["format_share", "sentence_share"])
@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_data_config_rejects_shares_outside_unit_interval(field, share):
    with pytest.raises(ValueError, match=rf"{field}: expected a share in \[0, 1\].*fix"):
        DataConfig(**{field: share})
    assert getattr(DataConfig(**{field: 0.0}), field) == 0.0  # 0 turns the draws off


@pytest.mark.parametrize(
    "field", ["max_history", "purchase_negatives", "purchase_users", "eval_negatives", "short_text_reviews"]
)
def test_data_config_rejects_non_positive_counts(field):
    with pytest.raises(ValueError, match=field):
        DataConfig(**{field: 0})


def test_model_config_rejects_unknown_sharing_and_tasks():
    with pytest.raises(ValueError, match="sharing: expected one of"):
        ModelConfig(sharing="soft")
    with pytest.raises(ValueError, match="tasks"):
        ModelConfig(tasks=("sentiment", "weather"))
    with pytest.raises(ValueError, match="tasks"):
        ModelConfig(tasks=())


@pytest.mark.parametrize(
    "overrides", [{"hidden": 4}, {"ngram_dim": -1}, {"num_experts": 0}, {"dropout": 1.0}, {"dropout": -0.1}]
)
def test_model_config_rejects_degenerate_sizes(overrides):
    with pytest.raises(ValueError):
        ModelConfig(**overrides)


def test_model_config_normalises_tasks_to_a_tuple_and_round_trips_through_dict():
    model = ModelConfig(tasks=["sentiment", "purchase"], hidden=16)
    assert model.tasks == ("sentiment", "purchase")
    rebuilt = ModelConfig(**model.to_dict())
    assert rebuilt == model


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"weighting": "x"}, "weighting"),
        ({"sampling": "x"}, "sampling"),
        ({"steps": 0}, "steps"),
        ({"batch_size": 1}, "batch_size"),
        ({"lr": 0.0}, "lr"),
        ({"gram_dropout": 1.0}, "gram_dropout"),
        ({"gram_dropout": -0.1}, "gram_dropout"),
    ],
)
def test_train_config_rejects_bad_values(overrides, field):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**overrides)


def test_default_configs_are_valid_and_independent():
    first, second = TrainConfig(), TrainConfig()
    assert first.model is not second.model and first.data is not second.data
    assert first.model.tasks == TASKS


def test_config_names_match_the_registries_they_select_from():
    from guide.model import SCHEMES
    from guide.training import weighting
    from guide.training.trainer import task_probabilities

    assert set(SHARING_SCHEMES) == set(SCHEMES)
    expected = {
        "equal": weighting.Equal,
        "uncertainty": weighting.Uncertainty,
        "gradnorm": weighting.GradNorm,
        "dwa": weighting.DWA,
        "pcgrad": weighting.PCGrad,
    }
    assert set(WEIGHTINGS) == set(expected)
    for name in WEIGHTINGS:  # each config name builds its own strategy, not a shared fallback
        assert type(weighting.build_weighting(name, TASKS)) is expected[name], name
    with pytest.raises(ValueError, match="weighting: expected one of"):
        weighting.build_weighting("softmax", TASKS)
    sizes = {PURCHASE: 10, ATTRIBUTES: 40}
    expected_chances = {
        "uniform": {PURCHASE: 1.0, ATTRIBUTES: 1.0},
        "proportional": {PURCHASE: 0.25, ATTRIBUTES: 1.0},
        "annealed": {PURCHASE: 0.5, ATTRIBUTES: 1.0},  # halfway: size ** 0.5, the largest task drawn always
    }
    assert set(SAMPLINGS) == set(expected_chances)
    for name in SAMPLINGS:
        assert task_probabilities(sizes, name, 0.5) == pytest.approx(expected_chances[name]), name


def test_data_dir_defaults_beside_the_checkout_and_env_overrides(monkeypatch, tmp_path):
    monkeypatch.delenv("GUIDE_DATA_DIR", raising=False)
    assert config.data_dir() == config.PROJECT_ROOT.parent / "shared" / "data"
    monkeypatch.setenv("GUIDE_DATA_DIR", str(tmp_path))
    assert config.data_dir() == tmp_path
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GUIDE_DATA_DIR", "~/data")
    assert config.data_dir() == tmp_path / "data"


def test_embedding_dir_and_encoder_id_env_overrides(monkeypatch, tmp_path):
    monkeypatch.delenv("GUIDE_EMBEDDING_DIR", raising=False)
    monkeypatch.delenv("GUIDE_ENCODER_ID", raising=False)
    assert config.embedding_dir() == config.DEFAULT_EMBEDDING_DIR
    assert config.encoder_id() == config.ENCODER_ID
    monkeypatch.setenv("GUIDE_EMBEDDING_DIR", str(tmp_path))
    monkeypatch.setenv("GUIDE_ENCODER_ID", "custom/model")
    assert config.embedding_dir() == tmp_path
    assert config.encoder_id() == "custom/model"


def test_encoder_name_prefers_env_and_defaults_to_the_bundled_model(monkeypatch):
    monkeypatch.setenv("GUIDE_ENCODER", "/models/mini")
    assert config.encoder_name() == "/models/mini"
    monkeypatch.delenv("GUIDE_ENCODER")
    assert Path(config.encoder_name()).exists()  # the bundled copy: no download needed
