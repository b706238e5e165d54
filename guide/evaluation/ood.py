"""Out of domain: sentiment across review sources and text units, attributes and category on every text
format the model is given, and the Amazon Beauty 2014 titles against their category paths.

report["ood"] = {
  "sentiment": {"rows": [...], "note": ...}  one row per system x trained on x unit (reviews, sentences) x tested on
  "formats":   {"rows": [...], "note": ...}  one row per system x text format of the brand-disjoint test products
  "titles":    {"rows": [...], "coverage": {...}, "note": ...}
  "meta":      {sizes, seconds}
}
Every figure has a 95% bootstrap CI (`evaluate._judge`). A model row is compared with each peer trained on
the same reviews and a format with the catalogue format by the paired bootstrap of the difference on the
same rows (`metrics.paired_bootstrap_ci`), decided by `summary.decide`: beats / ties / behind.

Here: the sentences and source views, the sentiment table and the section's assembly (`ood_report`); the
attribute pieces (each text format's inputs, the model and the peers on them, the Beauty 2014 titles and their
category map) are in `guide.evaluation.ood_attributes`, their names importable from here as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from guide.config import SENTIMENT, SENTIMENT_SOURCES
from guide.data.aspect_cues import review_sentences
from guide.data.catalog import Catalog
from guide.data.formats import FORMATS, format_texts
from guide.data.task_data import EXCLUDED, TaskData
from guide.data.text import Encoder, hash_ngrams, lexicon_features
from guide.evaluation import peers
from guide.evaluation.evaluate import Statistic, _judge
from guide.evaluation.ood_attributes import (
    CATALOGUE,
    PEER_FEATURES,
    catalogue_inputs,
    format_gap_rows,
    free_inputs,
    load_category_map,
    map_category,
    model_attributes,
    peer_attributes,
    title_sample,
)
from guide.evaluation.summary import TRIVIAL, decide
from guide.metrics import accuracy, macro_f1, paired_bootstrap_ci, pearson, spearman
from guide.model.checkpoint import Checkpoint
from guide.model.outputs import sentiment_log_probs

logger = logging.getLogger(__name__)

SHIPPED = "MTL (shipped)"  # the checkpoint being evaluated: trained on both review sources
MODEL = "MTL"  # a multi-task checkpoint trained with one review source only (DataConfig.sentiment_sources)
BOTH = "both"
MAJORITY = TRIVIAL[SENTIMENT]
SENTENCE_SPLIT = "ood-sentences"  # appended review rows: no peer fits ("train") or tunes ("valid") on them
Predict = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]]  # review rows -> (labels, score or None)
Fit = Callable[[Catalog, TaskData], Predict]


@dataclass(frozen=True)
class Sizes:
    """Bounded, seeded samples: the encoder runs ~40 reviews/s and ~140 titles/s on two busy CPU cores."""

    sentences: int = 1500  # review sentences per source, from its test reviews
    titles: int = 3000  # Beauty 2014 titles whose category path maps onto the model's categories
    products: int | None = None  # brand-disjoint test products per format (None: all, ~1,200)
    seed: int = 13


# --- sentences and views of the review table -------------------------------------------------------------
def sentence_sample(reviews: pd.DataFrame, rows: np.ndarray, limit: int, seed: int) -> pd.DataFrame:
    """The sentences of the reviews at `rows` (`aspects.review_sentences`: pysbd, the title as one sentence),
    each with its review's label, stars, source and row (a sentence inherits its review's label); a seeded
    sample of at most `limit`."""
    titles, texts = reviews["title"].to_numpy(), reviews["text"].to_numpy()
    pieces = [(sentence, row) for row in rows for sentence in review_sentences(titles[row], texts[row])]
    frame = pd.DataFrame(pieces, columns=["text", "review_row"])
    if len(frame) > limit:
        frame = frame.sample(n=limit, random_state=seed).sort_index()
    parent = frame["review_row"].to_numpy()
    return frame.assign(
        label=reviews["label"].to_numpy()[parent],
        rating=reviews["rating"].to_numpy()[parent],
        source=reviews["source"].to_numpy()[parent],
    ).reset_index(drop=True)


def with_sentences(
    catalog: Catalog,
    data: TaskData,
    sentences: pd.DataFrame,
    encoder: Encoder,
    buckets: int,
    peer_encoder: Encoder | None = None,
) -> tuple[Catalog, TaskData, np.ndarray]:
    """The catalogue and task data with `sentences` appended as reviews of split SENTENCE_SPLIT, and their rows:
    peers and the model then read them like any review (`peer_encoder`: the base encoder the MiniLM peers
    read, when the model reads a fine-tuned one)."""  # fmt: skip
    n, start = len(sentences), len(catalog.reviews)
    texts = sentences["text"].tolist()
    extra = pd.DataFrame(
        {"source": sentences["source"], "rating": sentences["rating"], "label": sentences["label"], "title": "",
         "text": texts, "full_text": texts, "split": SENTENCE_SPLIT}
    )  # fmt: skip
    emb = encoder.embed(texts, shard_name="ood-sentences")
    peer = None
    if data.peer_review_emb is not None:
        if peer_encoder is None:
            raise ValueError("with_sentences: the data carry peer embeddings; expected a peer_encoder for new texts")
        peer = np.concatenate([data.peer_review_emb, peer_encoder.embed(texts, shard_name="ood-sentences")])
    data = replace(
        data,
        peer_review_emb=peer,
        review_emb=np.concatenate([data.review_emb, emb]),
        review_ngrams=data.review_ngrams + [np.array(hash_ngrams(t, buckets), np.int64) for t in texts],
        review_labels=np.concatenate([data.review_labels, sentences["label"].to_numpy()]),
        review_split=np.concatenate([data.review_split, np.full(n, SENTENCE_SPLIT, dtype=object)]),
        review_source=np.concatenate([data.review_source, sentences["source"].to_numpy(dtype=object)]),
        review_stars=np.concatenate([data.review_stars, sentences["rating"].to_numpy(np.float32)]),
        review_lexicon=None
        if data.review_lexicon is None
        else np.concatenate([data.review_lexicon, lexicon_features(texts)]),
    )
    reviews = pd.concat([catalog.reviews, extra], ignore_index=True)
    return replace(catalog, reviews=reviews), data, np.arange(start, start + n)


def source_view(data: TaskData, source: str) -> TaskData:
    """The task data with only `source`'s reviews in train and valid (BOTH: unchanged): what a system trained
    on that source may fit and tune on. Test rows keep their split; no fit reads them."""
    if source == BOTH:
        return data
    other = (data.review_source != source) & np.isin(data.review_split, ("train", "valid"))
    return replace(data, review_split=np.where(other, EXCLUDED, data.review_split).astype(object))


# --- sentiment ----------------------------------------------------------------------------------------------
def _fit_majority(catalog: Catalog, data: TaskData) -> Predict:
    majority = int(np.bincount(data.review_labels[data.review_rows("train")], minlength=3).argmax())
    return lambda rows: (np.full(len(rows), majority), None)


def model_fit(checkpoint: Checkpoint, device, review_emb: np.ndarray | None = None) -> Fit:
    """The checkpoint as a sentiment system (nothing to fit): its labels with the validation-tuned class
    offsets, as served, and P(positive) - P(negative) as the score. `review_emb`: the review vectors it reads
    when its encoder is not the one that embedded the task data (`review_vectors`)."""
    bias = np.asarray(checkpoint.calibration.get("sentiment_bias", [0.0, 0.0, 0.0]))

    def fit(catalog: Catalog, data: TaskData) -> Predict:
        own = data if review_emb is None else replace(data, review_emb=review_emb)

        def predict(rows: np.ndarray):
            log_probs = sentiment_log_probs(checkpoint.model, own, rows, device)
            probs = np.exp(log_probs)
            return (log_probs + bias).argmax(1), probs[:, 2] - probs[:, 0]

        return predict

    return fit


def review_vectors(
    model: Checkpoint,
    shipped: Checkpoint,
    catalog: Catalog,
    data: TaskData,
    rows: np.ndarray,
    encoder: Encoder | None = None,
) -> np.ndarray | None:
    """The review vectors a one-source `model` reads, where `data` was embedded for `shipped`: None when both
    read the same encoder; the base encoder's (the MiniLM peers' vectors) for a frozen-encoder model beside a
    fine-tuned shipped one; else the texts at `rows` (the test rows it is scored on) embedded by its own
    fine-tuned `encoder` (every other row zero: never read). A model trained the staged way on one source
    fine-tuned its encoder on that source alone; scoring it on vectors of an encoder that saw both sources
    would not be out of domain."""
    mine, theirs = model.model.config.encoder_id, shipped.model.config.encoder_id
    if mine == theirs:
        return None
    if model.encoder_folder is None:
        if data.peer_review_emb is None:
            raise ValueError("review_vectors: a frozen-encoder model beside a fine-tuned one needs peer embeddings")
        return data.peer_review_emb
    if encoder is None:
        raise ValueError(f"review_vectors: the model reads its own encoder ({mine}); expected that encoder")
    out = np.zeros_like(data.review_emb)
    if len(rows):
        texts = catalog.reviews["full_text"].to_numpy()[rows].tolist()
        out[rows] = encoder.embed(texts, shard_name="ood-own-encoder")
    return out


def peer_systems() -> dict[tuple[str, str], Fit]:
    """Every sentiment peer and the majority class, trained on each source alone and on both."""
    fits = {**peers.SENTIMENT_PEERS, MAJORITY: _fit_majority}
    return {(name, trained_on): fit for trained_on in (*SENTIMENT_SOURCES, BOTH) for name, fit in fits.items()}


def sentiment_table(
    catalog: Catalog,
    data: TaskData,
    tests: dict[tuple[str, str], np.ndarray],
    systems: dict[tuple[str, str], Fit],
    ci: bool = True,
) -> list[dict]:
    """One row per system (name, trained on) and test set (unit, source -> review rows); model rows carry
    their verdict against every peer trained on the same reviews."""
    rows, stats = [], {}
    for (name, trained_on), fit in systems.items():
        start = time.perf_counter()
        predict = fit(catalog, source_view(data, trained_on))
        for (unit, tested_on), review_rows in tests.items():
            predicted, score = predict(review_rows)
            labels, stars = data.review_labels[review_rows], data.review_stars[review_rows]
            measures = {"macro_f1": Statistic(macro_f1, (labels, predicted)),
                        "accuracy": Statistic(accuracy, (labels, predicted))}  # fmt: skip
            if score is not None:
                measures["spearman"] = Statistic(spearman, (score, stars))
                measures["pearson"] = Statistic(pearson, (score, stars))
            key = (name, trained_on, unit, tested_on)
            stats[key] = measures["macro_f1"]
            out_of_domain = trained_on not in (BOTH, tested_on)
            rows.append(dict(zip(("system", "trained_on", "unit", "tested_on"), key), out_of_domain=out_of_domain,
                             **_judge(measures, ci)))  # fmt: skip
        logger.info("ood sentiment: %s trained on %s in %.1f s", name, trained_on, time.perf_counter() - start)
    for row in rows:
        if row["system"] in (SHIPPED, MODEL):
            row["vs_peers"] = _verdicts(row, rows, stats)
    return rows


def _verdicts(row: dict, rows: list[dict], stats: dict) -> dict[str, str | None]:
    """The model row against each peer trained on the same reviews and judged on the same rows: macro-F1 by
    the paired bootstrap 95% CI of the difference."""
    setting = (row["trained_on"], row["unit"], row["tested_on"])
    mine = stats[(row["system"], *setting)]
    out = {}
    for other in rows:
        if other["system"] in (SHIPPED, MODEL) or (other["trained_on"], other["unit"], other["tested_on"]) != setting:
            continue
        theirs = stats[(other["system"], *setting)]
        diff = list(paired_bootstrap_ci([(mine, theirs, mine.n)]))
        out[other["system"]] = decide(row["macro_f1"], other["macro_f1"], True, diff)
    return out


# --- the section --------------------------------------------------------------------------------------------
def check_source_only(checkpoint: Checkpoint, source: str) -> None:
    trained = tuple(checkpoint.config.data.sentiment_sources)
    if trained != (source,):
        raise ValueError(
            f"ood checkpoint for {source!r}: expected a model trained on {source} reviews only; got one trained on "
            f"{', '.join(trained)}; fix: python -m guide train --sentiment-sources {source} --out runs/<folder>"
        )


def _sentiment_section(checkpoint, catalog, data, encoders, device, ood_checkpoints, sizes, ci, model_encoders) -> dict:
    buckets = checkpoint.model.config.ngram_buckets
    parts = [sentence_sample(catalog.reviews, data.review_rows("test", s), sizes.sentences, sizes.seed)
             for s in SENTIMENT_SOURCES]  # fmt: skip
    sentences = pd.concat(parts, ignore_index=True)
    catalog_x, data_x, sentence_rows = with_sentences(catalog, data, sentences, encoders[0], buckets, encoders[1])
    tests = {}
    for source in SENTIMENT_SOURCES:
        tests[("reviews", source)] = data.review_rows("test", source)
        tests[("sentences", source)] = sentence_rows[sentences["source"].to_numpy() == source]
    systems = {(SHIPPED, BOTH): model_fit(checkpoint, device), **peer_systems()}
    tested = np.unique(np.concatenate(list(tests.values())))
    for source, other in (ood_checkpoints or {}).items():
        vectors = review_vectors(other, checkpoint, catalog_x, data_x, tested, (model_encoders or {}).get(source))
        systems[(MODEL, source)] = model_fit(other, device, vectors)
    rows = sentiment_table(catalog_x, data_x, tests, systems, ci)
    sizes_seen = {f"{unit} {source}": len(r) for (unit, source), r in tests.items()}
    note = (
        f"Test sets ({', '.join(f'{k}: {v:,}' for k, v in sizes_seen.items())}): each source's test reviews and a "
        f"seeded sample of at most {sizes.sentences:,} of their sentences (pysbd; the title counts as one). A "
        "sentence inherits its review's label and stars, so a neutral sentence in a 5-star review counts as "
        "positive. Peers fit on the training reviews of 'trained on' and tune their knobs on its validation "
        "reviews. MTL (shipped) is trained on both sources: its rows are not out of domain. MTL rows trained "
        "on one source come from checkpoints trained with --sentiment-sources; one that fine-tuned its own "
        "encoder (a staged training) reads the test texts embedded by that encoder. Verdicts: macro-F1 against each "
        "peer trained on the same reviews, by the paired bootstrap 95% CI of the difference on the same rows."
    )
    return {"rows": rows, "note": note, "sizes": sizes_seen}


def _attribute_sections(checkpoint, catalog, data, encoders, device, sizes, ci) -> tuple[dict, dict]:
    buckets, features = checkpoint.model.config.ngram_buckets, data.item_feats.shape[1]
    judged = peers._labelled_rows(data, "test")
    if sizes.products is not None and len(judged) > sizes.products:
        judged = np.sort(np.random.default_rng(sizes.seed).choice(judged, sizes.products, replace=False))
    blocks = {name: free_inputs(texts, encoders[0], buckets, features, encoders[1])
              for name, texts in format_texts(catalog.items, judged).items()}  # fmt: skip
    blocks[CATALOGUE] = catalogue_inputs(catalog, data, judged)
    titles, coverage = title_sample(catalog, load_category_map(), sizes.titles, sizes.seed)
    blocks["titles"] = free_inputs(titles["title"].tolist(), encoders[0], buckets, features, encoders[1])
    thresholds = np.asarray(checkpoint.calibration.get("tag_thresholds", [0.5] * len(data.tags)))
    predictions = {}
    for block, inputs in blocks.items():
        tags, cats = model_attributes(checkpoint.model, inputs, device)
        predictions.setdefault(SHIPPED, {})[block] = ((tags >= thresholds).astype(float), cats.argmax(1))
    for name in PEER_FEATURES:
        start = time.perf_counter()
        predictions[name] = peer_attributes(name, catalog, data, blocks)
        logger.info("ood attributes: %s in %.1f s", name, time.perf_counter() - start)
    title_rows = []
    for system, blocks_of in predictions.items():
        guessed = blocks_of.pop("titles")[1]
        measures = {"category_accuracy": Statistic(accuracy, (titles["category"].to_numpy(), guessed))}
        title_rows.append({"system": system, **_judge(measures, ci)})
    format_rows = format_gap_rows(predictions, data.tag_targets[judged], data.cat_targets[judged], ci)
    formats = {
        "rows": format_rows,
        "products": len(judged),
        "note": f"{len(judged):,} brand-disjoint test products (fully labelled Sephora). Free-text formats are "
        "what a person types ('name | brand | first 300 characters of ingredients'): the item features (price, "
        "rating, popularity) are unknown, as in Guide.attributes. The catalogue format is the model's own input "
        "(name. brand. variation. Ingredients: first 400 characters; n-grams over all ingredients) with the "
        "features. Peers are trained on the catalogue format, as in the main report. Gap: format minus "
        "catalogue format, paired bootstrap 95% CI over the same products.",
    }
    title_note = (
        f"Amazon Beauty 2014 products: {coverage['with_title']:,} with a title, {coverage['mapped']:,} "
        f"({coverage['share_mapped']:.0%}) whose category path maps onto the model's categories through "
        f"assets/ood/category_map.csv; a seeded sample of {coverage['judged']:,} judged, the title alone as input. "
        "These products are in the catalogue (the purchase and profile tasks train on them: their full text "
        "includes the category path, and the profile's interests are its levels), but their category paths are "
        "never an attribute target."
    )
    return formats, {"rows": title_rows, "coverage": coverage, "note": title_note}


def ood_report(
    checkpoint: Checkpoint,
    catalog: Catalog,
    data: TaskData,
    encoder: Encoder,
    device,
    ood_checkpoints: dict[str, Checkpoint] | None = None,
    sizes: Sizes | None = None,
    ci: bool = True,
    peer_encoder: Encoder | None = None,
    model_encoders: dict[str, Encoder] | None = None,
) -> dict:
    """The out-of-domain section of the report for `checkpoint` (trained on both review sources) on `data`
    (the brand split, both sources), plus `ood_checkpoints` {source: checkpoint trained on that source only}.
    `encoder` (the model's) embeds the new texts (sentences, formats, titles) through its cache; `peer_encoder`
    (the frozen base encoder) embeds them for the MiniLM peers when `data` carries peer embeddings;
    `model_encoders` {source: the fine-tuned encoder of that one-source model} embeds the test texts it reads."""
    sizes = sizes or Sizes()
    started = time.perf_counter()
    for source, other in (ood_checkpoints or {}).items():
        check_source_only(other, source)
    with threadpool_limits(limits=1):  # the machine is shared with training; more BLAS threads only contend
        encoders = (encoder, peer_encoder)
        sentiment = _sentiment_section(
            checkpoint, catalog, data, encoders, device, ood_checkpoints, sizes, ci, model_encoders
        )
        formats, titles = _attribute_sections(checkpoint, catalog, data, encoders, device, sizes, ci)
    meta = {"sizes": asdict(sizes), "one_source_models": sorted(ood_checkpoints or {}),
            "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    return {"sentiment": sentiment, "formats": formats, "titles": titles, "meta": meta}


# the attribute pieces live in guide.evaluation.ood_attributes; these names stay importable from here
__all__ = [
    "CATALOGUE",
    "FORMATS",
    "PEER_FEATURES",
    "Sizes",
    "format_texts",
    "load_category_map",
    "map_category",
    "ood_report",
    "sentence_sample",
]
