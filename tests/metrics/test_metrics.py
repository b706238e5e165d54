"""guide.metrics against values worked out by hand (each expected number is derived in a comment)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from guide import metrics


def test_macro_f1_averages_per_class_f1():
    labels = np.array([0, 0, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 2, 2, 0])
    # class 0: tp 1, fp 1, fn 1 -> 2/4; class 1: tp 1, fp 1, fn 0 -> 2/3; class 2: tp 2, fp 0, fn 1 -> 4/5
    assert metrics.macro_f1(labels, predicted) == pytest.approx((1 / 2 + 2 / 3 + 4 / 5) / 3)


def test_macro_f1_counts_an_absent_class_as_zero():
    # class 2 never occurs nor is predicted: it contributes 0, as sklearn's zero_division=0 would
    assert metrics.macro_f1(np.array([0, 1]), np.array([0, 1])) == pytest.approx(2 / 3)


def test_accuracy_and_empty_input():
    assert metrics.accuracy(np.array([0, 1, 2, 2]), np.array([0, 1, 1, 2])) == 0.75
    assert math.isnan(metrics.accuracy(np.array([]), np.array([])))


def test_multilabel_f1_micro_and_macro_over_present_labels():
    targets = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0]], float)
    predicted = np.array([[1, 1, 0], [0, 1, 0], [0, 1, 1]], float)
    # label 0: tp 1, fn 1 -> 2/3; label 1: tp 2, fp 1 -> 4/5; label 2 absent from targets (fp 1) -> left out of macro
    # micro: tp 3, fp 2, fn 1 -> 6 / 9
    micro, macro = metrics.multilabel_f1(targets, predicted)
    assert micro == pytest.approx(6 / 9)
    assert macro == pytest.approx((2 / 3 + 4 / 5) / 2)


def test_tune_thresholds_picks_the_best_f1_cut_per_label():
    targets = np.array([[1, 0], [1, 0], [0, 0], [0, 0]], float)
    probs = np.array([[0.8, 0.1], [0.6, 0.2], [0.4, 0.3], [0.2, 0.4]])
    grid = np.array([0.3, 0.5, 0.7])
    # label 0: 0.3 -> tp 2 / (3 + 2) -> F1 0.8; 0.5 -> 2*2/(2+2) = 1.0; 0.7 -> 2/(1+2) = 0.67. Label 1 has no positives.
    np.testing.assert_allclose(metrics.tune_thresholds(targets, probs, grid), [0.5, 0.5])


def test_tune_class_bias_recovers_a_shifted_decision():
    labels = np.array([0, 1, 2, 1])
    # without offsets rows 2 and 4 go to positive; a neutral offset above ln(5/3) ~ 0.51 flips both to neutral
    log_probs = np.log(np.array([[0.7, 0.1, 0.2], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [0.2, 0.3, 0.5]]))
    bias = metrics.tune_class_bias(labels, log_probs)
    assert metrics.macro_f1(labels, np.argmax(log_probs + bias, axis=1)) == 1.0
    assert bias[2] == 0.0


def test_rank_of_target_counts_ties_against_the_target():
    scores = np.array([[0.5, 0.9, 0.5, 0.1], [0.9, 0.1, 0.2, 0.3]])
    np.testing.assert_array_equal(metrics.rank_of_target(scores), [2, 0])


def test_ranking_metrics_by_hand():
    scores = np.array([[0.5, 0.9, 0.5, 0.1], [0.9, 0.1, 0.2, 0.3], [0.0, 0.1, 0.2, 0.3]])
    result = metrics.ranking_metrics(scores, k=2)
    # ranks 2, 0, 3 -> hits 0, 1, 0; NDCG 1/log2(0 + 2) = 1 for the hit; AUC: (1 + 0.5 * 1) / 3, 1, 0
    np.testing.assert_allclose(result["hr@2"], [0, 1, 0])
    np.testing.assert_allclose(result["ndcg@2"], [0, 1, 0])
    np.testing.assert_allclose(result["auc"], [1.5 / 3, 1.0, 0.0])


def test_ndcg_of_label():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    # row 1: label 2 has one higher score -> 1/log2(3); row 2: label 0 is top -> 1
    np.testing.assert_allclose(metrics.ndcg_of_label(scores, np.array([2, 0])), [1 / math.log2(3), 1.0])


def test_kl_divergence_by_hand_and_zero_for_identical():
    target = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    predicted = np.array([[0.25, 0.75, 0.0], [0.2, 0.3, 0.5]])
    # row 1: 0.5 ln(0.5/0.25) + 0.5 ln(0.5/0.75) (the floor 1e-6 on the zero cell moves it by ~1e-6)
    expected = 0.5 * math.log(2) + 0.5 * math.log(2 / 3)
    np.testing.assert_allclose(metrics.kl_divergence(target, predicted), [expected, 0.0], atol=1e-5)


def test_spearman_uses_average_ranks_for_ties():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert metrics.spearman(a, 10 - a) == pytest.approx(-1.0)
    # b's ranks with the tie averaged: 0, 1.5, 1.5, 3 -> Pearson with 0, 1, 2, 3 = 4.5 / sqrt(5 * 4.5)
    b = np.array([1.0, 5.0, 5.0, 9.0])
    assert metrics.spearman(a, b) == pytest.approx(4.5 / math.sqrt(5 * 4.5))
    assert math.isnan(metrics.spearman(a[:2], b[:2]))


def test_bootstrap_ci_brackets_the_mean_and_collapses_for_constants():
    values = np.arange(100, dtype=float)
    low, high = metrics.bootstrap_ci(values, len(values))
    # the standard error of the mean is ~2.9, so the 95% interval is ~49.5 -/+ 5.7
    assert 42 < low < 49.5 < high < 57
    assert metrics.bootstrap_ci(np.ones(10), 10) == (1.0, 1.0)
    assert metrics.bootstrap_ci(lambda idx: float(values[idx].mean()), 100) == (low, high)  # same seed, same draws


def test_full_catalogue_hits_excludes_history_and_counts_ties_against():
    scores = np.array([[0.9, 0.8, 0.1, 0.5], [0.1, 0.5, 0.5, 0.9], [0.3, 0.2, 0.1, 0.0]])
    target = np.array([1, 1, 0])
    excluded = [np.array([0]), np.array([], np.int64), np.array([0, 2])]  # the target itself is never excluded
    # row 1: column 0 left out -> target best; row 2: 0.5 tie and 0.9 above -> rank 2; row 3: top
    np.testing.assert_array_equal(metrics.full_catalogue_hits(scores, target, excluded, k=1), [1, 0, 1])
    np.testing.assert_array_equal(metrics.full_catalogue_hits(scores, target, excluded, k=3), [1, 1, 1])


def test_paired_bootstrap_finds_a_consistent_small_difference_that_overlapping_cis_hide():
    rng = np.random.default_rng(0)
    base = (rng.random(300) < 0.5).astype(float)
    better = base.copy()
    better[np.flatnonzero(base == 0)[:6]] = 1.0  # right on 6 more rows, never worse
    low, high = metrics.paired_bootstrap_ci([(lambda i: better[i].mean(), lambda i: base[i].mean(), 300)])
    assert 0 < low <= high
    a, b = metrics.bootstrap_ci(better, 300), metrics.bootstrap_ci(base, 300)
    assert a[0] < b[1]  # their own CIs overlap


def test_paired_bootstrap_of_a_system_against_itself_is_zero():
    values = np.arange(50, dtype=float)
    pair = (lambda i: values[i].mean(), lambda i: values[i].mean(), 50)
    assert metrics.paired_bootstrap_ci([pair, pair]) == (0.0, 0.0)
