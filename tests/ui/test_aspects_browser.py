"""Chromium: the aspect chips on a real product page, opened to show the sentences behind one; screenshot
`product-aspects-desktop.png` (runs/screenshots/, or GUIDE_SCREENSHOT_DIR)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.test_browser import CHROMIUM, browser, page, screenshot, server, settle  # noqa: F401  (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"browser tests need Debian's Chromium at {CHROMIUM}"),
]
ITEM = "B07J3GH1W1"  # an Amazon product with reviews about its packaging and price


def test_aspect_chips_open_to_the_sentences_behind_them(server, page):  # noqa: F811  (fixtures above)
    page.goto(f"{server.url}/product?product={ITEM}")
    settle(page, "What shoppers say, by aspect")
    chips = page.locator(".st-key-aspect-chips button")
    assert chips.count() >= 2
    first = chips.first.inner_text()
    assert "%" in first and "+" in first
    chips.first.click()
    popover = page.locator("[data-testid='stPopoverBody']")
    popover.wait_for(timeout=10_000)
    assert "mentions" in popover.inner_text() and "Amazon shopper" in popover.inner_text()
    screenshot(page, "product-aspects-desktop")
