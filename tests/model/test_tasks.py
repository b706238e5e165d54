"""guide.model.tasks: the one registry every stage reads a task from."""

from __future__ import annotations

import pytest
import torch

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT, TASKS
from guide.evaluation.summary import HEADLINES, TRIVIAL
from guide.model.heads import AttributesHead, ProfileHead, PurchaseHead, SentimentHead
from guide.model.losses import attributes_loss, profile_loss, purchase_loss, sentiment_loss
from guide.model.tasks import TASK_SPECS, task_spec
from guide.training.batches import TaskSampler
from tests.core_fixtures import CATEGORIES, TAGS, synthetic_batch, synthetic_model, synthetic_targets


def test_one_spec_per_task_in_config_order():
    assert tuple(TASK_SPECS) == TASKS
    assert all(spec.name == name for name, spec in TASK_SPECS.items())


def test_each_spec_names_its_loss_and_builds_its_head():
    model = synthetic_model()
    expected = {
        PURCHASE: (purchase_loss, PurchaseHead),
        ATTRIBUTES: (attributes_loss, AttributesHead),
        SENTIMENT: (sentiment_loss, SentimentHead),
        PROFILE: (profile_loss, ProfileHead),
    }
    for task, (loss, head) in expected.items():
        assert task_spec(task).loss is loss
        assert type(model.heads[task]) is head
        assert type(task_spec(task).head(model.config)) is head


def test_wide_parts_are_built_from_the_spec_widths():
    model = synthetic_model(wide=True)
    assert set(model.wide) == {t for t, s in TASK_SPECS.items() if s.wide}
    for task, table in model.wide.items():
        assert table.weight.shape[1] == task_spec(task).wide(model.config)
    assert dict(synthetic_model(wide=False).wide) == {}


def test_every_draw_is_a_sampler_method():
    for spec in TASK_SPECS.values():
        assert callable(getattr(TaskSampler, spec.draw, None)), spec.draw


def test_evaluation_reads_headlines_and_trivial_peers_from_the_registry():
    for task, spec in TASK_SPECS.items():
        assert HEADLINES[task] == (spec.headline.slices, spec.headline.metric, spec.headline.higher_is_better)
        assert TRIVIAL[task] == spec.trivial_peer
    assert HEADLINES[SENTIMENT][0] == ("amazon", "clothing") and HEADLINES[PURCHASE][1] == "full_hr@10"


def test_readers_turn_the_model_logits_into_probabilities():
    torch.manual_seed(0)
    model = synthetic_model()
    out = model(synthetic_batch())
    tags, cats = task_spec(ATTRIBUTES).read(out[ATTRIBUTES], model.config)
    assert tags.shape[-1] == TAGS and cats.shape[-1] == CATEGORIES
    assert ((tags > 0) & (tags < 1)).all()
    torch.testing.assert_close(cats.sum(-1), torch.ones(len(cats)))
    for task in (SENTIMENT, PROFILE):
        (probs,) = task_spec(task).read(out[task], model.config)
        torch.testing.assert_close(probs.sum(-1), torch.ones(len(probs)))


def test_the_trainer_loss_of_each_task_comes_from_its_spec():
    torch.manual_seed(0)
    model = synthetic_model()
    batch = synthetic_batch()
    out, targets = model(batch), synthetic_targets(batch)
    for task, logits in out.items():
        loss = task_spec(task).loss(logits, targets[task])
        assert loss.ndim == 0 and torch.isfinite(loss)


def test_an_unknown_task_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"expected one of \['purchase'.*got 'ranking'"):
        task_spec("ranking")
