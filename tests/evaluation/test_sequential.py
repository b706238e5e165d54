"""guide.evaluation.sequential on a small synthetic benchmark (no data needed).

40 pool products in 4 clusters (embeddings near one direction per cluster), behind 5 non-pool catalogue rows so
catalogue rows and pool columns differ. Every shopper stays inside one cluster and always buys the next product
of its cluster (a fixed successor cycle); half of the shoppers are in cluster 0, so popularity alone is right
for half of them at most, while co-occurrence and content similarity see the pattern.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from guide.data.task_data import PurchaseSplit
from guide.evaluation import sequential
from guide.metrics.ranking import positions

OFFSET = 5  # catalogue rows 0..4 are outside the pool (like Sephora products)
CLUSTERS, PER_CLUSTER = 4, 10
POOL = np.arange(OFFSET, OFFSET + CLUSTERS * PER_CLUSTER)
NEGATIVES = 20  # the pool is small: 1 + 20 instead of 1 + 99


def _product(cluster: int, k: int) -> int:
    return OFFSET + cluster * PER_CLUSTER + k % PER_CLUSTER


def _splits(sequences: list[np.ndarray], rng: np.random.Generator) -> dict[str, PurchaseSplit]:
    """Leave-one-out as guide.data.task_data builds it: train = all but the last 2, valid / test targets after it."""
    users = [f"u{i}" for i in range(len(sequences))]

    def split(cut: int, negatives: bool) -> PurchaseSplit:
        history = [s[: len(s) - cut] for s in sequences]
        part = PurchaseSplit(
            users,
            history,
            [np.zeros(len(h), np.float32) for h in history],
            np.array([s[len(s) - cut] for s in sequences], np.int64),
            seen=[s[: len(s) - cut] for s in sequences],
        )
        if negatives:
            part.negatives = np.stack([rng.choice(np.setdiff1d(POOL, s), NEGATIVES, replace=False) for s in sequences])
        return part

    train = split(3, False)
    train.sequences = [s[:-2] for s in sequences]
    return {"train": train, "valid": split(2, True), "test": split(1, True)}


def synthetic_data(shoppers: int = 160, seed: int = 0) -> SimpleNamespace:
    """What the sequential peers read of TaskData: amazon_rows, item_emb and purchase[split]."""
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.standard_normal((384, CLUSTERS)))[0].T  # orthonormal cluster directions
    emb = rng.standard_normal((OFFSET + len(POOL), 384)) * 0.02
    for cluster in range(CLUSTERS):
        emb[OFFSET + cluster * PER_CLUSTER : OFFSET + (cluster + 1) * PER_CLUSTER] += centres[cluster]
    sequences = []
    for i in range(shoppers):
        cluster = 0 if i % 2 == 0 else 1 + (i // 2) % (CLUSTERS - 1)  # half the shoppers in cluster 0
        start, length = rng.integers(PER_CLUSTER), rng.integers(5, 9)
        sequences.append(np.array([_product(cluster, start + k) for k in range(length)], np.int64))
    return SimpleNamespace(amazon_rows=POOL, item_emb=emb.astype(np.float32), purchase=_splits(sequences, rng))


@pytest.fixture(scope="module")
def data() -> SimpleNamespace:
    return synthetic_data()


def _mean(data, scorer, split: str = "test") -> dict[str, float]:
    values = sequential.per_shopper(sequential.peer_ranks(scorer, data, data.purchase[split]))
    return {name: float(v.mean()) for name, v in values.items()}


def test_synthetic_splits_hold_the_leave_one_out_shape(data):
    train, valid, test = (data.purchase[s] for s in ("train", "valid", "test"))
    for i, seq in enumerate(train.sequences):
        assert valid.target[i] not in seq and test.target[i] not in seq
        assert list(test.history[i]) == list(seq) + [valid.target[i]]


# --- per_shopper --------------------------------------------------------------------------------------
def test_per_shopper_turns_ranks_into_the_reported_metrics():
    ranks = np.array([0, 9, 10, 19, 20])
    values = sequential.per_shopper({"full": ranks, "sampled": np.array([0, 1, 9, 10, 50])})
    assert set(values) == {"full_hr@10", "full_ndcg@10", "full_hr@20", "hr@10", "ndcg@10"}
    np.testing.assert_array_equal(values["full_hr@10"], [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(values["full_hr@20"], [1, 1, 1, 1, 0])
    np.testing.assert_allclose(values["full_ndcg@10"], [1.0, 1 / np.log2(11), 0, 0, 0])
    np.testing.assert_array_equal(values["hr@10"], [1, 1, 1, 0, 0])
    np.testing.assert_allclose(values["ndcg@10"], [1.0, 1 / np.log2(3), 1 / np.log2(11), 0, 0])
    assert set(sequential.per_shopper({"full": ranks})) == {"full_hr@10", "full_ndcg@10", "full_hr@20"}


# --- peer_ranks: the ranking rules ------------------------------------------------------------------------
def _scorer(data, favoured: list[np.ndarray], target: np.ndarray):
    """Scores 100 for each shopper's `favoured` catalogue rows, 50 for its target, 0 elsewhere."""

    def score(histories):
        out = np.zeros((len(histories), len(data.amazon_rows)))
        for i, rows in enumerate(favoured[: len(histories)]):
            out[i, positions(np.asarray(rows), data.amazon_rows)] = 100.0
        out[np.arange(len(histories)), positions(target[: len(histories)], data.amazon_rows)] = 50.0
        return out

    return score


def test_the_shoppers_own_products_are_masked_from_the_full_ranking(data):
    test = data.purchase["test"]
    scorer = _scorer(data, test.seen, test.target)  # every product already bought outscores the target
    np.testing.assert_array_equal(sequential.peer_ranks(scorer, data, test)["full"], 0)  # ... but is masked
    assert (sequential.peer_ranks(scorer, data, test)["sampled"] == 0).all()  # negatives are never bought ones


def test_masking_uses_the_whole_prior_sequence_not_just_the_capped_history(data):
    test = data.purchase["test"]
    capped = PurchaseSplit(test.users, [h[-2:] for h in test.history], test.ratings, test.target, test.negatives,
                           seen=test.seen)  # fmt: skip
    scorer = _scorer(data, [s[:1] for s in test.seen], test.target)  # the oldest purchase: outside the capped history
    np.testing.assert_array_equal(sequential.peer_ranks(scorer, data, capped)["full"], 0)
    unmasked = PurchaseSplit(test.users, capped.history, test.ratings, test.target, test.negatives, seen=None)
    assert (sequential.peer_ranks(scorer, data, unmasked)["full"] == 1).all()  # only the history is masked


def test_ties_count_against_the_target(data):
    test = data.purchase["test"]
    ranks = sequential.peer_ranks(lambda h: np.zeros((len(h), len(data.amazon_rows))), data, test)
    expected = len(data.amazon_rows) - 1 - np.array([len(s) for s in test.seen])  # every unmasked product ties
    np.testing.assert_array_equal(ranks["full"], expected)
    np.testing.assert_array_equal(ranks["sampled"], NEGATIVES)


def test_sampled_ranks_compare_the_target_with_its_own_negatives_only(data):
    test = data.purchase["test"]

    # the target scores 1; its own negatives 0 except the first, which scores 2; everything else 5
    def scorer(histories):
        n = len(histories)
        out = np.full((n, len(data.amazon_rows)), 5.0)
        rows = np.arange(n)[:, None]
        out[rows, positions(test.negatives[:n].ravel(), data.amazon_rows).reshape(n, -1)] = 0.0
        out[np.arange(n), positions(test.negatives[:n, 0], data.amazon_rows)] = 2.0
        out[np.arange(n), positions(test.target[:n], data.amazon_rows)] = 1.0
        return out

    ranks = sequential.peer_ranks(scorer, data, test)
    np.testing.assert_array_equal(ranks["sampled"], 1)
    assert (ranks["full"] > 1).all()


def test_peer_ranks_do_not_depend_on_the_chunk_size(data):
    scorer = sequential.fit_cooccurrence(data)
    whole = sequential.peer_ranks(scorer, data, data.purchase["test"])
    chunked = sequential.peer_ranks(scorer, data, data.purchase["test"], chunk=7)
    for key in ("full", "sampled"):
        np.testing.assert_array_equal(whole[key], chunked[key])
    assert len(whole["full"]) == len(whole["sampled"]) == len(data.purchase["test"].target)


# --- the peers --------------------------------------------------------------------------------------
def test_popularity_ranks_the_most_bought_products_first(data):
    counts = np.zeros(len(data.amazon_rows))
    for seq in data.purchase["train"].sequences:
        counts[seq - OFFSET] += 1
    scores = sequential.fit_popularity(data)([np.zeros(0, np.int64), data.purchase["test"].history[0]])
    assert scores.shape == (2, len(data.amazon_rows))
    np.testing.assert_array_equal(scores[0], counts)
    np.testing.assert_array_equal(scores[1], counts)  # the same for every shopper
    top = np.argsort(-scores[0])[:PER_CLUSTER]
    assert (top < PER_CLUSTER).all()  # cluster 0 holds half the shoppers: its products lead


def test_cooccurrence_and_content_beat_popularity(data):
    popularity = _mean(data, sequential.fit_popularity(data))
    cooccurrence = _mean(data, sequential.fit_cooccurrence(data))
    content = _mean(data, sequential.fit_content(data))
    assert 0.4 <= popularity["full_hr@10"] <= 0.6  # right for the cluster-0 half only
    assert cooccurrence["full_hr@10"] > popularity["full_hr@10"] + 0.3
    assert content["full_hr@10"] > popularity["full_hr@10"] + 0.3
    assert cooccurrence["full_ndcg@10"] > popularity["full_ndcg@10"]
    assert content["hr@10"] > popularity["hr@10"] and cooccurrence["hr@10"] > popularity["hr@10"]


def test_cooccurrence_finds_the_successor_and_weighs_later_purchases_more(data):
    score = sequential.fit_cooccurrence(data)
    a, after, before = _product(2, 4), _product(2, 5), _product(2, 3)
    column = lambda row: int(positions(np.array([row]), data.amazon_rows)[0])  # noqa: E731
    scores = score([np.array([a])])[0]
    assert np.argmax(scores) == column(after)  # the product that followed it in train sequences
    assert scores[column(after)] > scores[column(before)] > scores[column(_product(0, 4))]
    assert (
        np.mean(sequential.per_shopper(sequential.peer_ranks(score, data, data.purchase["test"]))["full_hr@10"]) > 0.9
    )


def test_content_similarity_prefers_the_latest_products_cluster(data):
    score = sequential.fit_content(data)
    history = np.array([_product(1, 0), _product(3, 0)])  # the latest purchase is in cluster 3
    scores = score([history, np.zeros(0, np.int64)])
    cluster = np.arange(len(data.amazon_rows)) // PER_CLUSTER
    assert scores[0][cluster == 3].mean() > scores[0][cluster == 1].mean() > scores[0][cluster == 0].mean()
    np.testing.assert_array_equal(scores[1], 0.0)  # no history: no preference


def test_peer_values_returns_per_shopper_arrays_for_the_named_peers(data):
    values = sequential.peer_values(data, "test", ("Popularity", "MiniLM content similarity"))
    assert set(values) == {"Popularity", "MiniLM content similarity"}
    n = len(data.purchase["test"].target)
    for per_peer in values.values():
        assert set(per_peer) == {"full_hr@10", "full_ndcg@10", "full_hr@20", "hr@10", "ndcg@10"}
        assert all(v.shape == (n,) and ((v >= 0) & (v <= 1)).all() for v in per_peer.values())


def test_sasrec_trains_briefly_and_scores_every_pool_product(data, tmp_path):
    torch.set_num_threads(1)
    scorer = sequential.fit_sasrec(data, minutes=0.1, epochs=2, cache=tmp_path)
    test = data.purchase["test"]
    scores = scorer(test.history[:5] + [np.zeros(0, np.int64)])
    assert scores.shape == (6, len(data.amazon_rows))
    assert np.isfinite(scores).all()
    np.testing.assert_array_equal(scorer(test.history[:5]), scores[:5])  # eval mode: no dropout
    ranks = sequential.peer_ranks(scorer, data, test)
    assert ranks["full"].shape == (len(test.target),) and (ranks["full"] < len(data.amazon_rows)).all()


def test_sasrec_to_the_sampled_softmax_recipe_learns_the_successor_pattern(data, tmp_path):
    """A small "ss" SASRec (the eSASRec recipe's loss, 8 negatives of the 40-product pool) beats popularity,
    which is right for at most half of the shoppers here."""
    torch.set_num_threads(1)
    scorer = sequential.fit_sasrec(data, minutes=1.0, recipe="ss", dim=32, negatives=8, epochs=30, patience=30,
                                   batch_size=32, cache=tmp_path)  # fmt: skip
    popularity = _mean(data, sequential.fit_popularity(data))["full_hr@10"]
    assert _mean(data, scorer)["full_hr@10"] > popularity + 0.2


def test_bsarec_learns_the_successor_pattern(data, tmp_path):
    torch.set_num_threads(1)
    scorer = sequential.fit_bsarec(data, minutes=1.0, dim=16, max_length=8, batch_size=32, lr=3e-3, epochs=15,
                                   patience=15, dropout=0.1, cache=tmp_path)  # fmt: skip
    popularity = _mean(data, sequential.fit_popularity(data))["full_hr@10"]
    assert _mean(data, scorer)["full_hr@10"] > popularity + 0.2
    assert len(list(tmp_path.glob("bsarec-*.pt"))) == 1


def test_sasrec_weights_are_cached_and_reused_only_for_the_same_settings(data, tmp_path):
    torch.set_num_threads(1)
    first = sequential.fit_sasrec(data, minutes=0.05, epochs=1, cache=tmp_path)
    stored = list(tmp_path.glob("sasrec-*.pt"))
    assert len(stored) == 1
    log = torch.load(stored[0], weights_only=True)["log"]
    assert log[0]["epoch"] == 1 and 0 <= log[0]["valid_ndcg10"] <= 1
    history = data.purchase["test"].history[:4]
    again = sequential.fit_sasrec(data, minutes=0.05, epochs=1, cache=tmp_path)  # loaded, not retrained
    np.testing.assert_array_equal(first(history), again(history))
    assert again.log == first.log == log  # the training's epoch log travels with the scorer
    sequential.fit_sasrec(data, minutes=0.05, epochs=1, seed=14, cache=tmp_path)  # other settings: a new file
    assert len(list(tmp_path.glob("sasrec-*.pt"))) == 2


def test_peer_names_add_only_the_sasrec_recipes_asked_for():
    free = sequential.peer_names(False)
    assert not set(free) & set(sequential.SASREC_PEERS.values())
    assert sequential.peer_names(("ss",)) == free + (sequential.SASREC_PEERS["ss"],)
    assert set(sequential.peer_names(True)) == set(sequential.PEERS)
    with pytest.raises(ValueError, match="expected some of"):
        sequential.peer_names(("gru",))
