"""guide.data.amazon: the Amazon Reviews 2023 layout (splits, items from their details, bad lines counted),
Amazon's details mapped onto Sephora tags, and a folder in neither layout."""

from __future__ import annotations

import ast
import gzip
import json

import pandas as pd
import pytest

from guide.config import data_dir
from guide.data import amazon
from guide.data.catalog import FOLDERS
from guide.data.load_report import LoadReport

AMAZON = data_dir() / FOLDERS["amazon"]


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


def test_amazon_folder_without_either_layout_says_what_it_expected(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(FileNotFoundError, match="All_Beauty.train.csv.*meta_<Category>.*notes.txt"):
        amazon.load(tmp_path, LoadReport())
