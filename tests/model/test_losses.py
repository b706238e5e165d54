"""guide.model.losses: each task's loss against a hand computation on small tensors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from guide.model.losses import attributes_loss, profile_loss, purchase_loss, sentiment_loss


def _logits(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --- purchase ------------------------------------------------------------------------------------------
def test_purchase_next_form_is_the_sampled_softmax_over_shared_candidates():
    logits = _logits(5, 7)  # 5 history positions against 7 shared candidates
    nxt = torch.tensor([0, 3, 6, 3, 1])
    expected = -torch.stack([logits[i].log_softmax(-1)[nxt[i]] for i in range(5)]).mean()
    torch.testing.assert_close(purchase_loss(logits, {"next": nxt}), expected)
    confident = torch.full((5, 7), -20.0)
    confident[torch.arange(5), nxt] = 20.0
    assert float(purchase_loss(confident, {"next": nxt})) < 1e-6  # the right candidate on top: ~0
    assert float(purchase_loss(torch.zeros(5, 7), {"next": nxt})) == pytest.approx(math.log(7))  # uniform


def test_purchase_labels_form_is_binary_cross_entropy_per_candidate():
    logits = _logits(3, 4, seed=1)
    labels = torch.tensor([[1.0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0]])
    p = torch.sigmoid(logits)
    expected = -(labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    torch.testing.assert_close(purchase_loss(logits, {"labels": labels}), expected)


def test_purchase_prefers_next_when_both_targets_are_given():
    logits = _logits(2, 3, seed=2)
    targets = {"next": torch.tensor([2, 0]), "labels": torch.ones(2, 3)}
    torch.testing.assert_close(purchase_loss(logits, targets), F.cross_entropy(logits, targets["next"]))


# --- attributes ----------------------------------------------------------------------------------------
TAGS, CATEGORIES = 4, 3


def _attribute_targets() -> dict:
    return {
        "tags": torch.tensor([[1.0, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 0]]),
        "tag_mask": torch.tensor([[1.0, 1, 0, 1], [1, 1, 1, 1], [0, 1, 1, 0]]),
        "category": torch.tensor([2, -1, 0]),  # the second product's category is unknown
    }


def test_attributes_loss_is_masked_tag_bce_plus_category_cross_entropy_over_known_rows():
    logits = _logits(3, TAGS + CATEGORIES, seed=3)
    targets = _attribute_targets()
    tag_logits, cat_logits = logits[:, :TAGS], logits[:, TAGS:]
    bce = F.binary_cross_entropy_with_logits(tag_logits, targets["tags"], reduction="none")
    tags = (bce * targets["tag_mask"]).sum() / targets["tag_mask"].sum() * 10.0
    category = (
        F.cross_entropy(cat_logits[0:1], torch.tensor([2])) + F.cross_entropy(cat_logits[2:3], torch.tensor([0]))
    ) / 2
    torch.testing.assert_close(attributes_loss(logits, targets), tags + category)


def test_a_masked_tag_logit_does_not_change_the_attributes_loss():
    logits = _logits(3, TAGS + CATEGORIES, seed=4).requires_grad_()
    targets = _attribute_targets()
    loss = attributes_loss(logits, targets)
    loss.backward()
    masked = targets["tag_mask"] == 0
    assert torch.all(logits.grad[:, :TAGS][masked] == 0)
    assert torch.all(logits.grad[:, :TAGS][~masked] != 0)
    moved = logits.detach().clone()
    moved[:, :TAGS][masked] += torch.tensor([50.0, -50.0, 50.0])  # any value: the tag is unknown there
    torch.testing.assert_close(attributes_loss(moved, targets), loss.detach())
    moved[0, 0] += 1.0  # a known tag does count
    assert float(attributes_loss(moved, targets)) != pytest.approx(float(loss.detach()))


def test_an_unknown_category_is_skipped():
    logits = _logits(3, TAGS + CATEGORIES, seed=5).requires_grad_()
    targets = _attribute_targets()
    attributes_loss(logits, targets).backward()
    assert torch.all(logits.grad[1, TAGS:] == 0)  # row 1's category is -1: no category gradient
    assert torch.all(logits.grad[0, TAGS:] != 0)
    none_known = dict(targets, category=torch.tensor([-1, -1, -1]))
    value = attributes_loss(logits.detach(), none_known)
    assert torch.isfinite(value)  # no NaN from a cross-entropy over zero rows
    moved = logits.detach().clone()
    moved[:, TAGS:] = _logits(3, CATEGORIES, seed=6) * 10
    torch.testing.assert_close(attributes_loss(moved, none_known), value)  # category logits ignored entirely


def test_an_all_masked_batch_has_zero_tag_loss_not_nan():
    logits = _logits(3, TAGS + CATEGORIES, seed=7)
    targets = dict(_attribute_targets(), tag_mask=torch.zeros(3, TAGS), category=torch.tensor([-1, -1, -1]))
    assert float(attributes_loss(logits, targets)) == 0.0


# --- sentiment -----------------------------------------------------------------------------------------
def test_sentiment_loss_is_three_class_cross_entropy():
    logits = _logits(6, 3, seed=8)
    labels = torch.tensor([0, 1, 2, 2, 1, 0])
    expected = -logits.log_softmax(-1)[torch.arange(6), labels].mean()
    torch.testing.assert_close(sentiment_loss(logits, {"labels": labels}), expected)
    assert float(sentiment_loss(torch.zeros(6, 3), {"labels": labels})) == pytest.approx(math.log(3))


# --- profile -------------------------------------------------------------------------------------------
def _distribution(n: int, k: int, seed: int) -> torch.Tensor:
    raw = torch.rand(n, k, generator=torch.Generator().manual_seed(seed)) + 0.05
    return raw / raw.sum(1, keepdim=True)


def test_profile_loss_is_cross_entropy_against_the_target_distribution():
    logits, target = _logits(4, 6, seed=9), _distribution(4, 6, seed=10)
    expected = torch.stack([-(target[i] * logits[i].log_softmax(-1)).sum() for i in range(4)]).mean()
    torch.testing.assert_close(profile_loss(logits, {"interest": target}), expected)
    entropy = -(target * target.log()).sum(-1).mean()
    kl = F.kl_div(logits.log_softmax(-1), target, reduction="batchmean")
    torch.testing.assert_close(profile_loss(logits, {"interest": target}), entropy + kl)  # KL up to a constant
    one_hot = F.one_hot(torch.tensor([1, 0, 5, 2]), 6).float()  # a one-hot target: ordinary cross-entropy
    torch.testing.assert_close(
        profile_loss(logits, {"interest": one_hot}), F.cross_entropy(logits, torch.tensor([1, 0, 5, 2]))
    )


def test_profile_loss_is_lowest_when_the_prediction_is_the_target():
    target = _distribution(4, 6, seed=11)
    at_target = target.log().requires_grad_()  # softmax(log p) = p
    loss = profile_loss(at_target, {"interest": target})
    loss.backward()
    entropy = -(target * target.log()).sum(-1).mean()
    torch.testing.assert_close(loss.detach(), entropy)  # the minimum of cross-entropy is the entropy
    torch.testing.assert_close(at_target.grad, torch.zeros_like(at_target.grad), atol=1e-6, rtol=0)  # stationary
    generator = torch.Generator().manual_seed(12)
    for _ in range(20):
        nudged = at_target.detach() + 0.3 * torch.randn(4, 6, generator=generator)
        assert float(profile_loss(nudged, {"interest": target})) > float(loss.detach())
    shifted = at_target.detach() + 7.0  # adding a constant to every logit changes nothing
    torch.testing.assert_close(profile_loss(shifted, {"interest": target}), loss.detach())


def test_logit_adjustment_moves_the_loss_toward_rare_classes():
    """With a skewed prior added in the loss, a prediction of the rare class costs less than without, and the
    frequent class more: the logits learn the balanced problem (Menon et al. 2021)."""
    logits = torch.zeros(2, 3)
    adjust = torch.log(torch.tensor([0.05, 0.15, 0.80]))
    rare, frequent = torch.tensor([0, 0]), torch.tensor([2, 2])
    plain = sentiment_loss(logits, {"labels": rare})
    assert sentiment_loss(logits, {"labels": rare, "adjust": adjust}) > plain  # the prior made rare "harder"
    assert sentiment_loss(logits, {"labels": frequent, "adjust": adjust}) < plain
