"""Occlusion explanations (`guide/serving/occlusion.py`): the spans, and faithfulness on real texts.

Faithful means: removing the k spans the explanation ranks highest moves the prediction more than removing
k spans drawn at random, averaged over 30 held-out reviews (sentiment) and 30 catalogue products (their
most confident tag), through the shipped model."""

from __future__ import annotations

import numpy as np
import pytest

from guide.config import SENTIMENT, SENTIMENT_LABELS
from guide.data.text import MAX_CHARS
from guide.serving import occlusion

K = 3  # spans removed at once
DRAWS = 4  # random draws of K spans per text
TEXTS = 30


def test_word_spans_cover_each_word_once_and_group_long_texts():
    text = "  Soft,  light\nand  lovely!  "
    spans, size = occlusion.word_spans(text)
    assert size == 1 and [text[s:e] for s, e in spans] == ["Soft,", "light", "and", "lovely!"]
    spans, size = occlusion.word_spans(" ".join(f"w{i}" for i in range(50)), max_spans=24)
    assert size == 3 and len(spans) == 17 and spans[0] == (0, 8)  # "w0 w1 w2"
    assert occlusion.word_spans("   ") == ([], 1)
    with pytest.raises(ValueError, match="max_spans: expected >= 1"):
        occlusion.word_spans("a b", max_spans=0)


def test_word_spans_stop_where_the_model_stops_reading():
    text = "a " * MAX_CHARS
    spans, _ = occlusion.word_spans(text, max_spans=10_000)
    assert spans[-1][1] <= MAX_CHARS and len(spans) == MAX_CHARS // 2


def test_without_removes_spans_and_keeps_the_rest():
    assert occlusion.without("one two three", [(4, 7)]) == "one  three"
    assert occlusion.without("one two three", [(8, 13), (0, 3)]) == " two "
    assert occlusion.without("one", [(0, 3)]) == ""


def test_log_odds_match_the_probabilities():
    logits = np.array([[2.0, 0.5, -1.0], [0.0, 0.0, 0.0]])
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    for target in range(3):
        odds = occlusion.log_odds(logits, SENTIMENT, target)
        np.testing.assert_allclose(occlusion.probability(odds), probs[:, target])
    np.testing.assert_allclose(occlusion.log_odds(logits, occlusion.TAG, 1), logits[:, 1])


@pytest.mark.parametrize("text", ["", "   \n\t", None, 3])
def test_nothing_to_explain_is_refused_before_the_model_runs(text):
    with pytest.raises(ValueError, match="expected a non-empty string to explain"):
        occlusion.explain_review(None, text)  # no Guide needed: the check comes first


def test_one_word_is_weighed_against_the_empty_text(shipped_guide):
    why = occlusion.explain_review(shipped_guide, "Terrible")
    assert why.target == "negative" and why.words_per_span == 1
    assert [(s.start, s.end) for s in why.spans] == [(0, 8)]
    logits = occlusion.review_logits(shipped_guide, ["Terrible", ""])
    odds = occlusion.log_odds(logits, SENTIMENT, SENTIMENT_LABELS.index("negative"))
    assert why.spans[0].weight == pytest.approx(odds[0] - odds[1], abs=1e-4)
    assert why.spans[0].weight > 0  # "Terrible" is what makes it negative
    assert why.probability == pytest.approx(shipped_guide.sentiment(["Terrible"])[0].probs["negative"], abs=1e-3)


def test_review_explanation_weighs_each_word_towards_or_against_the_class(shipped_guide):
    text = "Nice bottle, but this cream burned my skin and smelled awful. Returned it."
    why = occlusion.explain_review(shipped_guide, text)
    # the served label is what is explained (the shipped model reads this one negative or, with its class
    # offsets pulling toward neutral, neutral; never positive)
    assert why.target == shipped_guide.sentiment([text])[0].label != "positive"
    assert all(s.weight > 0 for s in why.strongest(3)) and all(s.weight < 0 for s in why.strongest(3, -1))


def test_product_explanation_weighs_the_catalogue_tags(shipped_guide):
    item = next(i for i, tags in zip(shipped_guide.catalog["item_id"], shipped_guide.predicted_tags(3)) if tags)
    whys = occlusion.explain_product(shipped_guide, item)
    shown = shipped_guide.item_attributes([item])[0]
    assert [w.target for w in whys] == shown.predicted[: len(whys)] and all(w.predicted for w in whys)
    assert whys[0].probability == pytest.approx(shown.tags[whys[0].target], abs=0.02)  # fresh vs cached embedding
    with pytest.raises(ValueError, match="unknown item id"):
        occlusion.explain_product(shipped_guide, "NOT-AN-ITEM")


def _moves(why, logits_of, kind: str, target: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """(top-K drop, mean random-K drop) of P(target) and of its log-odds, one batched pass."""
    spans = [(s.start, s.end) for s in why.spans]
    top = [(s.start, s.end) for s in sorted(why.spans, key=lambda s: -s.weight)[:K]]
    draws = [[spans[i] for i in rng.choice(len(spans), K, replace=False)] for _ in range(DRAWS)]
    texts = [why.text, occlusion.without(why.text, top), *(occlusion.without(why.text, d) for d in draws)]
    odds = occlusion.log_odds(logits_of(texts), kind, target)
    probs = occlusion.probability(odds)
    drop_p, drop_o = probs[0] - probs[1:], odds[0] - odds[1:]
    return np.array([drop_p[0], drop_o[0]]), np.array([drop_p[1:].mean(), drop_o[1:].mean()])


def _report(name: str, top: np.ndarray, random: np.ndarray) -> None:
    print(
        f"\n{name}: removing the top {K} spans lowers P(target) by {top[:, 0].mean():.4f} on average "
        f"(log-odds {top[:, 1].mean():.2f}); {K} random spans by {random[:, 0].mean():.4f} "
        f"(log-odds {random[:, 1].mean():.2f}); top beats random on {(top[:, 1] > random[:, 1]).mean():.0%} of texts"
    )


def test_removing_the_top_words_moves_sentiment_more_than_random_words(shipped_guide):
    reviews = shipped_guide.reviews
    held_out = reviews[(reviews["split"] == "test") & (reviews["full_text"].str.split().str.len() >= 2 * K + 2)]
    sample = held_out.sample(n=TEXTS, random_state=0)["full_text"].tolist()
    rng = np.random.default_rng(0)
    top, random = [], []
    for text in sample:
        why = occlusion.explain_review(shipped_guide, text)
        moved = _moves(
            why, lambda t: occlusion.review_logits(shipped_guide, t), SENTIMENT, SENTIMENT_LABELS.index(why.target), rng
        )
        top.append(moved[0])
        random.append(moved[1])
    top, random = np.array(top), np.array(random)
    _report(f"sentiment, {TEXTS} held-out reviews", top, random)
    assert top[:, 0].mean() > random[:, 0].mean() and top[:, 1].mean() > 2 * random[:, 1].mean()
    assert (top[:, 1] > random[:, 1]).mean() >= 0.8


def test_removing_the_top_words_moves_tags_more_than_random_words(shipped_guide):
    catalog = shipped_guide.catalog
    tagged = [bool(t) for t in shipped_guide.predicted_tags(1)]
    long_enough = catalog["text"].str.split().str.len().ge(2 * K + 2).to_numpy()
    items = catalog.loc[np.array(tagged) & long_enough, "item_id"].sample(n=TEXTS, random_state=0).tolist()
    rng = np.random.default_rng(0)
    top, random = [], []
    for item in items:
        why = occlusion.explain_product(shipped_guide, item, limit=1)[0]
        logits_of = lambda t, item=item: occlusion.product_logits(shipped_guide, item, t)  # noqa: E731
        moved = _moves(why, logits_of, occlusion.TAG, shipped_guide.tags.index(why.target), rng)
        top.append(moved[0])
        random.append(moved[1])
    top, random = np.array(top), np.array(random)
    _report(f"tags, {TEXTS} catalogue products (their most confident tag)", top, random)
    assert top[:, 0].mean() > 2 * random[:, 0].mean() and top[:, 1].mean() > 2 * random[:, 1].mean()
    assert (top[:, 1] > random[:, 1]).mean() >= 0.8
