"""guide.metrics.ranking: ranks, ties, masking and HR/NDCG of the sequential-recommendation protocol."""

from __future__ import annotations

import numpy as np

from guide.metrics.ranking import hit_and_ndcg, positions, ranking_table, target_ranks


def test_rank_counts_products_scored_at_least_as_high_as_the_target():
    scores = np.array([[0.1, 0.9, 0.5, 0.3], [0.4, 0.4, 0.4, 0.4]])
    ranks = target_ranks(scores, np.array([2, 0]))
    assert ranks.tolist() == [1, 3]  # one product above; ties all count against the target


def test_excluded_products_leave_the_ranking_but_never_the_target():
    scores = np.array([[0.9, 0.8, 0.1, 0.7]])
    assert target_ranks(scores, np.array([2]), [np.array([0, 1, 2])]).tolist() == [1]  # only column 3 remains
    assert target_ranks(scores, np.array([2])).tolist() == [3]


def test_target_ranks_does_not_modify_the_callers_scores():
    scores = np.array([[0.3, 0.2, 0.1]])
    target_ranks(scores, np.array([1]), [np.array([0])])
    assert scores.tolist() == [[0.3, 0.2, 0.1]]


def test_hit_and_ndcg_follow_the_definitions():
    hit, ndcg = hit_and_ndcg(np.array([0, 1, 9, 10]), 10)
    assert hit.tolist() == [1, 1, 1, 0]
    assert np.allclose(ndcg, [1.0, 1 / np.log2(3), 1 / np.log2(11), 0.0])
    table = ranking_table(np.array([0, 15]), (10, 20))
    assert table["hr@10"].tolist() == [1, 0] and table["hr@20"].tolist() == [1, 1]


def test_positions_maps_catalogue_rows_into_the_pool():
    pool = np.array([5, 7, 9])
    assert positions(np.array([9, 5, 6]), pool).tolist() == [2, 0, -1]
