"""The guided tour as a presenter drives it: the real app under `streamlit run`, in Debian's Chromium.

Every step is reached with Next; Back, a reload and "Start over" land where a presenter expects; a half-written
review survives Next and Back; the tour writes only to its sandbox shopper; it fits a 390 px phone; and the
recap it downloads opens offline (network blocked) with its plotly charts drawn. Screenshots at 1280 × 800 go to
runs/screenshots/ (`GUIDE_SCREENSHOT_DIR=docs/screenshots` refreshes the README's), as `tour-step-N.png` and
`tour-phone.png`.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.ui.test_browser import (  # noqa: F401  (server and browser are fixtures)
    CHROMIUM,
    INJECTION,
    LOAD_MS,
    SHOTS,
    browser,
    server,
    settle,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"browser tests need Debian's Chromium at {CHROMIUM}"),
]
STEPS = 6
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TOP = "() => document.querySelectorAll('*').forEach(el => { if (el.scrollTop > 0) el.scrollTop = 0; })"


def done(page, text: str | None = None) -> None:
    """`settle`, then until the app says its script run is over: the status widget shows only once a run has
    taken a while, so on a busy machine the end of a page can still be drawing when it is not there yet."""
    settle(page, text)
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'",
        timeout=LOAD_MS,
    )
    page.wait_for_timeout(200)


def at_step(page, number: int) -> None:
    done(page, f"Step {number} of {STEPS}")
    page.wait_for_function(f"() => new URLSearchParams(location.search).get('tour') === '{number}'", timeout=10_000)


def shot(page, name: str) -> None:
    """What a presenter's 1280 × 800 (or phone) screen shows, not the whole page."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(600)  # charts finish their transition
    page.screenshot(path=SHOTS / f"{name}.png")


def click(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()


def send_suggestion(page, which: int = 0) -> None:
    """Fill the form with one of the suggested reviews and send it."""
    page.locator(f".st-key-suggest_{which} button").click()
    done(page)
    assert page.get_by_label("Your review").input_value().strip()
    click(page, "Send review")
    done(page, "Review saved")
    page.get_by_role("button", name="Send review").wait_for(state="detached")  # the form gives way to the result


def overflow(page) -> int:
    return page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth")


@pytest.fixture
def desktop(browser):  # noqa: F811
    context = browser.new_context(viewport=DESKTOP)
    tab = context.new_page()
    tab.dialogs = []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    yield tab
    context.close()


def test_a_presenter_walks_every_step_back_reload_and_start_over(server, desktop):  # noqa: F811
    from guide.serving.store import Store

    page = desktop
    page.goto(server.url)
    settle(page, "View details")
    page.get_by_role("button", name="Take the tour").click()
    at_step(page, 1)
    visitor = parse_qs(urlparse(page.url).query)["visitor"][0]
    shot(page, "tour-step-1")
    for number in range(2, STEPS + 1):
        click(page, "Next")
        at_step(page, number)
        if number == 4:
            half = "Half-written: the texture is"
            page.get_by_label("Your review").fill(half)
            page.get_by_label("Your review").blur()
            done(page)
            click(page, "Next")  # a rerun and a page of its own: the draft must come back
            at_step(page, 5)
            click(page, "Back")
            at_step(page, 4)
            assert page.get_by_label("Your review").input_value() == half
            send_suggestion(page)
            panel = page.locator(".st-key-tour_outcome")
            text = panel.inner_text()
            for output in ("Sentiment of your review", "Product tags", "Purchase likelihood", "Profile"):
                assert output in text, text
            assert "Top likelihoods" in text and page.locator(".st-key-tour_outcome .js-plotly-plot").count() == 1
            box = panel.bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= DESKTOP["height"], f"the panel is off screen: {box}"
        shot(page, f"tour-step-{number}")
    assert page.get_by_role("button", name="Next", exact=True).is_disabled()
    click(page, "Back")
    at_step(page, 5)
    assert "Categories" in page.inner_text("body") and "Send a review in step 4 first" not in page.inner_text("body")
    page.reload()  # a new browser session: the URL keeps the step and the visitor, the store the review
    at_step(page, 5)
    assert "Send a review in step 4 first" not in page.inner_text("body")
    click(page, "Back")
    at_step(page, 4)
    assert page.locator(".st-key-tour_outcome").get_by_text("Review saved").count() == 1  # replayed from the store

    store = Store(server.env["GUIDE_DATABASE_URL"])
    try:
        reviews = store.reviews()
        assert len(reviews) == 1 and not reviews[0].shopper_id.endswith(f"~{visitor}")  # the sandbox, not theirs
        started = time.perf_counter()
        click(page, "Start over")
        page.get_by_text("Step 1 of 6").first.wait_for(timeout=10_000)
        seconds = time.perf_counter() - started
        at_step(page, 1)
        assert store.reviews() == []  # the sandbox is empty again
    finally:
        store.close()
    assert seconds < 1, f"Start over took {seconds:.2f} s to show step 1"
    click(page, "Next")
    at_step(page, 2)
    click(page, "Next")
    at_step(page, 3)
    click(page, "Next")
    at_step(page, 4)
    assert page.get_by_role("button", name="Send review").is_visible()  # a fresh form, not the old result
    assert not page.dialogs


def test_the_deep_link_opens_a_step_and_a_bad_step_reads_as_the_first(server, desktop):  # noqa: F811
    page = desktop
    page.goto(f"{server.url}/?tour=3")
    at_step(page, 3)
    assert "The catalogue's tags" in page.inner_text("body") and "The model's tags" in page.inner_text("body")
    page.goto(f"{server.url}/tour?tour=nonsense")
    at_step(page, 1)


def test_the_tour_fits_a_phone(server, browser):  # noqa: F811
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/?tour=1")
        at_step(page, 1)
        for number in range(1, STEPS + 1):
            if number > 1:
                click(page, "Next")
                at_step(page, number)
            if number == 4:
                send_suggestion(page, 1)
                page.evaluate(TOP)  # the step's head, the review sent and the start of its result
                shot(page, "tour-phone")
            assert overflow(page) <= PHONE["width"], f"step {number} is {overflow(page)}px wide on a 390px phone"
    finally:
        context.close()


def test_the_recap_downloads_and_opens_offline_with_its_charts(server, browser, tmp_path):  # noqa: F811
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(f"{server.url}/?tour=4")
        at_step(page, 4)
        page.get_by_role("radio", name="1 out of 5 stars").click()
        done(page)
        page.get_by_label("Your review").fill(f"{INJECTION} It burned my skin.")
        click(page, "Send review")
        done(page, "Review saved")
        with page.expect_download(timeout=LOAD_MS) as download:
            page.get_by_role("button", name="Download recap").click()
        path = tmp_path / "recap.html"
        download.value.save_as(path)
    finally:
        context.close()
    assert path.stat().st_size > 1_000_000  # plotly.js is inside

    offline = browser.new_context(viewport=DESKTOP, offline=True)
    asked = []

    def only_files(route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            asked.append(route.request.url)
            route.abort()

    offline.route("**/*", only_files)
    recap = offline.new_page()
    dialogs = []
    recap.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        recap.goto(path.as_uri())
        recap.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=30_000)
        charts = recap.locator(".js-plotly-plot").count()
        assert charts >= 3, f"expected the action's, the interests' and the model's charts, got {charts}"
        assert recap.locator(".js-plotly-plot .main-svg").count() >= charts
        body = recap.inner_text("body")
        assert "Reviewed" in body and INJECTION in body  # the shopper's words, as text
        assert "single-task twin" in body and "[" in body  # headline figures with their CIs
        assert recap.locator("img[onerror]").count() == 0 and not dialogs
        assert asked == [], f"the recap asked the network for {asked}"
    finally:
        offline.close()
