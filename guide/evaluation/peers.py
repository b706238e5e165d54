"""Peers: the baselines a user would pick instead of the model, judged on exactly the model's splits.

Every peer fits on the train split, tunes its few knobs on the valid split and is judged on `split`
with the functions of `guide.metrics`, so the evaluation report can put them beside the model:
report[task][slice][peer] = {metric: value, f"{metric}_ci": [low, high] (sets under SMALL), "n": count}.

- sentiment: VADER (cut points on the compound score), TF-IDF and MiniLM logistic regressions that
  train on both review sources together, like the model, with validation-tuned class offsets as the
  model's (`tune_class_bias`).
- attributes: a logistic regression per tag over TF-IDF or MiniLM item features (thresholds per tag
  tuned on valid) plus a multinomial one for the category; fully labelled (Sephora) rows only.
- purchase: random, popularity, item co-occurrence, MiniLM content similarity, BPR-MF. Score ties are
  broken at random (seeded): count-based peers tie a lot, and neither "ties win" nor "ties lose" reads
  them fairly.
- profile: the global train prior, and the shopper's history frequency smoothed towards it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from threadpoolctl import threadpool_limits

from guide import metrics
from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT
from guide.data.catalog import Catalog
from guide.data.task_data import PurchaseSplit, TaskData, lexical_texts
from guide.data.text import MAX_CHARS
from guide.evaluation import sequential
from guide.evaluation.evaluate import SMALL, profile_scores

logger = logging.getLogger(__name__)

SEED = 13
SMOOTHING_GRID = (0.1, 0.25, 0.5, 0.75)  # share of the global prior mixed into a shopper's history frequency
Scorer = Callable[[PurchaseSplit, np.ndarray], np.ndarray]  # (shoppers, candidate rows (n, m)) -> (n, m)


def _judge(measures: dict[str, tuple[Callable, tuple]], ci: bool) -> dict:
    """{name: fn(*arrays)} and "n"; with a bootstrap CI per measure (its arrays resampled together)
    when the set is small."""
    out = {}
    for name, (fn, arrays) in measures.items():
        n = len(arrays[0])
        out[name] = float(fn(*arrays))
        if ci and n < SMALL:
            resampled = lambda i, fn=fn, arrays=arrays: fn(*(a[i] for a in arrays))  # noqa: E731
            out[f"{name}_ci"] = list(metrics.bootstrap_ci(resampled, n))
    return dict(out, n=int(n))


def _means(values: dict[str, np.ndarray], ci: bool) -> dict:
    return _judge({name: (np.mean, (per_row,)) for name, per_row in values.items()}, ci)


def _fit_logistic(x, y: np.ndarray, C: float, solver: str | None = None):
    """saga on sparse TF-IDF (lbfgs is ~5x slower there), lbfgs on dense embeddings."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    solver = solver or ("saga" if sparse.issparse(x) else "lbfgs")
    return LogisticRegression(C=C, solver=solver, max_iter=1000, random_state=SEED).fit(x, y)


def _tfidf(texts: np.ndarray, train: np.ndarray):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(texts[train])


# --- sentiment: fit(catalog, data) -> predict(review rows) -> (labels, score in [-1, 1]) -------------
def _cut(score: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.where(score < low, 0, np.where(score >= high, 2, 1))


def _fit_vader(catalog: Catalog, data: TaskData):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer, texts = SentimentIntensityAnalyzer(), catalog.reviews["full_text"].to_numpy()

    def compound(rows: np.ndarray) -> np.ndarray:
        return np.array([analyzer.polarity_scores(texts[r][:MAX_CHARS])["compound"] for r in rows])

    valid = data.review_rows("valid")
    score = compound(valid)
    grid = np.round(np.linspace(-0.9, 0.95, 38), 2)
    pairs = [(low, high) for low in grid for high in grid if low <= high]
    cuts = max(pairs, key=lambda pair: metrics.macro_f1(data.review_labels[valid], _cut(score, *pair)))
    logger.info("VADER cut points tuned on valid: negative < %.2f <= neutral < %.2f <= positive", *cuts)

    def predict(rows: np.ndarray):
        score = compound(rows)
        return _cut(score, *cuts), score

    return predict


def _tfidf_reviews(catalog: Catalog, data: TaskData):
    texts = catalog.reviews["full_text"].str.slice(0, MAX_CHARS).to_numpy()
    vectorizer = _tfidf(texts, data.review_rows("train"))
    return lambda rows: vectorizer.transform(texts[rows])


def _fit_review_regression(featurise, grid: tuple[float, ...], catalog: Catalog, data: TaskData):
    """Per C in `grid`: fit on train, tune class offsets on all valid reviews (as the model's are); keep
    the C with the best mean per-source macro-F1 on valid."""
    features = featurise(catalog, data)
    train, valid = data.review_rows("train"), data.review_rows("valid")
    x_train, x_valid = features(train), features(valid)
    y_valid, sources = data.review_labels[valid], data.review_source[valid]
    best_score = -1.0
    for C in grid:
        model = _fit_logistic(x_train, data.review_labels[train], C)
        log_probs = model.predict_log_proba(x_valid)
        offsets = metrics.tune_class_bias(y_valid, log_probs)
        predicted = (log_probs + offsets).argmax(1)
        score = np.mean([metrics.macro_f1(y_valid[sources == s], predicted[sources == s]) for s in set(sources)])
        if score > best_score:
            best, bias, best_score = model, offsets, score
    logger.info("review regression: C=%g, class offsets %s (valid macro-F1 %.3f)", best.C, bias, best_score)

    def predict(rows: np.ndarray):
        log_probs = best.predict_log_proba(features(rows))
        probs = np.exp(log_probs)
        return (log_probs + bias).argmax(1), probs[:, 2] - probs[:, 0]

    return predict


SENTIMENT_PEERS = {
    "VADER": _fit_vader,
    # Grids: TF-IDF with C > 4 scored lower in trials on this data (and saga slows there); embeddings need larger C.
    "TF-IDF+LogReg": partial(_fit_review_regression, _tfidf_reviews, (0.25, 1.0, 4.0)),
    "MiniLM+LogReg": partial(
        _fit_review_regression, lambda catalog, data: lambda rows: data.peer_reviews[rows], (1.0, 4.0, 16.0)
    ),
}


def sentiment_report(catalog: Catalog, data: TaskData, split: str = "test", ci: bool = True) -> dict:
    rows = data.review_rows(split)
    sources = data.review_source[rows]
    out = {source: {} for source in dict.fromkeys(sources)}
    for name, fit in SENTIMENT_PEERS.items():
        predicted, score = fit(catalog, data)(rows)
        for source in out:
            mask = sources == source
            labels, stars = data.review_labels[rows][mask], data.review_stars[rows][mask]
            out[source][name] = _judge(
                {
                    "macro_f1": (metrics.macro_f1, (labels, predicted[mask])),
                    "accuracy": (metrics.accuracy, (labels, predicted[mask])),
                    "spearman": (metrics.spearman, (score[mask], stars)),
                },
                ci,
            )
    return out


# --- attributes: features of every catalogue row, fitted on the train rows -----------------------------
def _tfidf_items(catalog: Catalog, data: TaskData, train: np.ndarray):
    texts = np.array(lexical_texts(catalog), dtype=object)
    return _tfidf(texts, train).transform(texts)


# name -> (features, C of the per-tag regressions, C of the category regression); the Cs were picked once
# on the brand slice's valid split (a grid per run would cost minutes on two cores).
ATTRIBUTE_PEERS = {
    "TF-IDF OvR": (_tfidf_items, 16.0, 16.0),
    "MiniLM OvR": (lambda catalog, data, train: data.peer_items, 1.0, 4.0),
}


def _labelled_rows(data: TaskData, split: str) -> np.ndarray:
    rows = data.split_rows(split)
    return rows[data.tag_mask[rows].min(1) > 0]  # fully labelled (Sephora) products only


def _tag_probabilities(features, targets: np.ndarray, train: np.ndarray, rows: np.ndarray, C: float) -> np.ndarray:
    """One logistic regression per tag; a tag with one class in train predicts its train rate."""
    probs = np.zeros((len(rows), targets.shape[1]))
    for tag in range(targets.shape[1]):
        y = targets[train, tag]
        if y.min() == y.max():
            probs[:, tag] = y.mean()
        else:
            probs[:, tag] = _fit_logistic(features[train], y, C, "liblinear").predict_proba(features[rows])[:, 1]
    return probs


def attribute_scores(catalog: Catalog, data: TaskData, split: str, peer: tuple, ci: bool = True) -> dict:
    train, valid, judged = (_labelled_rows(data, s) for s in ("train", "valid", split))
    if not len(train) or not len(valid) or not len(judged):
        raise ValueError(
            f"attributes: expected fully labelled rows in train, valid and {split}; got {len(train)}, "
            f"{len(valid)} and {len(judged)}; fix: use a larger sephora_fraction"
        )
    featurise, tag_C, category_C = peer
    features = featurise(catalog, data, train)
    probs = _tag_probabilities(features, data.tag_targets, train, np.concatenate([valid, judged]), tag_C)
    thresholds = metrics.tune_thresholds(data.tag_targets[valid], probs[: len(valid)])
    tags = (data.tag_targets[judged], (probs[len(valid) :] >= thresholds).astype(float))
    category = _fit_logistic(features[train], data.cat_targets[train], category_C).predict(features[judged])
    return _judge(
        {
            "micro_f1": (lambda t, p: metrics.multilabel_f1(t, p)[0], tags),
            "macro_f1": (lambda t, p: metrics.multilabel_f1(t, p)[1], tags),
            "category_accuracy": (metrics.accuracy, (data.cat_targets[judged], category)),
        },
        ci,
    )


def attributes_report(catalog: Catalog, slices: dict[str, TaskData], split: str = "test", ci: bool = True) -> dict:
    return {
        name: {peer: attribute_scores(catalog, data, split, spec, ci) for peer, spec in ATTRIBUTE_PEERS.items()}
        for name, data in slices.items()
    }


# --- purchase: fit(data) -> Scorer --------------------------------------------------------------------
# --- purchase: the benchmark protocol's peers live in guide.evaluation.sequential ----------------------


# --- profile: fit(data) -> predict(shoppers) -> (n, categories + tags) distributions ------------------
def _history_frequency(data: TaskData, part: PurchaseSplit, smoothing: float) -> np.ndarray:
    prior = data.item_interest[data.purchase["train"].target].mean(0)
    mean = np.stack([data.item_interest[h].mean(0) if len(h) else prior for h in part.history])
    return (1 - smoothing) * mean + smoothing * prior


def _fit_history_frequency(data: TaskData):
    valid = data.purchase["valid"]
    target = data.item_interest[valid.target]
    smoothing = min(
        SMOOTHING_GRID, key=lambda a: metrics.kl_divergence(target, _history_frequency(data, valid, a)).mean()
    )
    logger.info("history frequency: smoothing %.2f towards the train prior (tuned on valid KL)", smoothing)
    return lambda part: _history_frequency(data, part, smoothing)


def _recent_frequency(data: TaskData, part: PurchaseSplit, decay: float, smoothing: float) -> np.ndarray:
    """The history's interests with the latest products weighted most (weight decay ** age)."""
    prior = data.item_interest[data.purchase["train"].target].mean(0)
    rows = []
    for history in part.history:
        if not len(history):
            rows.append(prior)
            continue
        weights = decay ** np.arange(len(history))[::-1]
        rows.append(weights @ data.item_interest[history] / weights.sum())
    return (1 - smoothing) * np.stack(rows) + smoothing * prior


def _fit_recent_frequency(data: TaskData):
    valid = data.purchase["valid"]
    target = data.item_interest[valid.target]
    grid = [(d, a) for d in (0.3, 0.5, 0.7, 0.9) for a in SMOOTHING_GRID]
    decay, smoothing = min(
        grid, key=lambda da: metrics.kl_divergence(target, _recent_frequency(data, valid, *da)).mean()
    )
    logger.info("recency-weighted history: decay %.1f, smoothing %.2f (tuned on valid KL)", decay, smoothing)
    return lambda part: _recent_frequency(data, part, decay, smoothing)


PROFILE_PEERS = {
    "Global prior": lambda data: partial(_history_frequency, data, smoothing=1.0),
    "History frequency": _fit_history_frequency,
    "Recency-weighted history": _fit_recent_frequency,
}


# --- the report -----------------------------------------------------------------------------------
def _check(catalog: Catalog, data: TaskData, attribute_split: str, argument: str) -> None:
    if len(data.item_emb) != len(catalog.items) or len(data.review_labels) != len(catalog.reviews):
        raise ValueError(
            f"{argument}: expected task data of this catalogue ({len(catalog.items)} items, "
            f"{len(catalog.reviews)} reviews); got {len(data.item_emb)} items, {len(data.review_labels)} "
            "reviews; fix: tasks.build(catalog, encoder, config) with the same catalog and DataConfig"
        )
    sephora = (catalog.items["source"] == "sephora").to_numpy()
    if not np.array_equal(data.attr_split[sephora], catalog.items[f"{attribute_split}_split"].to_numpy()[sephora]):
        raise ValueError(
            f"{argument}: expected attribute splits by {attribute_split}; got other splits; "
            f"fix: tasks.build(..., attribute_split={attribute_split!r})"
        )


def peer_report(
    catalog: Catalog,
    data: TaskData,
    data_product: TaskData | None = None,
    split: str = "test",
    ci: bool = True,
    sasrec: bool | tuple[str, ...] = False,
    sasrec_minutes: float | None = None,
) -> dict:
    """Every peer of every task on `split`: report[task][slice][peer] = {metric: value, ...}.

    `data` is built with attribute_split="brand"; `data_product` (optional) with "product" adds the
    attributes "product" slice. Peers fit on train and tune on valid, so `split` is "valid" or "test".
    The shopper tasks have one slice, named "test" as in guide.evaluation.evaluate whichever split is judged.
    """
    if split not in ("valid", "test"):
        raise ValueError(f"split: expected 'valid' or 'test' (peers fit on train); got {split!r}")
    _check(catalog, data, "brand", "data")
    slices = {"brand": data}
    if data_product is not None:
        _check(catalog, data_product, "product", "data_product")
        slices["product"] = data_product
    part = data.purchase[split]
    names = sequential.peer_names(sasrec)  # the SASRec peers train for up to an hour each
    jobs = {
        SENTIMENT: lambda: sentiment_report(catalog, data, split, ci),
        ATTRIBUTES: lambda: attributes_report(catalog, slices, split, ci),
        PURCHASE: lambda: {
            "test": {
                name: _means(values, ci)
                for name, values in sequential.peer_values(data, split, names, sasrec_minutes).items()
            }
        },
        PROFILE: lambda: {
            "test": {name: profile_scores(fit(data)(part), data, part, ci) for name, fit in PROFILE_PEERS.items()}
        },
    }
    report = {}
    with threadpool_limits(limits=1):  # the machine is shared with training; more BLAS threads only contend
        for task, job in jobs.items():
            start = time.perf_counter()
            report[task] = job()
            logger.info("peers: %s done in %.1f s", task, time.perf_counter() - start)
    return report


__all__ = ["ATTRIBUTE_PEERS", "PROFILE_PEERS", "SENTIMENT_PEERS", "peer_report"]
