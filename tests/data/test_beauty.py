"""guide.data.beauty: the Amazon Beauty 2014 benchmark loader on small files written here, and on the real set."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from guide.config import data_dir
from guide.data import beauty
from guide.data.load_report import LoadReport


def _write(folder, items: list[dict], interactions: list[tuple]) -> None:
    (folder / "derived").mkdir(parents=True)
    pd.DataFrame(items).to_csv(folder / beauty.ITEMS, index=False)
    frame = pd.DataFrame(interactions, columns=["user_id", "reviewer_id", "item_id", "asin", "position", "timestamp"])
    frame.assign(date_utc="2014-01-01").to_csv(folder / beauty.INTERACTIONS, index=False, compression="gzip")


def _item(asin: str, title: str = "Cream", brand: str = "Acme", path=("Beauty", "Skin Care", "Face")) -> dict:
    return {"item_id": 1, "asin": asin, "title": title, "brand": brand, "price": 9.5,
            "categories": json.dumps(list(path)), "sales_type": "Beauty", "sales_rank": 1.0,
            "s3rec_attributes": "[]"}  # fmt: skip


@pytest.fixture
def folder(tmp_path):
    items = [_item("A1"), _item("A2", "Shampoo &amp; more", "Unknown", ("Beauty", "Hair Care")), _item("A3"),
             _item("A4", title=float("nan")), _item("A1", "duplicate")]  # fmt: skip
    inter = [(1, "U1", 1, "A1", 0, 100), (1, "U1", 2, "A2", 1, 200), (1, "U1", 3, "A3", 2, 300),
             (1, "U1", 4, "A4", 3, 400), (2, "U2", 1, "A1", 0, 100), (2, "U2", 2, "A2", 1, 100),
             (2, "U2", 9, "ZZ", 2, 100), (2, "U2", 3, "A3", 3, 150), (3, "U3", 1, "A1", 0, 5),
             (3, "U3", 2, "A2", 1, 6), (3, "U3", 2, "A2", 2, 7)]  # fmt: skip
    _write(tmp_path, items, inter)
    return tmp_path


def test_loader_counts_bad_rows_and_keeps_the_rest(folder):
    report = LoadReport()
    items, inter = beauty.load(folder, report)
    assert items["item_id"].tolist() == ["A1", "A2", "A3", "A4"]  # the repeated ASIN is dropped
    assert report.issues[(beauty.SOURCE + ".items", "missing or repeated ASIN")] == 1
    assert report.issues[(beauty.SOURCE + ".interactions", "missing shopper or unknown ASIN")] == 1
    assert report.issues[(beauty.SOURCE + ".interactions", "repeated (shopper, product): first kept")] == 1
    assert report.issues[(beauty.SOURCE + ".interactions", "shopper with fewer than 3 purchases")] == 2  # U3
    assert sorted(inter["user_id"].unique()) == ["U1", "U2"]


def test_items_read_title_brand_and_category_path(folder):
    items, _ = beauty.load(folder, LoadReport())
    shampoo = items.set_index("item_id").loc["A2"]
    assert shampoo["brand"] == "" and shampoo["category_path"] == ["Hair Care"]
    assert shampoo["text"] == "Shampoo & more. Hair Care"
    assert items.set_index("item_id").loc["A4", "title"]  # no title: brand and path stand in


def test_leave_one_out_puts_the_last_purchase_in_test_and_the_one_before_in_valid(folder):
    _, inter = beauty.load(folder, LoadReport())
    assert inter.groupby("user_id")["split"].agg(list).to_dict() == {
        "U1": ["train", "train", "valid", "test"],
        "U2": ["train", "valid", "test"],
    }
    assert beauty.leave_one_out(np.array(["a", "a", "a", "b", "b", "b"])).tolist() == [
        "train", "valid", "test", "train", "valid", "test"]  # fmt: skip


def test_missing_derived_files_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="data fetch"):
        beauty.load(tmp_path, LoadReport())


@pytest.mark.realdata
def test_the_real_benchmark_has_its_published_counts():
    folder = data_dir() / beauty.FOLDER
    if not folder.is_dir():
        pytest.skip(f"real data absent: {folder}")
    report = LoadReport()
    items, inter = beauty.load(folder, report)
    assert len(items) == 12101 and items["item_id"].is_unique
    assert len(inter) == 198502 and inter["user_id"].nunique() == 22363
    assert inter["split"].value_counts().to_dict() == {"train": 198502 - 2 * 22363, "valid": 22363, "test": 22363}
