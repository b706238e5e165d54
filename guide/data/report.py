"""Counting what a loader skipped or repaired, so bad rows are reported and never silently lost."""

from __future__ import annotations

import ast
import logging
from collections import Counter
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass
class LoadReport:
    """Per-source counts of rows read, kept, and skipped or repaired by reason."""

    read: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)
    issues: Counter = field(default_factory=Counter)  # key: (source, reason)

    def note(self, source: str, reason: str, count: int = 1) -> None:
        if count:
            self.issues[(source, reason)] += count

    def merge(self, other: LoadReport) -> None:
        self.read.update(other.read)
        self.kept.update(other.kept)
        self.issues.update(other.issues)

    def lines(self) -> list[str]:
        out = [f"read {src}: {n}" for src, n in sorted(self.read.items())]
        out += [f"kept {what}: {n}" for what, n in sorted(self.kept.items())]
        out += [f"{src}: {reason}: {n}" for (src, reason), n in sorted(self.issues.items())]
        return out

    def log(self) -> None:
        for line in self.lines():
            logger.info(line)


def parse_literal(text, expected: type, source: str, report: LoadReport):
    """`ast.literal_eval` guarded: a missing value is None, an unparsable one is counted and None."""
    if text is None or (isinstance(text, float) and text != text) or text == "":
        return None
    try:
        value = ast.literal_eval(str(text))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        report.note(source, "unparsable literal")
        return None
    if not isinstance(value, expected):
        report.note(source, f"literal is not a {expected.__name__}")
        return None
    return value


def clean_text(value) -> str:
    """A string with collapsed whitespace; NaN/None become ''."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return " ".join(str(value).split())
