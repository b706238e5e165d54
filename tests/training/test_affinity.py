"""guide.training.affinity: task-gradient cosines on the shared layers, recorded during training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from guide.config import TASKS
from guide.metrics.affinity import affinity_matrix, pair_key
from guide.training.affinity import cosines, task_gradients
from guide.training.trainer import train

pytest.register_assert_rewrite("tests.core_fixtures")

from tests.core_fixtures import (  # noqa: E402
    synthetic_batch,
    synthetic_model,
    synthetic_targets,
    tiny_train_config,
)

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


def test_cosines_of_known_vectors():
    grads = {"a": torch.tensor([1.0, 0.0]), "b": torch.tensor([2.0, 0.0]), "c": torch.tensor([-1.0, 0.0])}
    grads["d"] = torch.tensor([0.0, 3.0])
    out = cosines(grads)
    assert out[pair_key("a", "b")] == pytest.approx(1.0)
    assert out[pair_key("a", "c")] == pytest.approx(-1.0)
    assert out[pair_key("a", "d")] == pytest.approx(0.0)
    assert len(out) == 6  # every pair once
    assert cosines({"a": torch.zeros(2), "b": torch.ones(2)})[pair_key("a", "b")] == 0.0  # no gradient: 0


def test_task_gradients_match_backward_and_leave_grad_untouched():
    torch.manual_seed(0)
    model = synthetic_model()
    batch = synthetic_batch()
    targets = synthetic_targets(batch)
    from guide.config import SENTIMENT
    from guide.model.tasks import task_spec

    grads = task_gradients(model, {SENTIMENT: (batch, targets[SENTIMENT])})
    assert all(p.grad is None for p in model.parameters())
    loss = task_spec(SENTIMENT).loss(model(batch)[SENTIMENT], targets[SENTIMENT])
    loss.backward()
    shared = model.shared_parameters()
    expected = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in shared])
    torch.testing.assert_close(grads[SENTIMENT], expected)
    assert grads[SENTIMENT].norm() > 0


def test_affinity_matrix_averages_the_last_probes_symmetrically():
    tasks = ("a", "b", "c")
    records = [
        {"cosine": {"a|b": 0.0, "a|c": -1.0, "b|c": 0.2}},
        {"cosine": {"a|b": 0.4, "a|c": -0.5, "b|c": 0.2}},
    ]
    matrix = affinity_matrix(records, tasks)
    np.testing.assert_allclose(matrix, [[1, 0.2, -0.75], [0.2, 1, 0.2], [-0.75, 0.2, 1]])
    np.testing.assert_allclose(affinity_matrix(records, tasks, last_share=0.5)[0, 1], 0.4)
    with pytest.raises(ValueError, match="at least one recorded probe"):
        affinity_matrix([], tasks)


def test_training_records_affinity_without_changing_what_it_learns(task_data, few_shoppers):
    config = tiny_train_config(steps=12, eval_every=12, weighting="uncertainty")
    plain = train(task_data, config, progress=False)
    probed = train(task_data, config, progress=False, affinity_every=4)
    records = probed.meta["affinity"]
    assert [r["step"] for r in records] == [4, 8, 12] and probed.meta["affinity_every"] == 4
    pairs = {pair_key(a, b) for i, a in enumerate(TASKS) for b in TASKS[i + 1 :]}
    for record in records:
        assert set(record["cosine"]) == pairs
        assert all(-1.0 <= v <= 1.0 for v in record["cosine"].values())
        assert set(record["weights"]) == set(TASKS) and all(w > 0 for w in record["weights"].values())
    assert "affinity" not in plain.meta
    for name, tensor in plain.model.state_dict().items():  # the probes draw their own batches
        torch.testing.assert_close(probed.model.state_dict()[name], tensor, msg=name)
    with pytest.raises(ValueError, match="affinity_every"):
        train(task_data, config, progress=False, affinity_every=-1)
