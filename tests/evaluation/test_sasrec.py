"""guide.evaluation.sasrec: the SASRec peers' model, batching and losses (training on data: test_sequential)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from guide.evaluation import sasrec


def test_sasrec_on_a_trimmed_window_gives_the_full_windows_states():
    torch.manual_seed(0)
    model = sasrec.SASRec(30, dim=16, max_length=8).eval()
    histories = [np.array([3, 5, 7]), np.array([1]), np.array([2, 4, 6, 8, 9])]
    trimmed = torch.from_numpy(sasrec.right_aligned(histories, 8))
    assert trimmed.shape == (3, 5)  # as wide as the longest history, not max_length
    full = torch.zeros(3, 8, dtype=torch.long)
    full[:, -5:] = trimmed
    with torch.no_grad():
        torch.testing.assert_close(model(trimmed)[:, -1], model(full)[:, -1])


def test_length_buckets_cover_every_shopper_once_with_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 51, 1000)
    batches = sasrec.length_buckets(lengths, 100, rng)
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(1000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.2 * np.ptp(lengths)  # a random split would span nearly the whole range


WINDOW = torch.tensor([[0, 0, 3, 7, 2], [4, 1, 5, 9, 6]])  # (B, L + 1) ids, 0 = padding; 9 products


def _model() -> sasrec.SASRec:
    torch.manual_seed(0)
    return sasrec.SASRec(9, dim=8, blocks=1, max_length=4, dropout=0.0).eval()


def test_the_sampled_softmax_is_the_cross_entropy_of_target_against_the_drawn_products():
    """Counted one position at a time: softmax over [target] + the shopper's drawn products, minus the target."""
    model, recipe = _model(), sasrec.Recipe(dim=8, blocks=1, dropout=0.0, loss="sampled", negatives=5)
    loss = sasrec._loss(model, recipe, WINDOW, torch.Generator().manual_seed(3))
    drawn = torch.randint(0, 9, (2, 5), generator=torch.Generator().manual_seed(3))  # the same draw
    with torch.no_grad():
        states = model(WINDOW[:, :-1])
        terms = []
        for b in range(2):
            for t in range(4):
                target = int(WINDOW[b, t + 1]) - 1
                if target < 0:
                    continue
                columns = [target] + [int(d) for d in drawn[b] if int(d) != target]
                logits = model.logits(states[b, t])[columns]
                terms.append(-torch.log_softmax(logits, 0)[0])
    torch.testing.assert_close(loss.detach(), torch.stack(terms).mean())


def test_a_drawn_product_that_is_the_target_is_not_a_negative():
    model = sasrec.SASRec(1, dim=8, blocks=1, max_length=4, dropout=0.0)  # one product: every draw is the target
    recipe = sasrec.Recipe(loss="sampled", negatives=4)
    loss = sasrec._loss(model, recipe, torch.tensor([[0, 0, 1, 1, 1]]), torch.Generator().manual_seed(0))
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-6)


def test_cross_entropy_ranks_the_target_among_every_product():
    model, recipe = _model(), sasrec.Recipe(dim=8, blocks=1, dropout=0.0)
    loss = sasrec._loss(model, recipe, WINDOW, torch.Generator())
    with torch.no_grad():
        logits = model.logits(model(WINDOW[:, :-1]))  # (B, L, 9)
    targets = WINDOW[:, 1:] - 1
    expected = torch.nn.functional.cross_entropy(logits[targets >= 0], targets[targets >= 0])
    torch.testing.assert_close(loss.detach(), expected)


@pytest.mark.parametrize("changes", [dict(loss="bpr"), dict(loss="sampled", negatives=0)])
def test_a_recipe_that_cannot_train_is_refused(changes):
    with pytest.raises(ValueError, match="SASRec recipe"):
        sasrec.Recipe(**changes)
