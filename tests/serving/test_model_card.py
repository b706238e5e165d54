"""The model card's training affinity: from the checkpoint, else from `affinity.json` beside it."""

from __future__ import annotations

import json

import pytest

from guide.serving.model_card import _with_matrix

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")

RECORDS = [
    {"step": 25, "cosine": {"purchase|sentiment": -0.4, "purchase|profile": 0.9, "sentiment|profile": 0.0},
     "weights": {"purchase": 1.0, "sentiment": 1.0, "profile": 1.0}},
    {"step": 50, "cosine": {"purchase|sentiment": 0.2, "purchase|profile": 0.5, "sentiment|profile": 0.1},
     "weights": {"purchase": 0.8, "sentiment": 1.3, "profile": 0.9}},
]  # fmt: skip


def test_a_checkpoint_without_probes_reads_the_affinity_file_beside_it(guide, tiny_checkpoint_dir):
    assert guide.model_card()["affinity"] == {}  # none recorded, no file: the page says so
    path = tiny_checkpoint_dir / "affinity.json"
    try:
        path.write_text(json.dumps({"tasks": ["purchase", "sentiment", "profile"], "steps": 50, "records": RECORDS}))
        affinity = guide.model_card()["affinity"]
        assert affinity["records"] == RECORDS and affinity["source"] == "affinity.json" and affinity["steps"] == 50
        path.write_text("{not json")
        assert guide.model_card()["affinity"] == {}  # unreadable: logged, the page shows none, nothing raises
    finally:
        path.unlink(missing_ok=True)


def test_the_card_matrix_is_the_mean_over_the_second_half_of_the_probes():
    affinity = _with_matrix({"records": RECORDS, "tasks": ["purchase", "sentiment", "profile"]}, ())
    assert affinity["tasks"] == ["purchase", "sentiment", "profile"]
    assert affinity["matrix"] == [[1.0, 0.2, 0.5], [0.2, 1.0, 0.1], [0.5, 0.1, 1.0]]
    assert _with_matrix({}, ("purchase", "sentiment")) == {}
    assert _with_matrix({"records": RECORDS}, ("purchase",)) == {}  # one task: nothing to compare
