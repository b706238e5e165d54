"""Shoppers: the real Amazon shoppers named by their own history, and what the model says about them.

A persona label reads like "Moisturizers · 12 purchases · loves products for dryness": the most
frequent category of the items they bought (the catalogue's own, else the model's), how many they
bought, and the most distinctive tag of their best-rated items. Nothing is invented.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from guide.serving.views import Change, LikelihoodPoint, Persona, ProfileView, Reason, SentimentPoint

NEW_SHOPPER = "new"  # the persona id of the cold-start shopper who starts with nothing
NEW_SHOPPER_LABEL = "New shopper · no history yet"
GENERIC_TAGS = {"Community Favorite", "Clean at Sephora", "Black Owned at Sephora", "Other"}


def new_shopper() -> Persona:
    return Persona(NEW_SHOPPER, NEW_SHOPPER_LABEL, "new", 0, (), (), ())


def _tag_phrase(tag: str) -> str:
    """'Good for: Dryness' -> 'products for dryness', 'Cream Formula' -> 'cream formulas', …"""
    low = tag.lower()
    if low.startswith("good for: "):
        return "products for " + low.removeprefix("good for: ")
    if low.startswith(("without ", "best for ")):
        return "products " + low
    if "award" in low:
        return "award winners"
    if low.endswith(("hair", "hair types", "skin")):
        return "products for " + low
    if low.endswith(("formula", "scent", "finish")):
        return low + "es" if low.endswith("finish") else low + "s"
    return "refillable products" if low == "refill available" else low + " products"


def _loves(
    items: list[str],
    ratings: list[float],
    categories: dict[str, str],
    tags: dict[str, list[str]],
    brands: dict[str, str],
    rarity: dict[str, float],
) -> str:
    """What sets the shopper's best-rated items apart: their most distinctive tag (count x rarity),
    else their most frequent category, else brand."""
    best = max(ratings)
    favourites = [item for item, stars in zip(items, ratings, strict=True) if stars == best]
    counts = Counter(t for item in favourites for t in tags.get(item, []) if t not in GENERIC_TAGS)
    scored = {tag: count * rarity.get(tag, 1.0) for tag, count in counts.items() if count >= 2}
    if scored:
        return _tag_phrase(max(sorted(scored), key=scored.get))
    category_counts = Counter(categories[item] for item in favourites if categories.get(item))
    if category_counts:
        return category_counts.most_common(1)[0][0].lower()
    brand_counts = Counter(brands[item] for item in favourites if brands.get(item))
    return brand_counts.most_common(1)[0][0] if brand_counts else "beauty finds"


def build_personas(
    interactions: pd.DataFrame, categories: dict[str, str], tags: dict[str, list[str]], brands: dict[str, str]
) -> dict[str, Persona]:
    """One persona per shopper in `interactions` (all splits, oldest first), most active first.

    `categories` / `tags` / `brands` map item ids to what the catalogue (or the model, where the
    catalogue is silent) says about each item.
    """
    personas, seen_labels = {}, Counter()
    ordered = interactions.sort_values(["user_id", "timestamp"], kind="stable")
    bought = set(ordered["item_id"])
    frequency = Counter(t for item in bought for t in set(tags.get(item, [])))
    rarity = {tag: math.log((1 + len(bought)) / (1 + count)) for tag, count in frequency.items()}
    groups = sorted(ordered.groupby("user_id", sort=False), key=lambda kv: (-len(kv[1]), kv[0]))
    for user_id, rows in groups:
        items = [str(item) for item in rows["item_id"]]
        ratings = [float(stars) for stars in rows["rating"]]
        counts = Counter(categories[item] for item in items if categories.get(item))
        top = tuple(category for category, _ in counts.most_common(3))
        loves = _loves(items, ratings, categories, tags, brands, rarity)
        label = f"{top[0] if top else 'Beauty'} · {len(items)} purchases · loves {loves}"
        seen_labels[label] += 1
        if seen_labels[label] > 1:  # two shoppers can read alike; keep the picker unambiguous
            label = f"{label} ({seen_labels[label]})"
        personas[user_id] = Persona(user_id, label, "persona", len(items), top, tuple(items), tuple(ratings))
    return personas


def demo_shoppers(
    interactions: pd.DataFrame, main_category: dict[str, str], per_category: int = 3, others: int = 8
) -> list[str]:
    """The range of shoppers a demo needs, picked deterministically from the benchmark's shoppers: for
    each main category (the first level of the products' category path), the shopper with the longest
    history, one with a typical history and one with a short one; plus the `others` most active shoppers
    of the other sources (the Amazon 2023 shoppers, whose reviews the product pages show)."""
    benchmark = interactions[interactions["source"] == "beauty2014"]
    sizes = benchmark.groupby("user_id").size()
    counts = (
        benchmark.assign(main=benchmark["item_id"].map(main_category))
        .dropna(subset=["main"])
        .groupby(["user_id", "main"])
        .size()
        .sort_values(ascending=False, kind="stable")
    )
    top = counts.reset_index().drop_duplicates("user_id")  # each shopper's most frequent main category
    main = top.set_index("user_id")["main"]
    picked: list[str] = []
    for category in main.value_counts().index:
        members = sizes[main[main == category].index].sort_values(kind="stable")
        members = members[~members.index.duplicated()]
        if len(members) < per_category:
            continue
        positions = np.linspace(len(members) - 1, 0, per_category).round().astype(int)  # longest .. shortest
        positions[len(positions) // 2] = len(members) * 3 // 4  # a typical (upper-middle) history
        picked += [str(members.index[p]) for p in positions]
    rest = interactions[interactions["source"] != "beauty2014"].groupby("user_id").size()
    picked += [str(u) for u in rest.sort_values(ascending=False, kind="stable").index[:others]]
    return list(dict.fromkeys(picked))


def top_items(items: pd.DataFrame, scores, n: int = 5) -> list[tuple[str, str, float]]:
    if scores is None:
        return []
    best = np.argsort(-scores)[:n]
    return [(items.at[r, "item_id"], items.at[r, "title"], float(scores[r])) for r in best]


def short(title: str, limit: int = 48) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip(" ,.-") + "…"


def explain(service, row: int, history: list[str], ratings: list, profile) -> Reason:
    """Why this product for this shopper: the nearest thing they liked, and the interests it matches."""
    if not history:
        return Reason("You are new here: buy or review something and this becomes personal.")
    items = service.items
    item_id, category = items.at[row, "item_id"], items.at[row, "shown_category"]
    tags = set(items.at[row, "shown_tags"]) | set(service.attributes[row].predicted)
    liked = {item: stars for item, stars in zip(history, ratings, strict=True) if item != item_id}
    neighbours = [i for i, _ in service.guide.similar(item_id, k=300) if i in liked]
    nearest = max(neighbours[:5], key=lambda i: liked[i] or 0, default=None)
    matched = []
    if profile is not None:
        matched = [name for name in list(profile.categories)[:3] if name == category]
        matched += [brand for brand in list(profile.brands)[:3] if brand == items.at[row, "brand"]]
        matched += [tag for tag in list(profile.tags)[:8] if tag in tags][:3]
    sentence = ""
    if nearest is not None:
        title, stars = short(items.at[service.row_of[nearest], "title"]), liked[nearest]
        sentence = f"Similar to “{title}” " + (f"that you rated {stars:.0f}★" if stars else "that you bought")
    if matched:
        interests = "matches your interest in " + ", ".join(m.removeprefix("Good for: ") for m in matched)
        sentence = f"{sentence}, and it {interests}" if sentence else f"It {interests}"
    text = f"{sentence}." if sentence else "It is unlike what this shopper usually buys."
    similar_title = None if nearest is None else items.at[service.row_of[nearest], "title"]
    return Reason(text, nearest, similar_title, None if nearest is None else liked[nearest], matched)


def _sentiment_points(service, session, persona: Persona) -> list[SentimentPoint]:
    reviews = service.guide.reviews
    shipped = reviews[(reviews["source"] == "amazon") & (reviews["user_id"] == persona.persona_id)]
    shipped = shipped.sort_values("timestamp")
    found = service.sentiments(("persona", persona.persona_id), list(shipped["full_text"]))
    title = lambda item: short(service.items.at[service.row_of[item], "title"]) if item in service.row_of else item  # noqa: E731
    points = [
        SentimentPoint(
            datetime.fromtimestamp(r.timestamp / 1000, UTC), s.score, s.label, int(r.rating), title(r.item_id), "Amazon"
        )
        for r, s in zip(shipped.itertuples(), found, strict=True)
    ]
    for review in service.store.reviews(shopper_id=session.shopper_id):
        points.append(
            SentimentPoint(
                review.created_at,
                review.sentiment_score,
                review.sentiment_label,
                review.stars,
                title(review.item_id),
                "here",
            )
        )
    return points


def build_profile_view(service, session, max_steps: int = 8, max_items: int = 5) -> ProfileView:
    """The shopper's interests now, what the last action changed, and how things moved over time."""
    persona = service.persona(session.persona_id)
    steps = service.own_steps(session)
    history, ratings = service.history(session)
    profile = service.profile_of(history, ratings)
    events = service.store.events(session.shopper_id)
    recent = list(dict.fromkeys(e.item_id for e in reversed(events) if e.item_id in service.row_of))[:max_items]
    last = None
    if steps:
        kind, item_id, _ = steps[-1]
        before_h, before_r = service.history(session, len(steps) - 1)
        before, after = service.scores(before_h, before_r), service.scores(history, ratings)
        previous = service.profile_of(before_h, before_r)
        row = service.row_of[item_id]
        last = Change(
            kind,
            item_id,
            service.items.at[row, "title"],
            None if before is None else float(before[row]),
            float(after[row]),
            previous.categories if previous else {},
            profile.categories,
            previous.tags if previous else {},
            profile.tags,
            top_items(service.items, before),
            top_items(service.items, after),
        )
    points = []
    for step in range(max(0, len(steps) - max_steps + 1), len(steps) + 1):
        scores = service.scores(*service.history(session, step))
        if scores is None:
            continue
        label = "start" if step == 0 else f"{step}. {steps[step - 1][0]}"
        for item in recent:
            row = service.row_of[item]
            points.append(
                LikelihoodPoint(step, label, item, short(service.items.at[row, "title"], 32), float(scores[row]))
            )
    return ProfileView(
        persona,
        len(history),
        len(steps),
        dict(list(profile.categories.items())[:8]) if profile else {},
        dict(list(profile.tags.items())[:10]) if profile else {},
        last,
        _sentiment_points(service, session, persona),
        points,
        service.cards(session, recent),
        dict(list(profile.brands.items())[:10]) if profile else {},
    )
