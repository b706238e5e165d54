"""The profile task's interest vocabulary and each product's interest distribution over it.

The vocabulary: the levels of the benchmark's category paths (1-3, e.g. "Skin Care", "Skin Care › Face",
"Skin Care › Face › Cleansers"), its frequent brands and the Sephora tags. A product's distribution shares
fixed masses between the path levels, the brand and the tags it has. The benchmark's products carry no tags: a
TF-IDF one-vs-rest classifier fitted on training Sephora products gives them "silver" tags (stated wherever
profile numbers are reported). `guide/data/task_data.py` puts the result into the profile task's arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from guide.data.beauty import SOURCE as BENCHMARK_SOURCE  # the vocabulary counts the benchmark's products
from guide.data.catalog import Catalog, attribute_train_mask

# Interest masses of one product: its category path levels share PATH_MASS, its brand BRAND_MASS, its (silver)
# tags the rest; a part the product lacks gives its mass to the others.
PATH_MASS, BRAND_MASS, TAG_MASS = 0.5, 0.2, 0.3
PATH_LEVELS = 3  # path levels that become interests ("Skin Care" / "Skin Care › Face" / "… › Cleansers")
PATH_MIN_COUNT = 20  # benchmark products a path node needs to be an interest
BRAND_MIN_COUNT = 30  # benchmark products a brand needs to be an interest
SILVER_TAG_THRESHOLD = 0.5  # a benchmark product gets a silver tag when the classifier's probability reaches it
PATH_SEPARATOR = " › "
BRAND_PREFIX = "Brand: "


def silver_tags(catalog: Catalog, tags: list[str], tag_targets: np.ndarray) -> np.ndarray:
    """(N, T) 0/1 tags: a product's own where it has any, else a TF-IDF one-vs-rest classifier's (fitted on
    training Sephora products only, `attribute_train_mask`) at probability >= SILVER_TAG_THRESHOLD."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    items = catalog.items
    own = tag_targets.sum(1) > 0
    fit = own & attribute_train_mask(items) & (items["source"] == "sephora").to_numpy()
    out = tag_targets.copy()
    if fit.sum() < 10 or own.all():
        return out
    texts = (items["title"] + " " + items["brand"] + " " + items["description"]).to_numpy()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=50000)
    x_fit = vectorizer.fit_transform(texts[fit])
    x_rest = vectorizer.transform(texts[~own])
    for j in range(len(tags)):
        y = tag_targets[fit, j]
        if 0 < y.sum() < len(y):
            classifier = LogisticRegression(max_iter=200, C=4.0).fit(x_fit, y)
            out[~own, j] = classifier.predict_proba(x_rest)[:, 1] >= SILVER_TAG_THRESHOLD
    return out


def interest_vocabulary(catalog: Catalog, tags: list[str]) -> tuple[list[str], np.ndarray]:
    """(names, kinds): the benchmark's category path nodes of levels 1..PATH_LEVELS with >= PATH_MIN_COUNT
    products, its brands with >= BRAND_MIN_COUNT, then the tags. Counted over the benchmark's products
    (no split: which products exist is not a label), in a fixed order."""
    items = catalog.items
    bench = items[items["source"] == BENCHMARK_SOURCE]
    names, kinds = [], []
    for level in range(1, PATH_LEVELS + 1):
        counts = pd.Series([PATH_SEPARATOR.join(p[:level]) for p in bench["category_path"] if len(p) >= level])
        counts = counts.value_counts()
        for node in sorted(counts[counts >= PATH_MIN_COUNT].index):
            names.append(node)
            kinds.append(f"path{level}")
    brands = bench["brand"].fillna("").str.strip()
    counts = brands[brands != ""].value_counts()
    for brand in sorted(counts[counts >= BRAND_MIN_COUNT].index):
        names.append(BRAND_PREFIX + brand)
        kinds.append("brand")
    names += list(tags)
    kinds += ["tag"] * len(tags)
    return names, np.array(kinds, dtype=object)


def interest_targets(catalog: Catalog, names: list[str], kinds: np.ndarray, tag_targets: np.ndarray) -> np.ndarray:
    """(N, K) each product's interest distribution: path levels, brand, tags (masses PATH/BRAND/TAG_MASS,
    renormalised over the parts it has; a product with none spreads evenly over the tags (never happens for
    benchmark products: every one has a path level or a brand)."""
    index = {n: i for i, n in enumerate(names)}
    tag_start = int(np.flatnonzero(kinds == "tag")[0]) if (kinds == "tag").any() else len(names)
    items = catalog.items
    out = np.zeros((len(items), len(names)), np.float32)
    for row, (path, brand) in enumerate(zip(items["category_path"], items["brand"].fillna(""))):
        nodes = [index[n] for n in (PATH_SEPARATOR.join(path[:k]) for k in range(1, PATH_LEVELS + 1) if len(path) >= k)
                 if n in index]  # fmt: skip
        brand_col = index.get(BRAND_PREFIX + str(brand).strip())
        tag_cols = tag_start + np.flatnonzero(tag_targets[row])
        parts = [(PATH_MASS, nodes), (BRAND_MASS, [] if brand_col is None else [brand_col]), (TAG_MASS, tag_cols)]
        total = sum(mass for mass, cols in parts if len(cols))
        for mass, cols in parts:
            if len(cols):
                out[row, cols] += mass / total / len(cols)
    empty = out.sum(1) == 0
    if empty.any():  # no part known (not a benchmark product): evenly over the tags (over everything without tags)
        spread = np.arange(tag_start, len(names)) if tag_start < len(names) else np.arange(len(names))
        out[np.ix_(empty, spread)] = 1.0 / len(spread)
    return out
