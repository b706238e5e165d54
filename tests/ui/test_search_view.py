"""The model page's "How was this configuration chosen?" section: the recorded search's trade-off and trials."""

from __future__ import annotations

import json

import pytest

from tests.ui.app_driver import captions, no_problems, open_page, run_app

TASKS = ["purchase", "attributes", "sentiment", "profile"]


def _study() -> dict:
    def trial(number: int, sharing: str, values: tuple[float, ...]) -> dict:
        params = {"sharing": sharing, "weighting": "uncertainty", "sampling": "uniform", "lr": 0.002,
                  "ngram_lr": 0.01, "gram_dropout": 0.4, "dropout": 0.3}  # fmt: skip
        val = dict(zip(TASKS, values, strict=True))
        return {"number": number, "params": params, "val": val, "score": sum(values) / 4, "seconds": 100.0}

    trials = [trial(0, "mmoe", (0.35, 0.48, 0.56, 0.58)), trial(1, "hard", (0.30, 0.40, 0.50, 0.50)),
              trial(2, "ple", (0.36, 0.40, 0.50, 0.50))]  # fmt: skip
    return {"sampler": "optuna TPE", "objective": "mean", "steps_per_trial": 250, "seconds": 1440.0,
            "trials": trials, "best": trials[0]}  # fmt: skip


def _with_report(monkeypatch, search: dict | None) -> None:
    from guide.ui import state

    guide = state.load_service().guide
    card = guide.model_card()
    report = {k: v for k, v in card["metrics"].items() if k != "search"}
    monkeypatch.setattr(
        guide, "model_card", lambda: {**card, "metrics": {**report, **({"search": search} if search else {})}}
    )


@pytest.mark.usefixtures("database")
def test_model_page_shows_the_recorded_search_and_its_trade_off(monkeypatch):
    _with_report(monkeypatch, _study())
    at = run_app()
    open_page(at, "about_model")
    no_problems(at)
    assert "#### How was this configuration chosen?" in [m.value for m in at.markdown]
    assert any(m.value.startswith("**Best trial:** 0") for m in at.markdown)
    assert "3 trials of 250 training steps" in captions(at) and "validation split only" in captions(at)
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if '"search' not in c.proto.spec and
                "(validation)" in c.proto.spec)  # fmt: skip
    trace = spec["data"][0]
    assert trace["x"] == [0.35, 0.30, 0.36] and trace["y"] == [0.56, 0.50, 0.50]  # purchase vs sentiment
    assert trace["marker"]["line"]["width"] == [3, 0, 3]  # trials 0 and 2 are on the front, 1 is beaten by 0
    table = next(d.value for d in at.dataframe if "trial" in d.value.columns)
    assert list(table["trial"]) == [0, 2, 1] and list(table["front"]) == ["yes", "yes", ""]


@pytest.mark.usefixtures("database")
def test_model_page_says_how_to_record_a_search_when_none_shipped(monkeypatch):
    _with_report(monkeypatch, None)
    at = run_app()
    open_page(at, "about_model")
    no_problems(at)
    assert any("python -m guide search" in i.value for i in at.info)
