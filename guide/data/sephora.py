"""Sephora catalogue (Kaggle, CC BY 4.0): products with real highlight tags and categories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from guide.data.load_report import LoadReport, clean_text, parse_literal, read_csv_maybe_zipped

SOURCE = "sephora"


def _ingredients(value, report: LoadReport) -> str:
    parts = parse_literal(value, list, SOURCE, report)
    return clean_text(" ".join(str(p) for p in parts)) if parts else ""


def load(folder: Path, report: LoadReport, fraction: float = 1.0, seed: int = 13) -> pd.DataFrame:
    """product_info.csv -> items (one row per product)."""
    raw = read_csv_maybe_zipped(folder, "product_info.csv")
    report.read[SOURCE] += len(raw)
    if fraction < 1.0:
        raw = raw.sample(frac=fraction, random_state=seed).sort_index()
    rows = []
    for row in raw.itertuples(index=False):
        name, brand = clean_text(row.product_name), clean_text(row.brand_name)
        if not name:
            report.note(SOURCE, "empty product name")
            continue
        tags = parse_literal(row.highlights, list, SOURCE, report) or []
        price = float(row.price_usd) if pd.notna(row.price_usd) else np.nan
        if np.isnan(price):
            report.note(SOURCE, "missing price (kept, shown as unknown)")
        ingredients = _ingredients(row.ingredients, report)
        variation = clean_text(row.variation_value) if pd.notna(row.variation_value) else ""
        rows.append(
            {
                "item_id": str(row.product_id),
                "source": SOURCE,
                "title": name,
                "brand": brand,
                "description": variation,
                "price": price,
                "details": {},
                "known_tags": sorted({clean_text(t) for t in tags if clean_text(t)}),
                "category": clean_text(row.secondary_category) or None,
                "primary_category": clean_text(row.primary_category) or None,
                "ingredients": ingredients,
                "sephora_rating": float(row.rating) if pd.notna(row.rating) else np.nan,
                "sephora_loves": float(row.loves_count) if pd.notna(row.loves_count) else 0.0,
                # Tags and categories are targets: they never enter the input text.
                "text": clean_text(f"{name}. {brand}. {variation}. Ingredients: {ingredients[:400]}"),
            }
        )
    return pd.DataFrame(rows)
