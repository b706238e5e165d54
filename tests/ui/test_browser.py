"""Browser tests: the real app under `streamlit run`, driven by Playwright in Debian's Chromium.

One server per module (state in a temporary directory), restarted once to prove that what a shopper
did survives. Screenshots at desktop (1400 px) and phone (390 px) width go to runs/screenshots/
(ignored by git); `GUIDE_SCREENSHOT_DIR=docs/screenshots` refreshes the ones the README shows.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("GUIDE_SCREENSHOT_DIR") or ROOT / "runs" / "screenshots")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INJECTION = "<script>alert('xss')</script><img src=x onerror=alert(1)>"
LOAD_MS = 120_000  # the first page of a fresh server loads the model

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"browser tests need Debian's Chromium at {CHROMIUM}"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need `pip install playwright`")
pytest_plugins = ["tests.core_fixtures"]  # the tiny model behind the twins' test


class AppServer:
    """`streamlit run app.py` on a free loopback port, with its state in `state_dir`."""

    def __init__(self, state_dir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = state_dir / "server.log"
        self.env = {
            **os.environ,
            "GUIDE_STATE_DIR": str(state_dir),
            "GUIDE_DATABASE_URL": f"sqlite:///{state_dir / 'guide.db'}",
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ]
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=1)
                return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"streamlit did not start; see {self.log}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture(scope="module")
def server(shipped_guide, tmp_path_factory):
    state = tmp_path_factory.mktemp("browser-state")
    app = AppServer(state)
    app.env["GUIDE_RERUN_LOG"] = str(state / "reruns.jsonl")  # each timed click's rerun, as bench_load reads it
    app.start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (a new visitor) that records any JavaScript dialog."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.dialogs = []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    context.close()


def settle(page, text: str | None = None, timeout: int = LOAD_MS) -> None:
    """Wait for `text` to show and for the app to stop running."""
    if text:
        page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)
    page.wait_for_timeout(400)


def screenshot(page, name: str) -> None:
    """The whole page (the app scrolls inside its own container, so grow the viewport to fit)."""
    width = page.viewport_size["width"]
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": width, "height": min(height + 40, 7000)})
    page.wait_for_timeout(800)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png")
    page.set_viewport_size({"width": width, "height": 900})


def _param(url: str, name: str) -> str:
    return parse_qs(urlparse(url).query).get(name, [""])[0]


def write_review(page, stars: int, text: str) -> None:
    page.get_by_role("radio", name=f"{stars} out of 5 stars").click()
    page.get_by_label("Your review").fill(text)
    page.get_by_role("button", name="Send review").click()
    settle(page, "Review saved")


def test_a_shopper_picks_a_persona_searches_reviews_and_sees_the_profile_move(server, page):
    page.goto(server.url)
    settle(page, "View details")
    screenshot(page, "shop-desktop")
    first_url = page.url
    page.get_by_role("combobox", name="Shopper").click()
    option = page.get_by_role("option").nth(2)
    persona = option.inner_text()
    option.click()
    settle(page, f"Shopping as {persona}")
    page.wait_for_function(f"() => location.href !== {first_url!r}", timeout=10_000)
    assert _param(page.url, "persona") != _param(first_url, "persona")  # a reload keeps the new shopper
    assert _param(page.url, "visitor") == _param(first_url, "visitor")
    search = page.get_by_role("textbox", name="Search")
    search.fill("hair oil")
    search.press("Enter")
    settle(page, "matching “hair oil”")
    page.get_by_text("View details").first.click()
    settle(page, "Write a review")
    assert "/product" in page.url and "product=" in page.url
    write_review(page, 5, "Wonderful oil, my hair is soft and shiny and it smells lovely.")
    outcome = page.locator(".st-key-outcome")
    assert "Sentiment of your review" in outcome.inner_text() and "positive" in outcome.inner_text()
    assert "Purchase likelihood" in outcome.inner_text()
    screenshot(page, "product-after-review-desktop")
    page.get_by_role("link", name="Your profile").click()
    settle(page, "Before / after the last action")
    legend = page.locator("[data-testid='stPlotlyChart']").first.inner_text()
    assert "before last action" in legend and "now" in legend
    screenshot(page, "profile-desktop")
    page.get_by_role("link", name="The model").click()
    settle(page, "How is it built?")
    screenshot(page, "model-desktop")
    assert not page.dialogs


def test_injection_strings_render_as_text_and_survive_a_restart(server, page):
    page.goto(server.url)
    settle(page, "View details")
    page.get_by_text("View details").first.click()
    settle(page, "Write a review")
    product_url = page.url
    marker = f"restart-check-{secrets.token_hex(4)}"
    write_review(page, 1, f"{INJECTION} {marker}")
    page.wait_for_timeout(1500)  # give any injected handler time to fire
    assert page.dialogs == []
    assert page.get_by_text(f"{INJECTION} {marker}").first.is_visible()
    scripts = page.evaluate("() => [...document.querySelectorAll('script')].map(s => s.text)")
    assert not any("alert('xss')" in script for script in scripts)
    assert page.locator("img[onerror]").count() == 0

    server.stop()
    server.start()
    page.goto(product_url)
    settle(page, marker)
    assert page.get_by_text(f"{INJECTION} {marker}").first.is_visible()
    assert page.dialogs == []


def test_a_click_reruns_its_panel_keeps_the_draft_and_lists_the_saved_review(server, page):
    """A half-typed review the server has not seen yet survives the cart's rerun and the cart's result shows,
    "Send review" reruns its own panel (the server's log says so), and the review just saved heads the list."""
    item = "P442845"
    page.goto(f"{server.url}/product?product={item}")
    settle(page, "Write a review")
    marker = f"panel-check-{secrets.token_hex(4)}"
    page.get_by_label("Your review").fill(f"Half-typed {marker}")  # still only in the browser (no blur, no Enter)
    page.locator(".st-key-act_cart").get_by_role("button", name="Add to cart").click()
    settle(page, "Added to your cart")
    assert page.get_by_label("Your review").input_value() == f"Half-typed {marker}"
    write_review(page, 4, f"Rich cream, soaks in fast, faint scent. {marker}")
    listed = page.locator("[class*='st-key-review-']").filter(has_text=marker)
    assert listed.count() == 2  # "your review, as saved" in the result panel, and first in the list of reviews
    assert page.get_by_text("Reviews (", exact=False).first.is_visible()
    lines = [json.loads(line) for line in (server.log.parent / "reruns.jsonl").read_text().splitlines()]
    mine = [line for line in lines if line["item"] == item][-2:]
    assert [line["action"] for line in mine] == ["cart", "send_review"]
    assert mine[1]["panel_only"], mine  # "Send review" reran its panel, not the page around it
    assert not mine[0]["panel_only"], mine  # the cart reruns the page: its result is drawn even with unsent text
    assert mine[1]["run_ms"] >= mine[1]["pass_ms"] > 0


def test_deep_links_open_the_right_page_or_say_what_is_wrong(server, page):
    page.goto(f"{server.url}/?product=P442845")
    settle(page, "Write a review")
    assert "/product" in page.url and "Resurface+ AHA Renewing Body Cream" in page.inner_text("body")
    page.goto(f"{server.url}/product?product=NOT-A-PRODUCT")
    settle(page, "There is no product")
    page.goto(f"{server.url}/?persona=nobody")
    settle(page, "pick a shopper in the sidebar")
    assert not page.dialogs


def test_phone_width_layout(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        for path, text, name in (
            ("/", "View details", "shop-phone"),
            ("/product?product=P442845", "Write a review", "product-phone"),
            ("/profile", "Tag and brand affinities", "profile-phone"),
        ):
            page.goto(server.url + path)
            settle(page, text)
            overflow = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth")
            assert overflow <= 390, f"{path} is {overflow}px wide on a 390px phone"
            screenshot(page, name)
    finally:
        context.close()


def test_why_highlights_words_in_the_review_and_the_product_text(server, page):
    page.goto(f"{server.url}/product?product=P442845")
    settle(page, "Why these tags")
    tags = page.locator(".st-key-why-tags span.g-why")
    try:  # the explanation fills its spot at the end of the page: wait for it, not only for the heading
        tags.first.wait_for(timeout=LOAD_MS)
    except sync_api.TimeoutError:
        pytest.fail(f"the product's text has no highlighted words: {page.locator('.st-key-why-tags').inner_text()!r}")
    write_review(page, 1, f"{INJECTION} It burned my skin and smelled like glue. Total waste of money.")
    settle(page, "the words that moved it")
    why = page.locator(".st-key-why-review")
    assert "pushed towards" in why.inner_text() and "negative" in why.inner_text()
    assert INJECTION in why.inner_text().replace("\n", " ")  # the shopper's words, shown as text
    marked = why.locator("span.g-why")
    assert marked.count() > 0
    colour = marked.first.evaluate("el => getComputedStyle(el).backgroundColor")
    assert colour.startswith("rgba(") and not colour.endswith(", 0)"), colour  # our colour survived, visible
    assert page.locator("img[onerror]").count() == 0 and page.dialogs == []
    why.scroll_into_view_if_needed()
    screenshot(page, "why-desktop")


def test_twins_stand_beside_the_shared_model_on_the_product_page(browser, tiny_checkpoint_dir, artifact, tmp_path):
    """The tiny model with four tiny real twins (tests/serving/test_twins.py) under `streamlit run`: the twins'
    section is drawn after the predictions, every tag row and review agreement as text."""
    from guide.data.catalog import Catalog
    from guide.model.checkpoint import Checkpoint

    catalog = Catalog.load(config=Checkpoint.load(tiny_checkpoint_dir).config.data)
    reviews = catalog.reviews[catalog.reviews["item_id"].isin(set(catalog.items["item_id"]))]
    item = reviews["item_id"].value_counts().index[0]
    app = AppServer(tmp_path)
    app.env.update(GUIDE_CHECKPOINT=str(tiny_checkpoint_dir), GUIDE_TWINS=str(artifact))
    app.start()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{app.url}/product?product={item}")
        settle(page, "What the single-task twins say")
        twins = page.locator(".st-key-twins")
        text = twins.inner_text()
        assert "shared model" in text and "attributes twin" in text and "Same label on" in text, text
        assert page.locator("table").filter(has_text="attributes twin").count() == 1
        assert page.get_by_text("The model's tags").first.bounding_box()["y"] < twins.bounding_box()["y"]
        twins.scroll_into_view_if_needed()
        SHOTS.mkdir(parents=True, exist_ok=True)
        twins.screenshot(path=SHOTS / "twins-desktop.png")
    finally:
        context.close()
        app.stop()
