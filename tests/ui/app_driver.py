"""Driving app.py under Streamlit's AppTest: a throwaway database for the app (`app_database`; the `database`
fixture in tests/ui/conftest.py), running a page, and reading what a person sees (cards, likelihoods, captions,
literal text)."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


@contextlib.contextmanager
def app_database(tmp_path_factory, name: str):
    """A fresh SQLite database as GUIDE_DATABASE_URL, with no service cached from another module's database
    before or after; yields its URL."""
    url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'app.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GUIDE_DATABASE_URL", url)
        from guide.ui import state

        state.load_service.clear()  # a service cached by an earlier module would use another database
        try:
            yield url
        finally:
            state.load_service.clear()


def run_app(**params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(params)
    return at.run()


def open_page(at: AppTest, page: str, **params: str) -> AppTest:
    at.query_params.update(params)
    return at.switch_page(f"guide/ui/{page}.py").run()


def no_problems(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def cards(at: AppTest) -> list[str]:
    return [h.value for h in at.get("html") if h.value.startswith('<div class="g-card">')]


def likelihoods(at: AppTest) -> list[float]:
    """The likelihood each card shows, as a probability ('<0.1%' reads as 0.0005)."""
    shown = [
        m for body in cards(at) for m in re.findall(r"<b>(&lt;0\.1|<0\.1|[\d.]+)%</b> chance it's your next", body)
    ]
    return [0.0005 if "lt;" in m or "<" in m else float(m) / 100 for m in shown]


def literal(markdown: str) -> str:
    """What a person reads from Markdown whose punctuation md_text escaped."""
    return re.sub(r"\\(.)", r"\1", markdown)


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def shopper(at: AppTest) -> str:
    return f"{at.session_state['persona']}~{at.session_state['visitor']}"


def amazon_item(at: AppTest) -> str:
    from guide.ui import state

    service = state.load_service()
    persona = service.personas[at.session_state["persona"]]
    items = service.items
    return next(i for i in items.loc[items["source"] == "amazon", "item_id"] if i not in persona.history)


def send_review(at: AppTest, stars: int, text: str, title: str = "") -> AppTest:
    from guide.ui.review_form import key

    item = at.query_params["product"]
    item = item[0] if isinstance(item, list) else item  # the form's fields are keyed per product
    at.feedback(key=key("stars", item)).set_value(None if stars is None else stars - 1)
    at.text_input(key=key("title", item)).set_value(title)
    at.text_area(key=key("text", item)).set_value(text)
    return at.button[[b.label for b in at.button].index("Send review")].click().run()
