"""The validated catalogue: products from every source, shoppers' interactions, and reviews."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from guide.config import SENTIMENT_LABELS, DataConfig, cache_dir, data_dir
from guide.data import amazon, beauty, clothing, sephora
from guide.data.load_report import LoadReport, stable_split

logger = logging.getLogger(__name__)

LAYOUT = """expected layout:
  {root}/amazon_all_beauty_5core/   All_Beauty.{{train,valid,test}}.csv, filtered_user_reviews.json,
                                    filterd_meta_items.csv
                                    (or an Amazon Reviews 2023 <Cat>.jsonl[.gz] + meta_<Cat>.jsonl[.gz])
  {root}/amazon_beauty_2014_5core/  derived/items.csv, derived/interactions.csv.gz
                                    (`python -m guide data fetch` builds them)
  {root}/sephora_products/          product_info.csv[.zip]
  {root}/womens_clothing_reviews/   Womens Clothing E-Commerce Reviews.csv[.zip]"""

FOLDERS = {
    "amazon": "amazon_all_beauty_5core",
    "beauty": beauty.FOLDER,
    "sephora": "sephora_products",
    "clothing": "womens_clothing_reviews",
}


def stars_to_label(stars: float) -> int:
    """1-2 stars negative (0), 3 neutral (1), 4-5 positive (2)."""
    return 0 if stars <= 2 else 1 if stars < 4 else 2


@dataclass
class Catalog:
    """Everything the tasks and the app read. `items` has one row per product, column `item_id`."""

    items: pd.DataFrame
    interactions: pd.DataFrame
    reviews: pd.DataFrame
    tags: list[str]
    categories: list[str]
    report: LoadReport = field(default_factory=LoadReport)
    root: Path | None = None

    @classmethod
    def load(cls, root: Path | str | None = None, config: DataConfig | None = None) -> Catalog:
        config = config or DataConfig()
        root = Path(root).expanduser() if root else data_dir()
        missing = [name for name in FOLDERS.values() if not (root / name).is_dir()]
        if missing:
            raise FileNotFoundError(
                f"data directory {root} lacks {', '.join(missing)}.\n"
                + LAYOUT.format(root=root)
                + "\nfix: run `python -m guide data fetch` (see README 'Data') or set GUIDE_DATA_DIR"
            )
        key = _cache_key(root, config)
        cached = _read_cache(key)
        if cached is not None:
            cached.root = root
            return cached
        catalog = cls._load(root, config)
        catalog.fingerprint()  # computed once, kept with the cached catalogue
        _write_cache(key, catalog)
        return catalog

    @classmethod
    def _load(cls, root: Path, config: DataConfig) -> Catalog:
        report = LoadReport()
        a_items, a_inter, a_reviews = amazon.load(root / FOLDERS["amazon"], report)
        b_items, b_inter = beauty.load(root / FOLDERS["beauty"], report)
        s_items = sephora.load(root / FOLDERS["sephora"], report, config.sephora_fraction, config.seed)
        c_reviews = clothing.load(root / FOLDERS["clothing"], report, config.clothing_fraction, config.seed)
        items = _combine_items(a_items, b_items, s_items, a_inter, a_reviews, report)
        interactions = pd.concat([a_inter.assign(source=amazon.SOURCE), b_inter], ignore_index=True)
        reviews = _combine_reviews(a_reviews, c_reviews)
        tags, categories = _vocabularies(items, config)
        for source, frame in (("items", items), ("interactions", interactions), ("reviews", reviews)):
            report.kept[source] = len(frame)
        report.log()
        return cls(items, interactions.reset_index(drop=True), reviews, tags, categories, report, root)

    # --- lookups -------------------------------------------------------------------------------
    @property
    def item_index(self) -> dict[str, int]:
        if not hasattr(self, "_item_index"):
            self._item_index = {item: i for i, item in enumerate(self.items["item_id"])}
        return self._item_index

    def rows(self, item_ids: list[str]) -> np.ndarray:
        """Row positions of item ids; unknown ids raise ValueError naming them."""
        index = self.item_index
        unknown = [i for i in item_ids if i not in index]
        if unknown:
            raise ValueError(f"unknown item id(s) {unknown[:5]}; expected ids from catalog.item_id")
        return np.array([index[i] for i in item_ids], dtype=np.int64)

    def fingerprint(self) -> str:
        """A hash of what the model learns from (item texts, reviews, interactions and their splits)."""
        if getattr(self, "_fingerprint", None):
            return self._fingerprint
        digest = hashlib.sha256()
        for frame, cols in (
            (self.items, ["item_id", "text"]),
            (self.reviews, ["text", "rating"]),
            (self.interactions, ["user_id", "item_id", "split"]),
        ):
            digest.update(pd.util.hash_pandas_object(frame[cols].astype(str), index=False).values.tobytes())
        self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    def shoppers(self) -> list[str]:
        return sorted(self.interactions["user_id"].unique())


# --- an on-disk cache of the validated catalogue ---------------------------------------------------------
# Reading and validating the four sources takes ~15 s on 2 cores; the result only changes when a data file,
# the loading code or the config does, and all three are in the key. GUIDE_CACHE_DIR=off turns it off.
def _cache_key(root: Path, config: DataConfig) -> str:
    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode())
    for folder in sorted(FOLDERS.values()):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):  # the loaders themselves
        digest.update(source.read_bytes())
    return digest.hexdigest()[:24]


def _read_cache(key: str) -> Catalog | None:
    folder = cache_dir()
    path = folder / f"catalog-{key}.pkl" if folder else None
    if path is None or not path.exists():
        return None
    try:
        with open(path, "rb") as handle:
            catalog = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
        logger.warning("catalogue cache %s unreadable (%s); reading the data again", path, error)
        return None
    if not isinstance(catalog, Catalog):
        return None
    logger.info("catalogue from cache %s", path)
    catalog.report.log()
    return catalog


def _write_cache(key: str, catalog: Catalog) -> None:
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("catalog-*.pkl"):  # one catalogue per data state is enough
            stale.unlink(missing_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as handle:
            pickle.dump(catalog, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, folder / f"catalog-{key}.pkl")
    except OSError as error:  # a read-only home is fine: the catalogue is simply read each time
        logger.warning("could not cache the catalogue in %s (%s)", folder, error)


def _combine_items(a_items, b_items, s_items, interactions, a_reviews, report) -> pd.DataFrame:
    train = interactions[interactions["split"] == "train"]
    popularity = train.groupby("item_id").size()
    rating = a_reviews[a_reviews["split"] == "train"].groupby("item_id")["rating"].mean()
    a_items = a_items.copy()
    a_items["rating"] = a_items["item_id"].map(rating)
    a_items["popularity"] = a_items["item_id"].map(popularity).fillna(0.0).astype(float)
    s_items = s_items.copy()
    s_items["rating"] = s_items.pop("sephora_rating")
    s_items["popularity"] = s_items.pop("sephora_loves")
    # Splits of the attribute task: by brand (headline) and by product; Amazon items are train-only
    # for attributes, their partial labels come from `details`.
    s_items["brand_split"] = s_items["brand"].str.lower().map(lambda b: stable_split(b, "brand"))
    s_items["product_split"] = s_items["item_id"].map(lambda p: stable_split(p, "product"))
    a_items["brand_split"] = "train"
    a_items["product_split"] = "train"
    # Beauty 2014 products: no tags, no Sephora category; their category path is theirs (and the profile's).
    b_items = b_items.assign(rating=np.nan, popularity=0.0, brand_split="train", product_split="train")
    items = pd.concat([a_items, b_items, s_items], ignore_index=True)
    dup = items["item_id"].duplicated()
    report.note("items", "duplicate item id (first kept)", int(dup.sum()))
    items = items[~dup].reset_index(drop=True)
    items["category_path"] = [p if isinstance(p, list) else [] for p in items["category_path"]]
    # Amazon items' rating and popularity come from the purchase task's own training interactions:
    # as model inputs they would leak its labels (every training target has popularity >= 1, while
    # 27% of test targets have none), so the model sees them as unknown (0) for Amazon items.
    from_sephora = (items["source"] == "sephora").to_numpy()
    features = np.stack(
        [
            np.log1p(items["price"].fillna(items["price"].median()).clip(lower=0).to_numpy()) / 5.0,
            np.where(from_sephora, items["rating"].fillna(4.0).to_numpy() - 4.0, 0.0),
            np.where(from_sephora, np.log1p(items["popularity"].to_numpy()) / 10.0, 0.0),
        ],
        axis=1,
    ).astype(np.float32)
    items["features"] = list(features)
    return items


def _combine_reviews(a_reviews: pd.DataFrame, c_reviews: pd.DataFrame) -> pd.DataFrame:
    reviews = pd.concat([a_reviews, c_reviews], ignore_index=True)
    reviews["label"] = reviews["rating"].map(stars_to_label).astype(int)
    reviews["review_id"] = [f"{s}-{i}" for i, s in enumerate(reviews["source"])]
    reviews["full_text"] = [f"{t}. {x}" if t else x for t, x in zip(reviews["title"], reviews["text"])]
    return reviews


def attribute_train_mask(items: pd.DataFrame) -> np.ndarray:
    """Rows in the train part of *both* attribute splits (brand and product): what vocabularies and
    other fitted tables may see, so neither split's valid/test products shape them. Amazon items are
    train in both (their attribute labels are training-only)."""
    return ((items["brand_split"] == "train") & (items["product_split"] == "train")).to_numpy()


def _vocabularies(items: pd.DataFrame, config: DataConfig) -> tuple[list[str], list[str]]:
    """Tags and categories counted on training Sephora products only (a tag seen only in held-out
    products must not enter the vocabulary). The minimum counts are stated for all products, so they
    scale with the share of products that are training ones."""
    sephora_rows = items[items["source"] == sephora.SOURCE]
    train_rows = sephora_rows[attribute_train_mask(sephora_rows)]
    scale = config.sephora_fraction * len(train_rows) / max(1, len(sephora_rows))
    counts = train_rows["known_tags"].explode().value_counts()
    tags = sorted(counts[counts >= max(3, config.attribute_min_count * scale)].index)
    cats = train_rows["category"].value_counts()
    categories = sorted(cats[cats >= max(3, config.category_min_count * scale)].index) + ["Other"]
    return tags, categories


__all__ = ["Catalog", "SENTIMENT_LABELS", "attribute_train_mask", "stars_to_label"]
