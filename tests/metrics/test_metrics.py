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


def test_spearman_with_many_ties_is_scipys_and_pearson_refuses_a_constant():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    score = np.round(rng.normal(size=300), 1)  # many ties
    stars = rng.integers(1, 6, 300).astype(float)
    assert metrics.spearman(score, stars) == pytest.approx(spearmanr(score, stars).statistic, abs=1e-12)
    assert metrics.spearman(stars, stars) == pytest.approx(1.0)
    assert np.isnan(metrics.pearson(np.ones(5), stars[:5]))


def test_bootstrap_ci_brackets_the_mean_and_collapses_for_constants():
    values = np.arange(100, dtype=float)
    low, high = metrics.bootstrap_ci(values, len(values))
    # the standard error of the mean is ~2.9, so the 95% interval is ~49.5 -/+ 5.7
    assert 42 < low < 49.5 < high < 57
    assert metrics.bootstrap_ci(np.ones(10), 10) == (1.0, 1.0)
    assert metrics.bootstrap_ci(lambda idx: float(values[idx].mean()), 100) == (low, high)  # same seed, same draws


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


def test_bootstrap_is_scipys_bca_on_small_sets_and_percentile_on_large_ones():
    from scipy import stats

    skewed = np.random.default_rng(1).exponential(size=200)
    bca = stats.bootstrap((skewed,), np.mean, n_resamples=1000, batch=metrics.BATCH, rng=np.random.default_rng(0))
    assert metrics.bootstrap_ci(skewed, 200) == pytest.approx(tuple(bca.confidence_interval))
    by_rows = metrics.bootstrap_ci(lambda idx: float(skewed[idx].mean()), 200)
    assert by_rows == pytest.approx(metrics.bootstrap_ci(skewed, 200))
    large = np.random.default_rng(2).exponential(size=metrics.BCA_MAX_ROWS + 1)
    draws = stats.bootstrap((large,), np.mean, n_resamples=1000, batch=metrics.BATCH, method="percentile",
                            rng=np.random.default_rng(0))  # fmt: skip
    assert metrics.bootstrap_ci(large, len(large)) == pytest.approx(tuple(draws.confidence_interval))


def test_bootstrap_never_holds_a_rounds_by_rows_index_matrix():
    import tracemalloc

    rows = 100_000  # the old way drew a 1000 x 100,000 int64 matrix: 800 MB
    values = np.random.default_rng(0).random(rows)
    tracemalloc.start()
    metrics.paired_bootstrap_ci([(lambda i: values[i].mean(), lambda i: values[i].mean() / 2, rows)])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100e6, f"{peak / 1e6:.0f} MB"
