"""Plain results the model facade returns: floats, strings, lists and dicts, never tensors."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Sentiment:
    label: str  # "negative" | "neutral" | "positive"
    score: float  # P(positive) - P(negative), in [-1, 1]
    probs: dict[str, float]  # label -> probability
    truncated: bool = False  # the text was longer than the model reads and was cut


@dataclass
class Attributes:
    tags: dict[str, float]  # every tag in the vocabulary -> probability
    predicted: list[str]  # tags over their tuned threshold, most likely first
    category: str  # most likely secondary category
    category_probs: dict[str, float]  # category -> probability (top 5)


@dataclass
class Profile:
    interests: dict[str, float]  # category or tag -> weight; weights sum to 1, largest first
    categories: dict[str, float] = field(default_factory=dict)  # the category part, renormalised
    tags: dict[str, float] = field(default_factory=dict)  # the tag part, renormalised


@dataclass
class Prediction:
    """All four tasks from one forward pass (`Guide.predict`)."""

    purchase: dict[str, float]  # candidate item_id -> P(buys it next)
    profile: Profile
    attributes: dict[str, Attributes]  # item_id -> attributes, for the candidates
    sentiment: Sentiment | None  # of the review, when one was given
    elapsed_ms: float
    device: str
