"""Personas: the real Amazon shoppers a demo shows, picked for range and named by their own history.

A persona label reads like "Moisturizers · 12 purchases · loves products for dryness": the most
frequent category of the items they bought (the catalogue's own, else the model's), how many they
bought, and the most distinctive tag of their best-rated items. Nothing is invented.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from guide.serving.views import Persona

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


def short(title: str, limit: int = 48) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip(" ,.-") + "…"


def demo_personas(items: pd.DataFrame, interactions: pd.DataFrame) -> dict[str, Persona]:
    """The demo's personas (`demo_shoppers`), named from the shop's `items` (item_id, category_path,
    shown_category, shown_tags, brand): the catalogue's own category and tags, else the model's."""
    by_id = items.set_index("item_id")
    main = {i: (p[0] if len(p) else None) for i, p in zip(items["item_id"], items["category_path"], strict=True)}
    demo = demo_shoppers(interactions, main)
    return build_personas(
        interactions[interactions["user_id"].isin(demo)],
        by_id["shown_category"].to_dict(),
        by_id["shown_tags"].to_dict(),
        by_id["brand"].to_dict(),
    )
