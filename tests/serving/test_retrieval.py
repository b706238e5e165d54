"""guide.serving.retrieval: exact and approximate (faiss IVF) top-k by user . item + bias on synthetic vectors."""

from __future__ import annotations

import numpy as np
import pytest

from guide.serving import retrieval
from guide.serving.retrieval import CandidateIndex, exact_top_k, fold_bias, top_k

DIM = 32
NOISE = 1.0


def clustered(n: int, seed: int, centers: int = 200) -> np.ndarray:
    """Random-ish clustered vectors: unit cluster centres plus noise, norms varying around 1."""
    rng = np.random.default_rng(seed)
    middle = np.random.default_rng(99).standard_normal((centers, DIM)).astype(np.float32)
    middle /= np.linalg.norm(middle, axis=1, keepdims=True)
    picks = rng.integers(0, centers, n)
    out = middle[picks] + NOISE * rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
    return (out * rng.uniform(0.8, 1.2, (n, 1))).astype(np.float32)


@pytest.fixture(scope="module")
def catalogue():
    items = clustered(20_000, seed=1)
    bias = np.random.default_rng(2).normal(0, 0.1, len(items)).astype(np.float32)
    users = clustered(100, seed=3)
    return items, bias, users


@pytest.fixture(scope="module")
def index(catalogue):
    items, bias, _ = catalogue
    return CandidateIndex().build(items, bias)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def test_ann_recall_at_10_vs_exact(catalogue, index):
    items, bias, users = catalogue
    truth, _ = exact_top_k(users, items, 10, bias=bias)
    found, scores = index.search(users, 10)
    assert recall_at(found, truth) >= 0.95
    # scores are the exact user . item + bias of the ids found, best first
    expected = np.einsum("bd,bkd->bk", users, items[found]) + bias[found]
    np.testing.assert_allclose(scores, expected, atol=1e-4)
    assert (np.diff(scores, axis=1) <= 1e-6).all()


def test_reading_every_list_is_exact(catalogue, index):
    items, bias, users = catalogue
    truth, truth_scores = exact_top_k(users[:10], items, 20, bias=bias)
    found, scores = index.search(users[:10], 20, nprobe=index.index.nlist)
    np.testing.assert_allclose(scores, truth_scores, atol=1e-4)
    assert recall_at(found, truth) > 0.99


def test_bias_folding_ranks_as_user_dot_item_plus_bias(catalogue):
    items, bias, users = catalogue
    folded = fold_bias(items, bias)
    assert folded.shape == (len(items), DIM + 1)
    lifted_users = np.hstack([users, np.ones((len(users), 1), np.float32)])
    ids, scores = exact_top_k(lifted_users, folded, 15)
    brute = users @ items.T + bias
    expected = np.argsort(-brute, axis=1, kind="stable")[:, :15]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(brute, expected, 1), rtol=1e-5, atol=1e-5)
    # the bias matters: a huge bias on one item puts it first for everybody
    boosted = bias.copy()
    boosted[123] = 100.0
    assert (exact_top_k(users, items, 1, bias=boosted)[0][:, 0] == 123).all()


def test_exclusion_exact_and_index(catalogue, index):
    items, bias, users = catalogue
    user = users[0]
    first, _ = exact_top_k(user, items, 30, bias=bias)
    history = first[:10].tolist()
    ids, _ = exact_top_k(user, items, 20, bias=bias, exclude=history)
    assert not set(ids) & set(history)
    assert ids.tolist() == first[10:30].tolist()
    ann_first, _ = index.search(user, 30)
    ann_history = set(ann_first[:10].tolist())
    ann_ids, _ = index.search(user, 20, exclude=ann_history)
    assert len(ann_ids) == 20 and (ann_ids >= 0).all() and not set(ann_ids) & ann_history
    assert ann_ids.tolist() == ann_first[10:30].tolist()  # over-fetching keeps k results


def test_exclusion_per_user_and_padding():
    items = clustered(50, seed=5)
    users = clustered(2, seed=6)
    ids, scores = exact_top_k(users, items, 10, exclude=[[0, 1, 2], []])
    assert not {0, 1, 2} & set(ids[0]) and ids.shape == (2, 10)
    ids, scores = exact_top_k(users[0], items, 60, exclude=range(45))
    assert (ids[:5] >= 45).all() and (ids[5:] == -1).all() and np.isneginf(scores[5:]).all()
    index = CandidateIndex().build(items)
    ids, scores = index.search(users[0], 60, exclude=range(45))
    assert sorted(ids[:5]) == [45, 46, 47, 48, 49] and (ids[5:] == -1).all()


def test_top_k_uses_exact_below_threshold_and_index_above(catalogue, index, monkeypatch):
    items, bias, users = catalogue
    exact_ids, _ = exact_top_k(users[0], items, 10, bias=bias, exclude=[5])
    assert top_k(users[0], items, bias, 10, exclude=[5])[0].tolist() == exact_ids.tolist()
    calls = []
    monkeypatch.setattr(CandidateIndex, "search", lambda self, *a, **kw: calls.append(a) or ("ann", None))
    assert isinstance(top_k(users[0], items, bias, 10, index=index)[0], np.ndarray)  # 20k <= THRESHOLD: exact
    assert not calls
    monkeypatch.setattr(retrieval, "THRESHOLD", 10_000)
    assert top_k(users[0], items, bias, 10, index=index)[0] == "ann"
    assert len(calls) == 1
    with pytest.raises(ValueError, match="expected a built CandidateIndex.*fix"):
        top_k(users[0], items, bias, 10)
    with pytest.raises(ValueError, match="expected one built from these"):
        top_k(users[0], items[:15_000], bias[:15_000], 10, index=index)


def test_default_threshold_and_parameters():
    assert retrieval.THRESHOLD == 50_000
    assert retrieval.default_nlist(1_000_000) == 1000
    assert retrieval.default_nprobe(1000) == 253
    assert retrieval.default_nprobe(16) == 16  # small indexes read every list
    assert retrieval.default_nlist(100) == 2  # at least TRAIN_PER_LIST points per list


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda it, us: exact_top_k(us[:, :5], it, 10), "expected 32 dimensions.*got 5.*fix"),
        (lambda it, us: exact_top_k(us, it, 0), "k: expected a positive integer; got 0; fix"),
        (lambda it, us: exact_top_k(us, it, -3), "k: expected a positive integer"),
        (lambda it, us: exact_top_k(np.full(32, np.nan), it, 5), "expected finite values; got NaN.*fix"),
        (lambda it, us: exact_top_k(us, np.where(it == it[0, 0], np.nan, it), 5), "items: expected finite"),
        (lambda it, us: exact_top_k(us, it[0], 5), r"items: expected a non-empty \(N, d\) array; got shape"),
        (lambda it, us: exact_top_k(us, it, 5, bias=np.ones(3)), r"bias: expected shape \(200,\).*got \(3,\)"),
        (lambda it, us: exact_top_k(us, it, 5, bias=np.full(200, np.nan)), "bias: expected finite"),
        (lambda it, us: exact_top_k(us[0], it, 5, exclude=[500]), r"exclude: expected item ids in \[0, 200\)"),
        (lambda it, us: exact_top_k(us, it, 5, exclude=[[1], [2]]), "exclude: expected ids for every query"),
        (lambda it, us: CandidateIndex().build(it).search(us[:, :3], 5), "expected 32 dimensions.*got 3"),
        (lambda it, us: CandidateIndex().build(it).search(us, 0), "k: expected a positive integer"),
        (lambda it, us: CandidateIndex().build(it).search(np.full((2, 32), np.nan), 5), "got NaN"),
        (lambda it, us: CandidateIndex().search(us, 5), "expected a built index.*fix: call build"),
        (lambda it, us: CandidateIndex(nprobe=0), "nprobe: expected a positive integer"),
        (lambda it, us: CandidateIndex().build(it.astype(complex)), "expected real numbers"),
    ],
)
def test_bad_input_raises_value_error(call, pattern):
    items, users = clustered(200, seed=7), clustered(4, seed=8)
    with pytest.raises(ValueError, match=pattern):
        call(items, users)


def test_save_and_load(tmp_path, catalogue, index):
    items, bias, users = catalogue
    index.save(tmp_path / "items.faiss")
    loaded = CandidateIndex.load(tmp_path / "items.faiss")
    assert (loaded.dim, loaded.size, loaded.index.nprobe) == (index.dim, index.size, index.index.nprobe)
    a, sa = index.search(users[:5], 10)
    b, sb = loaded.search(users[:5], 10)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(sa, sb)
    assert index.memory_bytes >= len(items) * (DIM + 2) * 4
