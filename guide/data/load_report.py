"""What every loader shares: counting what it skipped or repaired (so bad rows are reported and never
silently lost), reading a CSV that may sit inside a zip, and stable hash splits."""

from __future__ import annotations

import ast
import logging
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

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


def read_csv_maybe_zipped(folder: Path, name: str) -> pd.DataFrame:
    """`folder/name`, or the same file inside `folder/name.zip` (how the public copies ship)."""
    plain, archive = folder / name, folder / (name + ".zip")
    if plain.exists():
        return pd.read_csv(plain)
    if not archive.exists():
        raise FileNotFoundError(
            f"expected {plain} or {archive}; got neither; fix: run `python -m guide data fetch` or see README 'Data'"
        )
    with zipfile.ZipFile(archive) as bundle, bundle.open(name) as handle:
        return pd.read_csv(handle)


def stable_split(key: str, salt: str = "") -> str:
    """A stable 80/10/10 train/valid/test split from a hash: the same key always lands in the same split."""
    bucket = zlib.crc32(f"{salt}{key}".encode()) % 10
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"
