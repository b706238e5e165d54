"""AppTest: a database outage on every page, share links included, shows a message and never a traceback;
a URL value echoed on a page (an unknown `?persona=`) never becomes a live link."""

from __future__ import annotations

import html
import re
import socket

import pytest
from streamlit.testing.v1 import AppTest

from guide.ui.visuals import WORD_JOINER
from tests.ui.app_driver import APP, app_database, literal
from tests.ui.test_visuals import GFM_URL

PAGES = ("shop", "product", "profile", "model", "tour")


@pytest.fixture(scope="module")
def service(shipped_guide, tmp_path_factory):
    with app_database(tmp_path_factory, "outage"):
        from guide.ui import state

        yield state.load_service()


@pytest.fixture
def database_down(service, monkeypatch):
    """The service's database goes away: the next call tries a PostgreSQL port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(service, "_store", None)
    monkeypatch.setattr(service, "_database_url", f"postgresql+psycopg://guide@127.0.0.1:{port}/down?connect_timeout=3")
    return service


def _run(page: str | None = None, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params.update(params)
    at.run()
    if page and page != "shop":
        at.switch_page(f"guide/ui/{'about_model' if page == 'model' else page}.py").run()
    return at


@pytest.mark.parametrize("page", PAGES)
def test_every_page_with_the_database_down_shows_a_message(database_down, page):
    at = _run(page)
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(literal(e.value) for e in at.error)
    assert "expected a reachable, writable database" in shown, shown


def test_a_share_link_with_the_database_down_shows_a_message(database_down):
    at = _run(share="0123456789abcdef")
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(literal(e.value) for e in at.error)
    assert "shared shop cannot be loaded" in shown and "expected a reachable, writable database" in shown, shown


@pytest.mark.parametrize("value", ["https://evil.example/login", "www.evil.example"])
def test_an_unknown_persona_that_is_a_bare_url_is_not_a_link(service, value):
    from markdown_it import MarkdownIt

    at = _run(persona=value)
    assert not at.exception, [e.value for e in at.exception]
    message = at.warning[0].value
    text = html.unescape(re.sub(r"<[^>]+>", "", MarkdownIt("commonmark").render(message)))
    assert not GFM_URL.search(text), text  # GFM's autolinker finds nothing to link
    assert value in text.replace(WORD_JOINER, "")  # yet it reads as the value that was sent
