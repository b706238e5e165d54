"""guide.model: every sharing scheme gives the four heads their documented shapes, runs only the tasks
whose inputs are present, passes healthy gradients to the shared encoder, and masks padding."""

from __future__ import annotations

import pytest
import torch

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT, TASKS, ModelConfig
from guide.model import SCHEMES, GuideModel
from guide.model.network import ITEM_VECTORS

pytest.register_assert_rewrite("tests.core_fixtures")  # also a plugin: rewrite before importing it

from tests.core_fixtures import CATEGORIES, TAGS, synthetic_batch, synthetic_model, synthetic_targets, task_losses  # noqa: E402

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("sharing", sorted(SCHEMES))
def test_forward_with_every_input_returns_all_tasks_with_documented_shapes(sharing):
    batch = synthetic_batch()
    out = synthetic_model(sharing)(batch)
    shoppers, candidates = batch["candidates"].shape
    assert set(out) == set(TASKS)
    assert out[ATTRIBUTES].shape == (len(batch["attr_index"]), TAGS + CATEGORIES)
    assert out[SENTIMENT].shape == (len(batch["reviews"]["emb"]), 3)
    assert out[PURCHASE].shape == (shoppers, candidates)
    assert out[PROFILE].shape == (shoppers, TAGS + CATEGORIES)
    assert all(torch.isfinite(v).all() for v in out.values())


@pytest.mark.parametrize("sharing", sorted(SCHEMES))
def test_only_tasks_whose_inputs_are_present_run(sharing):
    model, batch = synthetic_model(sharing), synthetic_batch()
    assert set(model({"reviews": batch["reviews"]})) == {SENTIMENT}
    assert set(model({"items": batch["items"], "attr_index": batch["attr_index"]})) == {ATTRIBUTES}
    shoppers = {k: batch[k] for k in ("items", "history", "history_mask", "history_stars")}
    assert set(model({**shoppers, "candidates": batch["candidates"]})) == {PURCHASE}
    assert set(model({**shoppers, "profile": True})) == {PROFILE}
    assert model({**shoppers, "profile": False}) == {}


@pytest.mark.parametrize("sharing", sorted(SCHEMES))
def test_every_task_loss_reaches_the_shared_encoder_with_finite_gradients(sharing):
    model, batch = synthetic_model(sharing), synthetic_batch()
    targets = synthetic_targets(batch)
    for task in TASKS:
        model.zero_grad(set_to_none=True)
        task_losses(model, batch, targets)[task].backward()
        projection, ngrams = model.encoder.project[0].weight.grad, model.encoder.ngrams.weight.grad
        assert projection is not None and ngrams is not None, task
        assert torch.isfinite(projection).all() and torch.isfinite(ngrams).all(), task
        assert projection.abs().sum() > 0 and ngrams.abs().sum() > 0, task
        for name, parameter in model.heads.named_parameters():
            if name == "purchase.null":  # read only for a shopper with no history (tested apart)
                continue
            touched = parameter.grad is not None and parameter.grad.abs().sum() > 0
            assert touched == name.startswith(task + "."), f"{task} loss vs head parameter {name}"


@pytest.mark.parametrize("sharing", ["mmoe", "ple", "cross_stitch"])
def test_soft_sharing_penalty_is_positive_when_enabled(sharing):
    model = synthetic_model(sharing, soft_sharing=0.5)
    penalty = model.regularisation()
    assert penalty > 0 and penalty.requires_grad
    penalty.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.trunk.parameters())


@pytest.mark.parametrize("sharing", sorted(SCHEMES))
def test_soft_sharing_penalty_is_zero_when_disabled(sharing):
    assert float(synthetic_model(sharing, soft_sharing=0.0).regularisation()) == 0.0


def test_hard_sharing_has_no_task_specific_weights_to_pull_together():
    assert float(synthetic_model("hard", soft_sharing=0.5).regularisation()) == 0.0


def test_single_task_model_has_one_head_and_answers_only_that_task():
    model = synthetic_model("mmoe", tasks=(SENTIMENT,))
    assert list(model.heads) == [SENTIMENT]
    assert set(model(synthetic_batch())) == {SENTIMENT}


def test_model_needs_vocabulary_sizes():
    with pytest.raises(ValueError, match="num_tags"):
        GuideModel(ModelConfig(hidden=16, ngram_buckets=64))


@pytest.mark.parametrize("sharing", sorted(SCHEMES))
def test_padded_history_positions_do_not_change_the_output(sharing):
    model, batch = synthetic_model(sharing).eval(), synthetic_batch()
    before = model(batch)
    changed = dict(batch, history=batch["history"].clone(), history_stars=batch["history_stars"].clone())
    changed["history"][0, 1:] = (changed["history"][0, 1:] + 1) % 10  # row 0 has one real item
    changed["history_stars"][0, 1:] = 5
    after = model(changed)
    for task in (PURCHASE, PROFILE):
        torch.testing.assert_close(after[task], before[task])
    changed["history"][0, 0] = (changed["history"][0, 0] + 1) % 10  # a real item does matter
    assert not torch.allclose(model(changed)[PROFILE][0], before[PROFILE][0])


def test_cold_start_shopper_with_no_history_gets_finite_scores():
    model, batch = synthetic_model().eval(), synthetic_batch()
    batch["history_mask"][:] = False
    out = model(batch)
    assert torch.isfinite(out[PURCHASE]).all() and torch.isfinite(out[PROFILE]).all()


def test_precomputed_item_representations_give_the_same_output():
    model, batch = synthetic_model().eval(), synthetic_batch()
    with torch.no_grad():
        reps = model.encode_items(batch["items"])
        direct, reused = model(batch), model(batch, item_repr=reps)
    for task in TASKS:
        torch.testing.assert_close(reused[task], direct[task])


def test_catalogue_matrix_scores_every_product_as_the_candidate_path_does():
    """Serving's path (`catalog`: one addmm over the precomputed transposed matrix) = every row as candidates."""
    model, batch = synthetic_model().eval(), synthetic_batch()
    with torch.inference_mode():
        reps = model.encode_items(batch["items"])
        reps[ITEM_VECTORS] = reps[ITEM_VECTORS] + torch.randn_like(reps[ITEM_VECTORS])  # ids and biases learned
        every = {k: v for k, v in batch.items() if k != "candidates"}
        direct = model({**every, "candidates": torch.arange(len(batch["items"]["emb"]))}, item_repr=reps)
        served = model({**every, "catalog": True}, item_repr={**reps, **model.catalog_matrix(reps)})
    assert served[PURCHASE].shape == (len(batch["history"]), len(batch["items"]["emb"]))
    torch.testing.assert_close(served[PURCHASE], direct[PURCHASE])
    torch.testing.assert_close(served[PROFILE], direct[PROFILE])
    assert PURCHASE not in model({**every, "catalog": False}, item_repr=reps)


def test_shared_parameters_are_the_encoder_and_trunk():
    model = synthetic_model("ple")
    shared = {id(p) for p in model.shared_parameters()}
    assert {id(p) for p in model.encoder.parameters()} <= shared
    assert {id(p) for p in model.trunk.parameters()} <= shared
    assert not shared & {id(p) for p in model.heads.parameters()}


# --- the purchase head: a causal sequence encoder in its own item space ------------------------------
def _shared_candidates(batch: dict) -> dict:
    return {**batch, "candidates": torch.arange(len(batch["items"]["emb"])), "all_positions": True}


def test_training_mode_scores_every_history_position_against_shared_candidates():
    model, batch = synthetic_model(), synthetic_batch(items=10, shoppers=4, length=3)
    out = model(_shared_candidates(batch))
    assert out[PURCHASE].shape == (int(batch["history_mask"].sum()), 10)  # real positions only
    serving = model({**batch, "candidates": torch.arange(10)})[PURCHASE]  # shared set, latest position only
    assert serving.shape == (4, 10)


def test_the_shopper_at_a_position_never_sees_later_purchases():
    model, batch = synthetic_model(), synthetic_batch(items=10, shoppers=2, length=4)
    batch["history_mask"][:] = True
    before = model(_shared_candidates(batch))[PURCHASE].reshape(2, 4, 10)
    changed = {**batch, "history": batch["history"].clone()}
    changed["history"][:, 3] = (changed["history"][:, 3] + 1) % 10  # only the latest item differs
    after = model(_shared_candidates(changed))[PURCHASE].reshape(2, 4, 10)
    assert torch.allclose(before[:, :3], after[:, :3], atol=1e-5)  # earlier positions are unaffected
    assert not torch.allclose(before[:, 3], after[:, 3])


def test_catalogue_rows_add_a_learned_vector_and_bias_per_product():
    model = synthetic_model()
    head = model.heads[PURCHASE]
    with torch.no_grad():
        head.bias.weight[3] = 5.0
    batch = synthetic_batch(items=10)
    batch["items"]["rows"] = torch.arange(10)
    scores = model({**batch, "candidates": torch.arange(10)})[PURCHASE]
    without = model({**batch, "items": {k: v for k, v in batch["items"].items() if k != "rows"},
                     "candidates": torch.arange(10)})[PURCHASE]  # fmt: skip
    assert torch.allclose(scores[:, 3] - without[:, 3], torch.full((4,), 5.0), atol=1e-4)


def test_sampled_softmax_loss_ignores_padding_and_learns_the_next_product():
    from guide.model.losses import purchase_loss

    torch.manual_seed(0)
    model, batch = synthetic_model(), synthetic_batch(items=10, shoppers=4, length=3)
    batch = _shared_candidates(batch)
    nxt = torch.randint(0, 10, (int(batch["history_mask"].sum()),))  # one target per real position
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = purchase_loss(model(batch)[PURCHASE], {"next": nxt})
        first = float(loss) if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert torch.isfinite(loss) and float(loss) < 0.5 * first
