"""guide.training.validation: the purchase part of the best-step score is the benchmark's own measure."""

from __future__ import annotations

import numpy as np
import pytest

pytest.register_assert_rewrite("tests.core_fixtures")  # also a plugin: rewrite before importing it

from tests.core_fixtures import few_validation_shoppers, single_threaded  # noqa: E402

pytest_plugins = ["tests.core_fixtures"]


def full_ranking_ndcg(scores: np.ndarray, pool: np.ndarray, targets: np.ndarray, seen: list[np.ndarray]) -> float:
    """NDCG@10 of each target among every pool product, what the shopper bought before set aside: by counting."""
    gains, column = [], {item: j for j, item in enumerate(pool)}
    for row, target, bought in zip(scores, targets, seen, strict=True):
        keep = np.ones(len(pool), bool)
        keep[[column[item] for item in bought if item in column]] = False
        rank = int((row[keep] > row[column[target]]).sum())
        gains.append(1 / np.log2(rank + 2) if rank < 10 else 0.0)
    return float(np.mean(gains))


def test_purchase_enters_the_step_score_as_its_full_ranking_ndcg_on_the_other_tasks_scale(tiny_checkpoint, task_data):
    from guide.model.outputs import item_representations, purchase_scores
    from guide.training import validation

    model = tiny_checkpoint.model
    with few_validation_shoppers(), single_threaded():
        _, metrics = validation.validation_score(model, task_data, "cpu")
        split = task_data.purchase["valid"]
        picked = np.sort(np.random.default_rng(0).permutation(len(split.target))[: validation.VALIDATION_SHOPPERS])
        part = split.subset(picked)
        reps = item_representations(model, task_data, "cpu")
        scores = purchase_scores(model, task_data, part, "cpu", task_data.amazon_rows, reps)
    full = full_ranking_ndcg(scores, task_data.amazon_rows, part.target, part.seen)
    assert 0 < full < 0.5
    assert metrics["purchase"] == pytest.approx(validation.FULL_RANKING_SCALE * full, rel=1e-4)
