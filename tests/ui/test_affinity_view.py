"""The model page's "Do the tasks help each other?" section: heatmap and weight curves, or why there are none."""

from __future__ import annotations

import json

import pytest

from guide.ui.visuals import md_text
from tests.ui.app_driver import captions, no_problems, open_page, run_app

NOTE = "A replica run *of* the same training."
TASKS = ["purchase", "attributes", "sentiment", "profile"]


def _records(n: int = 4) -> list[dict]:
    pairs = [f"{a}|{b}" for i, a in enumerate(TASKS) for b in TASKS[i + 1 :]]
    return [
        {"step": 25 * (k + 1), "cosine": dict.fromkeys(pairs, 0.1 * k), "weights": dict.fromkeys(TASKS, 1.0 + k / 10)}
        for k in range(n)
    ]


def _with_card(monkeypatch, affinity: dict) -> None:
    from guide.ui import state

    guide = state.load_service().guide
    card = guide.model_card()
    monkeypatch.setattr(guide, "model_card", lambda: {**card, "affinity": affinity})


@pytest.mark.usefixtures("database")
def test_model_page_draws_the_affinity_heatmap_and_weight_curves(monkeypatch):
    affinity = {"tasks": TASKS, "records": _records(), "every": 25, "steps": 100, "weighting": "uncertainty"}
    _with_card(monkeypatch, dict(affinity, seed=13, source="affinity.json", note=NOTE))
    at = run_app()
    open_page(at, "about_model")
    no_problems(at)
    assert "#### Do the tasks help each other?" in [m.value for m in at.markdown]
    charts = [c for c in at.get("plotly_chart")]
    assert len(charts) >= 2
    specs = [c.proto.spec for c in charts]
    heatmap = next(s for s in specs if '"heatmap"' in s)
    trace = json.loads(heatmap)["data"][0]
    assert "Task affinity" in heatmap and trace["zmax"] == pytest.approx(0.25) and trace["zmin"] == pytest.approx(-0.25)
    assert [trace["z"][i][i] for i in range(len(TASKS))] == [None] * len(TASKS)  # self-cosine left blank
    assert any(m.value.startswith("**Reading:**") and "help each other most" in m.value for m in at.markdown)
    assert any("Loss weights over training" in s for s in specs)
    text = captions(at)
    assert "mean over the second half of 4 probes" in text and "100-step training run" in text
    assert md_text(NOTE) in text and "*of*" not in text  # the note is shown as text, not Markdown


@pytest.mark.usefixtures("database")
def test_model_page_says_how_to_record_affinity_when_none_shipped(monkeypatch):
    _with_card(monkeypatch, {})
    at = run_app()
    open_page(at, "about_model")
    no_problems(at)
    assert any("--affinity-every" in i.value for i in at.info)
