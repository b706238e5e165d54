"""guide.evaluation.behaviour: the hand-written behavioural suite in assets/behaviour/ and its runner.

The suite must stay large enough to say something per capability, valid against the shipped model's
vocabulary, and apart from the training data; the runner must count failures right on a real predictor
(VADER, whose answers on the cases below were checked by hand) and refuse malformed suites with a clear error.
"""

from __future__ import annotations

import json

import pytest

from guide.config import DEFAULT_CHECKPOINT, SENTIMENT_LABELS
from guide.evaluation import behaviour
from guide.evaluation.behaviour import Case

SENTIMENT_CAPABILITIES = {"negation", "contrast", "intensity", "one_word", "typos_emoji", "neutral_fact"}
PRODUCT_CAPABILITIES = {"typed_query", "with_attributes", "brand_free_name"}


@pytest.fixture(scope="module")
def vocabulary() -> list[str]:
    """The shipped checkpoint's categories, read from its config.json (no weights, no data needed)."""
    config = DEFAULT_CHECKPOINT / "config.json"
    if not config.exists():
        pytest.skip(f"no shipped checkpoint at {DEFAULT_CHECKPOINT}")
    return json.loads(config.read_text())["categories"]


def _by_capability(cases: list[Case]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.capability] = counts.get(case.capability, 0) + 1
    return counts


def test_the_suite_has_300_texts_and_at_least_20_per_capability(vocabulary):
    sentiment, products = behaviour.load_sentiment(), behaviour.load_products(vocabulary)
    assert len(sentiment) + len(products) >= 300
    assert len(products) >= 100
    assert SENTIMENT_CAPABILITIES <= set(_by_capability(sentiment))
    assert PRODUCT_CAPABILITIES == set(_by_capability(products))
    for capability, n in {**_by_capability(sentiment), **_by_capability(products)}.items():
        assert n >= 20, f"{capability}: {n} texts"
    assert {case.expected for case in sentiment} == set(SENTIMENT_LABELS)
    assert {case.expected for case in sentiment if case.capability == "neutral_fact"} == {"neutral"}
    texts = [case.text.casefold() for case in sentiment + products]
    assert len(set(texts)) == len(texts)


def test_every_expected_category_is_one_of_the_shipped_models(vocabulary):
    products = behaviour.load_products(vocabulary)
    assert {case.expected for case in products} <= set(vocabulary)
    assert len({case.expected for case in products}) >= 20  # the suite spans the catalogue, not a few aisles
    assert "Other" not in {case.expected for case in products}  # "Other" is no answer a reader would give


@pytest.mark.realdata
def test_no_suite_text_is_a_training_review_or_a_product_name(vocabulary):
    from guide.data.catalog import Catalog

    catalog = Catalog.load()
    reviews = catalog.reviews[catalog.reviews["split"] == "train"]

    def norm(text: str) -> str:
        return " ".join(str(text).casefold().split())

    seen = {norm(t) for column in ("text", "full_text") for t in reviews[column]}
    seen |= {norm(t) for t in catalog.items["title"]}
    suite = behaviour.load_sentiment() + behaviour.load_products(vocabulary)
    assert [case.text for case in suite if norm(case.text) in seen] == []


def test_failure_rates_counts_vader_misses_per_capability():
    cases = [
        Case("plain", "I love this serum.", "positive"),  # VADER compound 0.64: right
        Case("plain", "This is terrible.", "negative"),  # -0.48: right
        Case("plain", "It comes in a 50 ml bottle.", "neutral"),  # 0.0: right
        Case("plain", "Meh.", "neutral"),  # -0.08: negative, wrong
        Case("tricky", "It broke me out.", "negative"),  # -0.42: right
        Case("tricky", "Okay", "neutral"),  # 0.23: positive, wrong
        Case("tricky", "Some things I like about it, some I don't.", "neutral"),  # 0.36: positive, wrong
    ]
    rates = behaviour.failure_rates(cases, behaviour.vader_sentiment, examples=1)
    assert list(rates) == ["plain", "tricky"]
    assert (rates["plain"]["n"], rates["plain"]["failures"]) == (4, 1)
    assert (rates["tricky"]["n"], rates["tricky"]["failures"]) == (3, 2)
    assert rates["plain"]["rate"] == pytest.approx(0.25) and rates["tricky"]["rate"] == pytest.approx(2 / 3)
    assert rates["plain"]["examples"] == [{"text": "Meh.", "expected": "neutral", "got": "negative"}]
    assert rates["tricky"]["examples"] == [{"text": "Okay", "expected": "neutral", "got": "positive"}]
    for entry in rates.values():
        low, high = entry["ci"]
        assert 0.0 < low < entry["rate"] < high < 1.0
    assert rates["plain"]["ci"] == pytest.approx(behaviour.wilson(1, 4))
    assert behaviour.wilson(0, 30)[0] == 0.0 and behaviour.wilson(0, 30)[1] == pytest.approx(0.1135, abs=1e-3)


def test_failure_rates_refuses_a_predictor_that_drops_texts():
    cases = [Case("plain", "Great", "positive"), Case("plain", "Awful", "negative")]
    with pytest.raises(ValueError, match="expected one label per text \\(2\\); got 1"):
        behaviour.failure_rates(cases, lambda texts: texts[:1])


def test_the_goal_names_the_capabilities_below_it_and_the_worst_gap():
    rates = {"a": {"rate": 0.05}, "b": {"rate": 0.25}, "c": {"rate": 0.15}}
    gap = behaviour.goal_gap(rates)
    assert not gap["met"] and gap["below"] == ["b", "c"] and gap["worst"] == "b"
    assert gap["short_by"] == pytest.approx(0.15)
    assert behaviour.goal_gap({"a": {"rate": 0.1}})["met"]  # exactly 90% passes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("capability,text,label\nnegation,Not bad,positive\n", "expected the columns capability,text,expected"),
        ("capability,text,expected\nnegation,Not bad,good\n", "line 2: expected a sentiment label from .*got 'good'"),
        ("capability,text,expected\nnegation,Not bad, I like it,positive\n", "line 2: expected 3 fields; got 4.*quote"),
        ("capability,text,expected\nnegation,Not bad\n", "line 2: expected 3 fields; got 2"),
        ("capability,text,expected\nnegation, ,positive\n", "line 2: expected a capability and a text"),
        ("capability,text,expected\na,Great,positive\nb,great,positive\n", "line 3: expected each text once"),
        ("capability,text,expected\n", "expected at least one case; got none"),
    ],
)
def test_a_malformed_sentiment_suite_is_refused_with_what_was_expected(tmp_path, content, message):
    path = tmp_path / "sentiment.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        behaviour.load_sentiment(path)


def test_a_category_outside_the_vocabulary_is_refused(tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("capability,text,expected\ntyped_query,matte red lipstick,Lipstick\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected a category of the model's vocabulary from .*got 'Lipstick'; fix"):
        behaviour.load_products(["Eye", "Lip", "Other"], path)


def test_a_missing_suite_file_says_where_it_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match="behaviour suite CSV at .*none.csv"):
        behaviour.load_sentiment(tmp_path / "none.csv")
