"""The report's Markdown rendering."""

from __future__ import annotations

from guide.evaluation.report import markdown


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
