"""Behavioural tests of what a presenter types (CheckList: Ribeiro et al., "Beyond Accuracy", ACL 2020).

Held-out test sets measure reviews and catalogue rows; a person showing the shop live types neither, but
short plain texts: "Not bad at all", "Meh.", "lov it 😍", "matte red lipstick". The suite in
`assets/behaviour/` holds such texts, written by hand from named capabilities (negation, contrast, one word,
typos and emoji, plain facts; typed queries, attribute-laden descriptions, product names), each with the one
answer a human reader gives. Nothing trains or tunes on it. A capability's failure rate is counted on its own,
with a Wilson 95% interval: the groups are 25-40 texts, where a normal interval leaves [0, 1] and a bootstrap
of a 0/1 vector is coarse.

`failure_rates(cases, predict)` takes any `predict(texts) -> labels`. The predictors: the shipped model through
its public API (`model_sentiment` / `model_category` over a loaded `Guide`), a single-task twin
(`CheckpointTexts`), VADER at its own +-0.05 cut, and the TF-IDF + logistic regression peers of
`guide.evaluation.peers`, fitted on the training split only.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from guide.config import ASSETS_DIR, ATTRIBUTES, SENTIMENT, SENTIMENT_LABELS, DataConfig
from guide.data.catalog import Catalog
from guide.data.task_data import TaskData, lexical_texts, review_splits
from guide.data.text import MAX_CHARS, hash_ngrams, lexicon_features

logger = logging.getLogger(__name__)

SUITE_DIR = ASSETS_DIR / "behaviour"
SENTIMENT_SUITE = SUITE_DIR / "sentiment.csv"
PRODUCT_SUITE = SUITE_DIR / "products.csv"
COLUMNS = ("capability", "text", "expected")
GOAL = 0.90  # the pass rate every capability must reach for a presenter to trust it live
VADER_CUT = 0.05  # VADER's published convention: compound >= 0.05 positive, <= -0.05 negative
EXAMPLES = 3  # failures kept per capability: enough to see what goes wrong, short enough to print

Predict = Callable[[list[str]], list[str]]


@dataclass(frozen=True)
class Case:
    capability: str
    text: str
    expected: str


# --- the suite ---------------------------------------------------------------------------------------
def load_cases(path: Path | str, allowed: Iterable[str], what: str = "label") -> list[Case]:
    """The rows of a suite CSV (header capability,text,expected); every `expected` must be one of `allowed`."""
    path, allowed = Path(path), set(allowed)
    if not path.is_file():
        raise FileNotFoundError(
            f"expected a behaviour suite CSV at {path}; got no file; fix: restore assets/behaviour/"
        )
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(
                f"{path.name}: expected the columns {','.join(COLUMNS)}; got {reader.fieldnames}; "
                "fix: write that header line"
            )
        cases, seen = [], set()
        for line, row in enumerate(reader, start=2):
            if None in row or None in row.values():
                fields = [value for key, value in row.items() if key is not None and value is not None]
                fields += row.get(None, [])
                raise ValueError(
                    f"{path.name} line {line}: expected {len(COLUMNS)} fields; got {len(fields)} ({fields}); "
                    "fix: quote a text that holds a comma"
                )
            case = Case(*(row[column].strip() for column in COLUMNS))
            if not case.capability or not case.text:
                raise ValueError(f"{path.name} line {line}: expected a capability and a text; got {row}")
            if case.expected not in allowed:
                raise ValueError(
                    f"{path.name} line {line}: expected {what} from {sorted(allowed)}; got {case.expected!r}; "
                    "fix: use one of those names exactly, or drop the text"
                )
            if case.text.casefold() in seen:
                raise ValueError(f"{path.name} line {line}: expected each text once; got {case.text!r} again")
            seen.add(case.text.casefold())
            cases.append(case)
    if not cases:
        raise ValueError(f"{path.name}: expected at least one case; got none")
    return cases


def load_sentiment(path: Path | str = SENTIMENT_SUITE) -> list[Case]:
    return load_cases(path, SENTIMENT_LABELS, "a sentiment label")


def load_products(vocabulary: Sequence[str], path: Path | str = PRODUCT_SUITE) -> list[Case]:
    """Product texts whose expected category must be in `vocabulary` (the checkpoint's `categories`)."""
    return load_cases(path, vocabulary, "a category of the model's vocabulary")


# --- counting --------------------------------------------------------------------------------------
def wilson(failures: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    from scipy.stats import binomtest

    interval = binomtest(failures, n).proportion_ci(confidence, method="wilson")
    return float(interval.low), float(interval.high)


def failure_rates(cases: Sequence[Case], predict: Predict, examples: int = EXAMPLES) -> dict[str, dict]:
    """Per capability, in suite order: n, failures, rate, its Wilson 95% CI and the first failures."""
    answers = list(predict([case.text for case in cases]))
    if len(answers) != len(cases):
        raise ValueError(f"predict: expected one label per text ({len(cases)}); got {len(answers)}")
    counts: dict[str, dict] = {}
    for case, answer in zip(cases, answers, strict=True):
        entry = counts.setdefault(case.capability, {"n": 0, "failures": 0, "examples": []})
        entry["n"] += 1
        if answer != case.expected:
            entry["failures"] += 1
            if len(entry["examples"]) < examples:
                entry["examples"].append({"text": case.text, "expected": case.expected, "got": answer})
    return {
        capability: {
            "n": entry["n"],
            "failures": entry["failures"],
            "rate": entry["failures"] / entry["n"],
            "ci": list(wilson(entry["failures"], entry["n"])),
            "examples": entry["examples"],
        }
        for capability, entry in counts.items()
    }


def goal_gap(rates: dict[str, dict], goal: float = GOAL) -> dict:
    """Whether every capability passes at least `goal`, which fall short, and by how much the worst does."""
    worst = max(rates, key=lambda capability: rates[capability]["rate"])
    worst_pass = 1.0 - rates[worst]["rate"]
    below = [capability for capability, entry in rates.items() if 1.0 - entry["rate"] < goal]
    return {"met": not below, "below": below, "worst": worst, "worst_pass": worst_pass, "short_by": goal - worst_pass}


# --- predictors ------------------------------------------------------------------------------------
def model_sentiment(guide) -> Predict:
    """The served model's labels through the public API (`Guide.sentiment`, class offsets included)."""
    return lambda texts: [result.label for result in guide.sentiment(texts)]


def model_category(guide) -> Predict:
    """The served model's most likely category of a free-text product (`Guide.attributes(...).category`)."""
    return lambda texts: [result.category for result in guide.attributes(texts)]


def vader_sentiment(texts: list[str]) -> list[str]:
    """VADER's compound score as the project reads it (`lexicon_features`), cut at its own +-0.05."""
    compound = lexicon_features(texts)[:, 3]
    cut = np.float32(VADER_CUT)  # the features are float32: compare in float32 so 0.05 itself counts
    negative, neutral, positive = SENTIMENT_LABELS
    return [positive if c >= cut else negative if c <= -cut else neutral for c in compound]


class _Reviews:
    """The part of `TaskData` the peers' review regression reads, from the catalogue alone: building the full
    task data embeds and assembles every task (minutes on two cores) for three arrays."""

    review_rows = TaskData.review_rows

    def __init__(self, catalog: Catalog, config: DataConfig):
        self.review_split = review_splits(catalog.reviews, config)
        self.review_labels = catalog.reviews["label"].to_numpy()
        self.review_source = catalog.reviews["source"].to_numpy()


def _review_tfidf(catalog: Catalog, data: _Reviews):
    """`peers._tfidf_reviews` (fitted on the training reviews) that also featurises new texts: catalogue rows
    come as an int array, suite texts as a list."""
    from guide.evaluation import peers

    texts = catalog.reviews["full_text"].str.slice(0, MAX_CHARS).to_numpy()
    vectorizer = peers._tfidf(texts, data.review_rows("train"))
    return lambda rows: vectorizer.transform([t[:MAX_CHARS] for t in rows] if isinstance(rows, list) else texts[rows])


def tfidf_sentiment(catalog: Catalog, config: DataConfig) -> Predict:
    """The "TF-IDF+LogReg" sentiment peer, by its own code: fitted on training reviews, C and class offsets
    tuned on valid. `config`: the checkpoint's DataConfig (its review sources decide what is training data)."""
    from guide.evaluation import peers

    _, grid = peers.SENTIMENT_PEERS["TF-IDF+LogReg"].args
    predict = peers._fit_review_regression(_review_tfidf, grid, catalog, _Reviews(catalog, config))
    return lambda texts: [SENTIMENT_LABELS[k] for k in predict(list(texts))[0]]


def tfidf_category(catalog: Catalog, vocabulary: Sequence[str], attribute_split: str = "brand") -> Predict:
    """The "TF-IDF OvR" category regression (`peers.attribute_scores`: its features, C and rows): fitted on the
    training Sephora products of `attribute_split`, labels in `vocabulary` (unknown ones are "Other")."""
    from guide.evaluation import peers

    if "Other" not in vocabulary:
        raise ValueError(f"vocabulary: expected the model's categories, ending in 'Other'; got {list(vocabulary)[:5]}")
    items = catalog.items
    train = np.flatnonzero(
        (items["source"] == "sephora").to_numpy() & (items[f"{attribute_split}_split"] == "train").to_numpy()
    )
    index = {name: k for k, name in enumerate(vocabulary)}
    labels = np.array([index.get(name, index["Other"]) for name in items["category"].to_numpy()[train]])
    texts = np.array(lexical_texts(catalog), dtype=object)
    vectorizer = peers._tfidf(texts, train)
    _, _, category_C = peers.ATTRIBUTE_PEERS["TF-IDF OvR"]
    model = peers._fit_logistic(vectorizer.transform(texts[train]), labels, category_C)
    return lambda new: [vocabulary[k] for k in model.predict(vectorizer.transform(list(new)))]


class CheckpointTexts:
    """A checkpoint's own heads over free text, without the catalogue: how a single-task twin reads the suite.

    `Guide.load` serves full checkpoints only (it prepares every head's catalogue side at load), and a twin
    holds one task's head. Inputs are built as `Guide.sentiment` / `Guide.attributes` build them, so on the
    shipped checkpoint this gives the served labels."""

    def __init__(self, folder: Path | str, device: str | None = None):
        from guide.model.checkpoint import Checkpoint
        from guide.model.device import resolve_device

        self.folder, self.device = Path(folder), resolve_device(device)
        self.checkpoint = Checkpoint.load(self.folder, self.device)
        self.model = self.checkpoint.model.eval()
        self.tasks = tuple(self.model.config.tasks)
        self.encoder = self.checkpoint.sentence_encoder(device=str(self.device) if self.device.type == "cuda" else None)

    def _require(self, task: str) -> None:
        if task not in self.tasks:
            raise ValueError(
                f"{self.folder}: expected a checkpoint with the {task} head; got one with {self.tasks}; "
                f"fix: pass the {task} twin's folder"
            )

    def _block(self, texts: list[str], **extra) -> dict:
        from guide.model.inputs import text_block

        emb = self.encoder.embed([t[:MAX_CHARS] for t in texts], persist=False)
        bags = [np.array(hash_ngrams(t, self.model.config.ngram_buckets), np.int64) for t in texts]
        return text_block(emb, bags, np.arange(len(texts)), self.device, **extra)

    def sentiment(self, texts: list[str]) -> list[str]:
        import torch

        self._require(SENTIMENT)
        with torch.inference_mode():
            logits = self.model({"reviews": self._block(texts, lexicon=lexicon_features(texts))})[SENTIMENT]
            log_probs = torch.log_softmax(logits, -1).cpu().numpy()
        bias = np.array(self.checkpoint.calibration.get("sentiment_bias", [0.0] * len(SENTIMENT_LABELS)))
        return [SENTIMENT_LABELS[k] for k in (log_probs + bias).argmax(1)]

    def category(self, texts: list[str]) -> list[str]:
        import torch

        from guide.model.tasks import task_spec

        self._require(ATTRIBUTES)
        feats = np.zeros((len(texts), self.model.config.item_features), np.float32)  # free text: no price etc.
        with torch.inference_mode():
            reps = self.model.encode_items(self._block(texts, feats=feats))
            _, cats = task_spec(ATTRIBUTES).read(self.model.attribute_logits(reps), self.model.config)
        return [self.checkpoint.categories[k] for k in cats.argmax(1).cpu().numpy()]
