"""Training draws: one mini-batch per task with its targets (`TaskSampler`).

With token tables (`TaskSampler.use_tokens`, the encoder's fine-tuning) the attribute and sentiment draws also
carry each text's token ids, and rows are drawn from one length bucket at a time (equal-sized groups of
similar token length): a batch is padded to its longest text, so mixing a 10-token title with a 128-token
review would make every text cost 128 tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from guide.config import SENTIMENT_LABELS
from guide.data.task_data import TaskData
from guide.model.inputs import history_tensors, item_block, shopper_batch, text_block
from guide.model.sentence import TokenTable
from guide.model.tasks import TASK_SPECS, task_spec

AMAZON_SHARE = 0.2
PROFILE_SMOOTHING = 0.3


def source_counts(sizes: dict[str, int], batch_size: int) -> dict[str, int]:
    """Reviews per source in one sentiment batch: Amazon gets at least AMAZON_SHARE of the batch (rounded
    up), the other sources share the rest in proportion to their size, each at least one."""
    total = sum(sizes.values())
    if "amazon" not in sizes or len(sizes) == 1:
        shares = {s: n / total for s, n in sizes.items()}
    else:
        amazon = max(sizes["amazon"] / total, AMAZON_SHARE)
        others = total - sizes["amazon"]
        shares = {s: amazon if s == "amazon" else (1 - amazon) * n / others for s, n in sizes.items()}
    counts = {s: max(1, int(np.floor(batch_size * v))) for s, v in shares.items()}
    if "amazon" in counts:
        counts["amazon"] = max(counts["amazon"], int(np.ceil(batch_size * shares["amazon"] - 1e-9)))
    largest = max(counts, key=lambda s: sizes[s])
    counts[largest] += batch_size - sum(counts.values())  # the batch keeps its size
    return counts


@dataclass
class TextTokens:
    """The texts of the text tasks as token ids, for draws that run them through the encoder itself."""

    items: TokenTable  # catalogue texts (`items["text"]`), by catalogue row
    reviews: TokenTable  # review texts, by review row
    formats: list[TokenTable] | None = None  # per free-text format, by position in `TaskData.format_rows`
    short: TokenTable | None = None  # the short review texts (`TaskData.short_texts`), by position


def length_buckets(rows: np.ndarray, lengths: np.ndarray, buckets: int) -> list[np.ndarray]:
    """`rows` split into `buckets` groups of (nearly) equal size by token length, shortest first."""
    order = rows[np.argsort(lengths[rows], kind="stable")]
    return [group for group in np.array_split(order, buckets) if len(group)]


def sentiment_adjustment(data: TaskData, review_rows: dict, balance: float, device) -> torch.Tensor | None:
    """Logit adjustment (Menon et al., "Long-tail learning via logit adjustment", ICLR 2021): `balance` x the
    log class prior of the training reviews, added to the sentiment logits inside the loss only. The head then
    learns scores for a balanced prior, so that a rare class (1-2 star reviews are ~6% of Amazon's) is not
    read off the prior: a short text with little evidence is not pulled to "positive". None when off."""
    if not balance:
        return None
    rows = np.concatenate(list(review_rows.values()))
    counts = np.bincount(data.review_labels[rows], minlength=len(SENTIMENT_LABELS)).astype(np.float64) + 1.0
    return torch.tensor(balance * np.log(counts / counts.sum()), dtype=torch.float32, device=device)


class TaskSampler:
    """Draws training batches per task with their targets."""

    def __init__(
        self, data: TaskData, batch_size: int, negatives: int, rng: np.random.Generator, device, drop: float = 0.0,
        purchase_users: int = 128, max_length: int = 50, format_share: float = 0.0, sentence_share: float = 0.0,
        sentiment_balance: float = 0.0,
    ):  # fmt: skip
        self.data, self.batch_size, self.negatives, self.rng, self.device = data, batch_size, negatives, rng, device
        self.drop = drop
        self.format_share, self.sentence_share = format_share, sentence_share
        self.attr_rows = data.split_rows("train")
        train = data.review_split == "train"
        self.review_rows = {s: np.flatnonzero(train & (data.review_source == s)) for s in np.unique(data.review_source)}
        self.review_rows = {s: r for s, r in self.review_rows.items() if len(r)}
        self.purchase = data.purchase["train"]
        self.purchase_users, self.max_length = purchase_users, max_length
        self.tokens: TextTokens | None = None
        self.attr_buckets: list[np.ndarray] = [self.attr_rows]
        self.review_buckets = {s: [r] for s, r in self.review_rows.items()}
        self.sentiment_adjust = sentiment_adjustment(data, self.review_rows, sentiment_balance, device)

    def use_tokens(self, tokens: TextTokens, buckets: int = 4) -> None:
        """Attribute and sentiment draws carry token ids (`items["tokens"]`, `reviews["tokens"]`), each drawn
        from one of `buckets` length buckets chosen uniformly (equal-sized buckets keep every row's chance)."""
        if self.sentence_share and self.data.short_texts is not None and tokens.short is None:
            raise ValueError("use_tokens: expected a token table of the short texts; fix: build TextTokens.short")
        if self.format_share and (tokens.formats is None or len(tokens.formats) != len(self.data.format_emb)):
            raise ValueError("use_tokens: expected one token table per free-text format; fix: build TextTokens.formats")
        self.tokens = tokens
        self.attr_buckets = length_buckets(self.attr_rows, tokens.items.lengths, buckets)
        self.review_buckets = {
            s: length_buckets(r, tokens.reviews.lengths, buckets) for s, r in self.review_rows.items()
        }

    def _bucket(self) -> int:
        """The length bucket of this draw (0 without token tables: one bucket holds every row)."""
        return int(self.rng.integers(len(self.attr_buckets))) if self.tokens is not None else 0

    def sizes(self) -> dict[str, int]:
        """Training examples per registered task (its spec's `size`)."""
        return {task: spec.size(self.data) for task, spec in TASK_SPECS.items()}

    def draw(self, task: str) -> tuple[dict, dict]:
        """One training batch of `task` with its targets, by the draw its spec names (a method of this sampler,
        or a function of it)."""
        draw = task_spec(task).draw
        return draw(self) if callable(draw) else getattr(self, draw)()

    def _attributes(self):
        rows = self.rng.choice(self.attr_buckets[self._bucket()], self.batch_size)
        free = self._free_formats(rows)
        if free is None:
            block, where = item_block(self.data, rows, self.device, self.drop, self.rng)
            if self.tokens is not None:
                block["tokens"] = self.tokens.items.batch(np.unique(rows), self.device)  # item_block's order
        else:  # one text per draw: some in a free-text format, without the catalogue's price/rating features
            block, where = self._format_block(rows, *free), np.arange(len(rows))
            if self.tokens is not None:
                ids = [
                    self.tokens.formats[w].ids[p] if f else self.tokens.items.ids[r]
                    for r, f, p, w in zip(rows, *free, strict=True)
                ]
                block["tokens"] = TokenTable(ids).batch(range(len(ids)), self.device)
        targets = {
            "tags": torch.from_numpy(self.data.tag_targets[rows]).to(self.device),
            "tag_mask": torch.from_numpy(self.data.tag_mask[rows]).to(self.device),
            "category": torch.from_numpy(self.data.cat_targets[rows]).to(self.device),
        }
        return {"items": block, "attr_index": torch.from_numpy(where).to(self.device)}, targets

    def _free_formats(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(drawn in a free format?, position among `format_rows`, which format) per row, or None (none drawn)."""
        data = self.data
        if not self.format_share or data.format_rows is None or not len(data.format_rows):
            return None
        position = np.searchsorted(data.format_rows, rows).clip(max=len(data.format_rows) - 1)
        free = (data.format_rows[position] == rows) & (self.rng.random(len(rows)) < self.format_share)
        if not free.any():
            return None
        return free, position, self.rng.integers(0, len(data.format_emb), len(rows))

    def _format_block(self, rows: np.ndarray, free: np.ndarray, position: np.ndarray, which: np.ndarray) -> dict:
        data = self.data
        emb = data.item_emb[rows].copy()
        emb[free] = data.format_emb[which[free], position[free]]
        feats = data.item_feats[rows].copy()
        feats[free] = 0.0  # as `Guide.attributes` serves free text: price, rating and popularity unknown
        bags = [
            data.format_ngrams[w][p] if f else data.item_ngrams[r]
            for r, f, p, w in zip(rows, free, position, which, strict=True)
        ]
        return text_block(emb, bags, np.arange(len(rows)), self.device, feats, self.drop, self.rng)

    def _sentiment(self):
        # Sources in proportion to their size, but the small Amazon set keeps at least
        # AMAZON_SHARE of each batch (more would replay its 2k reviews until they are memorised).
        counts = source_counts({s: len(r) for s, r in self.review_rows.items()}, self.batch_size)
        bucket = self._bucket()
        rows = np.concatenate(
            [self.rng.choice(self.review_buckets[s][min(bucket, len(self.review_buckets[s]) - 1)], n)
             for s, n in counts.items()]
        )  # fmt: skip
        short = self._short_texts(rows)
        data = self.data
        if short is None:
            block = text_block(
                data.review_emb, data.review_ngrams, rows, self.device, None, self.drop, self.rng, data.review_lexicon
            )  # fmt: skip
        else:  # some draws show the title or one sentence of their review, with the review's label
            pool, taken = data.short_texts, short >= 0
            emb, lexicon = data.review_emb[rows], data.review_lexicon[rows]  # copies (fancy indexing)
            emb[taken], lexicon[taken] = pool.emb[short[taken]], pool.lexicon[short[taken]]
            bags = [pool.ngrams[i] if i >= 0 else data.review_ngrams[r] for r, i in zip(rows, short, strict=True)]
            block = text_block(emb, bags, np.arange(len(rows)), self.device, None, self.drop, self.rng, lexicon)
        if self.tokens is not None and short is None:
            block["tokens"] = self.tokens.reviews.batch(rows, self.device)
        elif self.tokens is not None:
            ids = [self.tokens.short.ids[i] if i >= 0 else self.tokens.reviews.ids[r] for r, i in zip(rows, short)]
            block["tokens"] = TokenTable(ids).batch(range(len(ids)), self.device)
        labels = torch.from_numpy(data.review_labels[rows]).to(self.device)
        targets = {"labels": labels}
        if self.sentiment_adjust is not None:
            targets["adjust"] = self.sentiment_adjust
        return {"reviews": block}, targets

    def _short_texts(self, rows: np.ndarray) -> np.ndarray | None:
        """Per drawn review, the index of one of its short texts to show instead (-1: the whole review), or
        None when no draw shows one."""
        pool = self.data.short_texts
        if not self.sentence_share or pool is None or not len(pool.review_row):
            return None
        start = np.searchsorted(pool.review_row, rows, "left")
        count = np.searchsorted(pool.review_row, rows, "right") - start
        take = (count > 0) & (self.rng.random(len(rows)) < self.sentence_share)
        if not take.any():
            return None
        return np.where(take, start + (self.rng.random(len(rows)) * count).astype(np.int64), -1)

    def _shoppers(self):
        picks = self.rng.choice(len(self.purchase.target), self.batch_size)
        return picks, [self.purchase.history[i] for i in picks], [self.purchase.ratings[i] for i in picks]

    def _purchase(self):
        """Every position of a shopper's train sequence predicts the next product, among that batch's
        targets plus products drawn uniformly from the whole catalogue (a sampled softmax: Sephora and
        unbought products learn to rank low as well)."""
        picks = self.rng.choice(len(self.purchase.sequences), self.purchase_users)
        windows = [self.purchase.sequences[i][-(self.max_length + 1) :] for i in picks]
        inputs, nexts = [w[:-1] for w in windows], [w[1:] for w in windows]
        negatives = self.rng.choice(len(self.data.item_emb), self.negatives)
        candidates = np.unique(np.concatenate([*nexts, negatives]))
        rows, mask, _ = history_tensors(inputs, [np.zeros(len(x)) for x in inputs])
        wanted = np.concatenate([rows.ravel(), candidates])
        block, where = item_block(self.data, wanted, self.device, self.drop, self.rng)
        targets = np.searchsorted(candidates, np.concatenate(nexts))  # (P,), row-major like the mask
        batch = {
            "items": block,
            "history": torch.from_numpy(where[: rows.size].reshape(rows.shape)).to(self.device),
            "history_mask": torch.from_numpy(mask).to(self.device),
            "history_stars": torch.zeros(rows.shape, dtype=torch.long, device=self.device),
            "candidates": torch.from_numpy(where[rows.size :]).to(self.device),
            "all_positions": True,
        }
        return batch, {"next": torch.from_numpy(targets).to(self.device)}

    def _profile(self):
        picks, histories, stars = self._shoppers()
        # Label smoothing toward the training prior: one next item is a noisy sample of a shopper's
        # interests, and the head overfits those samples within a few hundred steps otherwise.
        prior = self.data.item_interest[self.purchase.target].mean(0)
        target = (1 - PROFILE_SMOOTHING) * self.data.item_interest[
            self.purchase.target[picks]
        ] + PROFILE_SMOOTHING * prior
        batch = shopper_batch(self.data, histories, stars, None, self.device, True, self.drop, self.rng)
        return batch, {"interest": torch.from_numpy(target).to(self.device)}
