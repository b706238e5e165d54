"""The model page's "Out of domain" section: the sentiment, format and title tables with what each row was
trained on, or how to compute them when the report has none."""

from __future__ import annotations

import pytest

from tests.ui.app_driver import captions, literal, no_problems, open_page, run_app

CI = [0.5, 0.7]
OOD = {
    "sentiment": {
        "rows": [
            {"system": "VADER", "trained_on": "clothing", "unit": "reviews", "tested_on": "amazon",
             "out_of_domain": True, "macro_f1": 0.58, "macro_f1_ci": CI, "spearman": 0.5, "n": 253},
            {"system": "MTL", "trained_on": "clothing", "unit": "reviews", "tested_on": "amazon",
             "out_of_domain": True, "macro_f1": 0.61, "macro_f1_ci": CI, "spearman": 0.55, "pearson": 0.52,
             "n": 253, "vs_peers": {"VADER": "ties"}},
            {"system": "MTL (shipped)", "trained_on": "both", "unit": "sentences", "tested_on": "clothing",
             "out_of_domain": False, "macro_f1": 0.49, "n": 1500, "vs_peers": {"VADER": "behind"}},
        ],
        "note": "A sentence inherits its review's label. MTL (shipped) is trained on both sources.",
    },
    "formats": {
        "rows": [
            {"system": "MTL (shipped)", "format": "catalogue", "micro_f1": 0.30, "category_accuracy": 0.7, "n": 9},
            {"system": "MTL (shipped)", "format": "name", "micro_f1": 0.20, "micro_f1_ci": CI, "gap_micro_f1": -0.1,
             "gap_micro_f1_ci": [-0.15, -0.05], "category_accuracy": 0.6, "gap_category_accuracy": -0.1,
             "gap_category_accuracy_ci": [-0.2, 0.0], "n": 9},
        ],
        "note": "1,199 brand-disjoint test products.",
    },
    "titles": {
        "rows": [{"system": "TF-IDF OvR", "category_accuracy": 0.66, "category_accuracy_ci": CI, "n": 3000}],
        "note": "Amazon Beauty 2014 titles mapped through assets/ood/category_map.csv.",
        "coverage": {"judged": 3000},
    },
}  # fmt: skip


def _with_report(monkeypatch, report: dict) -> None:
    from guide.ui import state

    guide = state.load_service().guide
    card = guide.model_card()
    monkeypatch.setattr(guide, "model_card", lambda: {**card, "metrics": report})


def _table(at, column: str):
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


@pytest.mark.usefixtures("database")
def test_model_page_tables_out_of_domain_results_with_what_each_row_was_trained_on(monkeypatch):
    summary = {"tasks": {}, "decision_rule": "by CIs"}
    _with_report(monkeypatch, {"sentiment": {"amazon": {"MTL": {"macro_f1": 0.6}}}, "summary": summary, "ood": OOD})
    at = run_app()
    open_page(at, "about_model")
    no_problems(at)
    assert "#### Out of domain" in [m.value for m in at.markdown]
    sentiment = _table(at, "trained on → tested on")
    assert list(sentiment["system"]) == ["MTL", "VADER", "MTL (shipped)"]  # models first within a setting
    assert sentiment["trained on → tested on"][0] == "clothing → amazon (out of domain)"
    assert sentiment["trained on → tested on"][2] == "both → clothing"
    assert sentiment["macro-F1"][0] == "0.610 [0.500, 0.700]" and sentiment["macro-F1 vs peers"][0] == "ties VADER"
    assert sentiment["Pearson"][1] == "—"
    formats = _table(at, "tag micro-F1")
    assert list(formats["format"]) == ["catalogue", "name"] and formats["gap"][1] == "-0.100 [-0.150, -0.050]"
    titles = _table(at, "titles")
    assert titles["category accuracy"][0] == "0.660 [0.500, 0.700]" and titles["titles"][0] == 3000
    text = literal(captions(at))
    assert "MTL (shipped) is trained on both sources" in text and "assets/ood/category_map.csv" in text


@pytest.mark.usefixtures("database")
def test_model_page_says_how_to_compute_out_of_domain_tables_when_missing(monkeypatch):
    _with_report(monkeypatch, {"sentiment": {"amazon": {"MTL": {"macro_f1": 0.6}}}, "summary": {"tasks": {}}})
    at = run_app()
    open_page(at, "about_model")
    no_problems(at)
    assert any("evaluate --ood --save" in i.value for i in at.info)
