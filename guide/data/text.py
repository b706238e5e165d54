"""Text features shared by every task: MiniLM sentence embeddings (cached on disk) and hashed n-grams.

The encoder is loaded lazily and offline (the bundled all-MiniLM-L6-v2 by default) and is called
under a lock: tokenizers are not thread-safe. Embeddings are cached by encoder id + text hash so no
text is embedded twice across runs; the cache shards shipped in `assets/embeddings` cover the
catalogue and the reviews.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import threading
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np

from guide.config import EMBED_DIM, embedding_dir, encoder_id, encoder_name

logger = logging.getLogger(__name__)

RECENT_ENTRIES = 2048  # persist=False embeddings kept in memory: 2048 x 384 float16 = 1.5 MB at most
MAX_CHARS = 4000  # ~MiniLM's 256-token window several times over; longer text adds nothing but time
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")


def text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()[:16]


class EmbeddingCache:
    """Embeddings on disk as .npz shards (keys: 16-byte text hashes, vectors: float16).

    Two tiers: the persisted embeddings (catalogue, training reviews) in one matrix, and a bounded LRU of
    `persist=False` ones (texts seen while serving, e.g. a shopper's review). Serving texts never join the
    matrix: that would grow memory with every review and copy the whole matrix after each one.
    """

    def __init__(self, folder: Path | str | None = None, model_id: str | None = None):
        self.model_id = model_id or encoder_id()
        self.folder = Path(folder or embedding_dir()) / self.model_id.replace("/", "__")
        self._index: dict[bytes, int] = {}
        self._blocks: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None
        self._recent: OrderedDict[bytes, np.ndarray] = OrderedDict()  # persist=False vectors, newest last
        self._lock = threading.Lock()  # lookup and add run on the app's request threads
        for shard in sorted(self.folder.glob("*.npz")):
            with np.load(shard) as data:
                # numpy's S16 drops trailing NUL bytes: pad the digests back to their 16 bytes
                self._add([bytes(k).ljust(16, b"\0") for k in data["keys"]], data["vectors"])

    def _add(self, keys: list[bytes], vectors: np.ndarray) -> None:
        start = sum(len(b) for b in self._blocks)
        fresh = [(k, i) for i, k in enumerate(keys) if bytes(k) not in self._index]
        for offset, (key, _) in enumerate(fresh):
            self._index[bytes(key)] = start + offset
        if fresh:
            self._blocks.append(vectors[[i for _, i in fresh]].astype(np.float16))
            self._matrix = None

    def __len__(self) -> int:
        """How many persisted embeddings are held (the bounded serving LRU is not counted)."""
        return len(self._index)

    @property
    def recent_size(self) -> int:
        """How many `persist=False` embeddings the serving LRU holds (at most RECENT_ENTRIES)."""
        return len(self._recent)

    def lookup(self, keys: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, vectors for the found keys in order) as float32."""
        with self._lock:
            if self._matrix is None and self._blocks:
                self._matrix = np.concatenate(self._blocks)
                self._blocks = [self._matrix]
            rows = np.array([self._index.get(k, -1) for k in keys], dtype=np.int64)
            out = np.zeros((len(keys), EMBED_DIM), np.float32)
            stored = rows >= 0
            if stored.any():
                out[stored] = self._matrix[rows[stored]]
            found = stored.copy()
            for position in np.flatnonzero(~stored) if self._recent else ():
                if (vector := self._recent.get(keys[position])) is not None:
                    self._recent.move_to_end(keys[position])
                    out[position], found[position] = vector, True
        return found, out[found]

    def add(self, keys: list[bytes], vectors: np.ndarray, persist: bool = True, name: str | None = None) -> None:
        """Persisted: into the matrix and a new shard on disk. Not persisted: into the bounded LRU only."""
        if not persist:
            self._remember(keys, vectors)
            return
        with self._lock:
            self._add(keys, vectors)
        if keys:
            self.folder.mkdir(parents=True, exist_ok=True)
            shard = self.folder / f"{name or 'shard'}-{len(self):07d}.npz"
            np.savez(shard, keys=np.array(keys, dtype="S16"), vectors=vectors.astype(np.float16))
            logger.info("cached %d embeddings in %s", len(keys), shard)

    def _remember(self, keys: list[bytes], vectors: np.ndarray) -> None:
        with self._lock:
            for key, vector in zip(keys, vectors.astype(np.float16), strict=True):
                if bytes(key) in self._index or bytes(key) in self._recent:
                    continue  # the first vector stays, as in the persisted tier
                self._recent[bytes(key)] = vector
            while len(self._recent) > RECENT_ENTRIES:
                self._recent.popitem(last=False)


class Encoder:
    """The sentence encoder plus its cache; `embed` returns L2-normalised float32 (N, 384)."""

    def __init__(self, name: str | None = None, cache: EmbeddingCache | None = None, device: str | None = None):
        self.name = name
        self.cache = cache if cache is not None else EmbeddingCache()
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    def with_cache(self, cache: EmbeddingCache) -> Encoder:
        """The same sentence model (loaded once, one lock) in front of another cache."""
        other = Encoder(self.name, cache, self.device)
        other._model, other._lock = self._model, self._lock
        other._shared = self
        return other

    def _load(self):
        if self._model is None and getattr(self, "_shared", None) is not None:
            self._model = self._shared._load()
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import torch
            from sentence_transformers import SentenceTransformer

            name = self.name or encoder_name()
            logger.info("loading sentence encoder %s", name)
            # float32 whatever the folder stores (a fine-tuned encoder is saved in float16)
            kwargs = {"dtype": torch.float32}
            self._model = SentenceTransformer(name, device=self.device or "cpu", model_kwargs=kwargs)
        return self._model

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Encode without the cache (longest texts first batch best)."""
        if not texts:
            return np.zeros((0, EMBED_DIM), np.float32)
        with self._lock:
            model = self._load()
            vectors = model.encode(
                [t[:MAX_CHARS] for t in texts],
                batch_size=batch_size,
                normalize_embeddings=True,
                show_progress_bar=progress,
                convert_to_numpy=True,
            )
        return vectors.astype(np.float32)

    def embed(
        self, texts: list[str], persist: bool = True, progress: bool = False, shard_name: str | None = None
    ) -> np.ndarray:
        keys = [text_key(t[:MAX_CHARS]) for t in texts]
        found, vectors = self.cache.lookup(keys)
        out = np.zeros((len(texts), EMBED_DIM), np.float32)
        out[found] = vectors
        missing = np.flatnonzero(~found)
        if len(missing):
            unique = {keys[i]: texts[i] for i in missing}
            fresh = self.encode(list(unique.values()), progress=progress)
            self.cache.add(list(unique), fresh, persist=persist, name=shard_name)
            rows = {k: j for j, k in enumerate(unique)}
            out[missing] = fresh[[rows[keys[i]] for i in missing]]
        return out


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def hash_ngrams(text: str, buckets: int, max_tokens: int = 400) -> list[int]:
    """Word unigrams and bigrams hashed into `buckets` ids (bucket 0 is padding, never produced)."""
    words = tokens(text[:MAX_CHARS])[:max_tokens]
    grams = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
    return [1 + zlib.crc32(g.encode()) % (buckets - 1) for g in grams] or [1 + zlib.crc32(b"<empty>") % (buckets - 1)]


def pack_ngrams(texts: list[str], buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat ids and offsets for `nn.EmbeddingBag` (offsets mark where each text starts)."""
    lists = [hash_ngrams(t, buckets) for t in texts]
    offsets = np.zeros(len(lists), dtype=np.int64)
    if lists:
        offsets[1:] = np.cumsum([len(x) for x in lists[:-1]])
    flat = np.fromiter((i for x in lists for i in x), dtype=np.int64)
    return flat, offsets


# --- lexicon features ---------------------------------------------------------------------------------------
LEXICON_FEATURES = 4  # VADER's neg, neu, pos and compound scores
_VADER = None
_VADER_LOCK = threading.Lock()


def lexicon_features(texts: list[str]) -> np.ndarray:
    """(N, 4) VADER scores (neg, neu, pos, compound) of each text: a hand-kept, domain-free sentiment lexicon
    with negation and intensity rules ("not bad", "very good"), which the sentiment head reads beside the
    learned views so a short or out-of-domain text still has evidence the lexicon knows."""
    global _VADER
    with _VADER_LOCK:
        if _VADER is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            _VADER = SentimentIntensityAnalyzer()
    out = np.zeros((len(texts), LEXICON_FEATURES), np.float32)
    for i, text in enumerate(texts):
        out[i] = _vader_scores(str(text)[:MAX_CHARS])
    return out


@functools.lru_cache(maxsize=2**17)
def _vader_scores(text: str) -> tuple[float, float, float, float]:
    """One text's VADER scores, kept: every task-data build (the model, its twins, the OOD models) scores the
    same ~45k reviews, at ~1 ms a text."""
    scores = _VADER.polarity_scores(text)
    return scores["neg"], scores["neu"], scores["pos"], scores["compound"]
