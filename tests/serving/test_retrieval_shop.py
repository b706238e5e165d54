"""The shop's For you through `ShopService` takes the index path past the retrieval threshold and the exact path
up to it, with the tiny trained checkpoint (its catalogue set past a lowered `GUIDE_RETRIEVAL_THRESHOLD`): what
the shopper owns is never listed nor scored, and the candidates keep the exact path's order."""

from __future__ import annotations

import numpy as np
import pytest

from guide.serving.candidates import THRESHOLD_ENV

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


def _shop(guide, tmp_path, name: str):
    from guide.serving.facade import Guide
    from guide.serving.shop import ShopService
    from guide.serving.store import Store

    built = Guide(guide.checkpoint, guide._catalog, guide.encoder, guide.device)  # reads the threshold setting
    return ShopService(built, Store(f"sqlite:///{tmp_path / name}"))


@pytest.fixture(scope="module")
def shops(guide, tmp_path_factory):
    """The same checkpoint and catalogue served twice: past a threshold of 1,000 products and at the default."""
    folder = tmp_path_factory.mktemp("retrieval-shop")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(THRESHOLD_ENV, "1000")
        indexed = _shop(guide, folder, "indexed.db")
        patch.delenv(THRESHOLD_ENV)
        exact = _shop(guide, folder, "exact.db")
    yield indexed, exact
    for shop in (indexed, exact):
        shop.store.close()


def test_for_you_past_the_threshold_ranks_the_index_candidates_and_never_lists_what_is_owned(shops, visitor):
    from guide.serving.views import Session

    indexed, exact = shops
    stage = indexed.guide.candidate_stage
    assert stage.active and stage.index.size == len(indexed.items) > 1000
    assert not exact.guide.candidate_stage.active and exact.guide.candidate_stage.index is None
    persona = max(indexed.personas.values(), key=lambda p: len(p.history))
    session = Session(persona.persona_id, visitor)
    history, ratings = indexed.history(session)
    owned = set(history)
    before = stage.shoppers_ranked
    page = indexed.browse(session, "", None, "For you", 1, 24)
    assert stage.shoppers_ranked == before + 1  # the page's scores came through the index
    assert not owned & {card.item_id for card in page.cards}
    scores = indexed.scores(history, ratings)
    assert scores[[indexed.row_of[i] for i in history if i in indexed.row_of]].max() == 0
    listed = np.flatnonzero(scores)
    assert stage.k <= len(listed) < len(scores) and page.total == len(scores) - len(owned)
    top = [card.item_id for card in page.cards if card.likelihood]
    assert len(top) == 24 and top == sorted(top, key=lambda i: -scores[indexed.row_of[i]])
    exact_scores = exact.scores(history, ratings)
    assert exact.guide.candidate_stage.shoppers_ranked == 0
    order = listed[np.argsort(-exact_scores[listed], kind="stable")]
    assert [indexed.row_of[i] for i in top] == list(order[:24])  # the exact path's order among the candidates
    best = np.argsort(-exact_scores)[:10]
    assert np.isin(best, listed).mean() >= 0.8  # the exact path's top 10 is found by the index


def test_a_review_past_the_threshold_scores_through_the_index_too(shops, visitor):
    from guide.serving.views import Session

    indexed, _ = shops
    stage = indexed.guide.candidate_stage
    persona = next(iter(indexed.personas.values()))
    session = Session(persona.persona_id, visitor)
    indexed.start(session)
    item = indexed.browse(session, "", None, "For you", 1, 1).cards[0].item_id
    before = stage.shoppers_ranked
    outcome = indexed.submit_review(session, item, 5, "Lovely, light and no breakouts.")
    assert stage.shoppers_ranked > before  # the review's one pass ranked the shopper through the index
    history, ratings = indexed.history(session)
    scores = indexed.scores(history, ratings)
    assert history[-1] == item and scores[indexed.row_of[item]] == 0 and scores.sum() == pytest.approx(1, abs=1e-4)
    assert outcome.change is not None
