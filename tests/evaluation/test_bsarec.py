"""guide.evaluation.bsarec: the frequency-domain peer's layers, windows and scores (training: test_sequential)."""

from __future__ import annotations

import numpy as np
import torch

from guide.evaluation import bsarec

RECIPE = bsarec.Recipe(dim=8, blocks=1, dropout=0.0, max_length=6)


def test_the_frequency_mix_keeps_a_constant_history_and_scales_its_wiggle_by_beta_squared():
    mix = bsarec.FrequencyMix(4, cutoff=1, dropout=0.0)  # keeps only the mean (bin 0)
    with torch.no_grad():
        mix.sqrt_beta.fill_(0.5)
        mix.norm = torch.nn.Identity()
        constant = torch.ones(1, 6, 4)
        torch.testing.assert_close(mix(constant), 2 * constant)  # x + low, nothing high
        wiggle = torch.tensor([1.0, -1, 1, -1, 1, -1]).view(1, 6, 1).expand(1, 6, 4)  # no mean at all
        torch.testing.assert_close(mix(wiggle), wiggle + 0.25 * wiggle)


def test_prefixes_turn_each_sequence_into_windows_ending_before_each_later_product():
    windows, targets = bsarec.prefixes([np.array([3, 5, 7]), np.array([2])], max_length=2)
    np.testing.assert_array_equal(windows, [[0, 3], [3, 5]])
    np.testing.assert_array_equal(targets, [4, 6])  # 0-based product ids


def test_scores_are_finite_for_every_history_length_and_do_not_depend_on_the_batch():
    torch.manual_seed(0)
    model = bsarec.BSARec(10, RECIPE)
    score = bsarec.scorer(model, np.arange(100, 110))
    histories = [np.array([101, 105]), np.zeros(0, np.int64), np.arange(100, 110)]
    scores = score(histories)
    assert scores.shape == (3, 10) and np.isfinite(scores).all()
    np.testing.assert_allclose(score(histories[:1]), scores[:1], rtol=1e-5, atol=1e-6)


def test_the_last_state_ignores_what_lies_outside_the_window():
    torch.manual_seed(0)
    model = bsarec.BSARec(10, RECIPE).eval()
    score = bsarec.scorer(model, np.arange(10))
    np.testing.assert_allclose(score([np.arange(10)]), score([np.arange(4, 10)]), rtol=1e-5, atol=1e-6)
