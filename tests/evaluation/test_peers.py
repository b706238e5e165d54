"""guide.evaluation.peers on a small real slice (2% of the clothing reviews, 10% of Sephora, all of Amazon).

The embedding cache is a temporary copy of the shipped one, so nothing is written into assets/.
One report is computed per module (about 10 s on 2 cores) and every test reads it.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from guide.config import ATTRIBUTES, DEFAULT_EMBEDDING_DIR, PROFILE, PURCHASE, SENTIMENT, TASKS, DataConfig
from guide.data import tasks
from guide.data.catalog import Catalog
from guide.data.tasks import PurchaseSplit
from guide.data.text import EmbeddingCache, Encoder
from guide.evaluation import metrics, peers

CONFIG = DataConfig(clothing_fraction=0.02, sephora_fraction=0.1)
RANGES = {"spearman": (-1.0, 1.0), "kl": (0.0, np.inf)}  # every other metric lies in [0, 1]


pytestmark = pytest.mark.realdata  # every peer here is fitted on a real slice


@pytest.fixture(scope="module")
def slice_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("embeddings")
    if DEFAULT_EMBEDDING_DIR.is_dir():
        shutil.copytree(DEFAULT_EMBEDDING_DIR, folder, dirs_exist_ok=True)
    catalog = Catalog.load(config=CONFIG)
    encoder = Encoder(cache=EmbeddingCache(folder))
    brand = tasks.build(catalog, encoder, CONFIG, attribute_split="brand")
    product = tasks.build(catalog, encoder, CONFIG, attribute_split="product")
    return catalog, brand, product


@pytest.fixture(scope="module")
def report(slice_data):
    catalog, brand, product = slice_data
    return peers.peer_report(catalog, brand, product, split="test")


def test_report_structure(report):
    assert set(report) == set(TASKS)
    assert set(report[SENTIMENT]) == {"amazon", "clothing"}
    assert set(report[ATTRIBUTES]) == {"brand", "product"}
    assert set(report[PURCHASE]) == set(report[PROFILE]) == {"test"}
    for task, registry in (
        (SENTIMENT, peers.SENTIMENT_PEERS),
        (ATTRIBUTES, peers.ATTRIBUTE_PEERS),
        (PURCHASE, peers.PURCHASE_PEERS),
        (PROFILE, peers.PROFILE_PEERS),
    ):
        for slice_name, by_peer in report[task].items():
            assert set(by_peer) == set(registry), (task, slice_name)
    amazon = report[SENTIMENT]["amazon"]["VADER"]
    assert {"macro_f1", "accuracy", "spearman", "macro_f1_ci", "spearman_ci"} <= set(amazon)
    assert amazon["n"] == 253
    assert {"hr@10", "ndcg@10", "auc", "full_hr@10", "hr@10_ci", "auc_ci"} <= set(report[PURCHASE]["test"]["BPR-MF"])
    assert {"micro_f1", "macro_f1", "category_accuracy"} <= set(report[ATTRIBUTES]["brand"]["TF-IDF OvR"])
    assert {"ndcg_category", "kl", "kl_ci"} <= set(report[PROFILE]["test"]["History frequency"])
    json.dumps(report)  # plain floats and lists, ready for the evaluation report


def test_every_metric_is_in_range(report):
    for task, slices in report.items():
        for slice_name, by_peer in slices.items():
            for peer, values in by_peer.items():
                for name, value in values.items():
                    if name == "n":
                        assert value > 0
                        continue
                    low, high = RANGES.get(name.removesuffix("_ci"), (0.0, 1.0))
                    bounds = value if name.endswith("_ci") else [value, value]
                    assert low - 1e-9 <= bounds[0] <= bounds[1] <= high + 1e-9, (task, slice_name, peer, name, value)


def test_tfidf_sentiment_beats_the_majority_class(report, slice_data):
    _, data, _ = slice_data
    majority = np.bincount(data.review_labels[data.review_rows("train")]).argmax()
    for source in ("amazon", "clothing"):
        labels = data.review_labels[data.review_rows("test", source)]
        baseline = metrics.macro_f1(labels, np.full_like(labels, majority))
        assert report[SENTIMENT][source]["TF-IDF+LogReg"]["macro_f1"] > baseline + 0.1, source


def test_purchase_peers_beat_chance(report):
    by_peer = report[PURCHASE]["test"]
    assert by_peer["MiniLM content similarity"]["auc"] > 0.55
    low, high = by_peer["Random"]["auc_ci"]
    assert low < 0.5 < high


def test_profile_peers_predict_distributions(slice_data):
    _, data, _ = slice_data
    test = data.purchase["test"]
    shoppers = PurchaseSplit(
        users=["someone new", test.users[0]],
        history=[np.zeros(0, np.int64), test.history[0]],
        ratings=[np.zeros(0), test.ratings[0]],
        target=test.target[:2],
    )
    prior = peers.PROFILE_PEERS["Global prior"](data)(shoppers)
    history = peers.PROFILE_PEERS["History frequency"](data)(shoppers)
    np.testing.assert_allclose(history.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(history[0], prior[0], rtol=1e-5)  # no history: the prior
    assert not np.allclose(history[1], prior[1])
    seen = data.item_interest[test.history[0]].mean(0) > 0
    assert history[1][seen].sum() > prior[1][seen].sum()  # mass moves to what the shopper bought


def test_attribute_peers_beat_predicting_nothing(report):
    for slice_name in ("brand", "product"):
        for peer, values in report[ATTRIBUTES][slice_name].items():
            assert values["micro_f1"] > 0.15, (slice_name, peer)
            assert values["category_accuracy"] > 0.3, (slice_name, peer)


def test_constant_scores_are_judged_as_chance(slice_data):
    """Ties are broken at random: a scorer that cannot tell items apart neither hits always nor never."""
    _, data, _ = slice_data
    result = peers.purchase_peer_metrics(
        lambda part, candidates: np.zeros(candidates.shape), data, data.purchase["test"], ci=False
    )
    assert 0.4 < result["auc"] < 0.6
    assert 0.03 < result["hr@10"] < 0.2  # 10 of 100 candidates


def test_bpr_is_deterministic(slice_data):
    _, data, _ = slice_data
    part = data.purchase["test"]
    candidates = np.concatenate([part.target[:, None], part.negatives], axis=1)
    first, second = (peers.PURCHASE_PEERS["BPR-MF"](data)(part, candidates) for _ in range(2))
    np.testing.assert_array_equal(first, second)


def test_arguments_are_checked(slice_data):
    catalog, brand, product = slice_data
    with pytest.raises(ValueError, match="attribute_split='brand'"):
        peers.peer_report(catalog, product)
    with pytest.raises(ValueError, match="split: expected"):
        peers.peer_report(catalog, brand, split="train")
