"""guide.serving.candidates: For you past the threshold on a large synthetic catalogue (60,000 products, more
than the default 50,000): the index's candidates, scored exactly as the exact path scores them, the whole
history left out; up to the threshold nothing is built."""

from __future__ import annotations

import numpy as np
import pytest

from guide.data.purchase_signals import TransitionGraph, content_scores
from guide.model.fusion import Fusion
from guide.serving import retrieval
from guide.serving.candidates import THRESHOLD_ENV, CandidateStage, retrieval_threshold

PRODUCTS = 60_000  # past retrieval.THRESHOLD, so the default setting takes the index path
DIM, CONTENT_DIM = 16, 24
FUSION = Fusion(neural=1.0, content=0.8, transitions=0.5)
TEMPERATURE = 0.7


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def catalogue():
    """Clustered product vectors with a bias column, unit content vectors, a transition graph from random
    sequences that stay inside a cluster, and three shoppers: a long history, a short one, none."""
    rng = np.random.default_rng(0)
    clusters = rng.integers(0, 300, PRODUCTS)
    centres = rng.standard_normal((300, DIM)).astype(np.float32)
    vectors = centres[clusters] + 0.5 * rng.standard_normal((PRODUCTS, DIM)).astype(np.float32)
    vectors = np.hstack([vectors, rng.normal(0, 0.1, (PRODUCTS, 1)).astype(np.float32)])  # (N, D + 1)
    unit = _unit(rng.standard_normal((PRODUCTS, CONTENT_DIM)))
    members = [np.flatnonzero(clusters == c) for c in range(300)]
    sequences = [rng.choice(members[c], 6) for c in rng.integers(0, 300, 4000)]
    graph = TransitionGraph.build(sequences, PRODUCTS)
    long_history = np.concatenate([sequences[0], rng.choice(PRODUCTS, 294, replace=False)])
    histories = [long_history, sequences[1][:2], np.zeros(0, np.int64)]
    users = rng.standard_normal((3, DIM)).astype(np.float32)
    return vectors, unit, graph, histories, users


@pytest.fixture(scope="module")
def stage(catalogue, monkeypatch_module):
    vectors, unit, graph, _, _ = catalogue
    monkeypatch_module.delenv(THRESHOLD_ENV, raising=False)
    return CandidateStage(vectors, unit, graph, FUSION, TEMPERATURE)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _exact(catalogue, shopper: int) -> np.ndarray:
    """(N,) the exact path's fused, tempered logits of every product for one shopper (as ModelPass.fused)."""
    vectors, unit, graph, histories, users = catalogue
    history = histories[shopper]
    neural = users[shopper] @ vectors[:, :-1].T + vectors[:, -1]
    if not len(history):
        return FUSION.neural * neural / TEMPERATURE
    content = content_scores(unit, [history], None)
    transitions = graph.scores([history], np.arange(PRODUCTS))
    return FUSION.combine(neural[None, :], content, transitions)[0] / TEMPERATURE


def test_past_the_threshold_candidates_come_from_the_index_and_are_scored_exactly(catalogue, stage):
    _, _, graph, histories, users = catalogue
    assert stage.active and stage.threshold == retrieval.THRESHOLD and stage.index.size == PRODUCTS
    searched, before = [], stage.shoppers_ranked
    search = stage.index.search
    stage.index.search = lambda *args, **kwargs: searched.append(len(args[0])) or search(*args, **kwargs)  # a spy
    try:
        probs = stage.probabilities(users, histories, histories)
    finally:
        del stage.index.search
    assert searched == [3] and stage.shoppers_ranked == before + 3  # one index search for the three shoppers
    for shopper, (p, history) in enumerate(zip(probs, histories, strict=True)):
        rows = np.flatnonzero(p)
        assert p.shape == (PRODUCTS,) and p.sum() == pytest.approx(1.0, abs=1e-5)
        assert not np.isin(history, rows).any() and (p[history] == 0).all()  # the whole history, 300 rows too
        assert retrieval.DEFAULT_K <= len(rows) < PRODUCTS // 10  # the index's k plus graph neighbours: a few
        exact = _exact(catalogue, shopper)
        among = np.exp(exact[rows] - exact[rows].max())
        np.testing.assert_allclose(p[rows], among / among.sum(), rtol=1e-4, atol=1e-7)  # exact on the candidates
        unowned = np.setdiff1d(np.arange(PRODUCTS), history)
        best = unowned[np.argsort(-exact[unowned])[:10]]
        assert np.isin(best, rows).mean() >= 0.9  # the exact top 10 is (almost) all among the candidates
    latest = histories[0][-10:]
    neighbours = np.setdiff1d(graph.matrix[latest].indices, histories[0])
    assert len(neighbours) and (probs[0][neighbours] > 0).all()  # the graph's neighbours are candidates too


def test_a_wanted_product_outside_the_candidates_is_scored_among_them(catalogue, stage):
    _, _, _, histories, users = catalogue
    plain = stage.probabilities(users[:1], histories[:1], histories[:1])[0]
    outside = int(np.setdiff1d(np.flatnonzero(plain == 0), histories[0])[0])
    asked = stage.probabilities(users[:1], histories[:1], histories[:1], [np.array([outside])])[0]
    exact = _exact(catalogue, 0)
    assert asked[outside] > 0
    rows = np.flatnonzero(asked)
    assert asked[outside] == pytest.approx(np.exp(exact[outside] - np.logaddexp.reduce(exact[rows])), rel=1e-4)


def test_up_to_the_threshold_nothing_is_built_and_the_guide_scores_exactly(catalogue, monkeypatch):
    vectors, unit, graph, histories, users = catalogue
    monkeypatch.setenv(THRESHOLD_ENV, str(PRODUCTS))  # the setting: a catalogue of exactly that many is exact
    exact = CandidateStage(vectors, unit, graph, FUSION, TEMPERATURE)
    assert not exact.active and exact.index is None and exact.threshold == PRODUCTS
    with pytest.raises(ValueError, match="expected a catalogue over the threshold"):
        exact.probabilities(users, histories, histories)
    small = CandidateStage(vectors[:1000], unit[:1000], graph, FUSION, TEMPERATURE, threshold=999)
    assert small.active and small.index.size == 1000  # the argument overrides the setting


@pytest.mark.parametrize("value, expected", [("", retrieval.THRESHOLD), ("120000", 120_000), (" 0 ", 0)])
def test_the_threshold_setting(monkeypatch, value, expected):
    monkeypatch.setenv(THRESHOLD_ENV, value)
    assert retrieval_threshold() == expected


@pytest.mark.parametrize("value", ["50k", "-1", "1e6"])
def test_a_threshold_that_is_not_a_whole_number_is_refused_with_a_fix(monkeypatch, value):
    monkeypatch.setenv(THRESHOLD_ENV, value)
    with pytest.raises(ValueError, match="GUIDE_RETRIEVAL_THRESHOLD: expected a whole number"):
        retrieval_threshold()
