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


def _run(epochs: int, resume=None, scores=None, minutes: float | None = 10) -> tuple[sasrec.SASRec, list[dict]]:
    """A small SASRec trained on fixed random windows; the same seeds every call."""
    torch.manual_seed(0)
    rng, generator = np.random.default_rng(1), torch.Generator().manual_seed(2)
    windows = np.random.default_rng(3).integers(1, 10, (64, 6))
    model = sasrec.SASRec(9, dim=8, blocks=1, max_length=5, dropout=0.3)
    recipe = sasrec.Recipe(dim=8, blocks=1, dropout=0.3, loss="sampled", negatives=3)

    def losses():
        for batch in np.array_split(rng.permutation(64), 4):
            yield sasrec._loss(model, recipe, torch.from_numpy(windows[batch]), generator)

    scores = iter(scores) if scores is not None else None
    log = sasrec.early_stopped(model, losses, 1e-2, lambda: next(scores) if scores else _score(model),
                               epochs, patience=5, minutes=minutes, resume=resume,
                               generators=(rng, generator))  # fmt: skip
    return model, log


def _score(model) -> float:
    """A validation score that depends only on the weights (so a resumed run sees what an uninterrupted one did)."""
    return float(model.items.weight.detach().sum())


def test_a_stopped_run_resumes_to_the_weights_and_log_of_an_uninterrupted_one(tmp_path):
    resume = tmp_path / "peer.resume"
    whole, whole_log = _run(4, resume=tmp_path / "whole.resume")
    _run(2, resume=resume)  # stopped after epoch 2
    assert resume.exists()
    resumed, resumed_log = _run(4, resume=resume)  # a new process: fresh model and seeds, state read back
    assert [e["epoch"] for e in resumed_log] == [1, 2, 3, 4]
    assert [e["loss"] for e in resumed_log] == [e["loss"] for e in whole_log]
    for name, value in whole.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value)


def test_the_best_epochs_weights_are_kept():
    at_two, _ = _run(2, scores=[0.1, 0.3])
    model, log = _run(5, scores=[0.1, 0.3, 0.2, 0.25, 0.29])  # the best epoch is the second
    assert [e["valid_ndcg10"] for e in log] == [0.1, 0.3, 0.2, 0.25, 0.29]
    for name, value in at_two.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value)


def test_a_minutes_budget_stops_a_run_and_none_leaves_the_epochs_to_decide():
    _, timed = _run(4, minutes=0.0)  # past the budget once an epoch has taken any time
    _, untimed = _run(4, minutes=None)  # BSARec's budget: the recipe's epochs on any machine
    assert [e["epoch"] for e in timed] == [1]
    assert [e["epoch"] for e in untimed] == [1, 2, 3, 4]
