"""Evaluation: per-task metrics of a model on a split (`METRICS`), the trivial peers the data alone gives,
and what a checkpoint may be scored on; every metric with a 95% bootstrap CI.

report[task][slice][model name] = {metric: value, metric_ci: [low, high]} (`merge`); report["summary"], the
MTL-vs-STL comparison with its verdicts and delta_m, is `guide/evaluation/summary.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT
from guide.data.task_data import TaskData
from guide.evaluation.sequential import model_values
from guide.evaluation.summary import HEADLINES, TRIVIAL
from guide.metrics import (
    accuracy,
    bootstrap_ci,
    kl_divergence,
    macro_f1,
    multilabel_f1,
    ndcg_of_label,
    spearman,
    tune_thresholds,
)
from guide.model.checkpoint import Checkpoint
from guide.model.fusion import Fusion
from guide.model.outputs import (
    attribute_probs,
    item_representations,
    profile_probs,
    sentiment_log_probs,
)

logger = logging.getLogger(__name__)


# Peers compute CIs for sets below this size (every test set here: the largest holds ~2,300 reviews), so
# the model can be compared with each of them by CI; the model and its twins always get CIs.
SMALL = 100_000


@dataclass(frozen=True)
class Statistic:
    """A metric as a function of row indices: fn(*(a[idx] for a in arrays)); resampling idx bootstraps it,
    and two systems' Statistics over the same rows can be resampled together (paired)."""

    fn: Callable[..., float]
    arrays: tuple[np.ndarray, ...]

    @property
    def n(self) -> int:
        return len(self.arrays[0])

    def __call__(self, idx: np.ndarray | None = None) -> float:
        return float(self.fn(*(a if idx is None else a[idx] for a in self.arrays)))


def _judge(measures: dict[str, Statistic], ci: bool) -> dict:
    """{metric: value, metric_ci: [low, high], n}: every measure with its 95% bootstrap CI when `ci`."""
    out = {}
    for name, stat in measures.items():
        out[name] = stat()
        if ci:
            out[f"{name}_ci"] = list(bootstrap_ci(stat, stat.n))
    return dict(out, n=next(iter(measures.values())).n if measures else 0)


def _means(values: dict[str, np.ndarray]) -> dict[str, Statistic]:
    return {name: Statistic(np.mean, (per_row,)) for name, per_row in values.items()}


def _keep(per_row: dict | None, slice_name: str, stat: Statistic) -> None:
    if per_row is not None:
        per_row[slice_name] = stat


def _micro_f1(targets: np.ndarray, predicted: np.ndarray) -> float:
    return multilabel_f1(targets, predicted)[0]


def _macro_f1_tags(targets: np.ndarray, predicted: np.ndarray) -> float:
    return multilabel_f1(targets, predicted)[1]


# --- the model's metrics per task --------------------------------------------------------------------
def sentiment_metrics(model, data: TaskData, split: str, device, bias, ci=True, per_row: dict | None = None) -> dict:
    out = {}
    for source in HEADLINES[SENTIMENT][0]:
        rows = data.review_rows(split, source)
        if not len(rows):
            continue
        log_probs = sentiment_log_probs(model, data, rows, device)
        labels, predicted = data.review_labels[rows], (log_probs + np.asarray(bias)).argmax(1)
        probs = np.exp(log_probs)
        measures = {
            "macro_f1": Statistic(macro_f1, (labels, predicted)),
            "accuracy": Statistic(accuracy, (labels, predicted)),
            "spearman": Statistic(spearman, (probs[:, 2] - probs[:, 0], data.review_stars[rows])),
        }
        out[source] = _judge(measures, ci)
        _keep(per_row, source, measures["macro_f1"])
    return out


def _labelled_rows(data: TaskData, split: str) -> np.ndarray:
    rows = data.split_rows(split)
    return rows[data.tag_mask[rows].min(1) > 0]  # fully labelled (Sephora) products only


def _attribute_measures(targets: np.ndarray, predicted: np.ndarray, cats: np.ndarray, guessed: np.ndarray) -> dict:
    return {
        "micro_f1": Statistic(_micro_f1, (targets, predicted)),
        "macro_f1": Statistic(_macro_f1_tags, (targets, predicted)),
        "category_accuracy": Statistic(accuracy, (cats, guessed)),
    }


def attribute_metrics(
    model, data: TaskData, split: str, device, thresholds, reps=None, name="brand", ci=True, per_row=None
) -> dict:
    rows = _labelled_rows(data, split)
    tags, cats = attribute_probs(model, data, rows, device, reps)
    predicted = (tags >= np.asarray(thresholds)).astype(float)
    measures = _attribute_measures(data.tag_targets[rows], predicted, data.cat_targets[rows], cats.argmax(1))
    _keep(per_row, name, measures["micro_f1"])
    return {name: _judge(measures, ci)}


def purchase_metrics(
    model, data: TaskData, split: str, device, reps=None, ci=True, per_row=None, fusion: dict | None = None
) -> dict:
    """The benchmark's protocol (`guide.evaluation.sequential`): full ranking over its 12,101 products with
    the history masked, and 1 + 99 sampled unseen products; per-shopper values, so every figure has a CI."""
    measures = _means(model_values(model, data, split, device, reps, Fusion(**fusion) if fusion else None))
    _keep(per_row, "test", measures[HEADLINES[PURCHASE][1]])
    return {"test": _judge(measures, ci)}


def profile_metrics(model, data: TaskData, split: str, device, reps=None, ci=True, per_row=None) -> dict:
    part = data.purchase[split]
    probs = profile_probs(model, data, part, device, reps)
    return {"test": profile_scores(probs, data, part, ci, per_row)}


def profile_scores(probs: np.ndarray, data: TaskData, part, ci=True, per_row: dict | None = None) -> dict:
    """NDCG of the next product's category (its second category-path level, among those nodes), of its third
    level and of its brand (products without one of them left out of that measure), and the KL divergence."""
    target = data.item_interest[part.target]
    values = {}
    for name, kind in (("ndcg_category", "path2"), ("ndcg_subcategory", "path3"), ("ndcg_brand", "brand")):
        columns = data.interest_columns(kind)
        if len(columns):
            labels, known = data.interest_labels(part.target, kind)
            values[name] = ndcg_of_label(probs[known][:, columns], labels[known])
    values["kl"] = kl_divergence(target, probs)
    measures = _means(values)
    _keep(per_row, "test", measures["ndcg_category"])
    return _judge(measures, ci)


@dataclass(frozen=True)
class Scoring:
    """What every task's report metrics read: the model, the data and split, its calibration, every product's
    representations (computed once) and whether to compute CIs."""

    model: object
    data: TaskData
    split: str
    device: object
    calibration: dict
    reps: dict
    ci: bool = True
    attribute_slice: str = "brand"


def _sentiment_report(run: Scoring, per_row: dict) -> dict:
    bias = run.calibration.get("sentiment_bias", [0, 0, 0])
    return sentiment_metrics(run.model, run.data, run.split, run.device, bias, run.ci, per_row)


def _attributes_report(run: Scoring, per_row: dict) -> dict:
    thresholds = run.calibration.get("tag_thresholds", [0.5] * len(run.data.tags))
    return attribute_metrics(
        run.model, run.data, run.split, run.device, thresholds, run.reps, run.attribute_slice, run.ci, per_row
    )


def _purchase_report(run: Scoring, per_row: dict) -> dict:
    fusion = run.calibration.get("purchase_fusion")
    return purchase_metrics(run.model, run.data, run.split, run.device, run.reps, run.ci, per_row, fusion)


def _profile_report(run: Scoring, per_row: dict) -> dict:
    return profile_metrics(run.model, run.data, run.split, run.device, run.reps, run.ci, per_row)


# task -> (scoring, per_row) -> {slice: {metric: value, metric_ci: [low, high], n}}: a task's report metrics on
# the slices of its headline, its headline metric's per-row Statistic put in per_row[slice] (paired comparisons).
# The report runs them in this order; a task a model has without an entry is refused (`task_metrics`).
METRICS: dict[str, Callable[[Scoring, dict], dict]] = {
    SENTIMENT: _sentiment_report,
    ATTRIBUTES: _attributes_report,
    PURCHASE: _purchase_report,
    PROFILE: _profile_report,
}


def task_metrics(task: str) -> Callable[[Scoring, dict], dict]:
    """The report metrics of `task`; ValueError naming the registry when it has none."""
    try:
        return METRICS[task]
    except KeyError:
        raise ValueError(
            f"report metrics: expected an entry for task {task!r} in guide.evaluation.evaluate.METRICS; got entries "
            f"for {list(METRICS)}; fix: add a function (Scoring, per_row) -> {{slice: metrics}} for it there"
        ) from None


def model_metrics(
    model,
    data: TaskData,
    device,
    calibration: dict,
    split: str = "test",
    ci: bool = True,
    attribute_slice: str = "brand",
    per_row: dict | None = None,
) -> dict:
    """Metrics of every task `model` has, on `split` (`METRICS`). `per_row` (optional) receives
    {task: {slice: Statistic}} of each headline metric, for paired comparisons (`summary.summarise`)."""
    tasks = model.config.tasks
    runs = {task: task_metrics(task) for task in tasks}
    reps = item_representations(model, data, device)
    run = Scoring(model, data, split, device, calibration, reps, ci, attribute_slice)
    rows = {task: {} for task in tasks}
    out = {task: metrics(run, rows[task]) for task, metrics in sorted(runs.items(), key=_report_order)}
    if per_row is not None:
        for task, slices in rows.items():
            per_row.setdefault(task, {}).update(slices)
    return out


def _report_order(entry: tuple[str, Callable]) -> int:
    return list(METRICS).index(entry[0])


# --- trivial peers the data alone gives (no model, no fitting beyond counting) -----------------------
def trivial_metrics(data: TaskData, split: str = "test", attribute_slice: str = "brand", ci: bool = True) -> dict:
    """ "Majority class" (sentiment: the train majority label for every review) and "Tag prior"
    (attributes: the same tags for every product, a tag's train rate thresholded on valid): the floor a
    twin must reach for its delta_m to mean anything."""
    train_labels = data.review_labels[data.review_rows("train")]
    majority = int(np.bincount(train_labels, minlength=3).argmax()) if len(train_labels) else 2
    out: dict = {SENTIMENT: {}}
    for source in HEADLINES[SENTIMENT][0]:
        labels = data.review_labels[data.review_rows(split, source)]
        if len(labels):
            guess = np.full(len(labels), majority)
            measures = {
                "macro_f1": Statistic(macro_f1, (labels, guess)),
                "accuracy": Statistic(accuracy, (labels, guess)),
            }
            out[SENTIMENT][source] = {TRIVIAL[SENTIMENT]: _judge(measures, ci)}
    train, valid, judged = (_labelled_rows(data, s) for s in ("train", "valid", split))
    if len(train) and len(valid) and len(judged):
        rate = data.tag_targets[train].mean(0)
        thresholds = tune_thresholds(data.tag_targets[valid], np.tile(rate, (len(valid), 1)))
        predicted = np.tile((rate >= thresholds).astype(float), (len(judged), 1))
        top_category = int(np.bincount(data.cat_targets[train]).argmax())
        measures = _attribute_measures(
            data.tag_targets[judged], predicted, data.cat_targets[judged], np.full(len(judged), top_category)
        )
        out[ATTRIBUTES] = {attribute_slice: {TRIVIAL[ATTRIBUTES]: _judge(measures, ci)}}
    return out


# --- what a checkpoint may be scored on ---------------------------------------------------------------
def check_checkpoint(checkpoint: Checkpoint, attribute_split: str, fingerprint: str, tags: list[str]) -> None:
    """Refuse to score `checkpoint` on data it was not trained for: another attribute split (its test
    products were its training products), other data (another fingerprint) or another tag vocabulary.
    A checkpoint that did not record its split or fingerprint is scored with a warning."""
    trained = checkpoint.attribute_split
    if trained and trained != attribute_split:
        raise ValueError(
            f"attribute split: expected a model trained on the {attribute_split!r} split (what is being scored); "
            f"got one trained on the {trained!r} split; fix: score it on tasks.build(..., attribute_split="
            f"{trained!r}) or retrain with --attribute-split {attribute_split}"
        )
    if fingerprint and checkpoint.fingerprint and fingerprint != checkpoint.fingerprint:
        raise ValueError(
            f"data fingerprint: expected {checkpoint.fingerprint} (the data the checkpoint was trained on); got "
            f"{fingerprint}; fix: evaluate with the same GUIDE_DATA_DIR and DataConfig as training, or retrain"
        )
    if list(tags) != list(checkpoint.tags):
        raise ValueError(
            f"tag vocabulary: expected the checkpoint's {len(checkpoint.tags)} tags; got {len(tags)} "
            "(another catalogue or vocabulary rule); fix: retrain on this data"
        )
    for what, value in (("attribute split", trained), ("data fingerprint", checkpoint.fingerprint)):
        if not value:
            logger.warning("checkpoint does not record its %s; scoring it unchecked (retrain to record it)", what)


def merge(report: dict, name: str, metrics: dict) -> None:
    for task, slices in metrics.items():
        for slice_name, values in slices.items():
            report.setdefault(task, {}).setdefault(slice_name, {})[name] = values
