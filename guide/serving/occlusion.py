"""Why the model said it: the words that moved a review's sentiment or a product's tags, by occlusion.

No separate explainer: every word (in a long text, every run of neighbouring words) is removed in turn,
and the full text plus all its variants go through the shipped shared model together: ONE MiniLM encode
call (the expensive part, ~linear in the number of variants, hence the cap) and one forward pass. The
target is the predicted sentiment class (after the calibrated class offsets) or a predicted tag. A span's
`delta` is P(target) with the full text minus P(target) without the span; its `weight` is the same change
in log-odds, which ranks the spans identically but does not vanish when the model is 99.9% sure (most
reviews), so the page can still show which words carried the decision. > 0: the span pushed towards the
target; < 0: against it.

The variants go through `Guide.review_logits` / `Guide.tag_logits`, which encode them without the serving
cache, so they never crowd real texts out of it.
"""

from __future__ import annotations

import re
import time

import numpy as np
import torch

from guide.config import SENTIMENT, SENTIMENT_LABELS
from guide.data.text import MAX_CHARS
from guide.serving.results import Span, Why

MAX_SPANS = 24  # occluded variants per text: one encode call of at most 25 texts (~35 ms each on 1 CPU core)
MAX_TAGS = 3  # tags explained per product (one pass weighs every tag; the page shows a few)
TAG = "tag"
_WORD = re.compile(r"\S+")


def _checked(text) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text: expected a non-empty string to explain; got {text!r:.60}; fix: send the text itself")
    return text


def word_spans(text: str, max_spans: int = MAX_SPANS) -> tuple[list[tuple[int, int]], int]:
    """Character spans to occlude, in text order, and how many words each holds: single words, or runs of
    neighbouring words when the text has more than `max_spans` words. Only what the model reads counts
    (the first MAX_CHARS characters)."""
    if max_spans < 1:
        raise ValueError(f"max_spans: expected >= 1; got {max_spans}; fix: pass a positive cap")
    words = [m.span() for m in _WORD.finditer(text[:MAX_CHARS])]
    size = max(1, -(-len(words) // max_spans))
    runs = [words[i : i + size] for i in range(0, len(words), size)]
    return [(run[0][0], run[-1][1]) for run in runs], size


def without(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with the given character spans removed (the spaces around them stay)."""
    kept, last = [], 0
    for start, end in sorted(spans):
        kept.append(text[last:start])
        last = max(last, end)
    kept.append(text[last:])
    return "".join(kept)


def log_odds(logits: np.ndarray, kind: str, target: int) -> np.ndarray:
    """log P(target) / (1 - P(target)) per row: a tag's logit itself; for sentiment, the class's
    log-probability minus that of the other two classes together."""
    if kind == TAG:
        return logits[:, target].astype(np.float64)
    log_p = torch.log_softmax(torch.from_numpy(logits).double(), -1)
    others = torch.logsumexp(torch.cat([log_p[:, :target], log_p[:, target + 1 :]], 1), -1)
    return (log_p[:, target] - others).numpy()


def probability(odds: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-odds))


def review_logits(guide, texts: list[str]) -> np.ndarray:
    """Sentiment logits (negative, neutral, positive) per text, one batched pass of the shared model: (N, 3)."""
    return guide.review_logits(texts)


def product_logits(guide, item_id: str, texts: list[str]) -> np.ndarray:
    """Tag logits per text, each read as catalogue product `item_id`'s text: (N, tags)."""
    return guide.tag_logits(item_id, texts)


def _why(kind, target, predicted, text, spans, size, odds, started) -> Why:
    probs = probability(odds)
    weighed = zip(spans, odds[0] - odds[1:], probs[0] - probs[1:], strict=True)
    return Why(
        kind,
        target,
        float(probs[0]),
        predicted,
        text,
        tuple(Span(s, e, float(w), float(d)) for (s, e), w, d in weighed),
        size,
        (time.perf_counter() - started) * 1000,
    )


def explain_review(guide, text: str, max_spans: int = MAX_SPANS) -> Why:
    """The words that moved the review's predicted sentiment class, each weighed by occlusion."""
    started = time.perf_counter()
    text = _checked(text)
    spans, size = word_spans(text, max_spans)
    logits = review_logits(guide, [text, *(without(text, [s]) for s in spans)])
    log_p = torch.log_softmax(torch.from_numpy(logits[:1]), -1).numpy()[0]
    label = int((log_p + guide.sentiment_bias).argmax())  # the class `Guide.sentiment` reports
    odds = log_odds(logits, SENTIMENT, label)
    return _why(SENTIMENT, SENTIMENT_LABELS[label], True, text, spans, size, odds, started)


def explain_product(guide, item_id: str, limit: int = MAX_TAGS, max_spans: int = MAX_SPANS) -> list[Why]:
    """The words of a catalogue product's text that moved its predicted tags (most confident first, at
    most `limit`); a product with no tag over its threshold gets its most likely tag, marked not predicted."""
    started = time.perf_counter()
    if limit < 1:
        raise ValueError(f"limit: expected >= 1 tag to explain; got {limit}; fix: ask for at least one")
    text = guide.catalog["text"].iat[guide.row(item_id)] or ""  # an unknown id raises
    if not text.strip():
        return []
    spans, size = word_spans(text, max_spans)
    logits = product_logits(guide, item_id, [text, *(without(text, [s]) for s in spans)])
    order = np.argsort(-logits[0])
    over = [int(j) for j in order if probability(logits[0, j]) >= guide.tag_thresholds[j]][:limit]
    targets = over or [int(order[0])]
    return [_why(TAG, guide.tags[j], bool(over), text, spans, size, log_odds(logits, TAG, j), started) for j in targets]
