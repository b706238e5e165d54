"""The plain views the shop's UI receives from `guide.serving.shop`: who shops (persona, session), what
they see (product cards, browse pages, product details, reviews, the profile page's series) and what
an action changed. Dataclasses only, numbers and strings: no torch, no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from guide.serving.results import Sentiment


@dataclass(frozen=True)
class Session:
    """Who shops in one browser session: a persona, through one visitor's own state."""

    persona_id: str
    visitor: str  # random per browser session; kept in the URL so a reload finds the state again

    @property
    def shopper_id(self) -> str:
        return f"{self.persona_id}~{self.visitor}"


@dataclass(frozen=True)
class Persona:
    persona_id: str
    label: str
    kind: str  # "persona" (a real shopper) | "new" (cold start)
    purchases: int
    top_categories: tuple[str, ...]
    history: tuple[str, ...]  # shipped interactions, oldest first
    ratings: tuple[float, ...]  # their stars for `history`


@dataclass(frozen=True)
class Standing:
    """Where one purchase likelihood stands among the products the shopper could buy next (the ones they do not
    own, as "For you" lists them), read from the same scores: its rank and its multiple of their median."""

    rank: int  # 1 = the most likely next purchase
    of: int  # how many products were ranked
    times_median: float | None  # P / the median product's P; None when the median is 0


@dataclass
class ProductCard:
    item_id: str
    title: str
    brand: str
    price: float | None
    rating: float | None
    category: str
    source: str  # "amazon" | "sephora"
    tags: list[str]
    tags_predicted: bool  # the tags are the model's (the catalogue has none for this product)
    likelihood: float | None  # P(this shopper buys it next); None for a shopper with no history
    standing: Standing | None = None  # rank and median multiple; None without history or for an owned product


@dataclass
class ReviewView:
    stars: int
    title: str
    text: str
    sentiment_label: str
    sentiment_score: float
    created_at: datetime
    author: str
    review_id: str = ""  # the shipped review's id ("" for one written here)


@dataclass
class Change:
    """Before/after of one action (cart, purchase or review): what the page reports and charts."""

    kind: str
    item_id: str
    title: str
    likelihood_before: float | None
    likelihood_after: float | None
    categories_before: dict[str, float]
    categories_after: dict[str, float]
    tags_before: dict[str, float]
    tags_after: dict[str, float]
    top_before: list[tuple[str, str, float]]  # (item_id, title, P(buy)) of the top picks
    top_after: list[tuple[str, str, float]]
    elapsed_ms: float = 0.0
    device: str = ""
    # The product's standing among the products the shopper did not own before the action, before and after it
    # (None without scores or for a product owned already); and the standing of each top pick.
    standing_before: Standing | None = None
    standing_after: Standing | None = None
    top_standings_before: list[Standing | None] = field(default_factory=list)
    top_standings_after: list[Standing | None] = field(default_factory=list)


@dataclass
class Reason:
    text: str  # one sentence a shopper can read
    similar_item_id: str | None = None
    similar_title: str | None = None
    similar_stars: float | None = None
    matched: list[str] = field(default_factory=list)  # profile interests the product matches


@dataclass
class SentimentPoint:
    when: datetime
    score: float
    label: str
    stars: int
    product: str
    where: str  # "Amazon" (shipped history) | "here"


@dataclass
class LikelihoodPoint:
    step: int
    step_label: str
    item_id: str
    title: str
    likelihood: float


@dataclass
class ProfileView:
    persona: Persona
    history_size: int
    actions_here: int
    categories: dict[str, float]
    tags: dict[str, float]
    last: Change | None
    sentiment: list[SentimentPoint]
    likelihood: list[LikelihoodPoint]
    recent: list  # ProductCard of recently viewed products, newest first
    brands: dict[str, float] = field(default_factory=dict)  # the brand part of the profile, renormalised


@dataclass(frozen=True)
class Filters:
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    price_min: float | None = None  # a price bound hides products whose price is unknown
    price_max: float | None = None

    def mask(self, items) -> np.ndarray:
        keep = np.ones(len(items), dtype=bool)
        if self.categories:
            keep &= items["shown_category"].isin(self.categories).to_numpy()
        if self.brands:
            keep &= items["brand"].isin(self.brands).to_numpy()
        if self.tags:
            wanted = set(self.tags)
            keep &= np.array([wanted <= set(tags) for tags in items["shown_tags"]])
        price = items["price"].to_numpy()
        if self.price_min is not None:
            keep &= price >= self.price_min  # NaN compares False: unknown prices drop out
        if self.price_max is not None:
            keep &= price <= self.price_max
        return keep


@dataclass
class BrowsePage:
    cards: list[ProductCard]
    total: int
    page: int
    pages: int
    query: str
    sort: str
    notice: str = ""


@dataclass
class ProductDetail:
    card: ProductCard
    description: str
    details: dict[str, str]
    ingredients: str
    known_tags: list[str]
    model_tags: dict[str, float]  # tag -> confidence, the model's tags over their thresholds
    model_category: str
    category_probs: dict[str, float]
    reason: Reason
    reviews: list[ReviewView]
    similar: list[ProductCard]
    in_history: bool


@dataclass
class ReviewOutcome:
    review: ReviewView
    sentiment: Sentiment
    tags_before: dict[str, float]
    tags_after: dict[str, float]
    category_after: str
    change: Change
    notice: str = ""  # e.g. the text was shortened to MAX_REVIEW_CHARS


@dataclass
class ModelCard:
    report: dict  # the evaluation report: report[task][slice][model] = {metric: value}
    config: dict
    weighting: str
    sampling: str
    device: str
    fingerprint: str
    last_inference_ms: float
    train: dict
    affinity: dict = field(default_factory=dict)  # {"records": [{step, cosine {"a|b"}, weights}], "source", ...}


@dataclass
class TwinTag:
    """One tag as the shared model and the attributes twin read the product."""

    tag: str
    model: float  # the shared model's probability
    model_over: bool  # over the shared model's threshold (one of its predicted tags)
    twin: float | None  # the twin's probability; None: not among the twin's stored top tags
    twin_over: bool  # over the twin's own threshold


@dataclass
class TwinReview:
    """A shipped review the shared model and the sentiment twin read differently."""

    title: str
    text: str
    stars: int
    model_label: str
    twin_label: str
    twin_probs: dict[str, float]


@dataclass
class TwinShopper:
    """The profile and purchase twins for the shopper's shipped history, beside the shared model's answer."""

    model_categories: dict[str, float]  # top interest categories, renormalised over the categories
    twin_categories: dict[str, float]
    model_picks: list[tuple[str, str, float]]  # (item_id, title, P(buy next))
    twin_picks: list[tuple[str, str, float]]
    actions_left_out: int  # this shopper's own actions here, not in the twins' stored answers


@dataclass
class TwinView:
    """What each single-task twin said beside the shared model, for the product on screen.

    `status`: "shown", or why nothing is: "not shipped" (no artifact), "stale" (exported for another model
    or from other twins), "unreadable"; `note` says it in a sentence (with the fix when there is one)."""

    status: str
    note: str
    tags: list[TwinTag] = field(default_factory=list)
    model_category: str = ""
    twin_category: str = ""
    twin_category_prob: float = 0.0
    reviews: int = 0  # shipped reviews on the page both read
    agreeing: int = 0  # of them, read with the same sentiment label
    disagreements: list[TwinReview] = field(default_factory=list)
    shopper: TwinShopper | None = None
    shopper_note: str = ""  # why `shopper` is None (a new shopper, or one the artifact does not hold)


@dataclass(frozen=True)
class TourPlan:
    """Whom and what the guided tour shows, picked by a rule over the service's own answers (never fixed ids, so
    a retrained model may pick others): the demo shopper whose profile is most concentrated, and their most
    likely next product among those the catalogue has tags for (else their most likely one)."""

    persona_id: str
    item_id: str
    top_interest: str  # the shopper's largest interest category, as the profile head reads them
    top_share: float  # its share of their category interest
    standing: Standing | None  # the product's place in the shopper's "For you"
    tagged: bool  # the catalogue has its own tags for the product (so the model's can be checked against them)


@dataclass(frozen=True)
class Headline:
    """One task's headline figure on the test split: the shared model, its single-task twin and the best peer,
    each with its 95% bootstrap CI, and the verdicts the report decided by those CIs."""

    task: str
    metric: str
    shared: float | None
    shared_ci: tuple[float, float] | None
    twin: float | None
    twin_ci: tuple[float, float] | None
    peer: str
    peer_value: float | None
    peer_ci: tuple[float, float] | None
    vs_twin: str  # "beats" | "ties" | "behind" | ""
    vs_peer: str


@dataclass
class Recap:
    """What a session did, to send round afterwards: the shopper, each action's four answers before and after
    (replayed from the store by the same model), where their interests stand now, and the model's headlines."""

    persona: Persona
    sandbox: bool  # the guided tour's own shopper: nothing it did touched a real shopper's history
    made_at: datetime
    actions: list  # ReviewOutcome | Change, oldest first
    actions_left_out: int  # older actions past the recap's limit
    categories: dict[str, float]  # the profile's categories now
    headlines: list[Headline]
    delta_m: float | None
    decision_rule: str
    calibration: str  # what the likelihood on a card means (the report's own sentence)
    catalogue_size: int
    model: dict[str, str] = field(default_factory=dict)  # sharing, weighting, device
