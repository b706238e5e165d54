"""User text before it is scored and stored: a review's stars, text and title checked and cleaned up.

A review made only of invisible characters is empty; what a database cannot store the same everywhere (NUL,
C0 controls, lone surrogates) goes; a review over `MAX_REVIEW_CHARS` is shortened with a notice. Bad input
raises ValueError (expected / got / fix).
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from guide.serving.schema import MAX_REVIEW_CHARS

MAX_TITLE_CHARS = 200

# Characters that show nothing on their own: format (Cf: zero-width space/joiners, BOM, word joiner, bidi
# marks), separators, controls, combining marks without a base, and the blank letters/symbols that
# Unicode files elsewhere (Hangul fillers, braille blank). A review made only of these is empty.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Me", "Co", "Cn"})
_EDGE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})  # trimmed from both ends; a trailing accent (Mn) stays
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
# C0 controls but tab and newline, DEL, and lone surrogates: PostgreSQL refuses NUL (and psycopg cannot
# encode a surrogate) while SQLite stores them, so they go before storing and both backends keep the same text.
_UNSTORABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def _visible(text: str) -> bool:
    return any(
        not char.isspace() and char not in _BLANK_LETTERS and unicodedata.category(char) not in _INVISIBLE_CATEGORIES
        for char in text
    )


def _trimmed(text: str) -> str:
    """`text` without whitespace or invisible format/space characters at either end (accents stay)."""
    edge = [char.isspace() or char in _BLANK_LETTERS or unicodedata.category(char) in _EDGE for char in text]
    first = edge.index(False) if False in edge else len(text)
    last = len(edge) - edge[::-1].index(False) if False in edge else first
    return text[first:last]


def _storable(text: str) -> str:
    """Drop what a database cannot store the same everywhere; `\r\n` becomes `\n`."""
    return _UNSTORABLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_review(stars, text, title) -> tuple[str, str, str]:
    """(text, title, notice) ready to score and store, or ValueError saying what to fix."""
    if isinstance(stars, bool) or not isinstance(stars, (int, np.integer)) or not 1 <= stars <= 5:
        raise ValueError(f"stars: expected a whole number from 1 to 5, got {stars!r}. Fix: pick 1 to 5 stars.")
    if title is not None and not isinstance(title, str):
        raise ValueError(f"title: expected text, got {type(title).__name__}")
    if not isinstance(text, str) or not _visible(text):
        raise ValueError("review: expected some words, got an empty review. Fix: write what you think of it.")
    text, title, notice = _trimmed(_storable(text)), _trimmed(_storable(title or ""))[:MAX_TITLE_CHARS], ""
    if len(text) > MAX_REVIEW_CHARS:
        notice = (
            f"Your review had {len(text):,} characters. Reviews keep the first {MAX_REVIEW_CHARS:,}, "
            "so it was shortened before it was scored and saved."
        )
        text = text[:MAX_REVIEW_CHARS].rstrip()
    return text, title, notice
