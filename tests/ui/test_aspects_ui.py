"""AppTest: the product page's aspect chips (shares over all the product's reviews, the sentences behind a
chip as literal text) and a review sent on the page moving them at once."""

from __future__ import annotations

from tests.ui.app_driver import no_problems, open_page, run_app, send_review

INJECTION = "The scent is <img src=x onerror=alert(1)> **awful**."


def _chips(at) -> dict[str, str]:
    """Aspect label -> the chip's title, for the chips on the page."""
    labels = [p.proto.popover.label for p in at.get("popover")]
    return {label.split(" · ")[0]: label for label in labels}


def _mentions(title: str) -> int:
    return int(title.rsplit(" · ", 1)[1])


def _item_with_scent_mentions() -> str:
    from guide.data.aspect_cues import assign, review_sentences
    from guide.ui import state

    reviews = state.load_service().guide.reviews.query("source == 'amazon'")
    for item, rows in reviews.groupby("item_id", sort=True):
        if any("scent" in assign(s) for t, x in zip(rows["title"], rows["text"]) for s in review_sentences(t, x)):
            return item
    raise AssertionError("expected an Amazon product whose reviews mention its scent")


def test_product_page_shows_aspect_chips_and_a_review_moves_them(database):
    at = run_app()
    item = _item_with_scent_mentions()
    open_page(at, "product", product=item)
    no_problems(at)
    assert any(m.value == "#### What shoppers say, by aspect" for m in at.markdown)
    chips = _chips(at)
    assert "Scent" in chips and ":green[" in chips["Scent"] and "% −]" in chips["Scent"]
    assert any("sentences from" in c.value and "reviews" in c.value for c in at.caption)
    before = _mentions(chips["Scent"])
    send_review(at, 1, INJECTION)
    no_problems(at)
    after = _chips(at)
    assert _mentions(after["Scent"]) == before + 1
    assert INJECTION in [t.value for t in at.text]  # the sentence behind the chip, literal (st.text)
