"""guide.evaluation.purchase_parts and graph_text on a small synthetic slice (no data sets): every part of the
served purchase score gets its row, the fused row is exactly the ranking the report's MTL row (and the shop's
fusion) gives, the shopper's whole history is masked, and the graph + text peer ranks by its two rules."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from guide.data.purchase_signals import TransitionGraph
from guide.data.task_data import PurchaseSplit
from guide.evaluation import graph_text, purchase_parts, sequential
from guide.metrics.ranking import positions
from guide.model.fusion import Fusion
from guide.model.purchase_scoring import purchase_ranks, purchase_signals

pytest.register_assert_rewrite("tests.core_fixtures")
from tests.core_fixtures import synthetic_model  # noqa: E402
from tests.synthetic_tasks import synthetic_task_data  # noqa: E402

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")

ITEMS, POOL = 40, np.arange(5, 40)  # rows 0..4 stand for products outside the benchmark (Sephora)
FUSION = Fusion(neural=0.3, content=1.0, transitions=0.5)


def _split(rng: np.random.Generator, shoppers: int, negatives: int = 6) -> PurchaseSplit:
    sequences = [rng.choice(POOL, int(rng.integers(4, 9)), replace=False).astype(np.int64) for _ in range(shoppers)]
    history = [s[:-1] for s in sequences]
    return PurchaseSplit(
        users=[f"u{i}" for i in range(shoppers)],
        history=[h[-2:] for h in history],  # a capped history: masking must still cover all of `seen`
        ratings=[np.full(2, 4.0, np.float32) for _ in history],
        target=np.array([s[-1] for s in sequences], np.int64),
        negatives=np.stack([rng.choice(np.setdiff1d(POOL, s), negatives, replace=False) for s in sequences]),
        sequences=sequences,
        seen=history,
    )


@pytest.fixture(scope="module")
def data():
    data = synthetic_task_data(items=ITEMS, shoppers=30)
    rng = np.random.default_rng(3)
    data.amazon_rows = POOL
    data.purchase = {name: _split(rng, 48) for name in ("train", "valid", "test")}
    data.transitions = TransitionGraph.build(data.purchase["train"].sequences, ITEMS)
    return data


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return synthetic_model("mmoe", num_items=ITEMS).eval()


@pytest.fixture(scope="module")
def ranks(model, data):
    return purchase_parts.part_ranks(model, data, data.purchase["test"], "cpu", FUSION, chunk=17)


def test_every_part_and_the_fused_score_get_a_row_of_every_ranking(ranks, data):
    assert set(ranks) == {*purchase_parts.PARTS, purchase_parts.FUSED}
    n = len(data.purchase["test"].target)
    for kinds in ranks.values():
        assert set(kinds) == {"full", "catalogue", "sampled"}
        assert all(r.shape == (n,) for r in kinds.values())
    values = purchase_parts.part_metrics({n: sequential.per_shopper(k) for n, k in ranks.items()})["test"]
    assert set(values) == set(purchase_parts.PARTS)  # the fused row is the report's own MTL row
    assert all("full_hr@10_ci" in row and "full_ndcg@10_ci" in row and row["n"] == n for row in values.values())


def test_the_fused_row_is_the_ranking_the_report_and_the_shop_use(ranks, model, data):
    served = purchase_ranks(model, data, data.purchase["test"], "cpu", fusion=FUSION, catalogue=True)
    for kind in ("full", "catalogue", "sampled"):
        np.testing.assert_array_equal(ranks[purchase_parts.FUSED][kind], served[kind])
    head = purchase_ranks(model, data, data.purchase["test"], "cpu", fusion=None, catalogue=True)
    np.testing.assert_array_equal(ranks[purchase_parts.HEAD]["full"], head["full"])
    assert not np.array_equal(ranks[purchase_parts.HEAD]["full"], ranks[purchase_parts.FUSED]["full"])


def test_each_part_ranks_by_its_own_signal_alone(model, data):
    test = data.purchase["test"]
    ranks = purchase_parts.part_ranks(model, data, test, "cpu", FUSION)
    # the transition part alone is blind to the head: a different head gives the same ranks
    torch.manual_seed(1)
    other = purchase_parts.part_ranks(synthetic_model("mmoe", num_items=ITEMS).eval(), data, test, "cpu", FUSION)
    for name in (purchase_parts.GRAPH, purchase_parts.CONTENT):
        np.testing.assert_array_equal(ranks[name]["full"], other[name]["full"])
    assert not np.array_equal(ranks[purchase_parts.HEAD]["full"], other[purchase_parts.HEAD]["full"])


def test_the_whole_history_is_masked_not_only_the_capped_one(ranks, data):
    test = data.purchase["test"]
    content = purchase_signals(data, test.history, POOL)[0].astype(np.float32)  # (n, |POOL|)
    target = positions(test.target, POOL)

    def brute_force(masked: list[np.ndarray]) -> np.ndarray:
        out = []
        for i, rows in enumerate(masked):
            others = np.setdiff1d(np.arange(len(POOL)), np.append(positions(rows, POOL), target[i]))
            out.append(int((content[i, others] >= content[i, target[i]]).sum()))
        return np.array(out)

    whole = brute_force(test.seen)
    np.testing.assert_array_equal(ranks[purchase_parts.CONTENT]["full"], whole)
    capped = brute_force(test.history)  # what masking only the model's (capped) history would give
    assert (capped >= whole).all() and (capped > whole).any()


def test_differences_pair_the_fused_score_with_each_part(ranks):
    values = {name: sequential.per_shopper(kinds) for name, kinds in ranks.items()}
    diffs = purchase_parts.differences(values)
    assert set(diffs) == set(purchase_parts.PARTS)
    for name, row in diffs.items():
        expected = values[purchase_parts.FUSED]["full_hr@10"].mean() - values[name]["full_hr@10"].mean()
        assert row["full_hr@10"] == pytest.approx(expected)
        low, high = row["full_hr@10_ci"]
        assert low <= row["full_hr@10"] <= high


# --- the graph + text peer ----------------------------------------------------------------------------
def _peer_data() -> SimpleNamespace:
    """Pool 0..9 in two text clusters (0-4, 5-9). Train sequences: 0 -> 7 -> 1 -> 8 (a graph that crosses the
    clusters) and 2 -> 3."""
    emb = np.zeros((10, 4), np.float32)
    emb[:5, 0], emb[5:, 1] = 1.0, 1.0
    emb[np.arange(10), 2] = np.linspace(0.0, 0.5, 10)  # a little spread inside each cluster
    train = PurchaseSplit(["a", "b"], [np.zeros(0, np.int64)] * 2, [np.zeros(0, np.float32)] * 2,
                          np.zeros(2, np.int64), sequences=[np.array([0, 7, 1, 8]), np.array([2, 3])])  # fmt: skip
    return SimpleNamespace(amazon_rows=np.arange(10), item_emb=emb, purchase={"train": train})


def test_neighbour_graph_links_products_within_the_window_both_ways():
    data = _peer_data()
    one = graph_text.neighbour_graph(data.purchase["train"].sequences, data.amazon_rows, 1).toarray()
    assert one[0, 7] == one[7, 0] == 1 and one[7, 1] == 1 and one[0, 1] == 0 and one[2, 3] == 1
    two = graph_text.neighbour_graph(data.purchase["train"].sequences, data.amazon_rows, 2).toarray()
    assert two[0, 1] == 1 and two[0, 8] == 0 and np.diag(two).sum() == 0
    assert set(np.unique(two)) <= {0.0, 1.0}


def test_neighbours_come_first_ordered_by_text_then_everything_else_by_text():
    data = _peer_data()
    unit = graph_text._unit_pool(data)
    graph = graph_text.neighbour_graph(data.purchase["train"].sequences, data.amazon_rows, 1)
    scores = graph_text.graph_text_scorer(unit, graph, data.amazon_rows, last=1)([np.array([3, 7])])[0]
    order = np.argsort(-scores, kind="stable")
    assert set(order[:2]) == {0, 1}  # 7's neighbours, though in the other text cluster
    assert set(order[2:7]) == {5, 6, 7, 8, 9}  # then 7's own cluster, by cosine
    two_hops = graph_text.graph_text_scorer(unit, graph, data.amazon_rows, last=1, hops=2)([np.array([7])])[0]
    assert set(np.argsort(-two_hops)[:2]) == {0, 1} and set(np.argsort(-two_hops)[2:4]) == {7, 8}  # 7 -> 1 -> 8


def test_graph_text_peer_picks_its_knobs_on_validation_and_ranks_every_pool_product():
    from tests.evaluation.test_sequential import synthetic_data

    data = synthetic_data()
    scorer = graph_text.fit_graph_text(data, shoppers=200)
    scores = scorer(data.purchase["test"].history[:3] + [np.zeros(0, np.int64)])
    assert scores.shape == (4, len(data.amazon_rows)) and np.isfinite(scores).all()
    values = sequential.per_shopper(sequential.peer_ranks(scorer, data, data.purchase["test"]))
    assert values["full_hr@10"].mean() > 0.9  # each shopper's next product follows the last one in train
    columns = positions(data.purchase["test"].target, data.amazon_rows)
    assert (columns >= 0).all()
