"""The serving fast path (prepared catalogue read from disk, purchase matrix transposed at load, catalogue
attributes from the load-time pass, fusion and softmax over a batch) gives what the straightforward path
gives: every product hashed and encoded through the trunk afresh, one `GuideModel` call with every product as
candidates and the review item's attributes through the head, the transition graph built afresh, the content
and transition signals of one shopper, the softmax; on real shoppers and reviews of the shipped model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from guide.config import ATTRIBUTES, PROFILE, PURCHASE, SENTIMENT
from guide.data.purchase_signals import TransitionGraph, content_scores
from guide.data.task_data import lexical_texts, train_sequences
from guide.data.text import hash_ngrams
from guide.model.inputs import history_batch
from guide.model.outputs import encode_catalog
from guide.model.tasks import task_spec

REVIEWS = (
    "Lovely and light, no breakouts. My skin drinks it up.",
    "Smells awful and it stung my eyes; returned it.",
    "It is fine, nothing special for the price.",
)


@pytest.fixture(scope="module")
def shoppers(shipped_guide) -> list[list[str]]:
    """Real train histories: the longest, a typical, a one-item one, and a new shopper."""
    inter = shipped_guide.interactions
    train = inter[inter["split"] == "train"].sort_values("timestamp")
    lengths = train.groupby("user_id").size().sort_values()
    users = [lengths.index[-1], lengths.index[len(lengths) // 2]]
    histories = [train.loc[train["user_id"] == user, "item_id"].tolist() for user in users]
    return [*histories, histories[1][:1], []]


@pytest.fixture(scope="module")
def fresh(shipped_guide) -> tuple[dict, TransitionGraph]:
    """Every product through the trunk and the transition graph, computed now (not read from the cache)."""
    guide = shipped_guide
    buckets = guide.model.config.ngram_buckets
    ngrams = [np.array(hash_ngrams(t, buckets), np.int64) for t in lexical_texts(guide._catalog)]
    reps = encode_catalog(guide.model, guide._item_emb, ngrams, guide._item_feats, guide.device)
    return reps, TransitionGraph.build(train_sequences(guide._catalog), len(guide.catalog))


@torch.inference_mode()
def _straightforward(guide, fresh, history: list[str], review: str, review_item: str) -> dict:
    """The request as one plain forward pass: every product gathered as a candidate, attributes through the
    head, the fusion of one shopper, the softmax."""
    rows, stars, owned = guide._history(history, None)
    batch = history_batch([rows], [stars], guide.device)
    batch.update(
        reviews=guide.model_pass.reviews_block([review]),
        candidates=torch.arange(len(guide.catalog)),
        attr_index=torch.from_numpy(guide._catalog.rows([review_item])),
        profile=True,
    )
    reps, graph = fresh
    raw = guide.model(batch, item_repr=reps)
    neural = raw[PURCHASE][0].numpy()
    if len(rows):
        content = content_scores(guide._unit_emb, [rows], None)
        graph_scores = graph.scores([rows], np.arange(len(guide.catalog)))
        logits = guide.fusion.combine(neural[None, :], content, graph_scores)[0] / guide.purchase_temperature
    else:
        logits = guide.fusion.neural * neural / guide.purchase_temperature
    logits[owned] = -np.inf
    probs = np.exp(logits - logits.max())
    tags, cats = task_spec(ATTRIBUTES).read(raw[ATTRIBUTES], guide.model.config)
    return {
        PURCHASE: probs / probs.sum(),
        PROFILE: task_spec(PROFILE).read(raw[PROFILE], guide.model.config)[0][0].numpy(),
        SENTIMENT: torch.softmax(raw[SENTIMENT], -1)[0].numpy(),
        ATTRIBUTES: (tags[0].numpy(), cats[0].numpy()),
    }


@pytest.mark.parametrize("number", range(4))
def test_predict_equals_the_straightforward_pass(shipped_guide, fresh, shoppers, number):
    guide, history = shipped_guide, shoppers[number]
    review, item = REVIEWS[number % len(REVIEWS)], (history or guide.catalog["item_id"].tolist())[-1]
    guide.sentiment([review])  # the first embedding is float32, later ones come from the float16 cache
    want = _straightforward(guide, fresh, history, review, item)
    got = guide.predict(history, review=review, review_item=item)
    assert list(got.purchase) == guide.catalog["item_id"].tolist()
    np.testing.assert_allclose(list(got.purchase.values()), want[PURCHASE], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(np.fromiter(got.purchase.values(), float).sum(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(guide.score_catalog(history), want[PURCHASE], rtol=1e-5, atol=1e-9)
    interests = [got.profile.interests[name] for name in guide.interests]
    np.testing.assert_allclose(interests, want[PROFILE], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose([got.sentiment.probs[k] for k in ("negative", "neutral", "positive")],
                               want[SENTIMENT], rtol=1e-5, atol=1e-9)  # fmt: skip
    tags, cats = want[ATTRIBUTES]
    attributes = got.attributes[item]
    np.testing.assert_allclose([attributes.tags[t] for t in guide.tags], tags, rtol=1e-5, atol=1e-9)
    top = np.argsort(-cats)[:5]
    assert attributes.category == guide.categories[top[0]]
    np.testing.assert_allclose([attributes.category_probs[guide.categories[j]] for j in top], cats[top], rtol=1e-5)


def test_asked_rows_are_the_catalogue_probabilities_at_those_rows(shipped_guide, shoppers):
    guide, history = shipped_guide, shoppers[1]
    items = guide.catalog["item_id"].iloc[[5, 17, 4000, 20000]].tolist()
    whole = guide.score_catalog(history)
    np.testing.assert_allclose(guide.purchase(history, items), whole[[5, 17, 4000, 20000]], rtol=1e-6)
    assert list(guide.predict(history, items=items).purchase) == items
    owned = guide._catalog.rows(history)
    assert (whole[owned] == 0).all() and (whole > 0).sum() == len(whole) - len(set(owned.tolist()))
