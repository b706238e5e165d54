"""Pictures and small formatted bits made by our own code: product swatches, cards, stars, money.

No product images ship with the data, so each product gets a generated swatch: a gradient whose hue
comes from its category and whose shape and angle come from a hash of its id, with the brand's
initials. Catalogue text that goes into HTML is escaped here, and `md_text` is the one way any text we did
not write goes into Markdown.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import re

from guide.serving.views import ProductCard, Standing

# Hue per top-level kind of product; unknown categories hash to a hue of their own.
CATEGORY_HUES = {
    "moistur": 18,
    "cleans": 195,
    "mask": 160,
    "eye": 265,
    "lip": 345,
    "cheek": 5,
    "face": 25,
    "fragrance": 300,
    "perfume": 300,
    "cologne": 230,
    "candle": 40,
    "hair": 35,
    "shampoo": 185,
    "nail": 330,
    "body": 140,
    "bath": 175,
    "sun": 45,
    "tool": 215,
    "brush": 220,
    "treatment": 280,
    "value": 320,
    "gift": 320,
    "mini": 90,
    "self tan": 30,
    "wellness": 110,
    "men": 210,
    "makeup": 350,
}
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
# Every ASCII punctuation mark: CommonMark lets any of them be backslash-escaped, and between them they
# cover links and images ([]()!), HTML (<>&), code (`), emphasis (*_~), headings (#), tables (|), KaTeX ($),
# Streamlit's directives and icons (:red[…], :material/…:), lists (+-.) and autolinks (: . @).
_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x85\u2028\u2029]+")
# Where GFM turns bare text into a link (after "https:" before "//", after "www" before ".", after the "@" of
# an address): escaping does not stop it, since Streamlit's renderer links the text once escapes are read
# (mdast-util-gfm-autolink-literal), so an invisible WORD JOINER goes there and nothing matches.
_AUTOLINK_SPOTS = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def _hue(category: str | None, digest: bytes) -> int:
    name = (category or "").lower()
    base = next((hue for key, hue in CATEGORY_HUES.items() if key in name), None)
    if base is None:
        base = int(hashlib.sha1(name.encode()).hexdigest()[:4], 16) % 360
    return (base + digest[0] % 24 - 12) % 360


def initials(*names: str) -> str:
    """Up to two ASCII letters/digits from the first words of the brand (else the title)."""
    for name in names:
        words = [_NOT_ALNUM.sub("", word) for word in (name or "").split()]
        letters = "".join(word[0] for word in words if word)[:2].upper()
        if letters:
            return letters
    return "•"


def swatch_svg(item_id: str, category: str | None, brand: str, title: str, height: int = 132) -> str:
    """An SVG swatch; the same product always gets the same picture."""
    digest = hashlib.sha1(item_id.encode()).digest()
    hue = _hue(category, digest)
    hue2 = (hue + 25 + digest[1] % 40) % 360
    angle = digest[2] % 180
    cx, cy, r = 40 + digest[3] % 120, 20 + digest[4] % 80, 30 + digest[5] % 40
    text = html.escape(initials(brand, title))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 {height}" width="400" height="{height * 2}" '
        f'preserveAspectRatio="xMidYMid slice">'
        f'<defs><linearGradient id="g{digest.hex()[:8]}" gradientTransform="rotate({angle} .5 .5)">'
        f'<stop offset="0" stop-color="hsl({hue},62%,86%)"/>'
        f'<stop offset="1" stop-color="hsl({hue2},58%,70%)"/></linearGradient></defs>'
        f'<rect width="200" height="{height}" fill="url(#g{digest.hex()[:8]})"/>'
        f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="hsla({hue2},70%,96%,.45)"/>'
        f'<circle cx="{200 - cx // 2}" cy="{height - cy // 3}" r="{r // 2 + 10}" fill="hsla({hue},60%,40%,.12)"/>'
        f'<text x="100" y="{height / 2 + 12}" text-anchor="middle" font-family="Georgia, serif" '
        f'font-size="36" font-weight="700" fill="hsl({hue},45%,28%)" fill-opacity=".8">{text}</text></svg>'
    )


def swatch_img(item_id: str, category: str | None, brand: str, title: str, height: int = 132) -> str:
    """The swatch as an <img> (st.html sanitises inline SVG away; a data: image passes)."""
    svg = swatch_svg(item_id, category, brand, title, height)
    data = base64.b64encode(svg.encode()).decode()
    return (
        f'<img class="g-swatch" src="data:image/svg+xml;base64,{data}" alt="" '
        f'style="width:100%;aspect-ratio:200/{height};object-fit:cover">'
    )


def money(price: float | None) -> str:
    return "price unknown" if price is None else f"${price:,.2f}".replace(".00", "")


def stars(value: float | None) -> str:
    if value is None:
        return "no rating yet"
    full = int(round(value))
    return "★" * full + "☆" * (5 - full) + f" {value:.1f}"


def percent(value: float | None) -> str:
    """Whole percents, but small likelihoods keep a decimal so 0.4% does not read as 0%."""
    if value is None:
        return "—"
    if value >= 0.095:
        return f"{value:.0%}"
    return f"{value:.1%}" if value >= 0.001 else "<0.1%"


def points(before: float | None, after: float | None) -> str | None:
    """The change of a probability in percentage points, precise enough to show small moves."""
    if before is None or after is None:
        return None
    delta = (after - before) * 100
    return f"{delta:+.1f} pts" if abs(delta) >= 0.95 else f"{delta:+.2f} pts"


def times(value: float | None) -> str:
    """A multiple of the median product: "128×", "2.3×", "0.41×" (whole numbers from 10 up)."""
    if value is None:
        return "—"
    return f"{value:,.0f}×" if value >= 10 else f"{value:.1f}×" if value >= 1 else f"{value:.2f}×"


def standing_text(standing: Standing | None) -> str:
    """ "#3 of 20,921 · 128× the median product": where a likelihood stands (numbers only, no catalogue text)."""
    if standing is None:
        return ""
    text = f"#{standing.rank:,} of {standing.of:,}"
    return text if standing.times_median is None else f"{text} · {times(standing.times_median)} the median product"


def strength(standing: Standing | None) -> int:
    """A bar width (3..100 %) for a likelihood: its multiple of the median on a log scale, 1,000× filling it, so
    strong and weak picks look different even when every probability reads "0.2%"."""
    if standing is None or standing.times_median is None:
        return 3
    return max(3, min(100, round(100 * math.log10(1 + standing.times_median) / 3)))


def md_text(text: object) -> str:
    """Any text we did not write (a URL parameter, a shopper's words, the catalogue, an error quoting them)
    made literal inside Markdown: every Markdown/HTML-significant mark is escaped and line breaks become
    spaces, so it can only ever show as the characters it is (no links, images, HTML, maths or emphasis). A bare
    URL, `www.` name or e-mail address gets an invisible word joiner where GFM would make it a live link."""
    plain = _AUTOLINK_SPOTS.sub(WORD_JOINER, _LINE_BREAKS.sub(" ", str(text or "")))
    return _MD_SPECIAL.sub(r"\\\1", plain)


def _rank_html(standing: Standing | None) -> str:
    if standing is None:
        return ""
    multiple = "" if standing.times_median is None else f" · <b>{times(standing.times_median)}</b> the median product"
    return f'<div class="g-rank"><b>#{standing.rank:,}</b> of {standing.of:,}{multiple}</div>'


def card_html(card: ProductCard) -> str:
    """The visual part of a product card; every catalogue string is HTML-escaped."""
    title, brand = html.escape(card.title), html.escape(card.brand or "")
    category = html.escape(card.category or "")
    meta = " · ".join(
        part for part in (brand, money(card.price), None if card.rating is None else f"★ {card.rating:.1f}") if part
    )
    tags = "".join(f'<span class="g-chip">{html.escape(tag)}</span>' for tag in card.tags[:2])
    if card.likelihood is None:
        fit = '<div class="g-fit muted">new shopper: not personalised yet</div>'
    else:
        standing = card.standing
        fit = (
            f'<div class="g-fit"><div class="g-bar" title="times the median product, log scale">'
            f'<span style="width:{strength(standing)}%"></span></div>'
            f"<b>{percent(card.likelihood)}</b> chance it's your next buy{_rank_html(standing)}</div>"
        )
    return (
        f'<div class="g-card">{swatch_img(card.item_id, card.category, card.brand, card.title)}'
        f'<div class="g-cat">{category}</div>'
        f'<div class="g-title" title="{title}">{title}</div>'
        f'<div class="g-meta">{meta}</div>'
        f'<div class="g-tags">{tags}</div>{fit}</div>'
    )
