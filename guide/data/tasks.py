"""Task data sets as arrays: one shared item table and review table, plus per-task targets and splits.

- purchase: the Amazon Beauty 2014 5-core benchmark (22,363 shoppers), leave-one-out; history -> next
  item; train: every position of each train sequence against a sampled softmax; valid/test: the full
  ranking over the benchmark's 12,101 products and a fixed 1 + 99 uniformly sampled unseen products.
- attributes: Sephora highlight tags (>= min count) + secondary category, split by brand (headline)
  or by product; Amazon items add partial tag labels from `details` (only mappable tags supervised).
- sentiment: Amazon + clothing reviews (or one of them: `DataConfig.sentiment_sources`), stars -> 3 classes.
- profile: history -> the next item's category and tags as a distribution over the interest vocabulary.
  Amazon items have no Sephora category: a TF-IDF classifier fitted on Sephora products labels them
  once ("silver" categories); this is stated wherever profile numbers are reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from guide.config import DataConfig
from guide.data.amazon import DETAIL_TAGS
from guide.data.catalog import Catalog, attribute_train_mask
from guide.data.purchase_signals import TransitionGraph
from guide.data.text import Encoder, hash_ngrams

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
BENCHMARK_SOURCE = "beauty2014"  # the purchase and profile tasks learn from the Amazon Beauty 5-core benchmark
CATEGORY_MASS = 0.5  # share of an item's interest distribution on its category (the rest on tags)
EXCLUDED = "excluded"  # the split of reviews from a source the sentiment task leaves out (DataConfig.sentiment_sources)


@dataclass
class PurchaseSplit:
    users: list[str]
    history: list[np.ndarray]  # catalogue rows of earlier items, oldest first
    ratings: list[np.ndarray]  # the shopper's stars for them (0 = unknown)
    target: np.ndarray  # catalogue row of the next item
    negatives: np.ndarray | None = None  # (n, eval_negatives) fixed for valid/test
    sequences: list[np.ndarray] | None = None  # train: each shopper's whole train sequence (every position a target)
    seen: list[np.ndarray] | None = None  # everything bought before the target (masked in full ranking)

    def subset(self, rows: np.ndarray) -> PurchaseSplit:
        """The same split for the shoppers at `rows` (positions in this split), in that order."""
        pick = lambda values: None if values is None else [values[i] for i in rows]  # noqa: E731
        return PurchaseSplit(
            pick(self.users), pick(self.history), pick(self.ratings), self.target[rows],
            None if self.negatives is None else self.negatives[rows], pick(self.sequences), pick(self.seen),
        )  # fmt: skip


@dataclass
class TaskData:
    item_emb: np.ndarray  # (N, 384) MiniLM of catalogue texts
    item_ngrams: list[np.ndarray]
    item_feats: np.ndarray  # (N, 3)
    review_emb: np.ndarray  # (R, 384)
    review_ngrams: list[np.ndarray]
    review_labels: np.ndarray  # (R,) 0/1/2
    review_split: np.ndarray  # (R,) str
    review_source: np.ndarray  # (R,) str
    review_stars: np.ndarray  # (R,)
    tags: list[str]
    categories: list[str]
    tag_targets: np.ndarray  # (N, T) 0/1
    tag_mask: np.ndarray  # (N, T) 1 where the tag is known for that item
    cat_targets: np.ndarray  # (N,) category index, -1 unknown
    attr_split: np.ndarray  # (N,) str: train/valid/test/none
    item_interest: np.ndarray  # (N, C + T) the next-item target distribution of the profile task
    amazon_rows: np.ndarray  # candidate pool of the purchase task: the benchmark's products
    idf: np.ndarray  # (buckets,) inverse document frequency of each n-gram bucket (train texts)
    purchase: dict[str, PurchaseSplit] = field(default_factory=dict)
    transitions: TransitionGraph | None = None  # purchase transitions of the TRAIN sequences only

    @property
    def unit_item_emb(self) -> np.ndarray:
        """Item embeddings scaled to unit length (the content signal's), computed once."""
        if getattr(self, "_unit_item_emb", None) is None:
            self._unit_item_emb = self.item_emb / np.linalg.norm(self.item_emb, axis=1, keepdims=True).clip(1e-9)
        return self._unit_item_emb

    @property
    def interests(self) -> list[str]:
        return self.categories + self.tags

    def split_rows(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.attr_split == split)

    def review_rows(self, split: str, source: str | None = None) -> np.ndarray:
        mask = self.review_split == split
        if source:
            mask &= self.review_source == source
        return np.flatnonzero(mask)


def lexical_texts(catalog: Catalog) -> list[str]:
    items = catalog.items
    return [f"{t} {ing}" for t, ing in zip(items["text"], items["ingredients"])]


def silver_categories(catalog: Catalog, categories: list[str]) -> np.ndarray:
    """Category index per catalogue row: Sephora's own; Amazon rows labelled by a TF-IDF classifier.

    Vectorizer and classifier are fitted on training rows only (`attribute_train_mask`: train in both
    attribute splits; the unlabelled Amazon rows are among them), so no held-out Sephora product's text
    or category shapes the silver labels."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    index = {c: i for i, c in enumerate(categories)}
    items = catalog.items
    own = np.array([index.get(c, index["Other"]) if c else -1 for c in items["category"]])
    known = own >= 0
    train = attribute_train_mask(items)
    texts = (items["title"] + " " + items["brand"] + " " + items["description"]).to_numpy()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(texts[train])
    features = vectorizer.transform(texts)
    fit_rows = known & train
    if len(np.unique(own[fit_rows])) < 2:
        raise ValueError(
            f"silver categories: expected training Sephora products of >= 2 categories; got "
            f"{int(fit_rows.sum())} products of {len(np.unique(own[fit_rows]))}; fix: use a larger sephora_fraction"
        )
    classifier = LogisticRegression(max_iter=300, C=5.0).fit(features[fit_rows], own[fit_rows])
    out = own.copy()
    if (~known).any():
        out[~known] = classifier.predict(features[~known])
    return out


def _attribute_targets(catalog: Catalog, split_column: str):
    items, tags = catalog.items, catalog.tags
    tag_index = {t: i for i, t in enumerate(tags)}
    cat_index = {c: i for i, c in enumerate(catalog.categories)}
    mappable = np.zeros(len(tags), dtype=np.float32)
    for tag in DETAIL_TAGS.values():
        if tag in tag_index:
            mappable[tag_index[tag]] = 1.0
    targets = np.zeros((len(items), len(tags)), np.float32)
    mask = np.zeros_like(targets)
    cats = np.full(len(items), -1, dtype=np.int64)
    split = np.array(items[split_column].tolist(), dtype=object)
    for row, (source, known, category) in enumerate(zip(items["source"], items["known_tags"], items["category"])):
        for tag in known:
            if tag in tag_index:
                targets[row, tag_index[tag]] = 1.0
        if source == "sephora":
            mask[row] = 1.0
            cats[row] = cat_index.get(category, cat_index["Other"])
        elif known:  # Amazon: only the tags `details` can express are known, and only if some mapped
            mask[row] = mappable
        else:
            split[row] = "none"
    return targets, mask, cats, split


def _interest_targets(tag_targets: np.ndarray, silver: np.ndarray, num_categories: int) -> np.ndarray:
    num_tags = tag_targets.shape[1]
    out = np.zeros((len(silver), num_categories + num_tags), np.float32)
    out[np.arange(len(silver)), silver] = CATEGORY_MASS
    counts = tag_targets.sum(1, keepdims=True)
    has_tags = counts[:, 0] > 0
    out[has_tags, num_categories:] = (1 - CATEGORY_MASS) * tag_targets[has_tags] / counts[has_tags]
    out[~has_tags, :num_categories] *= 1 / CATEGORY_MASS
    return out


def _sequences(catalog: Catalog) -> tuple[list[str], list[np.ndarray]]:
    """Each benchmark shopper's purchases as catalogue rows, oldest first (their order in the source)."""
    inter = catalog.interactions
    inter = inter[inter["source"] == BENCHMARK_SOURCE]
    rows = catalog.rows(inter["item_id"].tolist())
    users = inter["user_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    return list(users[starts]), np.split(rows, starts[1:])


def train_sequences(catalog: Catalog) -> list[np.ndarray]:
    """Each benchmark shopper's train part (all but the validation and test products), as catalogue rows."""
    return [seq[:-2] for seq in _sequences(catalog)[1]]


def _purchase_splits(catalog: Catalog, pool: np.ndarray, config: DataConfig) -> dict[str, PurchaseSplit]:
    """Leave-one-out on the benchmark: per shopper the last item is test, the one before it validation,
    the rest train. Validation shoppers see their train items as history, test shoppers also the
    validation item (never as a target to learn from). Train keeps whole sequences: every position
    predicts the next item."""
    rng = np.random.default_rng(config.seed)
    users, sequences = _sequences(catalog)
    limit = config.max_history

    def split(cut: int, name: str) -> PurchaseSplit:
        history = [seq[: len(seq) - cut][-limit:] for seq in sequences]
        target = np.array([seq[len(seq) - cut] for seq in sequences], np.int64)
        zeros = [np.zeros(len(h), np.float32) for h in history]
        result = PurchaseSplit(users, history, zeros, target)
        result.seen = [seq[: len(seq) - cut] for seq in sequences]
        if name != "train":  # 1 + 99 protocol: uniformly sampled benchmark products the shopper never bought
            result.negatives = np.stack([_unseen(rng, pool, seq, config.eval_negatives) for seq in sequences])
        return result

    train = split(3, "train")  # the last train item as target of the profile task's draws
    train.sequences = [seq[:-2] for seq in sequences]
    return {"train": train, "valid": split(2, "valid"), "test": split(1, "test")}


def _unseen(rng: np.random.Generator, pool: np.ndarray, seen: np.ndarray, count: int) -> np.ndarray:
    out: list[int] = []
    seen_set = set(seen.tolist())
    if len(pool) - len(seen_set) < count:  # (a bound: what they bought may lie partly outside the pool)
        raise ValueError(f"expected at least {count} products the shopper never bought; got fewer in the pool")
    while len(out) < count:
        out.extend(int(r) for r in rng.choice(pool, count) if int(r) not in seen_set and int(r) not in out)
    return np.array(out[:count], np.int64)


def _train_bags(items, item_ngrams: list[np.ndarray], reviews, review_ngrams: list[np.ndarray]) -> list[np.ndarray]:
    """The n-gram bags idf may be fitted on: training items (`attribute_train_mask`) and train reviews."""
    train_items = attribute_train_mask(items)
    return [b for b, keep in zip(item_ngrams, train_items) if keep] + [
        b for b, s in zip(review_ngrams, reviews["split"]) if s == "train"
    ]


def review_splits(reviews, config: DataConfig) -> np.ndarray:
    """Each review's split; reviews of a source outside `config.sentiment_sources` are "excluded": never
    drawn, validated on or counted in idf, so a model trained without a source meets it out of domain."""
    split = reviews["split"].to_numpy().astype(object)
    split[~reviews["source"].isin(config.sentiment_sources).to_numpy()] = EXCLUDED
    return split


def ngram_idf(bags: list[np.ndarray], buckets: int) -> np.ndarray:
    """Smoothed idf per bucket: log((1 + N) / (1 + df)) + 1 (unseen buckets get the rare-word value).

    Pass training texts only (see `_train_bags`): a bucket seen only in held-out texts must get the
    unseen value, or the model's input would carry test-set statistics."""
    df = np.zeros(buckets, np.float64)
    for bag in bags:
        df[np.unique(bag)] += 1
    return (np.log((1 + len(bags)) / (1 + df)) + 1).astype(np.float32)


def build(
    catalog: Catalog,
    encoder: Encoder,
    config: DataConfig | None = None,
    attribute_split: str = "brand",
    ngram_buckets: int = 2**17,
) -> TaskData:
    """Embed (through the on-disk cache) and assemble every task's arrays."""
    config = config or DataConfig()
    if attribute_split not in ("brand", "product"):
        raise ValueError(f"attribute_split: expected 'brand' or 'product'; got {attribute_split!r}")
    items, reviews = catalog.items, catalog.reviews
    item_emb = encoder.embed(items["text"].tolist(), shard_name="items")
    review_emb = encoder.embed(reviews["full_text"].tolist(), shard_name="reviews")
    item_ngrams = [np.array(hash_ngrams(t, ngram_buckets), np.int64) for t in lexical_texts(catalog)]
    review_ngrams = [np.array(hash_ngrams(t, ngram_buckets), np.int64) for t in reviews["full_text"]]
    tag_targets, tag_mask, cats, split = _attribute_targets(catalog, f"{attribute_split}_split")
    silver = silver_categories(catalog, catalog.categories)
    review_split = review_splits(reviews, config)
    idf_bags = _train_bags(items, item_ngrams, reviews.assign(split=review_split), review_ngrams)
    amazon_rows = np.flatnonzero(items["source"].to_numpy() == BENCHMARK_SOURCE)  # the benchmark's 12,101
    data = TaskData(
        item_emb=item_emb,
        item_ngrams=item_ngrams,
        item_feats=np.stack(items["features"]).astype(np.float32),
        review_emb=review_emb,
        review_ngrams=review_ngrams,
        review_labels=reviews["label"].to_numpy(),
        review_split=review_split,
        review_source=reviews["source"].to_numpy(),
        review_stars=reviews["rating"].to_numpy(dtype=np.float32),
        tags=list(catalog.tags),
        categories=list(catalog.categories),
        tag_targets=tag_targets,
        tag_mask=tag_mask,
        cat_targets=cats,
        attr_split=split,
        item_interest=_interest_targets(tag_targets, silver, len(catalog.categories)),
        amazon_rows=amazon_rows,
        idf=ngram_idf(idf_bags, ngram_buckets),
    )
    data.purchase = _purchase_splits(catalog, amazon_rows, config)
    data.transitions = TransitionGraph.build(data.purchase["train"].sequences, len(items))
    logger.info(
        "task data: %d items, %d reviews, %d tags, %d categories",
        len(items),
        len(reviews),
        len(data.tags),
        len(data.categories),
    )
    return data
