"""Out of domain, the attribute pieces: the brand-disjoint test products in every text format the model is given
(`guide.data.formats`) and in the catalogue's own, the model and the attribute peers on each, and the Amazon
Beauty 2014 titles against their category paths (`assets/ood/category_map.csv`). `guide.evaluation.ood`
assembles them into report["ood"]["formats"] and ["titles"].
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from guide.config import ASSETS_DIR, ATTRIBUTES
from guide.data.catalog import Catalog
from guide.data.task_data import BENCHMARK_SOURCE, TaskData, lexical_texts
from guide.data.text import Encoder, hash_ngrams
from guide.evaluation import peers
from guide.evaluation.evaluate import _attribute_measures, _judge
from guide.metrics import paired_bootstrap_ci, tune_thresholds
from guide.model.inputs import text_block
from guide.model.outputs import CHUNK
from guide.model.tasks import task_spec

logger = logging.getLogger(__name__)

CATALOGUE = "catalogue"  # the block of the catalogue's own format, what every other format is compared with
CATEGORY_MAP = ASSETS_DIR / "ood" / "category_map.csv"


# --- attributes on every text format --------------------------------------------------------------------
@dataclass
class TextInputs:
    """What a system reads of each text: MiniLM embedding, hashed n-grams, item features, the text itself."""

    emb: np.ndarray
    ngrams: list[np.ndarray]
    feats: np.ndarray
    texts: list[str]
    peer_emb: np.ndarray | None = None  # the base encoder's vectors (None: emb), for the MiniLM peers

    @property
    def peer_vectors(self) -> np.ndarray:
        return self.emb if self.peer_emb is None else self.peer_emb


def free_inputs(
    texts: list[str], encoder: Encoder, buckets: int, features: int, peer_encoder: Encoder | None = None
) -> TextInputs:
    """Free text as `Guide.attributes` serves it: the item features (price, rating, popularity) unknown (0)."""
    return TextInputs(
        encoder.embed(texts, shard_name="ood-texts"),
        [np.array(hash_ngrams(t, buckets), np.int64) for t in texts],
        np.zeros((len(texts), features), np.float32),
        texts,
        None if peer_encoder is None else peer_encoder.embed(texts, shard_name="ood-texts"),
    )


def catalogue_inputs(catalog: Catalog, data: TaskData, rows: np.ndarray) -> TextInputs:
    """The catalogue's own format: the model's input rows (features included) and the peers' lexical texts."""
    lexical = lexical_texts(catalog)
    peer = None if data.peer_item_emb is None else data.peer_item_emb[rows]
    return TextInputs(
        data.item_emb[rows], [data.item_ngrams[r] for r in rows], data.item_feats[rows], [lexical[r] for r in rows],
        peer,
    )  # fmt: skip


@torch.inference_mode()
def model_attributes(model, inputs: TextInputs, device) -> tuple[np.ndarray, np.ndarray]:
    """(tag probabilities, category probabilities) of texts outside the catalogue, in chunks."""
    model.eval()
    tags, cats = [], []
    for start in range(0, len(inputs.emb), CHUNK):
        rows = np.arange(start, min(start + CHUNK, len(inputs.emb)))
        reps = model.encode_items(text_block(inputs.emb, inputs.ngrams, rows, device, inputs.feats))
        t, c = task_spec(ATTRIBUTES).read(model.attribute_logits(reps), model.config)
        tags.append(t.cpu().numpy())
        cats.append(c.cpu().numpy())
    return np.concatenate(tags), np.concatenate(cats)


def _tfidf_features(catalog: Catalog, data: TaskData, train: np.ndarray):
    vectorizer = peers._tfidf(np.array(lexical_texts(catalog), dtype=object), train)
    return vectorizer.transform(lexical_texts(catalog)), lambda inputs: vectorizer.transform(inputs.texts)


# peer name (as in peers.ATTRIBUTE_PEERS) -> fit(catalog, data, train rows) -> (every catalogue row's features,
# features of other texts)
PEER_FEATURES = {
    "TF-IDF OvR": _tfidf_features,
    "MiniLM OvR": lambda catalog, data, train: (data.peer_items, lambda inputs: inputs.peer_vectors),
}


def peer_attributes(
    name: str, catalog: Catalog, data: TaskData, blocks: dict[str, TextInputs]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The attribute peer `name` trained as in the main report (catalogue format, fully labelled training
    products; per-tag thresholds on valid), then applied to every block: {block: (tags 0/1, category)}."""
    from scipy import sparse

    _, tag_c, category_c = peers.ATTRIBUTE_PEERS[name]
    train, valid = peers._labelled_rows(data, "train"), peers._labelled_rows(data, "valid")
    base, transform = PEER_FEATURES[name](catalog, data, train)
    parts = [base] + [transform(inputs) for inputs in blocks.values()]
    features = sparse.vstack(parts).tocsr() if sparse.issparse(base) else np.vstack(parts)
    ends = np.cumsum([len(inputs.texts) for inputs in blocks.values()]) + base.shape[0]
    judged = np.arange(base.shape[0], features.shape[0])
    probs = peers._tag_probabilities(features, data.tag_targets, train, np.concatenate([valid, judged]), tag_c)
    thresholds = tune_thresholds(data.tag_targets[valid], probs[: len(valid)])
    tags = (probs[len(valid) :] >= thresholds).astype(float)
    category = peers._fit_logistic(features[train], data.cat_targets[train], category_c).predict(features[judged])
    bounds = np.r_[0, ends - base.shape[0]]
    return {block: (tags[a:b], category[a:b]) for block, a, b in zip(blocks, bounds[:-1], bounds[1:])}


def format_gap_rows(predictions: dict[str, dict[str, tuple]], targets: np.ndarray, cats: np.ndarray, ci: bool):
    """{system: {format: (tags 0/1, category)}} -> rows with each format's gap to the catalogue format."""
    rows = []
    for system, formats in predictions.items():
        reference = _attribute_measures(targets, formats[CATALOGUE][0], cats, formats[CATALOGUE][1])
        for name, (tags, category) in formats.items():
            measures = _attribute_measures(targets, tags, cats, category)
            row = {"system": system, "format": name, **_judge(measures, ci)}
            for metric in ("micro_f1", "category_accuracy") if name != CATALOGUE else ():
                row[f"gap_{metric}"] = row[metric] - reference[metric]()
                row[f"gap_{metric}_ci"] = list(paired_bootstrap_ci([(measures[metric], reference[metric], len(cats))]))
            rows.append(row)
    return rows


# --- Amazon Beauty 2014 titles against their category paths ----------------------------------------------------
def load_category_map(path: Path = CATEGORY_MAP) -> dict[tuple[str, ...], str | None]:
    """{category path prefix: the model's category, or None where the path is deliberately left unmapped}."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if list(frame.columns[:2]) != ["beauty_path", "category"]:
        raise ValueError(
            f"{path}: expected columns beauty_path, category[, evidence]; got {list(frame.columns)}; "
            "fix: keep the header of assets/ood/category_map.csv"
        )
    return {tuple(p.strip() for p in row.beauty_path.split(">")): row.category.strip() or None for row in
            frame.itertuples(index=False)}  # fmt: skip


def map_category(path: list[str], table: dict[tuple[str, ...], str | None]) -> str | None:
    """The category of the longest prefix of `path` in the table (None: unmapped or not in the table)."""
    for length in range(len(path), 0, -1):
        if tuple(path[:length]) in table:
            return table[tuple(path[:length])]
    return None


def title_sample(
    catalog: Catalog, table: dict[tuple[str, ...], str | None], limit: int, seed: int
) -> tuple[pd.DataFrame, dict]:
    """The Beauty 2014 products with a real title whose path maps onto the catalogue's categories (a seeded
    sample of at most `limit`): columns title, category (index); and the coverage counts."""
    outside = sorted({c for c in table.values() if c and c not in catalog.categories})
    if outside:  # a smaller catalogue folds rare categories into "Other": those paths are not judged
        logger.warning("category map: %s not in this vocabulary; their paths count as unmapped", outside)
    table = {path: c if c in catalog.categories else None for path, c in table.items()}
    items = catalog.items[catalog.items["source"] == BENCHMARK_SOURCE]
    paths = items["category_path"].tolist()
    # the loader stands in brand + path for a missing title: that text would give the answer away
    stand_in = [(b + " " + " > ".join(p)).strip() for b, p in zip(items["brand"], paths)]
    real = (items["title"].to_numpy() != np.array(stand_in, dtype=object)) & (items["title"].str.len() > 0).to_numpy()
    mapped = np.array([map_category(p, table) for p in paths], dtype=object)
    keep = np.flatnonzero(real & (mapped != None))  # noqa: E711  (an object array compared elementwise)
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(keep, min(limit, len(keep)), replace=False))
    index = {c: i for i, c in enumerate(catalog.categories)}
    frame = pd.DataFrame({"title": items["title"].to_numpy()[picked], "category": [index[c] for c in mapped[picked]]})
    coverage = {"products": len(items), "with_title": int(real.sum()), "mapped": len(keep),
                "share_mapped": len(keep) / max(1, int(real.sum())), "judged": len(picked),
                "outside_vocabulary": outside}  # fmt: skip
    return frame, coverage
