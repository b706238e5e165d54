"""guide.training.weighting: each strategy turns task losses into healthy gradients; PCGrad removes conflicts;
DWA and GradNorm keep their weights on the task-count scale."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from guide.config import TASKS, WEIGHTINGS
from guide.training.weighting import DWA, GradNorm, PCGrad, Uncertainty, build_weighting

pytest.register_assert_rewrite("tests.core_fixtures")  # also a plugin: rewrite before importing it

from tests.core_fixtures import synthetic_batch, synthetic_model, synthetic_targets, task_losses  # noqa: E402

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _shared_grad(model) -> torch.Tensor:
    return torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in model.shared_parameters()]
    )


@pytest.mark.parametrize("name", WEIGHTINGS)
def test_every_strategy_leaves_finite_gradients_on_shared_parameters(name):
    model, batch = synthetic_model("mmoe"), synthetic_batch()
    weighting = build_weighting(name, TASKS)
    losses = task_losses(model, batch, synthetic_targets(batch))
    weights = weighting.backward(losses, model)
    grad = _shared_grad(model)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert model.encoder.project[0].weight.grad.abs().sum() > 0
    assert set(weights) == set(losses)
    assert all(w > 0 and w == w for w in weights.values())
    for task in TASKS:  # every head learns from its own loss
        head_grads = [p.grad for p in model.heads[task].parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in head_grads), (name, task)


def _sampled_softmax(batch: dict, targets: dict) -> tuple[dict, dict]:
    """The purchase draw as training makes it: every real history position against one shared candidate set,
    `next` indexing each position's next product among them."""
    positions = int(batch["history_mask"].sum())
    candidates = torch.arange(len(batch["items"]["emb"]))
    nxt = torch.randint(0, len(candidates), (positions,), generator=torch.Generator().manual_seed(2))
    return {**batch, "candidates": candidates, "all_positions": True}, {**targets, "purchase": {"next": nxt}}


@pytest.mark.parametrize("name", WEIGHTINGS)
def test_every_strategy_trains_on_the_sampled_softmax_purchase_draw(name):
    model = synthetic_model("mmoe")
    batch, targets = _sampled_softmax(synthetic_batch(), synthetic_targets(synthetic_batch()))
    losses = task_losses(model, batch, targets)
    assert losses["purchase"].ndim == 0 and torch.isfinite(losses["purchase"])
    weights = build_weighting(name, TASKS).backward(losses, model)
    assert set(weights) == set(TASKS) and all(w > 0 for w in weights.values())
    assert torch.isfinite(_shared_grad(model)).all() and _shared_grad(model).abs().sum() > 0
    purchase = [p.grad for n, p in model.heads.named_parameters() if n.startswith("purchase.") and n != "purchase.null"]
    assert purchase and all(g is not None and torch.isfinite(g).all() for g in purchase)
    assert any(g.abs().sum() > 0 for g in purchase)


@pytest.mark.parametrize("name", WEIGHTINGS)
def test_strategies_cope_with_a_step_that_drew_only_some_tasks(name):
    model, batch = synthetic_model("ple"), synthetic_batch()
    losses = task_losses(model, {"reviews": batch["reviews"]}, synthetic_targets(batch))
    assert set(losses) == {"sentiment"}
    build_weighting(name, TASKS).backward(losses, model)
    assert torch.isfinite(_shared_grad(model)).all()


def test_equal_weighting_matches_the_plain_sum():
    batch = synthetic_batch()
    targets = synthetic_targets(batch)
    torch.manual_seed(1)
    first = synthetic_model("hard")
    build_weighting("equal", TASKS).backward(task_losses(first, batch, targets), first)
    torch.manual_seed(1)
    second = synthetic_model("hard")
    sum(task_losses(second, batch, targets).values()).backward()
    torch.testing.assert_close(_shared_grad(first), _shared_grad(second))


def test_uncertainty_log_variances_are_learnable():
    model, batch = synthetic_model(), synthetic_batch()
    weighting = Uncertainty(TASKS)
    assert len(list(weighting.parameters())) == len(TASKS)
    weighting.backward(task_losses(model, batch, synthetic_targets(batch)), model)
    assert all(p.grad is not None and p.grad != 0 for p in weighting.parameters())


class _Toy(nn.Module):
    """A shared linear layer and two task heads: the smallest model PCGrad can work on."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(4, 3)
        self.head_a, self.head_b = nn.Linear(3, 1), nn.Linear(3, 1)

    def shared_parameters(self):
        return list(self.shared.parameters())

    def losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.shared(x)
        # the same output pushed towards opposite targets: task gradients conflict on the shared layer
        return {
            "a": (self.head_a(h) - 3.0).pow(2).mean(),
            "b": (self.head_a(h) + 3.0).pow(2).mean() + 0.1 * self.head_b(h).pow(2).mean(),
        }


def _task_grads(toy: _Toy, x: torch.Tensor) -> dict[str, torch.Tensor]:
    grads = {}
    for task, loss in toy.losses(x).items():
        g = torch.autograd.grad(loss, toy.shared_parameters(), retain_graph=True)
        grads[task] = torch.cat([t.flatten() for t in g])
    return grads


def test_pcgrad_merged_gradient_does_not_oppose_any_task():
    toy, x = _Toy(), torch.randn(8, 4)
    original = _task_grads(toy, x)
    assert torch.dot(original["a"], original["b"]) < 0  # the set-up really conflicts
    PCGrad().backward(toy.losses(x), toy)
    merged = torch.cat([p.grad.flatten() for p in toy.shared_parameters()])
    for task, g in original.items():
        assert torch.dot(merged, g) >= -1e-6 * g.norm() * merged.norm(), task
    assert not torch.allclose(merged, original["a"] + original["b"])  # a projection happened
    assert toy.head_b.weight.grad is not None  # task-specific parameters keep their own gradients


def test_pcgrad_without_conflict_is_the_plain_sum():
    toy, x = _Toy(), torch.randn(8, 4)
    losses = toy.losses(x)
    aligned = {"a": losses["a"], "b": 0.5 * losses["a"]}
    grads = _task_grads(toy, x)
    PCGrad().backward(aligned, toy)
    merged = torch.cat([p.grad.flatten() for p in toy.shared_parameters()])
    torch.testing.assert_close(merged, 1.5 * grads["a"])


def test_pcgrad_keeps_gradients_already_accumulated_on_shared_parameters():
    batch = synthetic_batch()
    targets = synthetic_targets(batch)
    grads = {}
    for name in ("equal", "pcgrad"):
        torch.manual_seed(3)
        model = synthetic_model("ple", soft_sharing=1.0)
        losses = {"sentiment": task_losses(model, {"reviews": batch["reviews"]}, targets)["sentiment"]}
        model.regularisation().backward(retain_graph=True)  # what train() does before weighting
        build_weighting(name, TASKS).backward(losses, model)  # one task: PCGrad has nothing to project
        grads[name] = _shared_grad(model)
    torch.testing.assert_close(grads["pcgrad"], grads["equal"])


def test_dwa_weights_follow_the_loss_ratio_after_two_windows():
    tasks = ("fast", "slow")
    dwa = DWA(tasks, temperature=1.0, window=2)
    p = nn.Parameter(torch.ones(()))
    schedule = [(4.0, 4.0), (4.0, 4.0), (1.0, 3.9), (1.0, 3.9)]  # "fast" drops, "slow" barely moves
    seen = []
    for fast, slow in schedule:
        seen.append(dwa.backward({"fast": fast * p, "slow": slow * p}, None))
    assert all(w == {"fast": 1.0, "slow": 1.0} for w in seen)  # fewer than two windows: equal
    weights = dwa.weights()
    assert sum(weights.values()) == pytest.approx(len(tasks))
    assert weights["slow"] > 1.0 > weights["fast"]  # the task that stopped improving gets more weight
    assert dwa.backward({"fast": p, "slow": p}, None) == weights


def test_gradnorm_weights_stay_positive_and_sum_to_the_task_count():
    model, batch = synthetic_model(), synthetic_batch()
    targets = synthetic_targets(batch)
    weighting = GradNorm(TASKS)
    for _ in range(3):
        model.zero_grad(set_to_none=True)
        weights = weighting.backward(task_losses(model, batch, targets), model)
    assert sum(weights.values()) == pytest.approx(len(TASKS), rel=1e-5)
    assert min(weights.values()) > 0
    assert len(set(round(w, 6) for w in weights.values())) > 1  # it actually re-weighted


def test_build_weighting_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"expected one of .*'x'"):
        build_weighting("x", TASKS)


def _train_step(weighting_name: str, device: torch.device) -> dict[str, float]:
    model = synthetic_model("mmoe").to(device)
    batch = _to(synthetic_batch(), device)
    weighting = build_weighting(weighting_name, TASKS).to(device)
    weights = {}
    for _ in range(2):  # GradNorm and DWA keep state across steps: the second step reads it back
        model.zero_grad(set_to_none=True)
        weights = weighting.backward(task_losses(model, batch, _to(synthetic_targets(batch), device)), model)
    assert torch.isfinite(_shared_grad(model)).all()
    return weights


def _to(tree, device):
    if isinstance(tree, torch.Tensor):
        return tree.to(device)
    if isinstance(tree, dict):
        return {k: _to(v, device) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to(v, device) for v in tree)
    return tree


def test_gradnorm_creates_every_tensor_on_the_losses_device():
    # Tensors made without an explicit device land on the default device; making that "meta" while the
    # losses live on the CPU reproduces the CUDA-vs-CPU mix a GPU run would hit, on a CPU-only machine.
    model, batch = synthetic_model(), synthetic_batch()
    targets = synthetic_targets(batch)
    weighting = GradNorm(TASKS)
    for _ in range(2):
        model.zero_grad(set_to_none=True)
        losses = task_losses(model, batch, targets)
        with torch.device("meta"):
            weights = weighting.backward(losses, model)
    assert weighting.task_weights.device.type == "cpu"
    assert sum(weights.values()) == pytest.approx(len(TASKS), rel=1e-5)


def test_gradnorm_weights_move_with_the_module():
    weighting = GradNorm(TASKS).to(torch.float64)  # .to() reaches only registered buffers and parameters
    assert weighting.task_weights.dtype == torch.float64


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", WEIGHTINGS)
def test_every_weighting_trains_a_step_on_cuda(name):
    weights = _train_step(name, torch.device("cuda"))
    assert set(weights) == set(TASKS) and all(w > 0 for w in weights.values())
