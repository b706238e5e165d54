"""The likelihood a person can read: rank among the products a shopper could buy next, and the multiple of
their median, both from the same scores (pure numpy, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from guide.serving.standing import LikelihoodScale
from guide.serving.views import Standing


def test_rank_counts_the_products_strictly_more_likely():
    scores = np.array([0.1, 0.4, 0.2, 0.3])
    scale = LikelihoodScale(scores)
    assert [scale.of_row(row).rank for row in range(4)] == [4, 1, 3, 2]
    assert all(scale.of_row(row).of == 4 for row in range(4))


def test_owned_products_are_neither_ranked_nor_counted():
    scores = np.array([0.9, 0.1, 0.4, 0.2, 0.3])  # row 0 is already the shopper's: "For you" leaves it out
    scale = LikelihoodScale(scores, owned=[0])
    assert scale.of_row(0) is None
    assert scale.of_row(2) == Standing(1, 4, pytest.approx(0.4 / 0.25))  # median of 0.1, 0.2, 0.3, 0.4
    assert scale.size == 4 and scale.median == pytest.approx(0.25)


def test_ties_share_a_rank_and_the_median_product_is_one_times_the_median():
    scores = np.array([0.5, 0.2, 0.2, 0.1, 0.05])
    scale = LikelihoodScale(scores)
    assert scale.of_row(1).rank == scale.of_row(2).rank == 2
    assert scale.of_row(3).rank == 4
    assert scale.of_row(1).times_median == pytest.approx(1.0)
    assert scale.of_row(0).times_median == pytest.approx(2.5)
    assert scale.of_row(4).times_median == pytest.approx(0.25)


def test_any_probability_can_be_placed_against_the_scale():
    scale = LikelihoodScale(np.linspace(0.001, 0.02, 20))
    assert scale.standing(1.0).rank == 1  # above everything
    assert scale.standing(0.0).rank == 21  # below everything: after all 20
    assert scale.standing(scale.median).times_median == pytest.approx(1.0)


def test_a_zero_median_gives_no_multiple_rather_than_infinity():
    scale = LikelihoodScale(np.array([0.0, 0.0, 0.0, 0.7]))
    assert scale.of_row(3) == Standing(1, 4, None)


def test_bad_scores_say_what_was_expected():
    with pytest.raises(ValueError, match="one likelihood per catalogue row"):
        LikelihoodScale(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="one likelihood per catalogue row"):
        LikelihoodScale(np.array([]))
