"""The profile page reads the store a bounded number of times, however long the shopper's history here is:
its statements are counted on the real SQLite store (SQLAlchemy's cursor events), over the real shipped Guide."""

from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa

from guide.serving.views import Session

PROFILE_STATEMENTS = 4  # BEGIN + the events, BEGIN + the reviews (SQLite's explicit BEGIN is a statement too)


@contextmanager
def counted(engine: sa.Engine):
    """Every statement the engine sends while inside, as a list of their SQL."""
    sent: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_a_profile_page_costs_the_same_few_queries_after_one_step_or_many(shop, visitor):
    persona = next(p for p in shop.personas.values() if p.purchases >= 5)
    session = Session(persona.persona_id, visitor)
    shop.start(session)
    candidates = [i for i in shop.items.loc[shop.items["source"] == "amazon", "item_id"] if i not in persona.history]
    shop.record_action(session, candidates[0], "cart")
    shop.profile(session)  # the model's answers are kept per history: the counts below are the store's alone
    with counted(shop.store.engine) as one_step:
        view = shop.profile(session)
    assert view.actions_here == 1 and view.last.item_id == candidates[0]
    for item in candidates[1:5]:
        shop.record_action(session, item, "purchase")
    shop.submit_review(session, candidates[5], 4, "Soft on my skin, and the scent fades fast.")
    with counted(shop.store.engine) as many_steps:
        view = shop.profile(session)
    assert view.actions_here == 6 and view.last.kind == "review" and len(view.likelihood) > 0
    assert any(point.where == "here" for point in view.sentiment)
    selects = [s for s in many_steps if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2, selects  # this shopper's events once, their reviews once
    assert len(one_step) == len(many_steps) <= PROFILE_STATEMENTS, many_steps
