"""The serving side of the guided tour and the recap, over the real shipped Guide and a throwaway store: the
tour's rule picks a shopper and product from the model's own answers, its sandbox stays apart from the visitor's
own shopper, a replay reads an action as it was sent, and likelihoods carry rank and median multiple."""

from __future__ import annotations

import numpy as np
import pytest

from guide.serving.tour_plan import MIN_PURCHASES
from guide.serving.tour_plan import plan as make_plan
from guide.serving.views import ReviewOutcome, Session


def test_the_tour_plan_follows_its_rule_and_is_the_same_every_time(shop):
    plan = shop.tour_plan()
    assert shop.tour_plan() is plan  # worked out once per service
    again = make_plan(list(shop.personas.values()), shop.predictions, shop.items)
    assert again == plan  # deterministic: the same shopper and product when worked out again
    persona = shop.persona(plan.persona_id)
    assert persona.purchases >= MIN_PURCHASES
    shares = {
        p.persona_id: max(shop.profile_of(list(p.history), list(p.ratings)).categories.values())
        for p in shop.personas.values()
        if p.purchases >= MIN_PURCHASES
    }
    assert plan.top_share == pytest.approx(max(shares.values())) and shares[plan.persona_id] == plan.top_share
    row = shop.row_of[plan.item_id]
    assert plan.item_id not in persona.history and plan.tagged == bool(len(shop.items.at[row, "known_tags"]))
    scores = shop.scores(list(persona.history), list(persona.ratings))
    owned = {shop.row_of[i] for i in persona.history if i in shop.row_of}
    better_tagged = [
        r
        for r in range(len(scores))
        if r not in owned and scores[r] > scores[row] and len(shop.items.at[r, "known_tags"])
    ]
    assert plan.tagged and better_tagged == []  # the best-ranked product the catalogue has tags for
    assert plan.standing.rank == 1 + int(
        np.sum([scores[r] > scores[row] for r in range(len(scores)) if r not in owned])
    )


def test_the_sandbox_is_its_own_shopper_and_stable_across_a_reload(shop, visitor):
    sandbox = shop.tour_session(visitor)
    assert sandbox == shop.tour_session(visitor)  # a reload keeps the visitor in the URL: the same sandbox
    assert sandbox.persona_id == shop.tour_plan().persona_id
    own = Session(sandbox.persona_id, visitor)
    assert sandbox.shopper_id != own.shopper_id and sandbox.visitor != visitor
    shop.start(sandbox)
    shop.start(own)
    shop.submit_review(sandbox, shop.tour_plan().item_id, 5, "Lovely, I'd buy it again.")
    assert shop.own_steps(own) == [] and [kind for kind, _, _ in shop.own_steps(sandbox)] == ["review"]
    shop.reset([sandbox])
    assert shop.own_steps(sandbox) == []


def test_a_replay_reads_each_action_as_it_was_sent(shop, visitor):
    session = shop.tour_session(visitor)
    shop.start(session)
    item = shop.tour_plan().item_id
    cart = shop.record_action(session, item, "cart")
    sent = shop.submit_review(session, item, 1, "Broke me out within a day. Total waste of money.", "No")
    replayed, left_out = shop.replay(session)
    assert left_out == 0 and [type(a).__name__ for a in replayed] == ["Change", "ReviewOutcome"]
    again = replayed[1]
    assert isinstance(again, ReviewOutcome) and again.review.text == sent.review.text
    assert again.sentiment.label == sent.sentiment.label
    assert again.sentiment.score == pytest.approx(sent.sentiment.score, abs=1e-3)
    assert again.change.likelihood_after == pytest.approx(sent.change.likelihood_after, rel=1e-3, abs=1e-9)
    assert again.change.categories_after == pytest.approx(sent.change.categories_after, abs=1e-4)
    assert replayed[0].categories_after == pytest.approx(cart.categories_after, abs=1e-4)
    last, older = shop.replay(session, limit=1)
    assert older == 1 and len(last) == 1 and isinstance(last[0], ReviewOutcome)
    recap = shop.recap(session, sandbox=True)
    assert recap.sandbox and len(recap.actions) == 2 and recap.persona.persona_id == session.persona_id
    assert recap.categories and {h.task for h in recap.headlines} <= {"purchase", "attributes", "sentiment", "profile"}


def test_for_you_cards_carry_their_rank_and_median_multiple(shop, visitor):
    session = Session(shop.tour_plan().persona_id, visitor)
    shop.start(session)
    page = shop.browse(session, page_size=6)
    ranks = [card.standing.rank for card in page.cards]
    assert ranks[0] == 1 and ranks == sorted(ranks)  # ties would share a rank
    assert all(card.standing.of == page.total for card in page.cards)  # ranked among what For you lists
    history, ratings = shop.history(session)
    scores = shop.scores(history, ratings)
    owned = [shop.row_of[i] for i in history if i in shop.row_of]
    median = float(np.median(np.delete(scores, owned)))
    first = page.cards[0]
    assert first.standing.times_median == pytest.approx(first.likelihood / median, rel=1e-6)
    owned_card = shop.cards(session, [history[-1]])[0]
    assert owned_card.standing is None  # a product the shopper has is not ranked as a next buy


def test_an_action_reports_the_standing_before_and_after(shop, visitor):
    session = Session(shop.tour_plan().persona_id, visitor)
    shop.start(session)
    item = shop.tour_plan().item_id
    change = shop.record_action(session, item, "purchase")
    assert change.standing_before == shop.tour_plan().standing  # the same scores, the same place
    assert change.standing_after is not None and change.standing_after.of == change.standing_before.of
    assert len(change.top_standings_after) == len(change.top_after) and change.top_standings_after[0].rank == 1
    assert item not in [pick for pick, _, _ in change.top_after]  # what the shopper has is not a next pick
