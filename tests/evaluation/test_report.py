"""The report's twin cache key and its Markdown rendering."""

from __future__ import annotations

import copy

from guide.config import TrainConfig
from guide.evaluation.report import config_key, markdown


def test_twin_key_changes_with_any_training_setting():
    base = TrainConfig()
    same = copy.deepcopy(base)
    assert config_key(base) == config_key(same)
    single = copy.deepcopy(base)
    single.model.tasks = ("purchase",)
    longer = copy.deepcopy(base)
    longer.steps += 1
    assert len({config_key(base), config_key(single), config_key(longer)}) == 3


def test_markdown_marks_a_missed_target_and_shows_the_gain():
    report = {
        "purchase": {
            "test": {"MTL": {"hr@10": 0.2, "hr@10_ci": [0.15, 0.25]}, "STL": {"hr@10": 0.1}, "Random": {"hr@10": 0.3}}
        },
        "summary": {
            "tasks": {
                "purchase": {
                    "MTL": 0.2,
                    "STL": 0.1,
                    "best_peer": "Random",
                    "best_peer_value": 0.3,
                    "beats_best_peer": False,
                    "relative_gain_vs_stl": 1.0,
                }
            },
            "delta_m": 1.0,
        },
    }
    text = markdown(report)
    assert "| test | **MTL** | 0.200 [0.150, 0.250] |" in text
    assert "| purchase | 0.200 | 0.100 | Random 0.300 | **no** | +100.0% |" in text
    assert "+100.00%" in text
