"""A fifth task added in this test alone — its registry entries and its data — is trained, validated, evaluated
and served without any change to `guide/` (issue 17, item 3).

The toy task: a product's price band (the tercile of its price among the small catalogue's priced products) from
the shared product representation. Its spec goes in `guide.model.tasks` (`register`), its best-step score in
`training.validation.VALIDATION`, its report metrics in `evaluation.evaluate.METRICS`, its held-out outputs in
`evaluation.twin_export.HELD_OUT` and how the facade serves it in `serving.served_tasks.SERVED_TASKS`; the
fixture takes every entry out again, so the other tests see the four shipped tasks.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from guide.config import TASKS, ModelConfig, task_names
from guide.evaluation import evaluate, twin_export
from guide.evaluation.summary import summarise
from guide.metrics import accuracy, bootstrap_ci
from guide.model.inputs import item_block
from guide.model.outputs import item_representations
from guide.model.tasks import TASK_SPECS, Headline, TaskSpec, register, unregister
from guide.serving import served_tasks
from guide.serving.facade import Guide
from guide.training import validation
from guide.training.trainer import train
from tests.core_fixtures import tiny_model_config, tiny_train_config

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")

PRICE = "price_band"
BANDS = ("low", "middle", "high")


class ToyData:
    """The toy task's data, built here from the small real slice: each priced product's band and a split."""

    def __init__(self, catalog):
        price = catalog.items["price"].to_numpy(dtype=float)
        priced = np.flatnonzero(np.isfinite(price) & (price > 0))
        edges = np.quantile(price[priced], [1 / 3, 2 / 3])
        self.band = np.digitize(price, edges).astype(np.int64)  # 0, 1, 2 (unpriced rows are never read)
        rows = np.random.default_rng(0).permutation(priced)
        cut = [int(0.7 * len(rows)), int(0.85 * len(rows))]
        self.rows = dict(zip(("train", "valid", "test"), np.split(rows, cut), strict=True))

    def draw(self, sampler) -> tuple[dict, dict]:
        """One training batch: priced training products and their bands (a draw the sampler calls by spec); four
        times the other tasks' batch, so that a few steps learn it."""
        rows = sampler.rng.choice(self.rows["train"], 4 * sampler.batch_size)
        block, where = item_block(sampler.data, rows, sampler.device, sampler.drop, sampler.rng)
        batch = {"items": block, "price_index": torch.from_numpy(where).to(sampler.device)}
        return batch, {"band": torch.from_numpy(self.band[rows]).to(sampler.device)}

    def predicted(self, model, data, split: str, device, reps=None) -> tuple[np.ndarray, np.ndarray]:
        """(true, predicted) bands of `split` through the model's forward pass over encoded products."""
        rows = self.rows[split]
        reps = reps or item_representations(model, data, device)
        with torch.inference_mode():
            logits = model({"price_index": torch.from_numpy(rows).to(device)}, item_repr=reps)[PRICE]
        return self.band[rows], logits.argmax(1).cpu().numpy()

    def majority_share(self, split: str) -> float:
        return float(np.bincount(self.band[self.rows[split]], minlength=len(BANDS)).max() / len(self.rows[split]))


def _spec(toy: ToyData) -> TaskSpec:
    return TaskSpec(
        PRICE,
        head=lambda config: nn.Linear(config.hidden, len(BANDS)),
        loss=lambda logits, targets: F.cross_entropy(logits, targets["band"]),
        read=lambda logits, config: (torch.softmax(logits, -1),),
        route=lambda model, batch, encoded: (
            model.heads[PRICE](encoded.items[PRICE][batch["price_index"]]) if "price_index" in batch else None
        ),
        size=lambda data: len(toy.rows["train"]),
        draw=toy.draw,
        headline=Headline(("test",), "accuracy"),
        trivial_peer="Majority band",
    )


def _score(toy: ToyData):
    def score(model, data, device, reps) -> float:
        return accuracy(*toy.predicted(model, data, "valid", device, reps))

    return score


def _report(toy: ToyData):
    def metrics(run: evaluate.Scoring, per_row: dict) -> dict:
        labels, guessed = toy.predicted(run.model, run.data, run.split, run.device, run.reps)
        stat = evaluate.Statistic(accuracy, (labels, guessed))
        per_row["test"] = stat
        values = {"accuracy": stat(), "n": stat.n}
        return {"test": values | ({"accuracy_ci": list(bootstrap_ci(stat, stat.n))} if run.ci else {})}

    return metrics


def _held_out(toy: ToyData):
    def outputs(model, data, device) -> np.ndarray:
        reps = item_representations(model, data, device)
        rows = torch.from_numpy(toy.rows["test"]).to(device)
        with torch.inference_mode():
            return torch.softmax(model({"price_index": rows}, item_repr=reps)[PRICE], -1).cpu().numpy()

    return outputs


def _served() -> served_tasks.ServedTask:
    return served_tasks.ServedTask(
        served_tasks.PRODUCT,
        answer=lambda guide, probs: dict(zip(BANDS, map(float, probs))),
        catalogue=lambda model, reps: model.heads[PRICE](reps[PRICE]),
        arrays=("price_band",),
    )


@pytest.fixture
def toy(small_catalog, monkeypatch):
    """The toy task registered in every stage for this test only."""
    data = ToyData(small_catalog)
    register(_spec(data))
    try:
        monkeypatch.setitem(validation.VALIDATION, PRICE, validation.Validation(score=_score(data)))
        monkeypatch.setitem(evaluate.METRICS, PRICE, _report(data))
        monkeypatch.setitem(twin_export.HELD_OUT, PRICE, _held_out(data))
        monkeypatch.setitem(served_tasks.SERVED_TASKS, PRICE, _served())
        monkeypatch.setattr(validation, "VALIDATION_SHOPPERS", 300)  # as tiny_checkpoint: the same code, in seconds
        monkeypatch.setattr(validation, "CALIBRATION_SHOPPERS", 300)
        monkeypatch.setenv("GUIDE_CACHE_DIR", "off")  # the toy model's prepared arrays stay out of the user's cache
        yield data
    finally:
        unregister(PRICE)


@pytest.fixture
def toy_checkpoint(toy, task_data, small_catalog):
    config = tiny_train_config(steps=60, eval_every=30, model=tiny_model_config(tasks=(*TASKS, PRICE)))
    return train(task_data, config, small_catalog, progress=False)


def test_a_fifth_task_trains_validates_evaluates_and_is_served(toy, toy_checkpoint, task_data, small_catalog, encoder):
    checkpoint = toy_checkpoint
    model = checkpoint.model
    assert model.config.tasks == (*TASKS, PRICE)
    # trained and validated: it took part in every validation check and so in the best step's choice
    history = checkpoint.meta["history"]
    assert [h["step"] for h in history] == [30, 60]
    assert all(set(h["val"]) == {*TASKS, PRICE} and PRICE in h["loss"] for h in history)
    best = next(h for h in history if h["step"] == checkpoint.meta["best_step"])
    assert best["score"] == pytest.approx(np.mean(list(best["val"].values())))
    assert best["val"][PRICE] > toy.majority_share("valid") + 0.05  # it learnt the band, not the majority

    # evaluated: the report has its headline on its slice, and the summary a row for it
    per_row: dict = {}
    metrics = evaluate.model_metrics(model, task_data, "cpu", checkpoint.calibration, ci=False, per_row=per_row)
    assert list(metrics) == ["sentiment", "attributes", "purchase", "profile", PRICE]  # the shipped order, then it
    labels, guessed = toy.predicted(model, task_data, "test", "cpu")
    assert metrics[PRICE]["test"]["accuracy"] == pytest.approx(accuracy(labels, guessed))
    assert per_row[PRICE]["test"]() == pytest.approx(metrics[PRICE]["test"]["accuracy"])
    report: dict = {}
    evaluate.merge(report, "MTL", metrics)
    summary = summarise(report, per_row={"MTL": per_row})
    assert summary["headline_metrics"][PRICE] == "accuracy"
    assert summary["tasks"][PRICE]["MTL"] == pytest.approx(metrics[PRICE]["test"]["accuracy"])
    assert summary["tasks"][PRICE]["trivial_peer"] == "Majority band"

    # its twin's held-out outputs: what the pruning measurement compares
    held_out = twin_export.task_outputs(model, task_data, PRICE, "cpu")
    assert held_out.shape == (len(toy.rows["test"]), len(BANDS))
    np.testing.assert_allclose(held_out.sum(1), 1.0, rtol=1e-5)

    # served: Guide.predict answers it for the products asked, as the model's own forward pass does
    guide = Guide(checkpoint, small_catalog, encoder, torch.device("cpu"))
    rows = toy.rows["test"][:5]
    ids = small_catalog.items["item_id"].to_numpy()[rows].tolist()
    prediction = guide.predict(history=ids[:2], items=ids[2:])
    assert set(prediction.more) == {PRICE} and set(prediction.more[PRICE]) == set(ids[2:])
    expected = _held_out(toy)(model, task_data, "cpu")
    for row, item_id in zip(rows[2:], ids[2:], strict=True):
        position = int(np.flatnonzero(toy.rows["test"] == row)[0])
        answer = prediction.more[PRICE][item_id]
        assert list(answer) == list(BANDS)
        np.testing.assert_allclose(list(answer.values()), expected[position], atol=1e-5)
    served = guide.product_outputs(PRICE)[0].argmax(1)  # every product's band, computed at load
    test_rows = toy.rows["test"]
    assert accuracy(toy.band[test_rows], served[test_rows]) > toy.majority_share("test") + 0.05


def test_the_registration_is_undone_for_other_tests():
    assert tuple(TASK_SPECS) == TASKS == task_names()
    assert PRICE not in validation.VALIDATION and PRICE not in served_tasks.SERVED_TASKS


def test_a_task_without_a_validation_score_is_refused_before_training(small_catalog, task_data):
    data = ToyData(small_catalog)
    register(_spec(data))
    try:
        config = tiny_train_config(model=tiny_model_config(tasks=(*TASKS, PRICE)))
        with pytest.raises(ValueError, match=r"validation: expected an entry for task 'price_band'.*VALIDATION"):
            train(task_data, config, small_catalog, progress=False)
    finally:
        unregister(PRICE)


def test_a_model_with_an_unregistered_task_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="tasks: expected a non-empty subset of"):
        ModelConfig(tasks=(*TASKS, PRICE))
