"""guide.data.interests: the profile's interest vocabulary (category path levels, brands, tags) and each
product's interest distribution; guide.data.text.lexicon_features; guide.data.formats. Synthetic rows."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from guide.data import interests, task_data
from guide.data.formats import FORMATS, format_texts
from guide.data.interests import BRAND_MASS, BRAND_PREFIX, PATH_MASS, TAG_MASS, interest_vocabulary
from guide.data.text import lexicon_features

FACE = ["Skin Care", "Face", "Cleansers"]
NAILS = ["Makeup", "Nails"]


def _catalog(min_count: int) -> SimpleNamespace:
    """`min_count` benchmark products per path and brand, plus one rare path and brand below the threshold."""
    rows = [(FACE, "Acme")] * min_count + [(NAILS, "OPI")] * min_count + [(["Fragrance", "Rare"], "Tiny")]
    rows += [([], "")]  # a Sephora product: no path, no brand count
    return SimpleNamespace(
        items=pd.DataFrame(
            {
                "source": ["beauty2014"] * (len(rows) - 1) + ["sephora"],
                "category_path": [list(p) for p, _ in rows],
                "brand": [b for _, b in rows],
            }
        )
    )


def test_vocabulary_holds_the_path_levels_and_brands_that_are_frequent_enough(monkeypatch):
    monkeypatch.setattr(interests, "PATH_MIN_COUNT", 3)
    monkeypatch.setattr(interests, "BRAND_MIN_COUNT", 3)
    names, kinds = interest_vocabulary(_catalog(3), ["Vegan", "Matte"])
    assert names == ["Makeup", "Skin Care", "Makeup › Nails", "Skin Care › Face", "Skin Care › Face › Cleansers",
                     "Brand: Acme", "Brand: OPI", "Vegan", "Matte"]  # fmt: skip
    assert list(kinds) == ["path1", "path1", "path2", "path2", "path3", "brand", "brand", "tag", "tag"]


def test_a_products_interest_spreads_over_its_path_levels_brand_and_tags(monkeypatch):
    monkeypatch.setattr(interests, "PATH_MIN_COUNT", 3)
    monkeypatch.setattr(interests, "BRAND_MIN_COUNT", 3)
    catalog = _catalog(3)
    names, kinds = interest_vocabulary(catalog, ["Vegan", "Matte"])
    tags = np.zeros((len(catalog.items), 2), np.float32)
    tags[0] = [1, 1]  # the first face cleanser has both tags
    out = interests.interest_targets(catalog, names, kinds, tags)
    column = {n: i for i, n in enumerate(names)}
    np.testing.assert_allclose(out.sum(1), 1.0, atol=1e-6)
    for node in ("Skin Care", "Skin Care › Face", "Skin Care › Face › Cleansers"):
        assert out[0, column[node]] == pytest.approx(PATH_MASS / 3)
    assert out[0, column[BRAND_PREFIX + "Acme"]] == pytest.approx(BRAND_MASS)
    assert out[0, column["Vegan"]] == out[0, column["Matte"]] == pytest.approx(TAG_MASS / 2)
    # no tags: path and brand share everything in their proportion
    total = PATH_MASS + BRAND_MASS
    assert out[1, column["Makeup"]] == 0 and out[1, column["Skin Care"]] == pytest.approx(PATH_MASS / total / 3)
    assert out[1, column[BRAND_PREFIX + "Acme"]] == pytest.approx(BRAND_MASS / total)
    # a rare path and brand are no interest; the Sephora row has nothing: it spreads evenly over the tags
    np.testing.assert_allclose(out[-1], [0] * (len(names) - 2) + [0.5, 0.5])


def test_interest_labels_rank_the_second_path_level_and_skip_products_without_one(monkeypatch):
    monkeypatch.setattr(interests, "PATH_MIN_COUNT", 3)
    monkeypatch.setattr(interests, "BRAND_MIN_COUNT", 3)
    catalog = _catalog(3)
    names, kinds = interest_vocabulary(catalog, ["Vegan"])
    interest = interests.interest_targets(catalog, names, kinds, np.zeros((len(catalog.items), 1), np.float32))
    data = SimpleNamespace(item_interest=interest, interest_kinds=kinds, categories=[])
    data.interest_columns = lambda kind="path2": task_data.TaskData.interest_columns(data, kind)
    labels, known = task_data.TaskData.interest_labels(data, np.array([0, 3, 6, 7]))
    columns = data.interest_columns()
    assert [names[columns[j]] for j in labels[known]] == ["Skin Care › Face", "Makeup › Nails"]
    assert known.tolist() == [True, True, False, False]  # the rare path and the Sephora row have none


def test_lexicon_features_read_negation_and_intensity():
    scores = lexicon_features(["Not bad at all, I'd buy it again.", "Terrible. It broke.", "", "x" * 50_000])
    assert scores.shape == (4, 4) and scores.dtype == np.float32
    neg, neu, pos, compound = scores.T
    assert compound[0] > 0.3 and compound[1] < -0.3  # "not bad" is positive for the lexicon
    assert neu[2] == 0 and compound[2] == 0  # an empty text is no evidence
    assert np.isfinite(scores).all()


def test_free_text_formats_are_built_from_name_brand_and_ingredients():
    items = pd.DataFrame({"title": ["Glow Serum"], "brand": [None], "ingredients": ["Water"]})
    texts = format_texts(items, np.array([0]))
    assert list(texts) == list(FORMATS)
    assert texts == {"name": ["Glow Serum"], "name + brand": ["Glow Serum"],
                     "name + brand + ingredients": ["Glow Serum | Water"]}  # fmt: skip
