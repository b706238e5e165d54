"""The single-task twins' stored predictions: exported from tiny real twins (`guide/evaluation/twin_export.py`),
read by serving (`guide/serving/twins.py`), refused when stale, a plain state when missing."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from guide.config import ATTRIBUTES, PROFILE, SENTIMENT, SENTIMENT_LABELS, TASKS
from guide.evaluation import report, twin_export
from guide.model import twin_artifact
from guide.model.checkpoint import Checkpoint
from guide.model.outputs import attribute_probs, sentiment_log_probs
from guide.serving import twins

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


def test_twins_are_found_where_the_report_saves_them(runs, base, task_data, small_catalog, monkeypatch):
    """report._twin reuses a twin from its folder instead of training: it finds every one we wrote."""

    def no_training(*args, **kwargs):
        raise AssertionError("report._twin would train: the twin is not where twin_export looks")

    monkeypatch.setattr(report, "RUNS", runs)
    monkeypatch.setattr("guide.training.trainer.train", no_training)
    for task in TASKS:
        twin = report._twin(f"stl-{task}", base, task_data, small_catalog, False, "cpu", tasks=(task,))
        assert twin.model.config.tasks == (task,)
    assert set(twin_export.find_twins(base, runs)) == set(TASKS)


def test_missing_twins_say_which_and_how_to_make_them(base, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"stl-sentiment-.*fix: run `python -m guide evaluate --twins"):
        twin_export.find_twins(base, tmp_path)


def test_export_holds_what_each_twin_says(artifact, runs, base, task_data, small_catalog):
    stored = np.load(artifact)
    meta = json.loads(str(stored["meta"]))
    assert meta["twins"][SENTIMENT]["config_hash"] == twin_artifact.twin_hashes(base)[SENTIMENT]
    assert meta["shipped"]["fingerprint"] == base.fingerprint
    twin = Checkpoint.load(twin_export.twin_folder(base, ATTRIBUTES, runs))
    tags, cats = attribute_probs(twin.model, task_data, np.arange(len(task_data.item_emb)), "cpu")
    row = 7
    index = stored["attributes.tag_index"][row]
    assert list(index) == list(np.argsort(-tags[row], kind="stable")[: len(index)])
    np.testing.assert_allclose(stored["attributes.tag_prob"][row], tags[row][index], atol=1e-3)
    assert stored["attributes.category_index"][row][0] == cats[row].argmax()
    assert stored["item_id"][row].decode() == small_catalog.items["item_id"].iat[row]
    # every shipped review of a catalogue product, read by the sentiment twin with its class offsets
    reviews = small_catalog.reviews
    shown = np.flatnonzero(reviews["item_id"].isin(set(small_catalog.items["item_id"])).to_numpy())
    assert len(stored["sentiment.review_id"]) == len(shown) > 0
    sentiment = Checkpoint.load(twin_export.twin_folder(base, SENTIMENT, runs))
    log_probs = sentiment_log_probs(sentiment.model, task_data, shown[:50], "cpu")
    np.testing.assert_allclose(stored["sentiment.review_probs"][:50], np.exp(log_probs), atol=2e-3)
    labels = (log_probs + np.array(sentiment.calibration.get("sentiment_bias", [0, 0, 0]))).argmax(1)
    assert list(stored["sentiment.review_label"][:50]) == list(labels)
    # every shopper: purchase probabilities of the top products fall and never name a product already bought
    probs = stored["purchase.product_prob"].astype(float)
    assert len(stored["shopper_id"]) == small_catalog.interactions["user_id"].nunique()
    assert (np.diff(probs, axis=1) <= 1e-3).all() and (probs > 0).all() and (probs.sum(1) <= 1 + 1e-2).all()
    shoppers = twin_export.shipped_shoppers(small_catalog, base.config.data.max_history)
    for row in range(0, len(shoppers.users), 997):
        assert not set(stored["purchase.product_index"][row]) & set(shoppers.history[row].tolist())
    interests = stored["profile.interest_prob"].astype(float)
    assert (interests.sum(1) <= 1 + 1e-2).all() and (np.diff(interests, axis=1) <= 1e-3).all()


def test_shipped_shoppers_read_histories_as_the_personas_do(small_catalog):
    from guide.serving.personas import build_personas

    shoppers = twin_export.shipped_shoppers(small_catalog, 50)
    picked = [shoppers.users[0], shoppers.users[len(shoppers.users) // 2]]
    interactions = small_catalog.interactions
    personas = build_personas(interactions[interactions["user_id"].isin(picked)], {}, {}, {})
    ids = small_catalog.items["item_id"].to_numpy()
    for user in picked:
        history = shoppers.history[shoppers.users.index(user)]
        assert list(ids[history]) == list(personas[user].history)[-50:]


def test_serving_reads_the_artifact_and_checks_it_belongs_to_the_model(artifact, base, small_catalog):
    stored = twins.StoredTwins(base, artifact)
    assert stored.ready() and stored.status == twins.SHOWN
    item = small_catalog.items["item_id"].iat[7]
    tags = stored.tags(item)
    assert tags is not None and tags.category in base.categories and len(tags.tags) == 8
    assert stored.tags("no such product") is None
    review = small_catalog.reviews["review_id"].iat[0]
    label, probs = stored.sentiment(str(review)) or ("", {})
    assert label in SENTIMENT_LABELS and abs(sum(probs.values()) - 1) < 1e-2
    answer = stored.shopper(str(small_catalog.interactions["user_id"].iat[0]))
    assert answer is not None and len(answer.picks) == twin_export.TOP_PRODUCTS


def test_a_stale_artifact_is_refused_with_what_to_run(artifact, base, tmp_path):
    retrained = copy.deepcopy(base)
    retrained.config.steps += 1  # another shipped model: its twins would be other twins
    stale = twins.StoredTwins(retrained, artifact)
    assert not stale.ready() and stale.status == twins.STALE
    assert "another model" in stale.note and "python -m guide twins" in stale.note
    assert stale.tags("anything") is None
    # the same model, but one twin was trained another way (its config hash differs)
    with np.load(artifact) as stored:
        arrays = {name: stored[name] for name in stored.files}
    meta = json.loads(str(arrays["meta"]))
    meta["twins"][PROFILE]["config_hash"] = "0000000000"
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez_compressed(tmp_path / "other.npz", **arrays)
    other = twins.StoredTwins(base, tmp_path / "other.npz")
    assert not other.ready() and other.status == twins.STALE and "profile twin trained another way" in other.note


def test_missing_or_broken_artifact_is_a_state_not_a_crash(base, tmp_path):
    missing = twins.StoredTwins(base, tmp_path / "twins.npz")
    assert not missing.ready() and missing.status == twins.MISSING and "not shipped" in missing.note
    assert missing.shopper("anyone") is None and "not shipped to run live" in missing.fresh_review_note()
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    broken = twins.StoredTwins(base, tmp_path / "broken.npz")
    assert not broken.ready() and broken.status == twins.UNREADABLE


def test_shop_puts_the_twins_beside_the_shared_model(artifact, guide, visitor, tmp_path):
    from guide.serving.shop import ShopService
    from guide.serving.store import Store
    from guide.serving.views import Session

    store = Store(f"sqlite:///{tmp_path / 'shop.db'}")
    shop = ShopService(guide, store)
    shop.twins = twins.StoredTwins(guide.checkpoint, artifact)
    reviews = guide.reviews
    reviewed = reviews.loc[reviews["item_id"].isin(shop.row_of), "item_id"].value_counts().index[0]
    persona = next(iter(shop.personas))
    view = shop.twin_view(Session(persona, visitor), reviewed)
    assert view.status == twins.SHOWN
    page = [r for r in shop.reviews_of(reviewed) if r.review_id]
    assert view.reviews == len(page) > 0 and view.agreeing + len(view.disagreements) == view.reviews
    assert all(d.model_label != d.twin_label for d in view.disagreements)
    row = shop.row_of[reviewed]
    assert view.model_category == shop.attributes[row].category
    stored = shop.twins.tags(reviewed)
    assert view.twin_category == stored.category
    for tag in view.tags:
        assert tag.model == pytest.approx(shop.attributes[row].tags[tag.tag])
        assert tag.twin is None or tag.twin == pytest.approx(stored.tags[tag.tag][0])
    assert view.shopper is not None and len(view.shopper.twin_picks) == twin_export.TOP_PRODUCTS
    assert view.shopper.model_picks[0][2] == pytest.approx(
        float(shop.scores(*shop.history(Session(persona, visitor))).max())
    )
    new = shop.twin_view(Session("new", visitor), reviewed)
    assert new.shopper is None and "new shopper" in new.shopper_note
    shop.twins = twins.StoredTwins(guide.checkpoint, tmp_path / "absent.npz")
    assert shop.twin_view(Session(persona, visitor), reviewed).status == twins.MISSING
    store.close()


def test_pruning_reads_back_what_it_stores(base, task_data):
    model = base.model
    stored, restored = twin_export.pruned(model, None, None)
    copy_ = copy.deepcopy(model)
    copy_.load_state_dict(restored, strict=False)
    before = twin_export.task_outputs(model, task_data, SENTIMENT, "cpu")
    np.testing.assert_allclose(twin_export.task_outputs(copy_, task_data, SENTIMENT, "cpu"), before, atol=2e-3)
    used = twin_export.used_rows(task_data)
    assert 0 < used.sum() < len(used)
    stored, restored = twin_export.pruned(model, used, 4)
    table = restored["encoder.ngrams.weight"]
    assert (table[torch.from_numpy(~used)] == 0).all()  # dropped rows read as 0
    original = model.encoder.ngrams.weight.detach().half().float()[torch.from_numpy(used)]
    scale = stored["encoder.ngrams.weight.scale"].float()
    assert ((table[torch.from_numpy(used)] - original).abs() <= scale / 2 + 1e-6).all()  # within half a step
    assert stored["encoder.ngrams.weight.codes"].shape[1] == model.config.ngram_dim // 2  # two codes a byte


def test_measure_reports_bytes_and_changes(base, task_data):
    result = twin_export.measure(base, task_data, SENTIMENT, "cpu")
    rows = result["variants"]
    assert rows["as saved (fp16)"]["max_change"] == 0
    assert rows["tables in int4"]["bytes"] < rows["tables in int8"]["bytes"] < rows["as saved (fp16)"]["bytes"]
    assert 0 < rows["tables in int8"]["max_change"] <= rows["tables in int4"]["max_change"]
    assert result["rows_used"] == int(twin_export.used_rows(task_data).sum())
