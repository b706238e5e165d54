"""The report's twin cache key and its Markdown rendering."""

from __future__ import annotations

import copy

from guide.config import TrainConfig
from guide.evaluation.report import markdown
from guide.model.run_key import config_key


def test_twin_key_changes_with_any_training_setting():
    base = TrainConfig()
    same = copy.deepcopy(base)
    assert config_key(base) == config_key(same)
    single = copy.deepcopy(base)
    single.model.tasks = ("purchase",)
    longer = copy.deepcopy(base)
    longer.steps += 1
    assert len({config_key(base), config_key(single), config_key(longer)}) == 3


def test_twin_key_ignores_short_text_settings_while_they_are_off():
    # The shipped twins and every cached twin were trained before the setting existed: with the draws off
    # (the default) the key must be the one they were stored under, or the shop would call them stale.
    import hashlib
    import json
    from dataclasses import asdict

    base = TrainConfig()
    values = asdict(base)
    for name in ("sentiment_sources", "sentence_share", "short_text_reviews"):
        del values["data"][name]
    for name in ("encoder", "encoder_id"):  # the base encoder (the default) is left out of the key too
        del values["model"][name]
    before = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:10]
    assert config_key(base) == before
    fewer = copy.deepcopy(base)
    fewer.data.short_text_reviews = 10  # unused while sentence_share is 0
    assert config_key(fewer) == before
    on, more = copy.deepcopy(base), copy.deepcopy(base)
    on.data.sentence_share = more.data.sentence_share = 0.3
    more.data.short_text_reviews = 10
    assert len({before, config_key(on), config_key(more)}) == 3


def test_markdown_decides_by_ci_and_shows_the_gain():
    report = {
        "purchase": {
            "test": {
                "MTL": {"full_hr@10": 0.2, "full_hr@10_ci": [0.15, 0.25]},
                "STL": {"full_hr@10": 0.1},
                "Random": {"full_hr@10": 0.3},
            }
        },
        "summary": {
            "tasks": {
                "purchase": {
                    "MTL": 0.2,
                    "STL": 0.1,
                    "MTL_ci": [0.15, 0.25],
                    "STL_ci": [0.05, 0.14],
                    "best_peer": "Random",
                    "best_peer_value": 0.3,
                    "best_peer_ci": [0.26, 0.34],
                    "relative_gain_vs_stl": 1.0,
                }
            },
            "delta_m": 1.0,
            "delta_m_without_failed_twins": None,
            "twins_excluded": {"purchase": "STL 0.1000 < Random 0.3000"},
        },
    }
    text = markdown(report)
    assert "| test | **MTL** | 0.200 [0.150, 0.250] |" in text
    row = (
        "| purchase | 0.200 [0.150, 0.250] | 0.100 [0.050, 0.140] | beats | Random 0.300 [0.260, 0.340] | **behind** |"
    )
    assert row + " +100.0% |" in text
    assert "all twins: +100.00%" in text and "excluded: purchase: STL 0.1000 < Random 0.3000" in text


def test_markdown_leaves_a_comparison_without_cis_undecided():
    summary = {"tasks": {"profile": {"MTL": 0.4836, "STL": 0.4828, "best_peer": None}}, "delta_m": None}
    assert "| profile | 0.484 | 0.483 | – |" in markdown({"summary": summary})
