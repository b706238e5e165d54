"""Amazon beauty: shoppers, their chronological interactions, reviews and item metadata.

Two layouts are read:
- the shipped 5-core benchmark (`All_Beauty.{train,valid,test}.csv`, `filtered_user_reviews.json`,
  `filterd_meta_items.csv`), whose train/valid/test split is the official one;
- the official Amazon Reviews 2023 layout (`<Category>.jsonl[.gz]` + `meta_<Category>.jsonl[.gz]`),
  streamed line by line, split leave-last-out per user (last -> test, one before -> valid).
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from guide.data.load_report import LoadReport, clean_text, parse_literal

logger = logging.getLogger(__name__)

SOURCE = "amazon"
SPLITS = ("train", "valid", "test")

# Amazon `details` values that say the same as a Sephora highlight tag: (detail key, value word) -> tag.
DETAIL_TAGS = {
    ("Finish Type", "matte"): "Matte Finish",
    ("Finish Type", "shimmery"): "Shimmer Finish",
    ("Finish Type", "glossy"): "High Shine Finish",
    ("Finish Type", "natural"): "Natural Finish",
    ("Finish Type", "metallic"): "Metallic Finish",
    ("Skin Type", "dry"): "Good for: Dryness",
    ("Skin Type", "acne prone"): "Good for: Acne/Blemishes",
    ("Hair Type", "curly"): "Curly Hair",
    ("Hair Type", "wavy"): "Wavy Hair",
    ("Hair Type", "all"): "All Hair Types",
    ("Material Feature", "cruelty free"): "Cruelty-Free",
    ("Material Feature", "vegan"): "Vegan",
    ("Material Feature", "gluten free"): "Gluten Free",
    ("Material Feature", "paraben free"): "Without Parabens",
    ("Material Feature", "hypoallergenic"): "Hypoallergenic",
    ("Special Feature", "not tested on animals"): "Cruelty-Free",
    ("Product Benefits", "hydrating"): "Hydrating",
    ("Item Form", "liquid"): "Liquid Formula",
    ("Item Form", "cream"): "Cream Formula",
    ("Item Form", "stick"): "Stick Formula",
}
DETAIL_KEYS = sorted({key for key, _ in DETAIL_TAGS})


def detail_tags(details: dict | None) -> list[str]:
    """Sephora-vocabulary tags implied by an Amazon `details` dict (empty when none map)."""
    if not details:
        return []
    tags = set()
    for (key, word), tag in DETAIL_TAGS.items():
        value = str(details.get(key, "")).lower()
        parts = {p.strip(" -") for p in value.replace(";", ",").split(",")}
        if word in parts or any(p.startswith(word) for p in parts):
            tags.add(tag)
    return sorted(tags)


def _item_row(asin, title, description, price, details, store=None) -> dict:
    brand = clean_text((details or {}).get("Brand") or store or "")
    title = clean_text(title)
    description = clean_text(description)
    return {
        "item_id": str(asin),
        "source": SOURCE,
        "title": title,
        "brand": brand,
        "description": description,
        "price": price,
        "details": details or {},
        "known_tags": detail_tags(details),
        "category": None,
        "primary_category": None,
        "ingredients": "",
        # Details that map to tags are targets, so they stay out of the model's input text.
        "text": clean_text(f"{title}. {brand}. {description}")[:1000],
    }


def _price(value, report: LoadReport) -> float:
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return float("nan")
    try:
        return float(str(value).replace("$", "").replace(",", ""))
    except ValueError:
        report.note(SOURCE, "unparsable price")
        return float("nan")


def load_benchmark(folder: Path, report: LoadReport) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The shipped 5-core files -> (items, interactions, reviews)."""
    frames = []
    for split in SPLITS:
        frame = pd.read_csv(folder / f"All_Beauty.{split}.csv", dtype={"history": str})
        frame["split"] = split
        frames.append(frame)
    inter = pd.concat(frames, ignore_index=True).rename(columns={"parent_asin": "item_id"})
    report.read[SOURCE + ".interactions"] += len(inter)
    inter["history"] = inter["history"].fillna("").map(str.split)
    inter["rating"] = inter["rating"].astype(float)
    inter["timestamp"] = inter["timestamp"].astype("int64")

    meta = pd.read_csv(folder / "filterd_meta_items.csv")
    report.read[SOURCE + ".items"] += len(meta)
    items = []
    for row in meta.itertuples(index=False):
        details = parse_literal(row.details, dict, SOURCE + ".items", report)
        items.append(_item_row(row.parent_asin, row.title, row.description, _price(row.price, report), details))
    items = pd.DataFrame(items)
    if items["title"].eq("").any():
        report.note(SOURCE + ".items", "empty title", int(items["title"].eq("").sum()))

    with open(folder / "filtered_user_reviews.json", encoding="utf-8") as handle:
        users = json.load(handle)
    rows = [dict(r, user_id=u["user_id"]) for u in users for r in u["reviews"]]
    reviews = _reviews_frame(rows, report)
    reviews = _attach_split(reviews, inter, report)
    return items, inter, reviews


def _reviews_frame(rows: list[dict], report: LoadReport) -> pd.DataFrame:
    report.read[SOURCE + ".reviews"] += len(rows)
    frame = pd.DataFrame(rows).rename(columns={"parent_asin": "item_id"})
    frame["title"] = frame["title"].map(clean_text)
    frame["text"] = frame["text"].map(clean_text)
    empty = frame["text"].eq("") & frame["title"].eq("")
    report.note(SOURCE + ".reviews", "empty review text", int(empty.sum()))
    frame = frame[~empty].copy()
    frame["rating"] = pd.to_numeric(frame["rating"], errors="coerce")
    bad = ~frame["rating"].between(1, 5)
    report.note(SOURCE + ".reviews", "rating not in 1..5", int(bad.sum()))
    frame = frame[~bad].copy()
    frame["timestamp"] = frame["timestamp"].astype("int64")
    frame["source"] = SOURCE
    return frame[["source", "user_id", "item_id", "rating", "title", "text", "timestamp"]]


def _attach_split(reviews: pd.DataFrame, inter: pd.DataFrame, report: LoadReport) -> pd.DataFrame:
    """A review takes the split of its interaction (same user, item, time); the rest go to train."""
    keys = inter[["user_id", "item_id", "timestamp", "split"]].drop_duplicates(["user_id", "item_id", "timestamp"])
    merged = reviews.merge(keys, on=["user_id", "item_id", "timestamp"], how="left")
    unmatched = int(merged["split"].isna().sum())
    report.note(SOURCE + ".reviews", "no matching interaction (kept in train)", unmatched)
    merged["split"] = merged["split"].fillna("train")
    return merged


def _open_lines(path: Path) -> Iterator[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        yield from handle


def _stream_json(path: Path, source: str, report: LoadReport) -> Iterator[dict]:
    for line in _open_lines(path):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            report.note(source, "unparsable json line")


def load_reviews2023(
    reviews_path: Path, meta_path: Path, report: LoadReport, min_interactions: int = 3
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """An official Amazon Reviews 2023 category -> (items, interactions, reviews), streaming."""
    rows = []
    for record in _stream_json(reviews_path, SOURCE + ".reviews", report):
        if not record.get("user_id") or not record.get("parent_asin"):
            report.note(SOURCE + ".reviews", "missing user_id or parent_asin")
            continue
        rows.append(
            {key: record.get(key) for key in ("user_id", "parent_asin", "rating", "title", "text", "timestamp")}
        )
    reviews = _reviews_frame(rows, report)
    counts = reviews.groupby("user_id")["item_id"].transform("size")
    report.note(
        SOURCE + ".reviews", f"shopper with < {min_interactions} reviews", int((counts < min_interactions).sum())
    )
    reviews = reviews[counts >= min_interactions].sort_values(["user_id", "timestamp"]).reset_index(drop=True)
    inter = _leave_last_out(reviews)
    reviews = _attach_split(reviews, inter, report)
    wanted = set(inter["item_id"])
    items = []
    for record in _stream_json(meta_path, SOURCE + ".items", report):
        asin = record.get("parent_asin")
        if asin not in wanted:
            continue
        report.read[SOURCE + ".items"] += 1
        details = record.get("details") if isinstance(record.get("details"), dict) else {}
        description = " ".join(record.get("description") or []) + " " + " ".join(record.get("features") or [])
        items.append(
            _item_row(
                asin,
                record.get("title"),
                description,
                _price(record.get("price"), report),
                details,
                record.get("store"),
            )
        )
    items = pd.DataFrame(items)
    missing = wanted - set(items["item_id"]) if len(items) else wanted
    report.note(SOURCE + ".items", "reviewed item without metadata (dropped)", len(missing))
    if missing:  # rebuild the split without them so no history points at an item we do not have
        reviews = reviews[~reviews["item_id"].isin(missing)].drop(columns=["split"])
        counts = reviews.groupby("user_id")["item_id"].transform("size")
        reviews = reviews[counts >= min_interactions].reset_index(drop=True)
        inter = _leave_last_out(reviews)
        reviews = _attach_split(reviews, inter, report)
    return items, inter, reviews


def _leave_last_out(reviews: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for user, group in reviews.groupby("user_id", sort=False):
        items = group["item_id"].tolist()
        for position, record in enumerate(group.itertuples(index=False)):
            from_end = len(items) - position
            split = "test" if from_end == 1 else "valid" if from_end == 2 else "train"
            rows.append(
                {
                    "user_id": user,
                    "item_id": record.item_id,
                    "rating": float(record.rating),
                    "timestamp": int(record.timestamp),
                    "history": items[:position],
                    "split": split,
                }
            )
    return pd.DataFrame(rows)


def load(folder: Path, report: LoadReport) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Whichever layout `folder` holds."""
    if (folder / "All_Beauty.train.csv").exists():
        return load_benchmark(folder, report)
    metas = sorted(folder.glob("meta_*.jsonl*"))
    for meta in metas:
        category = meta.name[len("meta_") :].split(".jsonl")[0]
        for suffix in (".jsonl", ".jsonl.gz"):
            reviews = folder / f"{category}{suffix}"
            if reviews.exists():
                return load_reviews2023(reviews, meta, report)
    raise FileNotFoundError(
        f"expected the Amazon 5-core files (All_Beauty.train.csv, ...) or an Amazon Reviews 2023 pair "
        f"(<Category>.jsonl[.gz] + meta_<Category>.jsonl[.gz]) in {folder}; "
        f"got {sorted(p.name for p in folder.iterdir())}; "
        "fix: see README 'Data'"
    )
