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
    interests: dict[str, float]  # category-path node, brand or tag -> weight; weights sum to 1, largest first
    categories: dict[str, float] = field(default_factory=dict)  # the categories (path level 2), renormalised
    tags: dict[str, float] = field(default_factory=dict)  # the tag part, renormalised
    brands: dict[str, float] = field(default_factory=dict)  # the brand part (names without prefix), renormalised


@dataclass
class Prediction:
    """Every task from one forward pass (`Guide.predict`)."""

    purchase: dict[str, float]  # candidate item_id -> P(buys it next)
    profile: Profile
    attributes: dict[str, Attributes]  # item_id -> attributes, for the candidates
    sentiment: Sentiment | None  # of the review, when one was given
    elapsed_ms: float
    device: str
    # answers of tasks registered beyond these four (`guide.model.tasks.register`), by task name
    more: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Span:
    """A word (or a run of neighbouring words in a long text) of the explained text."""

    start: int  # character offsets into `Why.text`
    end: int
    weight: float  # log-odds of the target with the full text minus without this span: > 0 pushed towards it
    delta: float  # the same change as a probability: P(target) with the full text minus without the span


@dataclass(frozen=True)
class Why:
    """Which words moved one prediction, by occlusion through the shared model (`serving/occlusion.py`)."""

    kind: str  # "sentiment" | "tag"
    target: str  # the class or tag explained
    probability: float  # P(target) for the full text
    predicted: bool  # the target is what the model predicts (a tag over its threshold); False: the closest miss
    text: str
    spans: tuple[Span, ...]  # in text order; text outside every span (spaces, past what the model reads) has no weight
    words_per_span: int  # 1: word by word; more: a long text, occluded in runs of words
    elapsed_ms: float = 0.0

    def strongest(self, k: int, sign: int = 1) -> list[Span]:
        """The k spans that pushed hardest towards (sign 1) or against (sign -1) the target."""
        ranked = sorted((s for s in self.spans if s.weight * sign > 0), key=lambda s: -s.weight * sign)
        return ranked[:k]
