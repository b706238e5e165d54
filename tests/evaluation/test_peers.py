"""guide.evaluation.peers on a small real slice (2% of the clothing reviews, 10% of Sephora, all of Amazon and
of the Beauty 2014 benchmark).

The embedding cache is a temporary copy of the shipped one, so nothing is written into assets/.
One report is computed per module and every test reads it. The purchase peers themselves are tested on
synthetic data in test_sequential.py; here only their place in the report and their order on the benchmark.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from guide import metrics
from guide.config import ATTRIBUTES, DEFAULT_EMBEDDING_DIR, PROFILE, PURCHASE, SENTIMENT, TASKS, DataConfig
from guide.data import task_data
from guide.data.catalog import Catalog
from guide.data.task_data import PurchaseSplit
from guide.data.text import EmbeddingCache, Encoder
from guide.evaluation import peers, sequential

CONFIG = DataConfig(clothing_fraction=0.02, sephora_fraction=0.1)
RANGES = {"spearman": (-1.0, 1.0), "kl": (0.0, np.inf)}  # every other metric lies in [0, 1]
PURCHASE_METRICS = {"full_hr@10", "full_ndcg@10", "full_hr@20", "hr@10", "ndcg@10"}
SASRECS = set(sequential.SASREC_PEERS.values())  # train for minutes: left out of the report by default


pytestmark = pytest.mark.realdata  # every peer here is fitted on a real slice


@pytest.fixture(scope="module")
def slice_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("embeddings")
    if DEFAULT_EMBEDDING_DIR.is_dir():
        shutil.copytree(DEFAULT_EMBEDDING_DIR, folder, dirs_exist_ok=True)
    catalog = Catalog.load(config=CONFIG)
    encoder = Encoder(cache=EmbeddingCache(folder))
    brand = task_data.build(catalog, encoder, CONFIG, attribute_split="brand")
    product = task_data.build(catalog, encoder, CONFIG, attribute_split="product")
    for data in (brand, product):  # 3,000 of the 22,363 shoppers judged: the same rules, minutes less
        for split in ("valid", "test"):
            data.purchase[split] = _first(data.purchase[split], SHOPPERS)
    return catalog, brand, product


SHOPPERS = 3000


def _first(split, n: int):
    return PurchaseSplit(split.users[:n], split.history[:n], split.ratings[:n], split.target[:n],
                         split.negatives[:n], seen=split.seen[:n])  # fmt: skip


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
        (PURCHASE, set(sequential.PEERS) - SASRECS),
        (PROFILE, peers.PROFILE_PEERS),
    ):
        for slice_name, by_peer in report[task].items():
            assert set(by_peer) == set(registry), (task, slice_name)
    assert set(peers.PROFILE_PEERS) == {"Global prior", "History frequency", "Recency-weighted history"}
    amazon = report[SENTIMENT]["amazon"]["VADER"]
    assert {"macro_f1", "accuracy", "spearman", "macro_f1_ci", "spearman_ci"} <= set(amazon)
    assert amazon["n"] == 253
    for values in report[PURCHASE]["test"].values():
        assert set(values) == PURCHASE_METRICS | {f"{m}_ci" for m in PURCHASE_METRICS} | {"n"}
        assert values["n"] == SHOPPERS  # every benchmark shopper of the judged slice
    assert {"micro_f1", "macro_f1", "category_accuracy"} <= set(report[ATTRIBUTES]["brand"]["TF-IDF OvR"])
    for values in report[PROFILE]["test"].values():
        assert {"ndcg_category", "kl", "kl_ci"} <= set(values)
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


def test_purchase_peers_on_the_benchmark(report):
    by_peer = report[PURCHASE]["test"]
    popularity = by_peer["Popularity"]
    assert 0.005 < popularity["full_hr@10"] < 0.03  # PopRec's published 0.0152
    for peer in ("Item co-occurrence (item-kNN)", "MiniLM content similarity"):
        assert by_peer[peer]["full_hr@10"] > popularity["full_hr@10"], peer
        assert by_peer[peer]["full_hr@10_ci"][0] > popularity["full_hr@10_ci"][1], peer  # apart by CI
    for values in by_peer.values():
        assert values["full_hr@10"] <= values["full_hr@20"]
        assert values["full_hr@10"] < values["hr@10"]  # 1 + 99 is the easier protocol
        assert values["hr@10"] > 0.1  # chance among 1 + 99


def _shoppers(test: PurchaseSplit) -> PurchaseSplit:
    return PurchaseSplit(
        users=["someone new", test.users[0]],
        history=[np.zeros(0, np.int64), test.history[0]],
        ratings=[np.zeros(0), test.ratings[0]],
        target=test.target[:2],
    )


@pytest.mark.parametrize("name", ["History frequency", "Recency-weighted history"])
def test_profile_peers_predict_distributions(slice_data, name):
    _, data, _ = slice_data
    test = data.purchase["test"]
    shoppers = _shoppers(test)
    prior = peers.PROFILE_PEERS["Global prior"](data)(shoppers)
    np.testing.assert_allclose(prior[0], prior[1])  # the prior ignores the history
    np.testing.assert_allclose(prior[0], data.item_interest[data.purchase["train"].target].mean(0), rtol=1e-5)
    history = peers.PROFILE_PEERS[name](data)(shoppers)
    assert history.shape == (2, len(data.interests))
    np.testing.assert_allclose(history.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(history[0], prior[0], rtol=1e-5)  # no history: the prior
    assert not np.allclose(history[1], prior[1])
    seen = data.item_interest[test.history[0]].mean(0) > 0
    assert history[1][seen].sum() > prior[1][seen].sum()  # mass moves to what the shopper bought


def test_recency_weighting_favours_the_latest_purchase(slice_data):
    _, data, _ = slice_data
    interest = data.item_interest
    train = data.purchase["train"]
    # two products whose main interests differ: the older first, the newer last
    older = train.target[0]
    newer = next(t for t in train.target if interest[t].argmax() != interest[older].argmax())
    shoppers = PurchaseSplit(["a"], [np.array([older, newer])], [np.zeros(2)], np.array([newer]))
    recent = peers._recent_frequency(data, shoppers, decay=0.5, smoothing=0.0)[0]
    np.testing.assert_allclose(recent, (0.5 * interest[older] + interest[newer]) / 1.5, rtol=1e-5)
    flat = peers._history_frequency(data, shoppers, smoothing=0.0)[0]
    np.testing.assert_allclose(peers._recent_frequency(data, shoppers, decay=1.0, smoothing=0.0)[0], flat, rtol=1e-5)
    newest = interest[newer].argmax()
    assert recent[newest] > flat[newest]  # the latest purchase's interest gains over the plain mean


def test_profile_peers_beat_the_prior_on_the_benchmark(report):
    by_peer = report[PROFILE]["test"]
    prior = by_peer["Global prior"]
    for peer in ("History frequency", "Recency-weighted history"):
        assert by_peer[peer]["kl"] < prior["kl"], peer
        assert by_peer[peer]["ndcg_category"] > prior["ndcg_category"], peer


def test_attribute_peers_beat_predicting_nothing(report):
    for slice_name in ("brand", "product"):
        for peer, values in report[ATTRIBUTES][slice_name].items():
            assert values["micro_f1"] > 0.15, (slice_name, peer)
            assert values["category_accuracy"] > 0.3, (slice_name, peer)


def test_arguments_are_checked(slice_data):
    catalog, brand, product = slice_data
    with pytest.raises(ValueError, match="attribute_split='brand'"):
        peers.peer_report(catalog, product)
    with pytest.raises(ValueError, match="split: expected"):
        peers.peer_report(catalog, brand, split="train")
