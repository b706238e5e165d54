"""guide.evaluation.ood: the out-of-domain tables. Synthetic units (sentences inheriting their review's label,
one-source views, the fast rank correlation, the one-source setting) and the whole section on a small real slice
with a tiny model trained on both sources and one trained on Amazon only (the formats and the category map:
test_ood_attributes.py)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from guide.config import SENTIMENT_SOURCES, DataConfig, TrainConfig
from guide.data.task_data import EXCLUDED, TaskData
from guide.evaluation import ood, peers
from guide.evaluation.evaluate import attribute_metrics
from guide.evaluation.report import markdown
from guide.evaluation.summary import VERDICTS
from guide.model.run_key import config_key

pytest_plugins = ["tests.core_fixtures"]


# --- synthetic units ----------------------------------------------------------------------------------------
def test_sentences_inherit_their_reviews_label_and_stars_in_a_bounded_seeded_sample():
    reviews = pd.DataFrame(
        {
            "title": ["Love it", "", "Meh"],
            "text": ["Smells great. Lasts all day.", "Broke after a week. Never again!", "It is fine. Nothing more."],
            "label": [2, 0, 1],
            "rating": [5.0, 1.0, 3.0],
            "source": ["amazon", "amazon", "clothing"],
        }
    )
    everything = ood.sentence_sample(reviews, np.array([0, 1, 2]), limit=100, seed=0)
    assert everything["text"].tolist()[:3] == ["Love it", "Smells great.", "Lasts all day."]  # title first
    assert len(everything) == 8
    for row in everything.itertuples():
        parent = reviews.iloc[row.review_row]
        assert row.text in parent["title"] + " " + parent["text"]
        assert (row.label, row.rating, row.source) == (parent["label"], parent["rating"], parent["source"])
    sample = ood.sentence_sample(reviews, np.array([0, 1, 2]), limit=4, seed=3)
    assert len(sample) == 4 and sample.equals(ood.sentence_sample(reviews, np.array([0, 1, 2]), limit=4, seed=3))
    assert set(ood.sentence_sample(reviews, np.array([1]), limit=100, seed=0)["label"]) == {0}


def _reviews_only(split: list[str], source: list[str]) -> TaskData:
    n = len(split)
    empty = np.zeros((0, 1))
    return TaskData(
        item_emb=empty, item_ngrams=[], item_feats=empty, review_emb=np.zeros((n, 2)), review_ngrams=[],
        review_labels=np.zeros(n, int), review_split=np.array(split, dtype=object),
        review_source=np.array(source, dtype=object), review_stars=np.ones(n), tags=[], categories=[],
        tag_targets=empty, tag_mask=empty, cat_targets=np.zeros(0), attr_split=np.zeros(0, dtype=object),
        item_interest=empty, amazon_rows=np.zeros(0, int), idf=np.ones(1),
    )  # fmt: skip


def test_a_source_view_trains_and_tunes_on_that_source_only_and_keeps_test_rows():
    split = ["train", "valid", "test", "train", "valid", "test", "ood-sentences"]
    data = _reviews_only(split, ["amazon"] * 3 + ["clothing"] * 3 + ["clothing"])
    view = ood.source_view(data, "amazon")
    assert view.review_split.tolist() == ["train", "valid", "test", EXCLUDED, EXCLUDED, "test", "ood-sentences"]
    assert view.review_rows("train").tolist() == [0] and view.review_rows("valid").tolist() == [1]
    assert data.review_split.tolist() == split  # the original is untouched
    assert ood.source_view(data, ood.BOTH) is data


def test_the_sentiment_sources_setting_is_validated():
    assert DataConfig().sentiment_sources == SENTIMENT_SOURCES
    assert DataConfig(sentiment_sources=["amazon"]).sentiment_sources == ("amazon",)  # as read back from JSON
    for bad in ((), ("twitter",), ("amazon", "amazon")):
        with pytest.raises(ValueError, match="sentiment_sources"):
            DataConfig(sentiment_sources=bad)


def test_twin_keys_stay_the_same_for_the_default_sources_and_change_for_one_source():
    base = TrainConfig()
    values = dataclasses.asdict(base)
    for name in ("sentiment_sources", "sentence_share", "short_text_reviews"):  # newer than the stored twins
        del values["data"][name]
    for name in ("encoder", "encoder_id"):  # the base encoder (the default) is left out of the key too
        del values["model"][name]
    del values["sentiment_balance"]  # off (the default): newer than the stored twins, left out too
    before = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:10]
    assert config_key(base) == before  # a twin trained before the setting existed is still found
    amazon = copy.deepcopy(base)
    amazon.data = dataclasses.replace(base.data, sentiment_sources=("amazon",))
    assert config_key(amazon) != config_key(base)


def test_a_checkpoint_trained_on_both_sources_is_refused_as_a_one_source_model():
    both = SimpleNamespace(config=TrainConfig())
    with pytest.raises(ValueError, match="--sentiment-sources amazon"):
        ood.check_source_only(both, "amazon")
    one = SimpleNamespace(config=TrainConfig(data=DataConfig(sentiment_sources=("clothing",))))
    ood.check_source_only(one, "clothing")


def test_markdown_tables_the_ood_section():
    row = {"macro_f1": 0.61, "macro_f1_ci": [0.55, 0.67], "spearman": 0.5, "spearman_ci": [0.4, 0.6], "n": 253}
    section = {
        "sentiment": {
            "rows": [
                {
                    **row,
                    "system": "MTL",
                    "trained_on": "clothing",
                    "unit": "reviews",
                    "tested_on": "amazon",
                    "out_of_domain": True,
                    "vs_peers": {"VADER": "behind", "TF-IDF+LogReg": "ties"},
                },
                {
                    **row,
                    "system": "VADER",
                    "trained_on": "clothing",
                    "unit": "reviews",
                    "tested_on": "amazon",
                    "out_of_domain": True,
                },
            ],
            "note": "sentences inherit their review's label",
        },  # fmt: skip
        "formats": {
            "rows": [
                {
                    "system": "MTL (shipped)",
                    "format": "name",
                    "micro_f1": 0.2,
                    "micro_f1_ci": [0.1, 0.3],
                    "gap_micro_f1": -0.1,
                    "gap_micro_f1_ci": [-0.15, -0.05],
                    "category_accuracy": 0.5,
                    "n": 9,
                },
            ],
            "note": "formats note",
        },  # fmt: skip
        "titles": {"rows": [{"system": "MiniLM OvR", "category_accuracy": 0.7, "n": 1200}], "note": "titles note"},
    }
    text = markdown({"ood": section})
    assert (
        "| reviews | clothing → amazon (out of domain) | **MTL** | 0.610 [0.550, 0.670] | 0.500 [0.400, 0.600] |"
        in text
    )
    assert "**behind** VADER, ties TF-IDF+LogReg" in text
    assert "| MTL (shipped) | name | 0.200 [0.100, 0.300] | -0.100 [-0.150, -0.050] | 0.500 | – |" in text
    assert "| MiniLM OvR | 0.700 | 1,200 |" in text
    assert "sentences inherit their review's label" in text and "titles note" in text


def test_the_cli_reads_one_source_checkpoints():
    from guide.cli.evaluation_commands import _ood_checkpoints

    assert {k: str(v) for k, v in _ood_checkpoints(["amazon=runs/a", "clothing=/x/c"]).items()} == {
        "amazon": "runs/a",
        "clothing": "/x/c",
    }
    with pytest.raises(ValueError, match="SOURCE=FOLDER"):
        _ood_checkpoints(["runs/a"])


def test_saving_the_ood_section_alone_keeps_every_other_number(tmp_path):
    from guide.evaluation.report import merge_saved

    saved = {"sentiment": {"amazon": {"MTL": {"macro_f1": 0.6}}}, "ood": {"old": 1}, "meta": {"seconds": 9}}
    (tmp_path / "report.json").write_text(json.dumps(saved))
    merge_saved({"ood": {"new": 2}}, tmp_path)
    assert json.loads((tmp_path / "report.json").read_text()) == {**saved, "ood": {"new": 2}}


# --- the section on a small real slice ----------------------------------------------------------------------
SIZES = ood.Sizes(sentences=80, titles=120)


@pytest.fixture(scope="module")
def amazon_only(small_catalog, encoder):
    """Task data and a tiny checkpoint trained like tiny_checkpoint with the clothing reviews left out."""
    from guide.data import task_data
    from guide.training.trainer import train
    from tests.core_fixtures import (
        NGRAM_BUCKETS,
        few_validation_shoppers,
        single_threaded,
        small_data_config,
        tiny_train_config,
    )

    config = dataclasses.replace(small_data_config(), sentiment_sources=("amazon",))
    with few_validation_shoppers(), single_threaded():
        data = task_data.build(small_catalog, encoder, config, "brand", NGRAM_BUCKETS)
        return data, train(data, tiny_train_config(data=config), small_catalog, progress=False)


@pytest.fixture(scope="module")
def section(tiny_checkpoint, amazon_only, small_catalog, task_data, encoder):
    """The OOD section, with every fit of a peer recorded: (rows of y, what it was for)."""
    from tests.core_fixtures import single_threaded

    fits, vocabularies = [], []
    fit_logistic, tfidf = peers._fit_logistic, peers._tfidf

    def recording_fit(x, y, C, solver=None):
        fits.append(len(y))
        return fit_logistic(x, y, C, solver)

    def recording_tfidf(texts, train):
        vocabularies.append(np.asarray(train))
        return tfidf(texts, train)

    with pytest.MonkeyPatch.context() as patch, single_threaded():
        patch.setattr(peers, "_fit_logistic", recording_fit)
        patch.setattr(peers, "_tfidf", recording_tfidf)
        out = ood.ood_report(
            tiny_checkpoint, small_catalog, task_data, encoder, "cpu", {"amazon": amazon_only[1]}, SIZES
        )
    return out, fits, vocabularies


pytestmark = pytest.mark.usefixtures("one_thread")


def _rows(section, **where) -> list[dict]:
    return [r for r in section["rows"] if all(r[k] == v for k, v in where.items())]


def test_sentiment_rows_cover_every_system_and_test_set(section, task_data):
    rows = section[0]["sentiment"]["rows"]
    tests = {(u, s) for u in ("reviews", "sentences") for s in SENTIMENT_SOURCES}
    peer_names = [*peers.SENTIMENT_PEERS, ood.MAJORITY]
    expected = {(p, t) for p in peer_names for t in (*SENTIMENT_SOURCES, ood.BOTH)}
    expected |= {(ood.SHIPPED, ood.BOTH), (ood.MODEL, "amazon")}
    keys = [(r["system"], r["trained_on"], r["unit"], r["tested_on"]) for r in rows]
    assert len(keys) == len(set(keys)) == len(expected) * len(tests)
    assert {(s, t) for s, t, _, _ in keys} == expected
    for row in rows:
        assert row["out_of_domain"] == (row["trained_on"] not in (ood.BOTH, row["tested_on"]))
        assert 0.0 <= row["macro_f1"] <= 1.0 and row["macro_f1_ci"][0] <= row["macro_f1"] <= row["macro_f1_ci"][1]
        assert ("spearman" in row) == (row["system"] != ood.MAJORITY)
        if row["unit"] == "reviews":
            assert row["n"] == len(task_data.review_rows("test", row["tested_on"]))
        else:
            assert 0 < row["n"] <= SIZES.sentences
    for row in _rows(section[0]["sentiment"], system=ood.MODEL) + _rows(section[0]["sentiment"], system=ood.SHIPPED):
        assert set(row["vs_peers"]) == set(peer_names) and set(row["vs_peers"].values()) <= set(VERDICTS)
    assert not any(r["out_of_domain"] for r in _rows(section[0]["sentiment"], system=ood.SHIPPED))
    assert {r["tested_on"] for r in _rows(section[0]["sentiment"], system=ood.MODEL, out_of_domain=True)} == {
        "clothing"
    }


def test_no_peer_ever_fits_on_a_test_or_sentence_row(section, task_data):
    """Every logistic regression sees exactly the training rows of one source, of both, or the labelled
    training products; every TF-IDF vocabulary is fitted on training rows only."""
    _, fits, vocabularies = section
    train = {s: len(task_data.review_rows("train", s)) for s in SENTIMENT_SOURCES}
    allowed = {*train.values(), sum(train.values()), len(peers._labelled_rows(task_data, "train"))}
    assert fits and set(fits) <= allowed
    assert {train["amazon"], train["clothing"], sum(train.values())} <= set(fits)  # each setting was fitted
    items = len(task_data.item_emb)
    for rows in vocabularies:
        if rows.max() < items and len(rows) == len(peers._labelled_rows(task_data, "train")):
            assert set(task_data.attr_split[rows]) == {"train"}  # the attribute peer's vocabulary
        else:
            assert set(task_data.review_split[rows]) == {"train"}


def test_the_amazon_only_model_never_saw_a_clothing_review(amazon_only, task_data):
    data, checkpoint = amazon_only
    clothing = data.review_source == "clothing"
    assert set(data.review_split[clothing]) == {EXCLUDED}
    assert np.array_equal(data.review_split[~clothing], task_data.review_split[~clothing])
    assert not np.array_equal(data.idf, task_data.idf)  # clothing-only words count as unseen
    assert checkpoint.config.data.sentiment_sources == ("amazon",)


def test_in_domain_peers_trained_on_both_reproduce_the_peer_report(section, small_catalog, task_data):
    report = peers.sentiment_report(small_catalog, task_data, "test", ci=False)
    for source, systems in report.items():
        for name, values in systems.items():
            (row,) = _rows(section[0]["sentiment"], system=name, trained_on=ood.BOTH, unit="reviews", tested_on=source)
            assert row["macro_f1"] == pytest.approx(values["macro_f1"])
            assert row["spearman"] == pytest.approx(values["spearman"])


def test_the_catalogue_format_reproduces_the_main_report(section, tiny_checkpoint, task_data, small_catalog):
    formats = section[0]["formats"]
    thresholds = tiny_checkpoint.calibration["tag_thresholds"]
    main = attribute_metrics(tiny_checkpoint.model, task_data, "test", "cpu", thresholds, ci=False)["brand"]
    (model,) = _rows(formats, system=ood.SHIPPED, format=ood.CATALOGUE)
    assert model["micro_f1"] == pytest.approx(main["micro_f1"]) and model["n"] == main["n"]
    assert model["category_accuracy"] == pytest.approx(main["category_accuracy"])
    peer = peers.attribute_scores(small_catalog, task_data, "test", peers.ATTRIBUTE_PEERS["TF-IDF OvR"], ci=False)
    (tfidf,) = _rows(formats, system="TF-IDF OvR", format=ood.CATALOGUE)
    assert tfidf["micro_f1"] == pytest.approx(peer["micro_f1"])
    assert tfidf["category_accuracy"] == pytest.approx(peer["category_accuracy"])


def test_every_system_is_judged_on_every_format_with_its_gap(section):
    formats = section[0]["formats"]
    systems = [ood.SHIPPED, *ood.PEER_FEATURES]
    assert {(r["system"], r["format"]) for r in formats["rows"]} == {
        (s, f) for s in systems for f in (*ood.FORMATS, ood.CATALOGUE)
    }
    for system in systems:
        (reference,) = _rows(formats, system=system, format=ood.CATALOGUE)
        for name in ood.FORMATS:
            (row,) = _rows(formats, system=system, format=name)
            for metric in ("micro_f1", "category_accuracy"):
                assert row[f"gap_{metric}"] == pytest.approx(row[metric] - reference[metric])
                low, high = row[f"gap_{metric}_ci"]
                assert low <= row[f"gap_{metric}"] <= high
    assert formats["products"] == reference["n"] > 0


def test_titles_are_judged_where_their_path_maps(section, small_catalog):
    titles = section[0]["titles"]
    coverage = titles["coverage"]
    assert coverage["products"] == int((small_catalog.items["source"] == "beauty2014").sum())
    assert (
        coverage["judged"] == min(SIZES.titles, coverage["mapped"]) and 0 < coverage["mapped"] < coverage["with_title"]
    )
    assert [r["system"] for r in titles["rows"]] == [ood.SHIPPED, *ood.PEER_FEATURES]
    for row in titles["rows"]:
        assert row["n"] == coverage["judged"]
        assert row["category_accuracy_ci"][0] <= row["category_accuracy"] <= row["category_accuracy_ci"][1]
    # a text classifier trained on Sephora's own categories gets most mapped Beauty 2014 titles right
    (tfidf,) = _rows(titles, system="TF-IDF OvR")
    assert tfidf["category_accuracy"] > 0.3


def test_a_model_for_another_source_is_refused(tiny_checkpoint, small_catalog, task_data, encoder):
    with pytest.raises(ValueError, match="clothing reviews only"):
        ood.ood_report(tiny_checkpoint, small_catalog, task_data, encoder, "cpu", {"clothing": tiny_checkpoint}, SIZES)


def test_one_source_models_are_trained_once_into_runs_then_reused_or_given(
    tiny_checkpoint, amazon_only, small_catalog, encoder, tmp_path, monkeypatch
):
    """`evaluate --ood-twins`: a twin per source, trained like the base with sentiment_sources = that source,
    cached under runs/ and reused; `--ood-checkpoint` folders are loaded and checked instead."""
    from guide.evaluation import report
    from guide.training import trainer, validation

    monkeypatch.setattr(report, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(validation, "VALIDATION_SHOPPERS", 300)
    monkeypatch.setattr(validation, "CALIBRATION_SHOPPERS", 300)
    # the Amazon-only model is already in runs/ (the module's, trained the same way): only clothing trains
    amazon = amazon_only[1]
    amazon.save(report.twin_folder("ood-amazon-only", tiny_checkpoint, amazon.config))
    trained, train = [], trainer.train
    monkeypatch.setattr(
        trainer, "train", lambda data, config, *a, **k: trained.append(config) or train(data, config, *a, **k)
    )
    models = report.one_source_models(tiny_checkpoint, small_catalog, encoder, "cpu", False, True, None)
    assert {s: m.config.data.sentiment_sources for s, m in models.items()} == {s: (s,) for s in SENTIMENT_SOURCES}
    assert [c.data.sentiment_sources for c in trained] == [("clothing",)]
    folders = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert [f.split("-")[:3] for f in folders] == [["ood", "amazon", "only"], ["ood", "clothing", "only"]]

    def no_training(*args, **kwargs):
        raise AssertionError("a cached one-source model was trained again")

    monkeypatch.setattr(trainer, "train", no_training)
    monkeypatch.setattr(report.task_data, "build", no_training)  # nor is its task data built to be thrown away
    again = report.one_source_models(tiny_checkpoint, small_catalog, encoder, "cpu", False, True, None)
    assert set(again) == set(SENTIMENT_SOURCES)
    given = amazon_only[1].save(tmp_path / "given")
    only = report.one_source_models(tiny_checkpoint, small_catalog, encoder, "cpu", False, False, {"amazon": given})
    assert list(only) == ["amazon"] and only["amazon"].config.data.sentiment_sources == ("amazon",)
    with pytest.raises(ValueError, match="clothing reviews only"):
        report.one_source_models(tiny_checkpoint, small_catalog, encoder, "cpu", False, False, {"clothing": given})
