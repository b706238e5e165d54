"""Validation of what the store is asked to write: every check runs before anything is written and raises
ValueError with expected / got / fix."""

from __future__ import annotations

import json
import math
from numbers import Integral, Real
from typing import Any

from guide.serving.schema import MAX_ID_CHARS, MAX_REVIEW_CHARS


def bad(what: str, expected: str, got: Any, fix: str) -> ValueError:
    return ValueError(f"{what}: expected {expected}, got {got!r}. Fix: {fix}.")


def check_ids(**ids: Any) -> None:
    for name, value in ids.items():
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_CHARS or "\0" in value:
            got = value[:80] if isinstance(value, str) else value
            raise bad(name, f"a non-empty string of at most {MAX_ID_CHARS} characters", got, f"pass a valid {name}")


def check_kind(kind: Any, allowed: tuple[str, ...], fix: str) -> None:
    if kind not in allowed:
        raise bad("kind", f"one of {allowed}", kind, fix)


def is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def to_json(name: str, value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as error:
        raise bad(
            name,
            "JSON-serialisable data without NaN/inf",
            type(value).__name__,
            f"pass plain dicts, lists, strings and finite numbers ({error})",
        ) from error


def interests_to_json(interests: dict[str, float] | None) -> str | None:
    if interests is None:
        return None
    if not isinstance(interests, dict) or not all(
        isinstance(key, str) and is_number(value) for key, value in interests.items()
    ):
        raise bad(
            "interests",
            "a dict of str -> finite float",
            interests,
            "pass the profile's interest distribution as plain floats",
        )
    return to_json("interests", {key: float(value) for key, value in interests.items()})


def check_review(stars: Any, title: Any, text: Any, label: Any, score: Any) -> None:
    if isinstance(stars, bool) or not isinstance(stars, Integral) or not 1 <= stars <= 5:
        raise bad("stars", "an int from 1 to 5", stars, "clamp the rating widget to 1..5")
    if not isinstance(text, str) or not text.strip():
        raise bad("text", "non-empty review text", text, "ask the shopper to write something")
    if len(text) > MAX_REVIEW_CHARS:
        raise bad(
            "text",
            f"at most {MAX_REVIEW_CHARS} characters",
            f"{len(text)} characters",
            "truncate the review in the service before saving",
        )
    if not isinstance(title, str):
        raise bad("title", "a string (may be empty)", title, "pass '' when there is no title")
    for name, value in (("text", text), ("title", title)):
        if "\0" in value:  # PostgreSQL refuses NUL in text while SQLite keeps it: refuse it on both
            raise bad(name, "text without NUL characters", value[:80], "clean it with shop.clean_review first")
    check_ids(sentiment_label=label)
    if not is_number(score):
        raise bad("sentiment_score", "a finite float", score, "pass the model's score as a float")
