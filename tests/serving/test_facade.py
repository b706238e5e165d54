"""guide.serving.facade: the Guide facade over a tiny trained checkpoint — plain results, input checks, one
forward pass for all four tasks, cold start, and catalogue search."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from guide.config import SENTIMENT_LABELS
from guide.data.text import MAX_CHARS, tokens
from guide.serving.results import Prediction

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def shopper(guide) -> list[str]:
    """A real shopper's history (their train interactions, oldest first)."""
    inter = guide.interactions
    user = sorted(inter["user_id"].unique())[0]
    rows = inter[(inter["user_id"] == user) & (inter["split"] == "train")].sort_values("timestamp")
    return rows["item_id"].tolist()


@pytest.fixture(scope="module")
def candidates(guide, shopper) -> list[str]:
    amazon = guide.catalog.loc[guide.catalog["source"] == "amazon", "item_id"]
    return [i for i in amazon if i not in shopper][:7]


# --- sentiment -------------------------------------------------------------------------------------
def test_sentiment_returns_labels_scores_and_probabilities(guide):
    results = guide.sentiment(["Love it, my skin feels soft", "Terrible, broke me out", "It is ok I guess"])
    assert len(results) == 3
    for result in results:
        assert result.label in SENTIMENT_LABELS
        assert set(result.probs) == set(SENTIMENT_LABELS)
        assert sum(result.probs.values()) == pytest.approx(1.0, abs=1e-5)
        assert result.score == pytest.approx(result.probs["positive"] - result.probs["negative"], abs=1e-6)
        assert -1.0 <= result.score <= 1.0
        assert result.truncated is False


@pytest.mark.parametrize(
    "texts", [[], [""], ["fine", "   "], "  ", "a plain string", 42, None, {"set of text"}, ["x" * 1_000_000], [3]]
)
def test_sentiment_refuses_bad_input(guide, texts):
    with pytest.raises(ValueError, match="expected"):
        guide.sentiment(texts)


def test_long_review_is_truncated_not_refused(guide):
    review = "This cream is lovely and soft. " * 700
    assert MAX_CHARS < len(review) <= 25_000
    result = guide.sentiment([review])[0]
    assert result.truncated is True and result.label in SENTIMENT_LABELS


def test_sentiment_does_not_write_user_texts_into_the_cache(guide, embedding_dir):
    shards = sorted(embedding_dir.rglob("*.npz"))
    guide.sentiment(["A review nobody has written before: the pump jammed on day two."])
    assert sorted(embedding_dir.rglob("*.npz")) == shards


# --- attributes ----------------------------------------------------------------------------------------
def test_attributes_predict_exactly_the_tags_over_their_thresholds(guide):
    results = guide.attributes(["Vegan matte liquid lipstick, long wearing", "Hydrating cream for dry skin"])
    thresholds = dict(zip(guide.tags, guide.tag_thresholds, strict=True))
    for result in results:
        over = {t for t, p in result.tags.items() if p >= thresholds[t]}
        assert set(result.predicted) == over
        probs = [result.tags[t] for t in result.predicted]
        assert probs == sorted(probs, reverse=True)
        assert set(result.tags) == set(guide.tags) and all(0 <= p <= 1 for p in result.tags.values())
        assert result.category == max(result.category_probs, key=result.category_probs.get)
        assert len(result.category_probs) == 5 and set(result.category_probs) <= set(guide.categories)


def test_item_attributes_match_free_text_shape(guide, candidates):
    results = guide.item_attributes(candidates[:2])
    assert len(results) == 2 and all(r.category in guide.categories for r in results)
    with pytest.raises(ValueError, match="unknown item id"):
        guide.item_attributes(["NOT-AN-ITEM"])


# --- purchase ----------------------------------------------------------------------------------------
def test_purchase_gives_one_probability_per_candidate(guide, shopper, candidates):
    scores = guide.purchase(shopper, candidates)
    assert len(scores) == len(candidates)
    assert all(0.0 < s < 1.0 for s in scores)
    assert len(set(scores)) > 1  # candidates are told apart


def test_purchase_agrees_with_scoring_the_whole_catalogue(guide, shopper, candidates):
    everything = guide.score_catalog(shopper)
    assert everything.shape == (len(guide.catalog),)
    rows = guide._catalog.rows(candidates)
    np.testing.assert_allclose(guide.purchase(shopper, candidates), everything[rows], atol=1e-5)


def test_purchase_keeps_one_score_per_candidate_even_when_repeated(guide, shopper, candidates):
    repeated = [candidates[0], candidates[1], candidates[0]]
    assert len(guide.purchase(shopper, repeated)) == 3


def test_the_whole_history_is_masked_not_only_what_the_model_reads(guide):
    """As the evaluation masks everything bought before the target: a product bought longer ago than the
    model's history window (the latest `max_history`) is still not a next purchase."""
    limit = guide.checkpoint.config.data.max_history
    history = guide.catalog["item_id"].iloc[: limit + 10].tolist()
    scores = guide.score_catalog(history)
    rows = guide._catalog.rows(history)
    assert (scores[rows] == 0).all()  # the 10 oldest too, outside the window
    assert scores.sum() == pytest.approx(1.0, abs=1e-4)
    prediction = guide.predict(history)
    assert all(prediction.purchase[item] == 0 for item in history[:10])


@pytest.mark.parametrize("history, items", [(["NOT-AN-ITEM"], None), ([], ["NOT-AN-ITEM"])])
def test_purchase_refuses_unknown_ids(guide, candidates, history, items):
    with pytest.raises(ValueError, match="unknown item id"):
        guide.purchase(history, items or candidates)


def test_purchase_refuses_bad_arguments(guide, shopper, candidates):
    with pytest.raises(ValueError, match="candidates"):
        guide.purchase(shopper, [])
    with pytest.raises(ValueError, match="candidates"):
        guide.purchase(shopper, candidates[0])
    with pytest.raises(ValueError, match="history"):
        guide.purchase(shopper[0], candidates)
    with pytest.raises(ValueError, match="ratings"):
        guide.purchase(shopper, candidates, ratings=[5])


# --- profile -------------------------------------------------------------------------------------------
def test_profile_interests_form_a_distribution(guide, shopper):
    profile = guide.profile(shopper)
    assert set(profile.interests) == set(guide.interests)
    assert sum(profile.interests.values()) == pytest.approx(1.0, abs=1e-5)
    weights = list(profile.interests.values())
    assert weights == sorted(weights, reverse=True)
    assert sum(profile.categories.values()) == pytest.approx(1.0, abs=1e-5)
    assert sum(profile.tags.values()) == pytest.approx(1.0, abs=1e-5)


def test_profile_changes_with_the_history(guide, shopper, candidates):
    first = guide.profile(shopper)
    other = guide.profile(candidates[:3])
    keys = list(first.interests)
    difference = np.abs(np.array([first.interests[k] for k in keys]) - np.array([other.interests[k] for k in keys]))
    assert difference.max() > 1e-4


def test_ratings_in_the_history_change_the_profile(guide, shopper):
    liked = guide.profile(shopper, ratings=[5] * len(shopper))
    disliked = guide.profile(shopper, ratings=[1] * len(shopper))
    assert any(abs(liked.interests[k] - disliked.interests[k]) > 1e-6 for k in liked.interests)


def test_cold_start_shopper_with_empty_history_is_served(guide, candidates):
    profile = guide.profile([])
    assert sum(profile.interests.values()) == pytest.approx(1.0, abs=1e-5)
    scores = guide.purchase([], candidates)
    assert len(scores) == len(candidates) and all(0.0 < s < 1.0 for s in scores)


# --- predict: all four from one forward pass ----------------------------------------------------------------
def test_predict_answers_all_four_tasks_in_one_forward_call(guide, shopper, candidates, monkeypatch):
    calls = Counter()
    forward = guide.model.forward

    def counting(*args, **kwargs):
        calls["forward"] += 1
        return forward(*args, **kwargs)

    monkeypatch.setattr(guide.model, "forward", counting)
    prediction = guide.predict(shopper, items=candidates[:3], review="Smells great and lasts all day")
    assert calls["forward"] == 1
    assert isinstance(prediction, Prediction)
    assert list(prediction.purchase) == candidates[:3]
    assert set(prediction.attributes) == set(candidates[:3])
    assert prediction.sentiment is not None and prediction.sentiment.label in SENTIMENT_LABELS
    assert sum(prediction.profile.interests.values()) == pytest.approx(1.0, abs=1e-5)
    assert prediction.elapsed_ms > 0 and prediction.device == "cpu"


def test_predict_without_items_scores_the_catalogue_and_skips_sentiment(guide, shopper):
    prediction = guide.predict(shopper)
    assert len(prediction.purchase) == len(guide.catalog)
    assert prediction.sentiment is None and prediction.attributes == {}
    reviewed = guide.predict(shopper, review="Not for me", review_item=shopper[-1])
    assert set(reviewed.attributes) == {shopper[-1]} and reviewed.sentiment is not None
    assert guide.predict(shopper, items=[]).purchase == {}


def test_predict_refuses_an_empty_review(guide, shopper):
    with pytest.raises(ValueError):
        guide.predict(shopper, items=[], review="   ")


# --- search ---------------------------------------------------------------------------------------------------
def _word_in_one_item(guide) -> tuple[str, str]:
    """A title word (7+ letters) that appears in exactly one product's searchable fields."""
    items = guide.catalog
    fields = (
        items["title"]
        + " "
        + items["brand"]
        + " "
        + items["display_category"].fillna("")
        + " "
        + items["known_tags"].map(" ".join)
    )
    owners: dict[str, set[int]] = {}
    for row, text in enumerate(fields):
        for word in set(tokens(text)):
            owners.setdefault(word, set()).add(row)
    for row, title in enumerate(items["title"]):
        for word in sorted(set(tokens(title))):
            if len(word) >= 7 and word.isalpha() and owners[word] == {row}:
                return word, items["item_id"].iloc[row]
    raise AssertionError("no unique title word in the catalogue")


def test_search_finds_an_item_by_an_exact_title_word(guide):
    word, item_id = _word_in_one_item(guide)
    found = [i for i, _ in guide.search(word)]
    assert item_id in found[:5], word
    scores = [s for _, s in guide.search(word)]
    assert scores == sorted(scores, reverse=True)


def test_search_refuses_an_empty_query(guide):
    with pytest.raises(ValueError, match="query"):
        guide.search("   ")


def test_similar_excludes_the_item_itself(guide, candidates):
    item = candidates[0]
    similar = guide.similar(item, k=6)
    ids = [i for i, _ in similar]
    assert len(ids) == 6 and item not in ids
    title = guide.catalog.set_index("item_id").loc[item, "title"].lower()
    assert all(guide.catalog.set_index("item_id").loc[i, "title"].lower() != title for i in ids)
    scores = [s for _, s in similar]
    assert scores == sorted(scores, reverse=True)
    with pytest.raises(ValueError, match="unknown item id"):
        guide.similar("NOT-AN-ITEM")


def test_a_second_load_reads_the_prepared_catalogue_instead_of_computing_it(guide, tiny_checkpoint_dir,
                                                                          shopper, monkeypatch, tmp_path):  # fmt: skip
    from guide.serving.facade import Guide

    monkeypatch.setenv("GUIDE_CACHE_DIR", str(tmp_path))
    built, prepare = [], Guide._prepare
    monkeypatch.setattr(Guide, "_prepare", lambda self, catalog: built.append(1) or prepare(self, catalog))
    first = Guide.load(path=tiny_checkpoint_dir, device="cpu")
    second = Guide.load(path=tiny_checkpoint_dir, device="cpu")
    assert len(built) == 1 and len(list(tmp_path.glob("serving-*.npz"))) == 1
    np.testing.assert_array_equal(second.score_catalog(shopper), first.score_catalog(shopper))
    np.testing.assert_array_equal(second.score_catalog(shopper), guide.score_catalog(shopper))
    assert second.predict(shopper, items=[]).profile == guide.predict(shopper, items=[]).profile
    assert second.item_attributes(shopper) == guide.item_attributes(shopper)
    with torch.no_grad():  # other weights: another key, computed again
        second.model.heads["purchase"].bias.weight.add_(1.0)
    Guide(second.checkpoint, second._catalog, second.encoder, second.device)
    assert len(built) == 2 and len(list(tmp_path.glob("serving-*.npz"))) == 2
    monkeypatch.setenv("GUIDE_CACHE_DIR", "off")
    Guide.load(path=tiny_checkpoint_dir, device="cpu")
    assert len(built) == 3 and len(list(tmp_path.glob("serving-*.npz"))) == 2


def test_model_card_describes_the_loaded_checkpoint(guide, tiny_checkpoint_dir):
    card = guide.model_card()
    assert card["config"]["hidden"] == 32 and card["weighting"] == "uncertainty"
    assert "history" not in card["train"] and card["train"]["folder"] == str(tiny_checkpoint_dir)


def test_a_guide_never_changes_the_catalogue_it_was_built_from(guide):
    from guide.serving.facade import Guide

    items = guide._catalog.items
    columns, categories = list(items.columns), items["category"].copy()
    built = Guide(guide.checkpoint, guide._catalog, guide.encoder, guide.device)
    assert list(items.columns) == columns and items["category"].equals(categories)  # nothing added or changed
    assert {"model_category", "display_category"} <= set(built.catalog.columns)
    assert built.catalog is not items and built.row(items["item_id"].iat[3]) == 3
    with pytest.raises(ValueError, match="unknown item id"):
        built.row("NOT-AN-ITEM")
