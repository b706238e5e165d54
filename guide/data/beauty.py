"""Amazon Beauty 2014 5-core in the S3-Rec preprocessing: the sequential-recommendation benchmark.

22,363 shoppers, 12,101 products (title, brand, price, category path), 198,502 purchases in time order
(see `amazon_beauty_2014_5core/SOURCE.md` in the data directory). The loader reads the two joined files in
`derived/` (`python -m guide data fetch` builds them from the originals) and validates them: a row with a
missing or unknown ASIN, a repeated (shopper, product) pair or a bad timestamp is counted and skipped, never
fatal. Item id = the ASIN. Protocol (leave-one-out): per shopper, the last item is test, the one before it
validation, the rest train.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from guide.data.load_report import LoadReport, clean_text

logger = logging.getLogger(__name__)

SOURCE = "beauty2014"
FOLDER = "amazon_beauty_2014_5core"
ITEMS = "derived/items.csv"
INTERACTIONS = "derived/interactions.csv.gz"
MIN_SEQUENCE = 3  # one train item at least, then validation and test


def _path(value, report: LoadReport) -> list[str]:
    """The category path without its root ("Beauty"), e.g. ["Makeup", "Nails", "Nail Polish"]."""
    try:
        path = json.loads(value) if isinstance(value, str) else []
    except json.JSONDecodeError:
        report.note(SOURCE + ".items", "unparsable category path")
        return []
    if not isinstance(path, list):
        report.note(SOURCE + ".items", "category path is not a list")
        return []
    path = [clean_text(html.unescape(str(p))) for p in path]
    return [p for p in (path[1:] if path and path[0] == "Beauty" else path) if p]


def _price(value) -> float:
    try:
        price = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return price if price > 0 else float("nan")


def item_text(title: str, brand: str, path: list[str]) -> str:
    """What the model reads for a product of this set: its title, brand and category path."""
    return clean_text(". ".join(p for p in (title, brand, " > ".join(path)) if p))[:1000]


def load_items(folder: Path, report: LoadReport) -> pd.DataFrame:
    raw = pd.read_csv(folder / ITEMS, dtype={"asin": str, "title": str, "brand": str})
    report.read[SOURCE + ".items"] += len(raw)
    rows, seen = [], set()
    for row in raw.itertuples(index=False):
        asin = str(row.asin).strip() if isinstance(row.asin, str) else ""
        if not asin or asin in seen:
            report.note(SOURCE + ".items", "missing or repeated ASIN")
            continue
        seen.add(asin)
        # derived/ is already unescaped; a copy built elsewhere may not be (`&amp;` is never meant literally)
        title = clean_text(html.unescape(row.title) if isinstance(row.title, str) else "")
        brand = clean_text(html.unescape(row.brand) if isinstance(row.brand, str) else "")
        brand = "" if brand.lower() == "unknown" else brand
        path = _path(row.categories, report)
        if not title:
            report.note(SOURCE + ".items", "no title (kept: brand and category path remain)")
        rows.append({
            "item_id": asin, "source": SOURCE, "title": title or (brand + " " + " > ".join(path)).strip(),
            "brand": brand, "description": "", "price": _price(row.price), "details": {}, "known_tags": [],
            "category": None, "primary_category": path[0] if path else None, "category_path": path,
            "ingredients": "", "text": item_text(title, brand, path),
        })  # fmt: skip
    return pd.DataFrame(rows)


def load_interactions(folder: Path, items: set[str], report: LoadReport) -> pd.DataFrame:
    """One row per purchase: user_id (reviewer id), item_id (ASIN), timestamp, position, split."""
    raw = pd.read_csv(folder / INTERACTIONS, dtype={"reviewer_id": str, "asin": str})
    report.read[SOURCE + ".interactions"] += len(raw)
    # The S3-Rec integer ids are dropped: a shopper is their reviewer id, a product its ASIN.
    frame = raw[["reviewer_id", "asin", "position", "timestamp"]].rename(
        columns={"reviewer_id": "user_id", "asin": "item_id"}
    )
    bad = frame["user_id"].isna() | frame["item_id"].isna() | ~frame["item_id"].isin(items)
    report.note(SOURCE + ".interactions", "missing shopper or unknown ASIN", int(bad.sum()))
    frame = frame[~bad]
    timestamps = pd.to_numeric(frame["timestamp"], errors="coerce")
    report.note(SOURCE + ".interactions", "bad timestamp", int(timestamps.isna().sum()))
    frame = frame.assign(timestamp=timestamps)[timestamps.notna()]
    repeated = frame.duplicated(["user_id", "item_id"])
    report.note(SOURCE + ".interactions", "repeated (shopper, product): first kept", int(repeated.sum()))
    frame = frame[~repeated].sort_values(["user_id", "position"], kind="stable")
    size = frame.groupby("user_id")["item_id"].transform("size")
    short = int((size < MIN_SEQUENCE).sum())
    report.note(SOURCE + ".interactions", f"shopper with fewer than {MIN_SEQUENCE} purchases", short)
    frame = frame[size >= MIN_SEQUENCE].reset_index(drop=True)
    return frame.assign(
        timestamp=frame["timestamp"].astype("int64") * 1000,  # ms, as the 2023 set
        rating=0.0,  # this set has no stars
        split=leave_one_out(frame["user_id"].to_numpy()),
        source=SOURCE,
    )


def leave_one_out(users: np.ndarray) -> np.ndarray:
    """'test' for each shopper's last row, 'valid' for the one before, 'train' for the rest (rows grouped by
    shopper, in time order)."""
    split = np.full(len(users), "train", dtype=object)
    if not len(users):
        return split
    last = np.r_[users[1:] != users[:-1], True]
    split[last] = "test"
    second = np.r_[last[1:], False] & ~last
    split[second] = "valid"
    return split


def load(folder: Path, report: LoadReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    missing = [name for name in (ITEMS, INTERACTIONS) if not (folder / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"expected {', '.join(missing)} in {folder}; got none; fix: run `python -m guide data fetch` "
            "(it downloads the originals and builds derived/)"
        )
    items = load_items(folder, report)
    interactions = load_interactions(folder, set(items["item_id"]), report)
    logger.info("beauty 2014: %d products, %d shoppers, %d purchases", len(items),
                interactions["user_id"].nunique(), len(interactions))  # fmt: skip
    return items, interactions
