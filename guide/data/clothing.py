"""Women's clothing reviews (Kaggle, CC0): review sentiment at volume; no users, no products."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from guide.data.load_report import LoadReport, clean_text, read_csv_maybe_zipped, stable_split

SOURCE = "clothing"
FILE = "Womens Clothing E-Commerce Reviews.csv"


def load(folder: Path, report: LoadReport, fraction: float = 1.0, seed: int = 13) -> pd.DataFrame:
    """The CSV -> reviews (source, user_id None, item_id None, rating, title, text, split)."""
    raw = read_csv_maybe_zipped(folder, FILE)
    report.read[SOURCE] += len(raw)
    raw = raw.rename(columns={raw.columns[0]: "row"})
    if fraction < 1.0:
        raw = raw.sample(frac=fraction, random_state=seed).sort_index()
    frame = pd.DataFrame(
        {
            "source": SOURCE,
            "user_id": None,
            "item_id": None,
            "rating": pd.to_numeric(raw["Rating"], errors="coerce"),
            "title": raw["Title"].map(clean_text),
            "text": raw["Review Text"].map(clean_text),
            "timestamp": 0,
            "split": raw["row"].astype(str).map(lambda key: stable_split(key, SOURCE)),
        }
    )
    empty = frame["text"].eq("")
    report.note(SOURCE, "empty review text", int(empty.sum()))
    bad = ~frame["rating"].between(1, 5)
    report.note(SOURCE, "rating not in 1..5", int((bad & ~empty).sum()))
    return frame[~empty & ~bad].reset_index(drop=True)
