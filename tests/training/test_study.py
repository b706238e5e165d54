"""guide.training.study: the recorded configuration search (a real two-trial study on the small slice),
its trade-off front and its Markdown."""

from __future__ import annotations

import json

import pytest

from guide.config import TASKS
from guide.metrics.pareto import pareto
from guide.training import validation
from guide.training.study import SPACE, configure, load_study, run_study, shipped_params, study_lines

pytest.register_assert_rewrite("tests.core_fixtures")

from tests.core_fixtures import tiny_train_config  # noqa: E402

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


def test_configure_applies_a_trial_and_validates_it():
    base = tiny_train_config()
    params = dict(shipped_params(base), sharing="ple", weighting="dwa", lr=1e-3)
    config = configure(base, params)
    assert (config.model.sharing, config.weighting, config.lr) == ("ple", "dwa", 1e-3)
    assert base.model.sharing != "ple"  # the base is left as it was
    with pytest.raises(ValueError, match="sharing"):
        configure(base, dict(params, sharing="shared-nothing"))
    assert set(shipped_params(base)) == set(SPACE)


def test_pareto_keeps_the_trials_nobody_beats_on_every_task():
    records = [
        {"number": 0, "val": {"a": 0.5, "b": 0.5}},
        {"number": 1, "val": {"a": 0.6, "b": 0.4}},
        {"number": 2, "val": {"a": 0.4, "b": 0.4}},  # beaten by 0 on both
        {"number": 3, "val": {"a": 0.5, "b": 0.5}},  # a tie with 0 dominates neither
    ]
    assert pareto(records, ["a", "b"]) == [0, 1, 3]


def test_a_short_study_trains_scores_on_validation_and_records_every_trial(task_data, tmp_path, monkeypatch):
    monkeypatch.setattr(validation, "VALIDATION_SHOPPERS", 200)
    base = tiny_train_config(steps=2)
    out = tmp_path / "search.json"
    document = run_study(task_data, base, trials=2, out=out, seed=1)
    assert json.loads(out.read_text()) == document == load_study(tmp_path)
    first, second = document["trials"]
    assert first["params"] == shipped_params(base)  # the configuration before the search is trial 0
    assert second["params"] != first["params"]
    for trial in document["trials"]:
        assert set(trial["val"]) == set(TASKS) and 0 <= trial["score"] <= 1
    assert document["best"]["score"] == max(first["score"], second["score"])
    assert document["steps_per_trial"] == 2
    lines = study_lines(document)
    assert "2 trials of 2 steps" in lines[0] and len(lines) == 3 + 2
    assert load_study(tmp_path / "absent") is None
