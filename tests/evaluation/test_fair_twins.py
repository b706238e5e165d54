"""guide.evaluation.fair_twins: a staged model's twins fine-tune their own encoder (attributes, sentiment) or read
the frozen base encoder (purchase, profile), with the shared model's stage settings; a finished twin is reused."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT, FinetuneConfig
from guide.evaluation import fair_twins
from guide.model.sentence import load_trainable

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")

TUNE = FinetuneConfig(steps=2, batch_size=4, max_tokens=16, encoder_lr=1e-2, eval_every=2, eval_texts=8, refit_steps=20)


@pytest.fixture
def staged_base(tiny_checkpoint):
    """The tiny checkpoint as a staged model would record itself (its stage settings in meta)."""
    base = copy.copy(tiny_checkpoint)
    base.meta = copy.deepcopy(tiny_checkpoint.meta)
    base.meta["stages"] = {"stage1": {"steps": 20, "lr": 3e-3}, "stage2": {"finetune": dataclasses.asdict(TUNE)}}
    return base


def test_a_one_stage_model_has_no_fair_twins_and_says_what_to_run(tiny_checkpoint):
    with pytest.raises(ValueError, match="staged checkpoint.*fix: use `evaluate --twins` without --fair"):
        fair_twins.staged_settings(tiny_checkpoint)


def test_a_twin_is_the_shared_models_stage_one_with_one_task_on_the_base_encoder(staged_base):
    config = fair_twins.twin_config(staged_base, SENTIMENT)
    assert config.model.tasks == (SENTIMENT,)
    assert (config.model.encoder, config.model.encoder_id) == ("", "")
    assert (config.steps, config.lr) == (20, 3e-3)
    assert config.data == staged_base.config.data and config.seed == staged_base.config.seed
    assert fair_twins.staged_settings(staged_base) == TUNE
    folders = {fair_twins.twin_folder(staged_base, task).name for task in staged_base.model.config.tasks}
    assert len(folders) == len(staged_base.model.config.tasks)


def test_stage3s_purchase_draws_reach_the_purchase_twins_stage3_and_no_other_twin(staged_base):
    users = staged_base.config.data.purchase_users
    wider = copy.copy(staged_base)
    wider.meta = copy.deepcopy(staged_base.meta)
    wider.meta["stages"]["stage1"]["purchase_users"] = users
    wider.meta["stages"]["stage2"]["finetune"]["refit_purchase_users"] = users * 4
    # a staged checkpoint's own configuration is stage 3's, with its purchase draws
    wider.config = dataclasses.replace(
        staged_base.config, data=dataclasses.replace(staged_base.config.data, purchase_users=users * 4)
    )
    assert fair_twins.twin_config(wider, PURCHASE).data.purchase_users == users  # stage 1's
    assert fair_twins.refit_config(wider, PURCHASE).data.purchase_users == users * 4
    assert fair_twins.refit_config(staged_base, PURCHASE).data.purchase_users == users
    for task in (ATTRIBUTES, SENTIMENT, PROFILE):  # trained exactly as before: the finished twin is reused
        assert fair_twins.twin_folder(wider, task) == fair_twins.twin_folder(staged_base, task)
    assert fair_twins.twin_folder(wider, PURCHASE) != fair_twins.twin_folder(staged_base, PURCHASE)


def test_a_purchase_twin_reads_the_frozen_base_encoder_and_is_reused(
    staged_base, small_catalog, task_data, tmp_path, few_shoppers
):
    twin, data = fair_twins.fair_twin(staged_base, PURCHASE, small_catalog, progress=False, runs=tmp_path)
    assert twin.model.config.tasks == (PURCHASE,) and twin.encoder_folder is None
    assert (twin.config.steps, twin.config.lr) == (TUNE.refit_steps, TUNE.refit_lr)  # stage 3, warm from stage 1
    np.testing.assert_allclose(data.item_emb, task_data.item_emb, atol=1e-6)  # the base encoder's vectors
    weights = fair_twins.twin_folder(staged_base, PURCHASE, tmp_path) / "model.safetensors"
    written = weights.stat().st_mtime_ns
    again, _ = fair_twins.fair_twin(staged_base, PURCHASE, small_catalog, progress=False, runs=tmp_path)
    assert weights.stat().st_mtime_ns == written
    for name, value in twin.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[name]), name


def test_a_sentiment_twin_fine_tunes_its_own_encoder_and_is_scored_on_its_vectors(
    staged_base, small_catalog, task_data, tmp_path, few_shoppers
):
    twin, data = fair_twins.fair_twin(staged_base, SENTIMENT, small_catalog, progress=False, runs=tmp_path)
    assert twin.model.config.tasks == (SENTIMENT,)
    assert twin.encoder_folder is not None and twin.encoder_folder.is_relative_to(tmp_path)
    base = load_trainable(max_tokens=TUNE.max_tokens).state_dict()
    own = load_trainable(str(twin.encoder_folder), max_tokens=TUNE.max_tokens).state_dict()
    assert any(not torch.allclose(base[k].float(), own[k].float(), atol=1e-3) for k in base)  # fine-tuned
    assert not np.allclose(data.review_emb, task_data.review_emb, atol=1e-3)  # re-embedded by its encoder
    expected = twin.sentence_encoder(tmp_path / fair_twins.EMBEDDINGS).embed(
        small_catalog.reviews["full_text"].tolist()[:5]
    )
    np.testing.assert_allclose(data.review_emb[:5], expected, atol=1e-3)
