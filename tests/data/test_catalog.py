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
    k = len(task_data.interests)
    assert task_data.item_interest.shape == (n, k) and task_data.interest_kinds.shape == (k,)
    assert task_data.interests[-t:] == task_data.tags  # the tags close the interest vocabulary
    assert set(task_data.interest_kinds) == {"path1", "path2", "path3", "brand", "tag"}
    np.testing.assert_allclose(task_data.item_interest.sum(1), 1.0, atol=1e-5)
    assert task_data.review_lexicon.shape == (r, 4)
    m = len(task_data.format_rows)
    assert m and task_data.format_emb.shape == (3, m, 384) and [len(g) for g in task_data.format_ngrams] == [m] * 3
    assert set(task_data.attr_split[task_data.format_rows]) == {"train"}  # held-out products never get variants
    shoppers = BENCHMARK_SHOPPERS
    assert {k: len(v.target) for k, v in task_data.purchase.items()} == {"train": shoppers, "valid": shoppers,
                                                                          "test": shoppers}  # fmt: skip
    assert all(len(v.users) == len(v.history) == len(v.seen) == shoppers for v in task_data.purchase.values())
    assert task_data.purchase["train"].users == task_data.purchase["valid"].users == task_data.purchase["test"].users
    assert len(task_data.purchase["train"].sequences) == shoppers
    assert task_data.purchase["train"].negatives is None
    for split in ("valid", "test"):
        assert task_data.purchase[split].negatives.shape == (shoppers, DataConfig().eval_negatives)
        assert task_data.purchase[split].sequences is None
    sources = small_catalog.items["source"].to_numpy()
    assert len(task_data.amazon_rows) == 12101 and (sources[task_data.amazon_rows] == "beauty2014").all()
    assert set(task_data.amazon_rows) == set(np.flatnonzero(sources == "beauty2014"))


def test_attribute_targets_supervise_only_known_tags(small_catalog, task_data):
    sources = small_catalog.items["source"].to_numpy()
    sephora_rows = sources == "sephora"
    assert (task_data.tag_mask[sephora_rows] == 1).all() and (task_data.cat_targets[sephora_rows] >= 0).all()
    assert (task_data.cat_targets[~sephora_rows] == -1).all()
    assert (task_data.tag_targets <= task_data.tag_mask).all()  # no positive label outside the mask
    assert (task_data.attr_split[(sources == "amazon") & (task_data.tag_mask.sum(1) == 0)] == "none").all()


# --- the purchase task on the benchmark ---------------------------------------------------------------
@pytest.fixture(scope="module")
def benchmark_sequences(small_catalog) -> dict[str, np.ndarray]:
    """Each benchmark shopper's purchases as catalogue rows, oldest first, read straight from the catalogue."""
    inter = small_catalog.interactions
    inter = inter[inter["source"] == "beauty2014"].sort_values(["user_id", "timestamp"], kind="stable")
    return {user: small_catalog.rows(list(items)) for user, items in inter.groupby("user_id")["item_id"]}


def test_purchase_splits_are_leave_one_out_per_shopper(task_data, benchmark_sequences):
    train, valid, test = (task_data.purchase[s] for s in ("train", "valid", "test"))
    assert set(train.users) == set(benchmark_sequences)
    for i, user in enumerate(train.users):
        sequence = benchmark_sequences[user]
        np.testing.assert_array_equal(train.sequences[i], sequence[:-2])
        assert (train.target[i], valid.target[i], test.target[i]) == tuple(sequence[-3:])
        np.testing.assert_array_equal(train.seen[i], sequence[:-3])
        np.testing.assert_array_equal(valid.seen[i], sequence[:-2])
        np.testing.assert_array_equal(test.seen[i], sequence[:-1])


def test_nothing_in_validation_or_test_is_ever_trained_on(task_data):
    """Per shopper: the validation and test targets never appear in what training reads (the train sequences,
    the train history and target) and never in the validation history; the test history holds the
    validation product (as the protocol allows: it is no training target) but never the test target."""
    train, valid, test = (task_data.purchase[s] for s in ("train", "valid", "test"))
    for i in range(len(train.users)):
        held_out = {int(valid.target[i]), int(test.target[i])}
        trained = set(train.sequences[i].tolist())
        assert not held_out & trained, train.users[i]
        assert set(train.history[i].tolist()) | {int(train.target[i])} <= trained
        assert not held_out & set(valid.history[i].tolist()) and not held_out & set(valid.seen[i].tolist())
        assert valid.target[i] in test.history[i] and test.target[i] not in test.history[i]
        assert test.target[i] not in test.seen[i]


def test_purchase_draws_read_only_the_train_sequences(task_data):
    """What TaskSampler._purchase can draw (inputs and next products) comes from the picked shoppers' train
    sequences only, so it never holds their validation or test product."""
    from guide.training.batches import TaskSampler

    train, valid, test = (task_data.purchase[s] for s in ("train", "valid", "test"))
    seed, users, length = 5, 64, 50
    sampler = TaskSampler(task_data, 16, 256, np.random.default_rng(seed), "cpu", purchase_users=users,
                          max_length=length)  # fmt: skip
    for _ in range(3):
        replay = np.random.default_rng()
        replay.bit_generator.state = sampler.rng.bit_generator.state
        picks = replay.choice(len(train.sequences), users)  # the draw's first use of the sampler's generator
        batch, targets = sampler.draw("purchase")
        rows = batch["items"]["rows"].numpy()
        history, mask = rows[batch["history"].numpy()], batch["history_mask"].numpy()
        nexts = np.split(rows[batch["candidates"].numpy()][targets["next"].numpy()], np.cumsum(mask.sum(1))[:-1])
        for j, i in enumerate(picks):
            window = train.sequences[i][-(length + 1) :]
            np.testing.assert_array_equal(history[j][mask[j]], window[:-1])
            np.testing.assert_array_equal(nexts[j], window[1:])
            drawn = set(history[j][mask[j]].tolist()) | set(nexts[j].tolist())
            assert valid.target[i] not in drawn and test.target[i] not in drawn


def test_purchase_eval_negatives_are_unseen_unique_benchmark_products(task_data, benchmark_sequences):
    pool = set(task_data.amazon_rows.tolist())
    for split in ("valid", "test"):
        part = task_data.purchase[split]
        for user, target, negatives in zip(part.users, part.target, part.negatives, strict=True):
            own = set(benchmark_sequences[user].tolist())  # everything the shopper ever bought, test item included
            assert target in own
            assert len(set(negatives.tolist())) == len(negatives), (split, user)
            assert not own & set(negatives.tolist()), (split, user)
            assert set(negatives.tolist()) <= pool
    # drawn apart for the two splits
    assert not np.array_equal(task_data.purchase["valid"].negatives, task_data.purchase["test"].negatives)


def test_purchase_history_is_the_most_recent_items_in_order(task_data, benchmark_sequences):
    limit = DataConfig().max_history
    cut = {"train": 3, "valid": 2, "test": 1}
    capped = 0
    for split, part in task_data.purchase.items():
        for user, history, ratings in zip(part.users, part.history, part.ratings, strict=True):
            before = benchmark_sequences[user][: -cut[split]]
            np.testing.assert_array_equal(history, before[-limit:])
            assert len(ratings) == len(history) and not ratings.any()  # the benchmark has no stars
            capped += len(before) > limit
    assert capped > 0  # the real data exercise the cap
    assert max(len(h) for h in task_data.purchase["test"].history) == limit


def test_shipped_cache_covers_every_catalogue_and_review_text(small_catalog, encoder, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a shipped text was re-embedded")

    monkeypatch.setattr(encoder, "encode", refuse)
    items = encoder.embed(small_catalog.items["text"].tolist(), persist=False)
    reviews = encoder.embed(small_catalog.reviews["full_text"].tolist(), persist=False)
    assert np.abs(items).sum(1).min() > 0 and np.abs(reviews).sum(1).min() > 0
