"""guide.evaluation.ood / report with a staged model: its one-source models replay the staged recipe (each fine-tunes
its own encoder on one review source) and are scored on their own encoder's vectors. A module of its own so that
its tiny staged training runs beside test_ood.py's on the other worker."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest

from guide.config import SENTIMENT_SOURCES, FinetuneConfig
from guide.evaluation import ood
from guide.model.outputs import sentiment_log_probs

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")

TUNE = FinetuneConfig(steps=2, batch_size=4, max_tokens=16, encoder_lr=1e-2, eval_every=2, eval_texts=8, refit_steps=20)
SIZES = ood.Sizes(sentences=80, titles=120)


@pytest.fixture(scope="module")
def staged(tiny_checkpoint, small_catalog, encoder, tmp_path_factory):
    """(staged base, {source: one-source model}, the staged trainings' configs, runs folder, the Amazon-only
    frozen model given as a folder): `one_source_models` with Amazon given and clothing trained the staged way."""
    from guide.data import task_data
    from guide.evaluation import report
    from guide.training import staged as staged_module
    from guide.training.trainer import train
    from tests.core_fixtures import (
        NGRAM_BUCKETS,
        few_validation_shoppers,
        single_threaded,
        small_data_config,
        tiny_train_config,
    )

    base = copy.copy(tiny_checkpoint)
    base.meta = copy.deepcopy(tiny_checkpoint.meta)
    base.meta["stages"] = {"stage1": {"steps": 20, "lr": 3e-3}, "stage2": {"finetune": dataclasses.asdict(TUNE)}}
    runs = tmp_path_factory.mktemp("ood-staged")
    trained, replay = [], staged_module.staged_training
    with pytest.MonkeyPatch.context() as patch, few_validation_shoppers(), single_threaded():
        config = dataclasses.replace(small_data_config(), sentiment_sources=("amazon",))
        data = task_data.build(small_catalog, encoder, config, "brand", NGRAM_BUCKETS)
        given = {
            "amazon": train(data, tiny_train_config(data=config), small_catalog, progress=False).save(runs / "given")
        }
        patch.setattr(report, "RUNS", runs / "runs")
        patch.setattr(
            staged_module,
            "staged_training",
            lambda catalog, config, *a, **k: trained.append(config) or replay(catalog, config, *a, **k),
        )
        models = report.one_source_models(base, small_catalog, encoder, "cpu", False, True, given)
    return base, models, trained, runs, given


def test_a_staged_models_one_source_models_are_trained_the_staged_way_then_reused(
    staged, tiny_checkpoint, small_catalog, encoder, monkeypatch
):
    """`evaluate --ood-twins` / `--full` on a staged model: a missing one-source model replays the whole staged
    recipe (every task, its own encoder fine-tuned on that source alone), never a frozen training on the shipped
    encoder, which read both sources; a finished one is reused."""
    from guide.evaluation import report
    from guide.training import staged as staged_module

    base, models, trained, runs, given = staged
    assert [(c.data.sentiment_sources, c.model.tasks, c.steps) for c in trained] == [
        (("clothing",), tiny_checkpoint.model.config.tasks, 20)
    ]
    clothing = models["clothing"]
    assert clothing.config.data.sentiment_sources == ("clothing",)
    assert clothing.model.config.tasks == tiny_checkpoint.model.config.tasks
    assert clothing.encoder_folder is not None and clothing.encoder_folder.is_relative_to(runs / "runs")
    assert clothing.model.config.encoder_id not in ("", tiny_checkpoint.model.config.encoder_id)
    assert models["amazon"].encoder_folder is None  # the given folder, as it is

    def no_training(*args, **kwargs):
        raise AssertionError("a finished one-source model was trained again")

    monkeypatch.setattr(report, "RUNS", runs / "runs")
    monkeypatch.setattr(staged_module, "staged_training", no_training)
    again = report.one_source_models(base, small_catalog, encoder, "cpu", False, True, given)
    assert again["clothing"].encoder_folder == clothing.encoder_folder


def _own_encoder(model, runs):
    from guide.evaluation.fair_twins import EMBEDDINGS

    return model.sentence_encoder(runs / "runs" / EMBEDDINGS)


def test_a_one_source_model_with_its_own_encoder_is_scored_on_that_encoders_vectors(
    staged, tiny_checkpoint, small_catalog, task_data
):
    _, models, _, runs, _ = staged
    model, frozen = models["clothing"], models["amazon"]
    own_encoder = _own_encoder(model, runs)
    rows = task_data.review_rows("test")
    vectors = ood.review_vectors(model, tiny_checkpoint, small_catalog, task_data, rows, own_encoder)
    expected = own_encoder.embed(small_catalog.reviews["full_text"].to_numpy()[rows].tolist(), persist=False)
    np.testing.assert_allclose(vectors[rows], expected, atol=1e-4)
    assert not vectors[np.setdiff1d(np.arange(len(vectors)), rows)].any()  # nothing else is embedded
    assert not np.allclose(vectors[rows], task_data.review_emb[rows], atol=1e-3)
    # the same encoder as the shipped model: the task data as they are
    assert ood.review_vectors(frozen, tiny_checkpoint, small_catalog, task_data, rows) is None
    with pytest.raises(ValueError, match="expected that encoder"):
        ood.review_vectors(model, tiny_checkpoint, small_catalog, task_data, rows)
    # a frozen-encoder model beside a fine-tuned shipped one reads the base encoder's vectors (the peers')
    peer = np.random.default_rng(0).normal(size=task_data.review_emb.shape).astype(np.float32)
    with_peer = dataclasses.replace(task_data, peer_review_emb=peer)
    assert ood.review_vectors(frozen, model, small_catalog, with_peer, rows) is peer
    with pytest.raises(ValueError, match="needs peer embeddings"):
        ood.review_vectors(frozen, model, small_catalog, task_data, rows)

    labels, score = ood.model_fit(model, "cpu", vectors)(small_catalog, task_data)(rows)
    own = dataclasses.replace(task_data, review_emb=vectors)
    log_probs = sentiment_log_probs(model.model, own, rows, "cpu")
    bias = np.asarray(model.calibration.get("sentiment_bias", [0.0, 0.0, 0.0]))
    assert np.array_equal(labels, (log_probs + bias).argmax(1))
    _, on_shipped_vectors = ood.model_fit(model, "cpu")(small_catalog, task_data)(rows)
    assert not np.allclose(score, on_shipped_vectors, atol=1e-3)


def test_the_sentiment_table_reads_a_tuned_one_source_model_through_its_own_encoder(
    staged, tiny_checkpoint, small_catalog, task_data, encoder, monkeypatch
):
    """The section's model rows for that model are its labels on its own encoder's vectors (peers: the majority
    class only, to keep this fast; test_ood.py runs the section with every peer)."""
    from guide.metrics import macro_f1

    _, models, _, runs, _ = staged
    model = models["clothing"]
    own_encoder = _own_encoder(model, runs)
    monkeypatch.setattr(
        ood, "peer_systems", lambda: {(ood.MAJORITY, s): ood._fit_majority for s in ("clothing", ood.BOTH)}
    )
    section = ood._sentiment_section(
        tiny_checkpoint, small_catalog, task_data, (encoder, None), "cpu", {"clothing": model}, SIZES, False,
        {"clothing": own_encoder},
    )  # fmt: skip
    for source in SENTIMENT_SOURCES:
        (row,) = [
            r for r in section["rows"] if (r["system"], r["unit"], r["tested_on"]) == (ood.MODEL, "reviews", source)
        ]
        rows = task_data.review_rows("test", source)
        vectors = ood.review_vectors(model, tiny_checkpoint, small_catalog, task_data, rows, own_encoder)
        labels, _ = ood.model_fit(model, "cpu", vectors)(small_catalog, task_data)(rows)
        assert row["macro_f1"] == pytest.approx(macro_f1(task_data.review_labels[rows], labels, 3))
