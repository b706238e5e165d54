"""guide.data: the catalogue assembled from the three real data sets (counts, splits, the load report), bad rows
skipped or repaired and counted, missing folders and files named, the loaders' small pure functions and the
shipped embedding cache. The Amazon 2023 layout is tested in test_amazon.py, the task arrays in
test_task_arrays.py."""

from __future__ import annotations

import ast
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest

from guide.config import DataConfig, data_dir
from guide.data import clothing, sephora
from guide.data.catalog import FOLDERS, Catalog, stars_to_label
from guide.data.load_report import LoadReport, parse_literal, stable_split

pytest_plugins = ["tests.core_fixtures"]

AMAZON = data_dir() / FOLDERS["amazon"]


@pytest.fixture(scope="module")
def full_catalog() -> Catalog:
    return Catalog.load()


# --- the shipped data, loaded in full ------------------------------------------------------------
BENCHMARK_SHOPPERS = 22363
BENCHMARK_PURCHASES = 198502


def test_full_catalog_counts_match_the_published_data(full_catalog):
    items, inter = full_catalog.items, full_catalog.interactions
    assert items["source"].value_counts().to_dict() == {"beauty2014": 12101, "sephora": 8494, "amazon": 356}
    assert len(items) == 20951 and items["item_id"].is_unique
    assert inter["source"].value_counts().to_dict() == {"amazon": 2535, "beauty2014": BENCHMARK_PURCHASES}
    by_split = inter.groupby(["source", "split"]).size().to_dict()
    assert by_split == {
        ("amazon", "train"): 2029,
        ("amazon", "valid"): 253,
        ("amazon", "test"): 253,
        ("beauty2014", "train"): BENCHMARK_PURCHASES - 2 * BENCHMARK_SHOPPERS,
        ("beauty2014", "valid"): BENCHMARK_SHOPPERS,
        ("beauty2014", "test"): BENCHMARK_SHOPPERS,
    }
    shoppers = inter.groupby("source")["user_id"].nunique().to_dict()
    assert shoppers == {"amazon": 253, "beauty2014": BENCHMARK_SHOPPERS}
    assert len(full_catalog.shoppers()) == 253 + BENCHMARK_SHOPPERS  # no reviewer id is in both sets


def test_full_catalog_reviews_and_report(full_catalog):
    reviews, report = full_catalog.reviews, full_catalog.report
    assert reviews["source"].value_counts().to_dict() == {"clothing": 23486 - 845, "amazon": 2544}
    assert report.read["sephora"] == 8494 and report.read["clothing"] == 23486
    assert report.read["beauty2014.items"] == 12101 and report.read["beauty2014.interactions"] == BENCHMARK_PURCHASES
    assert report.issues[("clothing", "empty review text")] == 845
    assert set(reviews["label"]) == {0, 1, 2}
    assert (reviews["label"] == reviews["rating"].map(stars_to_label)).all()


def test_every_interaction_and_history_item_is_in_the_catalogue(full_catalog):
    inter, items = full_catalog.interactions, full_catalog.items
    known = set(items["item_id"])
    assert set(inter["item_id"]) <= known
    amazon_rows = inter[inter["source"] == "amazon"]
    assert set(i for history in amazon_rows["history"] for i in history) <= known
    # every benchmark purchase is of a benchmark product, and every benchmark product was bought
    source_of = items.set_index("item_id")["source"]
    benchmark = inter[inter["source"] == "beauty2014"]
    assert (source_of.loc[benchmark["item_id"]] == "beauty2014").all()
    assert set(benchmark["item_id"]) == set(items.loc[items["source"] == "beauty2014", "item_id"])
    assert benchmark["history"].isna().all()  # the benchmark has no history column of its own


def test_official_split_puts_each_shoppers_last_interaction_in_test(full_catalog):
    inter = full_catalog.interactions
    amazon_rows = inter[inter["source"] == "amazon"].sort_values(["user_id", "timestamp"])
    assert (amazon_rows.groupby("user_id").tail(1)["split"] == "test").all()


def test_benchmark_is_leave_one_out_in_time_order(full_catalog):
    inter = full_catalog.interactions
    benchmark = inter[inter["source"] == "beauty2014"]
    splits = benchmark.groupby("user_id", sort=False)["split"].agg(list)
    assert (splits.map(len) >= 3).all()
    assert splits.map(lambda s: s[-2:] == ["valid", "test"] and set(s[:-2]) == {"train"}).all()
    assert benchmark.groupby("user_id", sort=False)["timestamp"].apply(lambda t: t.is_monotonic_increasing).all()
    assert not benchmark.duplicated(["user_id", "item_id"]).any()


def test_report_lines_do_not_claim_sources_kept_nothing(full_catalog):
    lines = full_catalog.report.lines()
    assert lines and not any("kept 0" in line for line in lines)


# --- bad rows in a small copy of the layout --------------------------------------------------------
def _parses(value, expected) -> bool:
    if pd.isna(value):
        return True
    try:
        return isinstance(ast.literal_eval(value), expected)
    except (ValueError, SyntaxError):
        return False


def _sephora_rows(count: int) -> pd.DataFrame:
    with zipfile.ZipFile(data_dir() / FOLDERS["sephora"] / "product_info.csv.zip") as bundle:
        with bundle.open("product_info.csv") as handle:
            raw = pd.read_csv(handle)
    clean = raw[
        raw["highlights"].map(lambda v: _parses(v, list))
        & raw["ingredients"].map(lambda v: _parses(v, list))
        & raw["product_name"].notna()
    ]
    return clean.head(count).copy()


def _clothing_rows(count: int) -> pd.DataFrame:
    with zipfile.ZipFile(data_dir() / FOLDERS["clothing"] / (clothing.FILE + ".zip")) as bundle:
        with bundle.open(clothing.FILE) as handle:
            raw = pd.read_csv(handle)
    return raw[raw["Review Text"].notna() & raw["Rating"].between(1, 5)].head(count).copy()


@pytest.fixture
def bad_rows_root(tmp_path):
    """The real Amazon and benchmark files, 20 real Sephora rows + two bad ones, 20 real clothing rows + one empty."""
    shutil.copytree(AMAZON, tmp_path / FOLDERS["amazon"])
    shutil.copytree(data_dir() / FOLDERS["beauty"], tmp_path / FOLDERS["beauty"])
    products = _sephora_rows(20)
    broken = products.iloc[[0]].assign(product_id="P_BROKEN", highlights="['Vegan', 'Matte")
    nameless = products.iloc[[1]].assign(product_id="P_NAMELESS", product_name="")
    (tmp_path / FOLDERS["sephora"]).mkdir()
    pd.concat([products, broken, nameless]).to_csv(tmp_path / FOLDERS["sephora"] / "product_info.csv", index=False)
    reviews = _clothing_rows(20)
    empty = reviews.iloc[[0]].assign(**{"Review Text": "   "})
    empty.iloc[0, 0] = 99999
    (tmp_path / FOLDERS["clothing"]).mkdir()
    pd.concat([reviews, empty]).to_csv(tmp_path / FOLDERS["clothing"] / clothing.FILE, index=False)
    return tmp_path


def test_bad_rows_are_skipped_or_repaired_and_counted(bad_rows_root):
    catalog = Catalog.load(bad_rows_root, DataConfig())
    items, issues = catalog.items, catalog.report.issues
    assert issues[("sephora", "unparsable literal")] == 1
    assert issues[("sephora", "empty product name")] == 1
    assert issues[("clothing", "empty review text")] == 1
    sephora_ids = set(items.loc[items["source"] == "sephora", "item_id"])
    assert len(sephora_ids) == 21 and "P_NAMELESS" not in sephora_ids
    broken = items.set_index("item_id").loc["P_BROKEN"]
    assert broken["known_tags"] == []  # the unparsable tags are dropped, the product kept
    assert (catalog.reviews["source"] == "clothing").sum() == 20
    assert catalog.report.read["sephora"] == 22 and catalog.report.read["clothing"] == 21


def test_missing_data_dir_names_the_expected_folders(tmp_path):
    with pytest.raises(FileNotFoundError) as caught:
        Catalog.load(tmp_path / "nowhere")
    message = str(caught.value)
    for folder in FOLDERS.values():
        assert folder in message
    assert "GUIDE_DATA_DIR" in message


def test_sephora_and_clothing_loaders_name_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="product_info.csv"):
        sephora.load(tmp_path, LoadReport())
    with pytest.raises(FileNotFoundError, match="Womens Clothing"):
        clothing.load(tmp_path, LoadReport())


# --- small pure functions ---------------------------------------------------------------------------
@pytest.mark.parametrize("stars, label", [(1, 0), (2, 0), (2.5, 1), (3, 1), (3.5, 1), (4, 2), (5, 2)])
def test_stars_to_label(stars, label):
    assert stars_to_label(stars) == label


def test_parse_literal_counts_unparsable_and_wrong_type_values():
    report = LoadReport()
    assert parse_literal("['a', 'b']", list, "s", report) == ["a", "b"]
    assert parse_literal(float("nan"), list, "s", report) is None
    assert parse_literal("", list, "s", report) is None
    assert parse_literal("['a'", list, "s", report) is None
    assert parse_literal("{'a': 1}", list, "s", report) is None
    assert parse_literal("__import__('os')", list, "s", report) is None  # never evaluated as code
    assert report.issues == {("s", "unparsable literal"): 2, ("s", "literal is not a list"): 1}


def test_clothing_split_is_stable_and_roughly_80_10_10():
    splits = [stable_split(str(i), "clothing") for i in range(5000)]
    assert splits == [stable_split(str(i), "clothing") for i in range(5000)]
    shares = pd.Series(splits).value_counts(normalize=True)
    assert shares["train"] == pytest.approx(0.8, abs=0.03) and shares["test"] == pytest.approx(0.1, abs=0.02)


# --- the shipped embedding cache -----------------------------------------------------------------------
def test_shipped_cache_covers_every_catalogue_and_review_text(small_catalog, encoder, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a shipped text was re-embedded")

    monkeypatch.setattr(encoder, "encode", refuse)
    items = encoder.embed(small_catalog.items["text"].tolist(), persist=False)
    reviews = encoder.embed(small_catalog.reviews["full_text"].tolist(), persist=False)
    assert np.abs(items).sum(1).min() > 0 and np.abs(reviews).sum(1).min() > 0
