"""guide.evaluation.evaluate and .summary: verdicts decided by CIs (paired where per-row scores exist), delta_m with and
without failed twins, refusal of mismatched checkpoints; and the leakage rules of the fitted tables in
guide.data (tag vocabulary, silver categories, n-gram idf see training rows only). Synthetic data only."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT, TASKS, DataConfig
from guide.data.catalog import _vocabularies
from guide.data.interests import silver_tags
from guide.data.task_data import PurchaseSplit, TaskData, _train_bags, ngram_idf
from guide.evaluation.evaluate import Statistic, _judge, check_checkpoint, model_metrics, trivial_metrics
from guide.evaluation.report import _scored, markdown
from guide.evaluation.summary import HEADLINES, decide, summarise

pytest.register_assert_rewrite("tests.core_fixtures")
from tests.core_fixtures import CATEGORIES, TAGS, synthetic_model  # noqa: E402

N = 400


# --- the decision rule ------------------------------------------------------------------------------
def test_decide_by_the_paired_difference_when_given():
    assert decide(0.50, 0.49, diff_ci=[0.001, 0.02]) == "beats"
    assert decide(0.50, 0.49, diff_ci=[-0.01, 0.02]) == "ties"
    assert decide(0.40, 0.49, diff_ci=[-0.1, -0.05]) == "behind"
    assert decide(0.40, 0.49, higher_is_better=False, diff_ci=[-0.1, -0.05]) == "beats"  # e.g. KL


def test_decide_by_non_overlapping_cis_otherwise_and_never_by_points_alone():
    assert decide(0.4836, 0.4828, a_ci=[0.455, 0.512], b_ci=[0.451, 0.516]) == "ties"  # the old "win"
    assert decide(0.6, 0.4, a_ci=[0.55, 0.65], b_ci=[0.35, 0.45]) == "beats"
    assert decide(0.4, 0.6, a_ci=[0.35, 0.45], b_ci=[0.55, 0.65]) == "behind"
    assert decide(0.6, 0.4) is None and decide(None, 0.4, diff_ci=[0.1, 0.2]) is None


# --- summaries from synthetic per-row scores ---------------------------------------------------------
def _hits(rate: float, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(N) < rate).astype(float)


def _system(report: dict, per_row: dict, name: str, task: str, rows: np.ndarray) -> None:
    """A system whose headline on every slice of `task` is the mean of `rows` (one 0/1 score per row)."""
    metric = HEADLINES[task][1]
    for slice_name in HEADLINES[task][0]:
        stat = Statistic(np.mean, (rows,))
        report.setdefault(task, {}).setdefault(slice_name, {})[name] = _judge({metric: stat}, ci=True)
        per_row.setdefault(name, {}).setdefault(task, {})[slice_name] = stat


@pytest.fixture(scope="module")
def synthetic_summary() -> dict:
    """purchase: MTL far above STL; attributes: MTL = STL on all rows but 8 it gets right more (a small
    consistent gain: CIs overlap, the paired difference does not include 0); sentiment: identical systems;
    profile: MTL far below. Trivial peers: the purchase twin is below Popularity, the others above theirs."""
    report, per_row = {}, {}
    base = _hits(0.5, 0)
    gained = base.copy()
    gained[np.flatnonzero(base == 0)[:8]] = 1.0
    _system(report, per_row, "MTL", PURCHASE, _hits(0.6, 1))
    _system(report, per_row, "STL", PURCHASE, _hits(0.05, 2))
    _system(report, per_row, "Popularity", PURCHASE, _hits(0.10, 3))
    _system(report, per_row, "MTL", ATTRIBUTES, gained)
    _system(report, per_row, "STL", ATTRIBUTES, base)
    _system(report, per_row, "Tag prior", ATTRIBUTES, _hits(0.2, 4))
    _system(report, per_row, "MTL", SENTIMENT, base)
    _system(report, per_row, "STL", SENTIMENT, base)
    _system(report, per_row, "Majority class", SENTIMENT, _hits(0.2, 5))
    _system(report, per_row, "MTL", PROFILE, _hits(0.2, 6))
    _system(report, per_row, "STL", PROFILE, _hits(0.6, 7))
    _system(report, per_row, "Global prior", PROFILE, _hits(0.3, 8))
    peers_only = {k: v for k, v in per_row.items() if k in ("MTL", "STL")}
    return {"report": report, "summary": summarise(report, per_row=peers_only)}


def test_summary_says_beats_ties_behind_per_task(synthetic_summary):
    rows = synthetic_summary["summary"]["tasks"]
    assert rows[PURCHASE]["vs_stl"] == "beats"
    assert rows[ATTRIBUTES]["vs_stl"] == "beats"
    assert rows[SENTIMENT]["vs_stl"] == "ties"
    assert rows[PROFILE]["vs_stl"] == "behind"
    assert all(rows[t]["vs_stl_rule"] == "paired bootstrap" for t in TASKS)


def test_a_small_consistent_gain_is_found_by_the_paired_test_not_by_ci_overlap(synthetic_summary):
    row = synthetic_summary["summary"]["tasks"][ATTRIBUTES]
    assert row["vs_stl_diff_ci"][0] > 0
    assert decide(row["MTL"], row["STL"], a_ci=row["MTL_ci"], b_ci=row["STL_ci"]) == "ties"


def test_without_per_row_scores_the_verdict_falls_back_to_ci_overlap(synthetic_summary):
    rows = summarise(synthetic_summary["report"])["tasks"]
    assert rows[ATTRIBUTES]["vs_stl"] == "ties" and rows[ATTRIBUTES]["vs_stl_rule"] == "CI overlap"
    assert rows[PURCHASE]["vs_stl"] == "beats"


def test_every_headline_of_mtl_and_stl_carries_a_ci(synthetic_summary):
    report = synthetic_summary["report"]
    for task in TASKS:
        for slice_name in HEADLINES[task][0]:
            for name in ("MTL", "STL"):
                low, high = report[task][slice_name][name][f"{HEADLINES[task][1]}_ci"]
                assert low <= report[task][slice_name][name][HEADLINES[task][1]] <= high


def test_delta_m_with_all_twins_and_without_the_twin_below_its_trivial_peer(synthetic_summary):
    summary = synthetic_summary["summary"]
    gains = {t: row["relative_gain_vs_stl"] for t, row in summary["tasks"].items()}
    assert summary["delta_m"] == pytest.approx(np.mean(list(gains.values())))
    assert list(summary["twins_excluded"]) == [PURCHASE]
    assert "Popularity" in summary["twins_excluded"][PURCHASE]
    kept = [g for t, g in gains.items() if t != PURCHASE]
    assert summary["delta_m_without_failed_twins"] == pytest.approx(np.mean(kept))
    assert summary["delta_m_without_failed_twins"] < summary["delta_m"]  # the failed twin flattered MTL


def test_markdown_shows_the_verdicts_and_both_delta_m(synthetic_summary):
    text = markdown(dict(synthetic_summary["report"], summary=synthetic_summary["summary"]))
    assert "| purchase |" in text and "beats (paired)" in text and "**behind** (paired)" in text
    assert "ties (paired)" in text
    assert "all twins:" in text and "excluded: purchase: STL" in text


# --- what a checkpoint may be scored on ---------------------------------------------------------------
def _checkpoint(split="brand", fingerprint="f1", tags=("a", "b")):
    return SimpleNamespace(attribute_split=split, fingerprint=fingerprint, tags=list(tags))


def test_a_product_split_model_is_refused_on_the_brand_split():
    with pytest.raises(ValueError, match=r"expected a model trained on the 'brand' split.*got.*'product'.*fix:"):
        check_checkpoint(_checkpoint("product"), "brand", "f1", ["a", "b"])


def test_other_data_or_another_vocabulary_is_refused():
    with pytest.raises(ValueError, match=r"fingerprint: expected f1.*got f2; fix:"):
        check_checkpoint(_checkpoint(), "brand", "f2", ["a", "b"])
    with pytest.raises(ValueError, match=r"tag vocabulary: expected.*2 tags; got 3.*fix:"):
        check_checkpoint(_checkpoint(), "brand", "f1", ["a", "b", "c"])


def test_a_matching_or_unrecorded_checkpoint_is_scored(caplog):
    check_checkpoint(_checkpoint(), "brand", "f1", ["a", "b"])
    check_checkpoint(_checkpoint("", ""), "brand", "f1", ["a", "b"])
    assert "does not record its attribute split" in caplog.text


# --- leakage: fitted tables see training rows only ----------------------------------------------------
def _items(rows: list[tuple[str, str, list[str], str]]) -> pd.DataFrame:
    """(source, brand_split/product_split, known_tags, category) per row."""
    return pd.DataFrame(
        {
            "source": [r[0] for r in rows],
            "brand_split": [r[1] for r in rows],
            "product_split": [r[1] for r in rows],
            "known_tags": [r[2] for r in rows],
            "category": [r[3] for r in rows],
        }
    )


def test_a_tag_or_category_seen_only_in_test_products_is_not_in_the_vocabulary():
    train = [("sephora", "train", ["vegan"], "Serum")] * 5
    held_out = [("sephora", "test", ["test-only"], "TestCat")] * 5 + [("sephora", "valid", ["valid-only"], "V")] * 5
    config = DataConfig(attribute_min_count=3, category_min_count=3)
    tags, categories = _vocabularies(_items(train + held_out), config)
    assert tags == ["vegan"]
    assert categories == ["Serum", "Other"]


def test_idf_of_a_word_seen_only_in_held_out_texts_is_the_unseen_value():
    items = _items([("sephora", "train", [], "")] * 3 + [("sephora", "test", [], "")])
    item_bags = [np.array([1, 2]), np.array([1]), np.array([3]), np.array([7])]  # 7: a test product only
    reviews = pd.DataFrame({"split": ["train", "test", "valid"]})
    review_bags = [np.array([1]), np.array([8]), np.array([9])]  # 8, 9: held-out reviews only
    bags = _train_bags(items, item_bags, reviews, review_bags)
    assert len(bags) == 4
    idf = ngram_idf(bags, 16)
    unseen = idf[15]
    assert idf[7] == idf[8] == idf[9] == unseen
    assert idf[1] < idf[3] < unseen


def test_silver_tags_are_learnt_from_training_products_only():
    train = [("sephora", "train", ["vegan"], "Lipstick", f"vegan plant lipstick {i}") for i in range(6)]
    train += [("sephora", "train", ["matte"], "Lipstick", f"matte powder lipstick {i}") for i in range(6)]
    held_out = [("sephora", "test", ["floral"], "Perfume", f"floral perfume spray {i}") for i in range(6)]
    unlabelled = [
        ("beauty2014", "train", [], "", "floral perfume spray"),
        ("beauty2014", "train", [], "", "vegan plant"),
    ]
    rows = train + held_out + unlabelled
    items = _items([r[:4] for r in rows]).assign(title=[r[4] for r in rows], brand="b", description="")
    tags = ["vegan", "matte", "floral"]
    own = np.array([[t in r[2] for t in tags] for r in rows], np.float32)
    silver = silver_tags(SimpleNamespace(items=items), tags, own)
    np.testing.assert_array_equal(silver[:18], own[:18])  # products with their own tags keep them
    assert silver[18, 2] == 0  # only test products teach "floral": it cannot be predicted
    assert silver[19, 0] == 1  # a training tag reaches the unlabelled product that reads like its products


# --- device handling of the twins' evaluation ---------------------------------------------------------
ITEMS = 30  # catalogue rows of synthetic_task_data


def _model():
    from dataclasses import fields

    from guide.config import ModelConfig

    sized = {"num_items": ITEMS} if "num_items" in {f.name for f in fields(ModelConfig)} else {}
    return synthetic_model(**sized).eval()


def synthetic_task_data(items: int = ITEMS, reviews: int = 24, shoppers: int = 6, negatives: int = 9) -> TaskData:
    """A TaskData of the synthetic model's sizes (TAGS, CATEGORIES, 64 n-gram buckets)."""
    rng = np.random.default_rng(0)
    splits = np.array(["train", "valid", "test"])

    def bags(n):
        return [rng.integers(1, 64, size=rng.integers(1, 4)) for _ in range(n)]

    def shoppers_split():
        history = [rng.integers(0, items, size=3) for _ in range(shoppers)]
        return PurchaseSplit(
            users=[f"u{i}" for i in range(shoppers)],
            history=history,
            ratings=[np.full(3, 4.0, np.float32) for _ in history],
            target=rng.integers(0, items, size=shoppers),
            negatives=rng.integers(0, items, size=(shoppers, negatives)),
        )

    tag_targets = (rng.random((items, TAGS)) < 0.4).astype(np.float32)
    interest = rng.random((items, CATEGORIES + TAGS)).astype(np.float32)
    return TaskData(
        item_emb=rng.standard_normal((items, 384)).astype(np.float32),
        item_ngrams=bags(items),
        item_feats=rng.standard_normal((items, 3)).astype(np.float32),
        review_emb=rng.standard_normal((reviews, 384)).astype(np.float32),
        review_ngrams=bags(reviews),
        review_labels=rng.integers(0, 3, size=reviews),
        review_split=splits[np.arange(reviews) % 3],
        review_source=np.array(["amazon", "clothing"])[np.arange(reviews) // 3 % 2],
        review_stars=rng.integers(1, 6, size=reviews).astype(np.float32),
        review_lexicon=rng.random((reviews, 4)).astype(np.float32),
        tags=[f"t{i}" for i in range(TAGS)],
        categories=[f"c{i}" for i in range(CATEGORIES)],
        tag_targets=tag_targets,
        tag_mask=np.ones_like(tag_targets),
        cat_targets=np.arange(items) % CATEGORIES,
        attr_split=splits[np.arange(items) % 3],
        item_interest=interest / interest.sum(1, keepdims=True),
        amazon_rows=np.arange(items),
        idf=np.ones(64, np.float32),
        purchase={s: shoppers_split() for s in splits},
    )


def _twin(device: str) -> SimpleNamespace:
    return SimpleNamespace(model=_model().to(device), calibration={})


def test_model_metrics_give_every_headline_a_ci_and_its_per_row_statistic():
    data, per_row = synthetic_task_data(), {}
    metrics = _scored(_twin("cpu"), data, torch.device("cpu"), per_row)
    for task in TASKS:
        for slice_name in HEADLINES[task][0]:
            assert f"{HEADLINES[task][1]}_ci" in metrics[task][slice_name], (task, slice_name)
            stat = per_row[task][slice_name]
            assert stat() == pytest.approx(metrics[task][slice_name][HEADLINES[task][1]])


def test_trivial_peers_are_computed_from_the_data_alone():
    trivial = trivial_metrics(synthetic_task_data())
    assert set(trivial[SENTIMENT]) == {"amazon", "clothing"}
    assert "macro_f1_ci" in trivial[SENTIMENT]["amazon"]["Majority class"]
    assert "micro_f1" in trivial[ATTRIBUTES]["brand"]["Tag prior"]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("trained_on", ["cuda", "cpu"])
def test_twins_trained_anywhere_are_scored_on_the_evaluation_device(trained_on):
    data = synthetic_task_data()
    cpu = model_metrics(_model(), data, "cpu", {}, ci=False)
    twin = _twin(trained_on)
    for device in ("cuda", "cpu"):
        metrics = _scored(twin, data, torch.device(device), {}, ci=False)
        assert next(twin.model.parameters()).device.type == device
        assert set(metrics) == set(cpu)
