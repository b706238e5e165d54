"""guide.evaluation.ood_attributes: the free-text formats a product is judged in and the committed map from the
Beauty 2014 category paths to the model's categories. Synthetic rows and the committed files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from guide.config import DEFAULT_CHECKPOINT
from guide.data.formats import INGREDIENT_CHARS, format_texts
from guide.evaluation.ood_attributes import load_category_map, map_category


def test_formats_are_what_a_person_types():
    items = pd.DataFrame(
        {"title": ["Glow Serum", "Lip Oil"], "brand": ["Acme", ""], "ingredients": ["Water, " + "x" * 400, ""]}
    )
    texts = format_texts(items, np.array([1, 0]))
    assert list(texts) == ["name", "name + brand", "name + brand + ingredients"]
    assert texts["name"] == ["Lip Oil", "Glow Serum"]
    assert texts["name + brand"] == ["Lip Oil", "Glow Serum | Acme"]  # an empty brand adds no separator
    with_ingredients = texts["name + brand + ingredients"][1]
    assert with_ingredients.startswith("Glow Serum | Acme | Water, x")
    assert len(with_ingredients) == len("Glow Serum | Acme | ") + INGREDIENT_CHARS


def test_category_map_takes_the_longest_prefix_and_keeps_deliberate_gaps():
    table = {("Makeup", "Face"): "Face", ("Makeup", "Face", "Blush"): "Cheek", ("Makeup", "Face", "Bronzers"): None}
    assert map_category(["Makeup", "Face", "Foundation"], table) == "Face"
    assert map_category(["Makeup", "Face", "Blush"], table) == "Cheek"
    assert map_category(["Makeup", "Face", "Bronzers"], table) is None  # ambiguous: left unmapped on purpose
    assert map_category(["Makeup"], table) is None
    assert map_category([], table) is None


def test_the_committed_category_map_reads_and_a_bad_header_is_refused(tmp_path):
    table = load_category_map()
    assert table[("Makeup", "Face", "Blush")] == "Cheek" and table[("Skin Care", "Face", "Oils & Serums")] is None
    assert (
        table[("Tools & Accessories", "Makeup Brushes & Tools", "Puffs, Sponges & Wedges")] == "Brushes & Applicators"
    )
    shipped = json.loads((DEFAULT_CHECKPOINT / "config.json").read_text())["categories"]
    assert {c for c in table.values() if c} <= set(shipped)  # every mapped name is one of the model's categories
    bad = tmp_path / "map.csv"
    bad.write_text("path,cat\nMakeup,Face\n")
    with pytest.raises(ValueError, match="beauty_path"):
        load_category_map(bad)
