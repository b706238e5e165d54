"""The free-text formats a product's text arrives in besides the catalogue's own: what a person types or
pastes (its name; name and brand; name, brand and the start of its ingredients list).

The out-of-domain evaluation judges the attribute task on each (`guide.evaluation.ood`), and training can
show the attribute head the same formats (`DataConfig.format_share`), so free text meets a model that has
seen texts like it rather than only the catalogue's long format with its price and rating features.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from guide.data.load_report import clean_text

INGREDIENT_CHARS = 300  # ingredients a pasted text carries at most


def _join(*parts: str) -> str:
    return clean_text(" | ".join(p for p in parts if p))


FORMATS: dict[str, Callable[[str, str, str], str]] = {
    "name": lambda name, brand, ingredients: _join(name),
    "name + brand": lambda name, brand, ingredients: _join(name, brand),
    "name + brand + ingredients": lambda name, brand, ingredients: _join(name, brand, ingredients[:INGREDIENT_CHARS]),
}


def format_texts(items: pd.DataFrame, rows: np.ndarray) -> dict[str, list[str]]:
    """Each free-text format of the products at `rows`."""
    columns = [items[c].fillna("").astype(str).to_numpy()[rows] for c in ("title", "brand", "ingredients")]
    return {name: [make(*values) for values in zip(*columns)] for name, make in FORMATS.items()}
