"""guide.data: loaders of the three real data sets, their bad-row reports, splits and task arrays."""

from __future__ import annotations

import ast
import gzip
import json
import shutil
import zipfile

import numpy as np
import pandas as pd
import pytest

from guide.config import DataConfig, data_dir
from guide.data import amazon, clothing, sephora
from guide.data.catalog import FOLDERS, Catalog, stars_to_label
from guide.data.load_report import LoadReport, parse_literal, stable_split

pytest_plugins = ["tests.core_fixtures"]

AMAZON = data_dir() / FOLDERS["amazon"]


@pytest.fixture(scope="module")
def full_catalog() -> Catalog:
    return Catalog.load()


# --- the shipped data, loaded in full ------------------------------------------------------------
def test_full_catalog_counts_match_the_published_data(full_catalog):
    items, inter = full_catalog.items, full_catalog.interactions
    assert items["source"].value_counts().to_dict() == {"sephora": 8494, "amazon": 356}
    assert len(inter) == 2535
    assert inter["split"].value_counts().to_dict() == {"train": 2029, "valid": 253, "test": 253}
    assert len(full_catalog.shoppers()) == 253
    assert items["item_id"].is_unique


def test_full_catalog_reviews_and_report(full_catalog):
    reviews, report = full_catalog.reviews, full_catalog.report
    assert reviews["source"].value_counts().to_dict() == {"clothing": 23486 - 845, "amazon": 2544}
    assert report.read["sephora"] == 8494 and report.read["clothing"] == 23486
    assert report.issues[("clothing", "empty review text")] == 845
    assert set(reviews["label"]) == {0, 1, 2}
    assert (reviews["label"] == reviews["rating"].map(stars_to_label)).all()


def test_every_interaction_and_history_item_is_in_the_catalogue(full_catalog):
    inter = full_catalog.interactions
    known = set(full_catalog.items["item_id"])
    assert set(inter["item_id"]) <= known
    assert set(i for history in inter["history"] for i in history) <= known


def test_official_split_puts_each_shoppers_last_interaction_in_test(full_catalog):
    inter = full_catalog.interactions.sort_values(["user_id", "timestamp"])
    last = inter.groupby("user_id").tail(1)
    assert (last["split"] == "test").all()


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
    """The real Amazon files, 20 real Sephora rows + two bad ones, 20 real clothing rows + one empty."""
    shutil.copytree(AMAZON, tmp_path / FOLDERS["amazon"])
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


def test_amazon_folder_without_either_layout_says_what_it_expected(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(FileNotFoundError, match="All_Beauty.train.csv.*meta_<Category>.*notes.txt"):
        amazon.load(tmp_path, LoadReport())


def test_sephora_and_clothing_loaders_name_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="product_info.csv"):
        sephora.load(tmp_path, LoadReport())
    with pytest.raises(FileNotFoundError, match="Womens Clothing"):
        clothing.load(tmp_path, LoadReport())


# --- the Amazon Reviews 2023 layout ----------------------------------------------------------------
def _shipped_reviews(users: int) -> list[dict]:
    shoppers = json.loads((AMAZON / "filtered_user_reviews.json").read_text(encoding="utf-8"))[:users]
    return [
        {
            "user_id": s["user_id"],
            "parent_asin": r["parent_asin"],
            "rating": r["rating"],
            "title": r["title"],
            "text": r["text"],
            "timestamp": r["timestamp"],
            "verified_purchase": True,
        }
        for s in shoppers
        for r in s["reviews"]
    ]


def _shipped_meta(asins: set[str]) -> list[dict]:
    meta = pd.read_csv(AMAZON / "filterd_meta_items.csv")
    out = []
    for row in meta[meta["parent_asin"].isin(asins)].itertuples(index=False):
        details = ast.literal_eval(row.details) if isinstance(row.details, str) else {}
        out.append(
            {
                "parent_asin": row.parent_asin,
                "title": row.title,
                "details": details,
                "store": details.get("Brand"),
                "price": None if pd.isna(row.price) else row.price,
                "description": [row.description] if isinstance(row.description, str) else [],
                "features": ["Gentle on skin"],
            }
        )
    return out


def _write_jsonl_gz(path, records: list[dict], bad_line: str | None = None) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for i, record in enumerate(records):
            handle.write(json.dumps(record) + "\n")
            if i == 1 and bad_line:
                handle.write(bad_line + "\n")


def write_reviews2023(folder, users: int = 12, drop_meta: frozenset[str] = frozenset()) -> list[dict]:
    reviews = _shipped_reviews(users)
    meta = [m for m in _shipped_meta({r["parent_asin"] for r in reviews}) if m["parent_asin"] not in drop_meta]
    _write_jsonl_gz(folder / "All_Beauty.jsonl.gz", reviews, bad_line='{"user_id": "broken", "rating": 5')
    _write_jsonl_gz(folder / "meta_All_Beauty.jsonl.gz", meta)
    return reviews


@pytest.mark.realdata
def test_reviews2023_layout_splits_leave_last_out_and_counts_bad_lines(tmp_path):
    reviews = write_reviews2023(tmp_path)
    report = LoadReport()
    items, inter, loaded = amazon.load(tmp_path, report)
    assert report.issues[("amazon.reviews", "unparsable json line")] == 1
    assert len(loaded) == len(reviews) and len(inter) == len(reviews)
    user = reviews[0]["user_id"]
    mine = sorted((r for r in reviews if r["user_id"] == user), key=lambda r: r["timestamp"])
    rows = inter[inter["user_id"] == user].sort_values("timestamp")
    assert rows["item_id"].tolist() == [r["parent_asin"] for r in mine]
    assert rows["split"].tolist() == ["train"] * (len(mine) - 2) + ["valid", "test"]
    assert rows["history"].iloc[-1] == [r["parent_asin"] for r in mine[:-1]]
    assert (inter.groupby("user_id")["split"].apply(lambda s: (s == "test").sum()) == 1).all()
    # a review takes the split of its interaction
    assert (
        loaded.merge(inter, on=["user_id", "item_id", "timestamp"])["split_x"]
        .eq(loaded.merge(inter, on=["user_id", "item_id", "timestamp"])["split_y"])
        .all()
    )
    assert set(inter["item_id"]) <= set(items["item_id"])


@pytest.mark.realdata
def test_reviews2023_items_take_brand_and_tags_from_details(tmp_path):
    write_reviews2023(tmp_path)
    items, _, _ = amazon.load(tmp_path, LoadReport())
    meta = {m["parent_asin"]: m for m in _shipped_meta(set(items["item_id"]))}
    for row in items.itertuples(index=False):
        details = meta[row.item_id]["details"]
        assert row.brand == " ".join(str(details.get("Brand") or "").split())
        assert row.known_tags == amazon.detail_tags(details)
        assert "Gentle on skin" in row.description


@pytest.mark.realdata
def test_reviews2023_history_never_points_at_a_dropped_item(tmp_path):
    reviews = write_reviews2023(tmp_path)
    first_item = sorted((r for r in reviews if r["user_id"] == reviews[0]["user_id"]), key=lambda r: r["timestamp"])[0][
        "parent_asin"
    ]
    write_reviews2023(tmp_path, drop_meta=frozenset({first_item}))
    report = LoadReport()
    items, inter, _ = amazon.load(tmp_path, report)
    assert report.issues[("amazon.items", "reviewed item without metadata (dropped)")] == 1
    known = set(items["item_id"])
    assert all(set(history) <= known for history in inter["history"])


@pytest.mark.realdata
def test_reviews2023_drops_shoppers_with_too_few_reviews(tmp_path):
    reviews = write_reviews2023(tmp_path, users=3)
    lonely = [dict(reviews[0], user_id="LONELY", timestamp=reviews[0]["timestamp"] + k) for k in range(2)]
    _write_jsonl_gz(tmp_path / "All_Beauty.jsonl.gz", reviews + lonely)
    report = LoadReport()
    _, inter, _ = amazon.load(tmp_path, report)
    assert "LONELY" not in set(inter["user_id"])
    assert report.issues[("amazon.reviews", "shopper with < 3 reviews")] == 2


# --- small pure functions ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "details, expected",
    [
        (None, []),
        ({}, []),
        ({"Finish Type": "Matte"}, ["Matte Finish"]),
        ({"Skin Type": "Dry, Acne Prone"}, ["Good for: Acne/Blemishes", "Good for: Dryness"]),
        ({"Material Feature": "Cruelty Free; Vegan", "Item Form": "Cream"}, ["Cream Formula", "Cruelty-Free", "Vegan"]),
        ({"Special Feature": "Not Tested On Animals", "Material Feature": "Cruelty Free"}, ["Cruelty-Free"]),
        ({"Hair Type": "Straight", "Brand": "Matte Co"}, []),
        ({"Color": "Matte"}, []),  # the key matters, not just the word
    ],
)
def test_detail_tags_maps_amazon_details_to_sephora_tags(details, expected):
    assert amazon.detail_tags(details) == expected


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


# --- task data ---------------------------------------------------------------------------------------
def test_attribute_split_is_brand_disjoint(small_catalog, task_data):
    brands = small_catalog.items["brand"].str.lower().to_numpy()
    by_split = {s: set(brands[task_data.attr_split == s]) for s in ("train", "valid", "test")}
    assert by_split["valid"] and by_split["test"]
    assert not by_split["train"] & by_split["test"]
    assert not by_split["train"] & by_split["valid"]
    assert not by_split["valid"] & by_split["test"]


def test_task_data_shapes_agree_with_the_catalogue(small_catalog, task_data):
    n, r = len(small_catalog.items), len(small_catalog.reviews)
    t, c = len(small_catalog.tags), len(small_catalog.categories)
    assert task_data.item_emb.shape == (n, 384) and task_data.item_feats.shape == (n, 3)
    assert len(task_data.item_ngrams) == n and len(task_data.review_ngrams) == r
    assert task_data.review_emb.shape == (r, 384) and task_data.review_labels.shape == (r,)
    assert task_data.tag_targets.shape == task_data.tag_mask.shape == (n, t)
    assert task_data.cat_targets.shape == (n,) and task_data.cat_targets.max() < c
    assert task_data.item_interest.shape == (n, c + t) and task_data.interests == task_data.categories + task_data.tags
    np.testing.assert_allclose(task_data.item_interest.sum(1), 1.0, atol=1e-5)
    assert {k: len(v.target) for k, v in task_data.purchase.items()} == {"train": 2029, "valid": 253, "test": 253}
    assert task_data.purchase["test"].negatives.shape == (253, 99)
    assert (small_catalog.items["source"].to_numpy()[task_data.amazon_rows] == "amazon").all()


def test_attribute_targets_supervise_only_known_tags(small_catalog, task_data):
    sources = small_catalog.items["source"].to_numpy()
    sephora_rows = sources == "sephora"
    assert (task_data.tag_mask[sephora_rows] == 1).all() and (task_data.cat_targets[sephora_rows] >= 0).all()
    assert (task_data.cat_targets[~sephora_rows] == -1).all()
    assert (task_data.tag_targets <= task_data.tag_mask).all()  # no positive label outside the mask
    assert (task_data.attr_split[(sources == "amazon") & (task_data.tag_mask.sum(1) == 0)] == "none").all()


def test_purchase_eval_negatives_never_include_the_shoppers_own_items(small_catalog, task_data):
    ids = small_catalog.items["item_id"].to_numpy()
    inter = small_catalog.interactions
    own = inter.groupby("user_id")["item_id"].agg(set).to_dict()
    amazon_rows = set(task_data.amazon_rows)
    for split in ("valid", "test"):
        part = task_data.purchase[split]
        for user, target, history, negatives in zip(part.users, part.target, part.history, part.negatives, strict=True):
            assert target not in negatives
            assert not set(ids[negatives]) & (own[user] | set(ids[history]))
            assert set(negatives) <= amazon_rows


def test_purchase_history_is_the_most_recent_items_in_order(small_catalog, task_data):
    longest = small_catalog.interactions["history"].map(len).max()
    config = DataConfig()
    part = task_data.purchase["test"]
    ids = small_catalog.items["item_id"].to_numpy()
    inter = small_catalog.interactions.set_index(["user_id", "split"])
    for user, history in list(zip(part.users, part.history, strict=True))[:20]:
        expected = inter.loc[(user, "test"), "history"][-config.max_history :]
        assert list(ids[history]) == expected
    assert longest > config.max_history  # the real data exercise the cap


def test_shipped_cache_covers_every_catalogue_and_review_text(small_catalog, encoder, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a shipped text was re-embedded")

    monkeypatch.setattr(encoder, "encode", refuse)
    items = encoder.embed(small_catalog.items["text"].tolist(), persist=False)
    reviews = encoder.embed(small_catalog.reviews["full_text"].tolist(), persist=False)
    assert np.abs(items).sum(1).min() > 0 and np.abs(reviews).sum(1).min() > 0
