"""What one browser page does in the shop, for the load benchmark (`benchmarks/bench_load.py`) and the fault
tests: open it as a shopper, open a product, add it to the cart, send a review and time it, wait for the server's
end of a click's rerun, and read the page for exceptions and for another session's shopper or review.

Every wait has a timeout; during a rerun Streamlit keeps the previous run's elements on screen beside the new
ones for a moment, so buttons are clicked once they match exactly one element (`only`)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

from load_figures import logged

if TYPE_CHECKING:  # the load benchmark's types; bench_load imports this module
    from bench_load import SessionResult, Shopper

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync", "--no-first-run"]
NEW_LABEL = "New shopper · no history yet"
WAIT_MS = 180_000  # one page or one result under load
FIRST_PAGE_MS = 240_000  # the first page of a fresh server loads the model
LOGGED_MS = 60_000  # a rerun's end, after the browser saw its result


async def settle(page, text: str | None = None, timeout: int = WAIT_MS) -> None:
    """Wait for `text` to show and for the app to stop running (as tests/ui/test_browser.py does)."""
    if text:
        await page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
    await page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)
    await page.wait_for_timeout(300)


async def persona_labels(page, needed: int = 1000) -> list[str]:
    """The shoppers the sidebar offers, up to `needed` (its list is virtual: scroll it to read more)."""
    await page.get_by_role("combobox", name="Shopper").click()
    listbox, seen = page.get_by_role("listbox"), []
    for _ in range(40):
        before = len(seen)
        seen += [t for t in await page.get_by_role("option").all_inner_texts() if t not in seen]
        await listbox.hover()
        await page.mouse.wheel(0, 300)
        await page.wait_for_timeout(120)
        if (len(seen) == before and before) or len(seen) > needed:
            break
    await page.keyboard.press("Escape")
    return seen


async def pick_shopper(page, label: str) -> None:
    box = page.get_by_role("combobox", name="Shopper")
    await box.click()
    await box.fill(label[:40])
    await page.get_by_role("option", name=label, exact=True).click()
    await settle(page, f"Shopping as {label}")


async def open_product(page, base: str, item: str) -> None:
    query = page.url.split("?", 1)[1] if "?" in page.url else ""
    keep = "&".join(p for p in query.split("&") if p.startswith(("persona=", "visitor=")))
    await page.goto(f"{base}/product?product={item}&{keep}")
    await settle(page, "Write a review")


async def only(locator, timeout: int = WAIT_MS):
    """`locator` once it matches exactly one element: during a rerun Streamlit keeps the previous run's
    elements on screen (stale) beside the new ones for a moment, so a button can briefly match twice."""
    deadline = time.perf_counter() + timeout / 1000
    while await locator.count() != 1 and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    return locator


async def add_to_cart(page) -> None:
    await (await only(page.locator(".st-key-act_cart").get_by_role("button", name="Add to cart"))).click()
    await settle(page, "Added to your cart")


async def click_send(page, stars: int, text: str):
    """Fill the review form and press "Send review"; returns this review's result panel (a locator)."""
    await page.get_by_role("radio", name=f"{stars} out of 5 stars").click()
    await page.get_by_label("Your review").fill(text)
    await (await only(page.get_by_role("button", name="Send review"))).click()
    return page.locator(".st-key-outcome").filter(has_text=text)


async def send_review(page, stars: int, text: str) -> float:
    """Seconds from the click to this review's result panel (the form is filled before the clock starts)."""
    await page.get_by_role("radio", name=f"{stars} out of 5 stars").click()
    await page.get_by_label("Your review").fill(text)
    started = time.perf_counter()
    await (await only(page.get_by_role("button", name="Send review"))).click()
    outcome = page.locator(".st-key-outcome").filter(has_text=text)
    await outcome.get_by_text("Review saved", exact=False).first.wait_for(timeout=WAIT_MS)
    seconds = time.perf_counter() - started
    await settle(page)
    return seconds


async def server_done(rerun_log: Path | None, action: str, item: str, timeout: int = LOGGED_MS) -> None:
    """Wait until the app has logged the end of the rerun this click started (`GUIDE_RERUN_LOG`). The browser
    sees a click's result before the rerun that draws it ends: a next click would interrupt that rerun, and
    closing the session's browser stops it, and either loses its line. Returns at the timeout all the same
    (the figures then count the request as not timed)."""
    deadline = time.monotonic() + timeout / 1000
    while rerun_log is not None and not logged(rerun_log, action, item) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def inspect(page, own: Shopper, everyone: list[Shopper], result: SessionResult, where: str) -> None:
    """Count exceptions shown, and any other session's shopper name or review token in this page."""
    result.exceptions += await page.locator("[data-testid='stException']").count()
    body = await page.inner_text("body")
    if f"Shopping as {own.label}" not in body:
        result.leaks.append(f"{where}: 'Shopping as {own.label}' missing")
    for other in everyone:
        if other is own:
            continue
        if other.token in body:
            result.leaks.append(f"{where}: session {other.index}'s review token {other.token}")
        if other.label != NEW_LABEL and other.label not in own.label and other.label in body:
            result.leaks.append(f"{where}: session {other.index}'s shopper {other.label!r}")


async def open_shop(browser, base: str, own: Shopper):
    """A new browser context (another visitor) arriving on a link to its first product, then picking its
    shopper in the sidebar."""
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(WAIT_MS)  # Playwright's 30 s default is too short for a page under load
    page = await context.new_page()
    await page.goto(f"{base}/?product={own.items[0]}")
    await settle(page, "Write a review", FIRST_PAGE_MS)
    await pick_shopper(page, own.label)
    return context, page


async def scout(browser, base: str, needed: int) -> list[str]:
    """Open the app once (the first page loads the model) and read the shoppers it offers."""
    page = await browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(FIRST_PAGE_MS)
    await page.goto(base)
    await settle(page, "View details", FIRST_PAGE_MS)
    labels = await persona_labels(page, needed)
    await page.close()
    return labels
