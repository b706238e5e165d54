"""Short review texts for the sentiment task: the title or one sentence of a training review, with that
review's label.

A person in a demo types one line ("Not bad at all, I'd buy it again."), and the out-of-domain check scores
review sentences; whole reviews average 62 words, so a model trained on them alone meets short text out of
distribution. With `DataConfig.sentence_share` > 0 part of each sentiment draw shows one of these instead of
its review. A sentence inherits its review's label (a neutral sentence of a 5-star review counts as
positive): noisy, but the label of the review it came from is the only one this data has.

Only training reviews give sentences, so nothing held out is ever seen; the sentences of the evaluation's
own test reviews (`guide.evaluation.ood`) stay unseen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from guide.data.aspect_cues import review_sentences, split_sentences
from guide.data.text import Encoder, hash_ngrams, lexicon_features


@dataclass
class ShortTexts:
    review_row: np.ndarray  # (S,) the review each text comes from, sorted
    emb: np.ndarray  # (S, 384)
    ngrams: list[np.ndarray]
    lexicon: np.ndarray  # (S, 4)
    texts: list[str]


def pick_short_texts(reviews: pd.DataFrame, split: np.ndarray, per_source: int, seed: int) -> pd.DataFrame:
    """(review_row, text) of the short texts of at most `per_source` seeded TRAINING reviews per source, sorted
    by row: per review its title (as `aspects.review_sentences` keeps it) and one seeded sentence of its text
    (none from a one-sentence review with a title: the review is short already)."""
    rng = np.random.default_rng(seed)
    titles, texts, sources = reviews["title"].to_numpy(), reviews["text"].to_numpy(), reviews["source"].to_numpy()
    chosen = []
    for source in sorted(set(sources[split == "train"])):
        rows = np.flatnonzero((split == "train") & (sources == source))
        if len(rows) > per_source:
            rows = np.sort(rng.choice(rows, per_source, replace=False))
        chosen.append(rows)
    pieces = []
    for row in np.concatenate(chosen) if chosen else []:
        text = texts[row] if isinstance(texts[row], str) else ""
        sentences = split_sentences(text)
        head = review_sentences(titles[row], "")  # the title, when it has words
        pieces += [(row, t) for t in head]
        if len(sentences) > 1 or (sentences and not head):  # a one-sentence review is already short
            pieces.append((row, sentences[rng.integers(len(sentences))]))
    frame = pd.DataFrame(pieces, columns=["review_row", "text"])
    return frame.sort_values("review_row", kind="stable").reset_index(drop=True)


def short_texts(
    reviews: pd.DataFrame, split: np.ndarray, buckets: int, encoder: Encoder, persist: bool, per_source: int, seed: int
) -> ShortTexts:
    """The short texts of `pick_short_texts` with their embeddings, hashed n-grams and lexicon features. The
    shipped setting (6,000 reviews per source) gives ~16k texts: ~2 minutes to embed once on 2 cores, cached
    with the other training-only embeddings, never in the shipped assets."""
    frame = pick_short_texts(reviews, split, per_source, seed)
    texts = frame["text"].tolist()
    return ShortTexts(
        review_row=frame["review_row"].to_numpy(np.int64),
        emb=encoder.embed(texts, persist=persist, shard_name="short-texts").astype(np.float32),
        ngrams=[np.array(hash_ngrams(t, buckets), np.int64) for t in texts],
        lexicon=lexicon_features(texts),
        texts=texts,
    )
