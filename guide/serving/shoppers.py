"""Shoppers: who a browser session shops as (a demo persona or a new shopper), their history, a reset, and
read-only share links.

A shopper's history is what they bought on Amazon (shipped with the persona) followed by what they did here
(cart, purchase and review events in the store), so it survives restarts and each visitor has their own. The
store is connected on first use (`store`: a callable that returns it or raises StoreUnavailable)."""

from __future__ import annotations

from collections.abc import Callable

from guide.serving.personas import NEW_SHOPPER, new_shopper
from guide.serving.store import Store
from guide.serving.views import Persona, Session

HISTORY_KINDS = ("cart", "purchase", "review")  # events that add an item to the shopper's history
Step = tuple[str, str, float | None]  # (kind, item_id, stars) of one history-changing event


class Shoppers:
    """The demo `personas` (id -> Persona) and each visitor's own steps in the store. `known` says whether an
    item id is in the catalogue (events of products no longer there are left out of a history)."""

    def __init__(self, personas: dict[str, Persona], store: Callable[[], Store], known: Callable[[str], bool]):
        self.personas, self._store, self._known = personas, store, known

    def choices(self) -> list[Persona]:
        return [new_shopper(), *self.personas.values()]

    def persona(self, persona_id: str) -> Persona:
        if persona_id == NEW_SHOPPER:
            return new_shopper()
        if persona_id not in self.personas:
            got = persona_id[:60] if isinstance(persona_id, str) else persona_id
            raise ValueError(
                f"shopper: expected one of the {len(self.personas)} demo shoppers or "
                f"'{NEW_SHOPPER}', got {got!r}. Fix: pick a shopper in the sidebar."
            )
        return self.personas[persona_id]

    def start(self, session: Session) -> Persona:
        """Check the persona and make sure the store knows this visitor's shopper."""
        persona = self.persona(session.persona_id)
        self._store().ensure_shopper(session.shopper_id, persona.label[:200], persona.kind)
        return persona

    def events(self, session: Session) -> list:
        """Everything this shopper did here, oldest first (one query)."""
        return self._store().events(session.shopper_id)

    def steps(self, session: Session, events: list | None = None) -> list[Step]:
        """(kind, item_id, stars) of this shopper's history-changing events, oldest first; from `events` when the
        caller read them already (`events(session)`), so a page reads the store once."""
        steps = []
        for event in self.events(session) if events is None else events:
            if event.kind in HISTORY_KINDS and self._known(event.item_id):
                stars = (event.payload or {}).get("stars") if event.kind == "review" else None
                steps.append((event.kind, event.item_id, None if stars is None else float(stars)))
        return steps

    def history(self, session: Session, steps: int | None = None, own: list[Step] | None = None):
        """(items, ratings): the shipped history then this shopper's own steps (the first `steps` of them, or
        all); `own`: their steps when the caller has them (`steps(session)`), else they are read."""
        persona = self.persona(session.persona_id)
        own = (self.steps(session) if own is None else own)[:steps]
        return [*persona.history, *(item for _, item, _ in own)], [*persona.ratings, *(stars for _, _, stars in own)]

    def reset(self, sessions: list[Session]) -> dict[str, int]:
        """Delete what these shoppers did here (events, reviews, snapshots); shipped history stays."""
        totals: dict[str, int] = {}
        for session in sessions:
            for table, count in self._store().reset_shopper(session.shopper_id).items():
                totals[table] = totals.get(table, 0) + count
        return totals

    # --- read-only share links -----------------------------------------------------------------
    def share_link(self, session: Session) -> str:
        """The public id of a read-only link to this shopper's pages; never the private visitor token."""
        self.start(session)
        return self._store().share_id(session.shopper_id)

    def shared_session(self, share_id: str) -> Session:
        """The shopper behind a share link, to SHOW only: the UI must not act, log or reset as them."""
        shopper_id = self._store().shared_shopper(share_id)
        if shopper_id is None:
            got = share_id[:40] if isinstance(share_id, str) else share_id
            raise ValueError(
                f"share link: expected a link made with 'Share this shopper', got {got!r}. "
                "Fix: ask whoever shared it for a new link."
            )
        persona_id, _, visitor = shopper_id.rpartition("~")
        return Session(persona_id, visitor)
