"""Women's clothing reviews (Kaggle, CC0): review sentiment at volume; no users, no products."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import pandas as pd

from guide.data.report import LoadReport, clean_text

SOURCE = "clothing"
FILE = "Womens Clothing E-Commerce Reviews.csv"


def _read_csv(folder: Path) -> pd.DataFrame:
    plain, archive = folder / FILE, folder / (FILE + ".zip")
    if plain.exists():
        return pd.read_csv(plain)
    if not archive.exists():
        raise FileNotFoundError(f"expected {plain} or {archive}; fix: see README 'Data'")
    with zipfile.ZipFile(archive) as bundle:
        with bundle.open(FILE) as handle:
            return pd.read_csv(handle)


def split_of(key: str, salt: str = "") -> str:
    """A stable 80/10/10 split from a hash: the same row always lands in the same split."""
    bucket = zlib.crc32(f"{salt}{key}".encode()) % 10
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"


def load(folder: Path, report: LoadReport, fraction: float = 1.0, seed: int = 13) -> pd.DataFrame:
    """The CSV -> reviews (source, user_id None, item_id None, rating, title, text, split)."""
    raw = _read_csv(folder)
    report.read[SOURCE] += len(raw)
    raw = raw.rename(columns={raw.columns[0]: "row"})
    if fraction < 1.0:
        raw = raw.sample(frac=fraction, random_state=seed).sort_index()
    frame = pd.DataFrame({
        "source": SOURCE,
        "user_id": None,
        "item_id": None,
        "rating": pd.to_numeric(raw["Rating"], errors="coerce"),
        "title": raw["Title"].map(clean_text),
        "text": raw["Review Text"].map(clean_text),
        "timestamp": 0,
        "split": raw["row"].astype(str).map(lambda key: split_of(key, SOURCE)),
    })
    empty = frame["text"].eq("")
    report.note(SOURCE, "empty review text", int(empty.sum()))
    bad = ~frame["rating"].between(1, 5)
    report.note(SOURCE, "rating not in 1..5", int((bad & ~empty).sum()))
    return frame[~empty & ~bad].reset_index(drop=True)
