"""Task data sets as arrays: one shared item table and review table, plus per-task targets and splits.

- purchase: the Amazon Beauty 2014 5-core benchmark (22,363 shoppers), leave-one-out; history -> next
  item; train: every position of each train sequence against a sampled softmax; valid/test: the full
  ranking over the benchmark's 12,101 products and a fixed 1 + 99 uniformly sampled unseen products.
- attributes: Sephora highlight tags (>= min count) + secondary category, split by brand (headline)
  or by product; Amazon items add partial tag labels from `details` (only mappable tags supervised).
- sentiment: Amazon + clothing reviews (or one of them: `DataConfig.sentiment_sources`), stars -> 3 classes.
- profile: history -> the next product's interests as a distribution over the interest vocabulary
  (`guide/data/interests.py`: the benchmark's category path levels, its frequent brands, the Sephora tags, silver
  tags for the benchmark's products). The headline ranks the next product's second path level.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from guide.config import DEFAULT_EMBEDDING_DIR, DataConfig
from guide.data.amazon import DETAIL_TAGS
from guide.data.beauty import SOURCE as BENCHMARK_SOURCE  # the purchase and profile tasks learn from it
from guide.data.catalog import Catalog, attribute_train_mask
from guide.data.interests import interest_targets, interest_vocabulary, silver_tags
from guide.data.purchase_signals import TransitionGraph
from guide.data.short_texts import ShortTexts, short_texts
from guide.data.text import Encoder, hash_ngrams, lexicon_features

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
HEADLINE_KIND = "path2"  # the profile headline ranks the next product's second path level among those nodes
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
    item_interest: np.ndarray  # (N, K) the next-item target distribution of the profile task
    amazon_rows: np.ndarray  # candidate pool of the purchase task: the benchmark's products
    idf: np.ndarray  # (buckets,) inverse document frequency of each n-gram bucket (train texts)
    purchase: dict[str, PurchaseSplit] = field(default_factory=dict)
    transitions: TransitionGraph | None = None  # purchase transitions of the TRAIN sequences only
    format_rows: np.ndarray | None = None  # (M,) sorted catalogue rows that have free-text variants (training)
    format_emb: np.ndarray | None = None  # (F, M, 384) their MiniLM embeddings, one block per free-text format
    format_ngrams: list[list[np.ndarray]] | None = None  # [format][m] their hashed n-grams
    review_lexicon: np.ndarray | None = None  # (R, 4) VADER scores of each review (the sentiment head reads them)
    interest_names: list[str] | None = None  # the profile's vocabulary (None: categories + tags, older layout)
    interest_kinds: np.ndarray | None = None  # (K,) "path1" / "path2" / "path3" / "brand" / "tag" per interest
    short_texts: ShortTexts | None = None  # titles and sentences of training reviews (DataConfig.sentence_share)
    # The base (frozen) encoder's vectors, which the MiniLM peers read when the model reads a fine-tuned encoder
    # (`with_peer_embeddings`); None: the same as item_emb / review_emb.
    peer_item_emb: np.ndarray | None = None
    peer_review_emb: np.ndarray | None = None

    @property
    def peer_items(self) -> np.ndarray:
        """Item vectors of the frozen base encoder (what a MiniLM peer reads)."""
        return self.item_emb if self.peer_item_emb is None else self.peer_item_emb

    @property
    def peer_reviews(self) -> np.ndarray:
        return self.review_emb if self.peer_review_emb is None else self.peer_review_emb

    @property
    def unit_item_emb(self) -> np.ndarray:
        """Item embeddings scaled to unit length (the content signal's), computed once."""
        if getattr(self, "_unit_item_emb", None) is None:
            self._unit_item_emb = self.item_emb / np.linalg.norm(self.item_emb, axis=1, keepdims=True).clip(1e-9)
        return self._unit_item_emb

    @property
    def interests(self) -> list[str]:
        return self.interest_names if self.interest_names is not None else self.categories + self.tags

    def interest_columns(self, kind: str = HEADLINE_KIND) -> np.ndarray:
        """Columns of the interest vocabulary of one kind (the older layout: its categories stand for the
        headline kind, and it has no others)."""
        if self.interest_kinds is None:
            return np.arange(len(self.categories) if kind == HEADLINE_KIND else 0)
        return np.flatnonzero(self.interest_kinds == kind)

    def interest_labels(self, targets: np.ndarray, kind: str = HEADLINE_KIND) -> tuple[np.ndarray, np.ndarray]:
        """(label among `interest_columns(kind)`, has-one mask) of catalogue rows `targets`."""
        part = self.item_interest[targets][:, self.interest_columns(kind)]
        return part.argmax(1), part.max(1) > 0

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


def benchmark_purchase(catalog: Catalog, config: DataConfig) -> tuple[np.ndarray, dict[str, PurchaseSplit]]:
    """(the benchmark's product rows, its leave-one-out splits), embedding no text: what a sequential peer reads."""
    pool = np.flatnonzero(catalog.items["source"].to_numpy() == BENCHMARK_SOURCE)
    return pool, _purchase_splits(catalog, pool, config)


def _unseen(rng: np.random.Generator, pool: np.ndarray, seen: np.ndarray, count: int) -> np.ndarray:
    """`count` distinct products of `pool` outside `seen`, in the order the draws of `count` find them (the
    order and the draws are part of the benchmark's 1 + 99 protocol: the same seed gives the same negatives)."""
    out: list[int] = []
    taken: set[int] = set()
    seen_set = set(seen.tolist())
    if len(pool) - len(seen_set) < count:  # (a bound: what they bought may lie partly outside the pool)
        raise ValueError(f"expected at least {count} products the shopper never bought; got fewer in the pool")
    while len(out) < count:
        for r in rng.choice(pool, count).tolist():
            if r not in seen_set and r not in taken:
                out.append(r)
                taken.add(r)
    return np.array(out[:count], np.int64)


def _train_bags(items, item_ngrams: list[np.ndarray], reviews, review_ngrams: list[np.ndarray]) -> list[np.ndarray]:
    """The n-gram bags idf may be fitted on: training items (`attribute_train_mask`) and train reviews."""
    train_items = attribute_train_mask(items)
    return [b for b, keep in zip(item_ngrams, train_items) if keep] + [
        b for b, s in zip(review_ngrams, reviews["split"]) if s == "train"
    ]


def training_encoder(encoder: Encoder | None) -> tuple[Encoder, bool]:
    """(encoder, persist?) for texts only training reads (free-text formats, short review texts): their
    embeddings are cached under `config.cache_dir()`, never written into the shipped assets."""
    from guide.config import cache_dir
    from guide.data.text import EmbeddingCache

    folder = cache_dir()
    encoder = encoder or Encoder()
    if folder is not None:
        encoder = encoder.with_cache(EmbeddingCache(folder / "embeddings", model_id=encoder.cache.model_id))
    return encoder, encoder.cache.folder.parent.resolve() != DEFAULT_EMBEDDING_DIR.resolve()


def format_variants(catalog: Catalog, split: np.ndarray, buckets: int, encoder: Encoder, persist: bool):
    """(rows, embeddings (F, M, 384), n-grams [F][M]) of the free-text formats of the attribute task's training
    Sephora products (`guide.data.formats`), embedded by a `training_encoder` (cached under
    `config.cache_dir()`, not in the shipped assets); the first build embeds them (~3 minutes on 2 cores)."""
    from guide.data.formats import format_texts

    rows = np.flatnonzero((split == "train") & (catalog.items["source"] == "sephora").to_numpy())
    texts = format_texts(catalog.items, rows)
    emb = np.stack([encoder.embed(t, persist=persist, shard_name="formats") for t in texts.values()])
    ngrams = [[np.array(hash_ngrams(t, buckets), np.int64) for t in group] for group in texts.values()]
    return rows, emb.astype(np.float32), ngrams


def with_peer_embeddings(data: TaskData, catalog: Catalog, encoder: Encoder) -> TaskData:
    """`data` with the base encoder's item and review vectors beside the model's own: peers that read a frozen
    MiniLM stay the frozen MiniLM when the model reads its fine-tuned encoder (both come from the caches)."""
    from dataclasses import replace

    return replace(
        data,
        peer_item_emb=encoder.embed(catalog.items["text"].tolist(), shard_name="items"),
        peer_review_emb=encoder.embed(catalog.reviews["full_text"].tolist(), shard_name="reviews"),
    )


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
    interest_names, interest_kinds = interest_vocabulary(catalog, list(catalog.tags))
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
        item_interest=interest_targets(
            catalog, interest_names, interest_kinds, silver_tags(catalog, list(catalog.tags), tag_targets)
        ),
        interest_names=interest_names,
        interest_kinds=interest_kinds,
        amazon_rows=amazon_rows,
        idf=ngram_idf(idf_bags, ngram_buckets),
        review_lexicon=lexicon_features(reviews["full_text"].tolist()),
    )
    if config.format_share > 0 or config.sentence_share > 0:
        trainer_encoder = training_encoder(encoder)  # (encoder, persist): its cache is read from disk once
    if config.format_share > 0:
        variants = format_variants(catalog, split, ngram_buckets, *trainer_encoder)
        data.format_rows, data.format_emb, data.format_ngrams = variants
    if config.sentence_share > 0:
        data.short_texts = short_texts(
            reviews, review_split, ngram_buckets, *trainer_encoder, config.short_text_reviews, config.seed
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
