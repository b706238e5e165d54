"""guide.data.text: the on-disk embedding cache, the cached encoder, and hashed n-grams."""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest

from guide.config import EMBED_DIM, PROJECT_ROOT
from guide.data.text import MAX_CHARS, EmbeddingCache, Encoder, hash_ngrams, pack_ngrams, text_key, tokens

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


def _text_whose_key_ends_with(suffix: bytes) -> str:
    for i in itertools.count():
        text = f"probe text {i}"
        if text_key(text).endswith(suffix):
            return text
    raise AssertionError("unreachable")


def _unit_vectors(count: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, EMBED_DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_cache_round_trip_keeps_keys_whose_digest_ends_in_nul_bytes(tmp_path):
    texts = ["plain review", _text_whose_key_ends_with(b"\0"), _text_whose_key_ends_with(b"\0\0")]
    keys = [text_key(t) for t in texts]
    assert keys[1][-1:] == b"\0" and keys[2][-2:] == b"\0\0"
    vectors = _unit_vectors(3)
    cache = EmbeddingCache(tmp_path, model_id="test/model")
    cache.add(keys, vectors, name="probe")
    assert (tmp_path / "test__model").is_dir()

    reloaded = EmbeddingCache(tmp_path, model_id="test/model")
    assert len(reloaded) == 3
    found, got = reloaded.lookup(keys)
    assert found.all()
    np.testing.assert_array_equal(got, vectors.astype(np.float16).astype(np.float32))


def test_cache_lookup_reports_misses_and_ignores_duplicates(tmp_path):
    cache = EmbeddingCache(tmp_path, model_id="m")
    keys = [text_key("a"), text_key("b")]
    vectors = _unit_vectors(2)
    cache.add(keys, vectors, persist=False)
    cache.add(keys[:1], _unit_vectors(1, seed=5), persist=False)  # first vector wins
    assert len(cache) == 0 and cache.recent_size == 2  # served from the bounded LRU, not the matrix
    assert not list((tmp_path / "m").glob("*.npz"))  # persist=False writes nothing
    found, got = cache.lookup([text_key("b"), text_key("missing"), text_key("a")])
    assert found.tolist() == [True, False, True]
    np.testing.assert_allclose(got, vectors[[1, 0]], atol=1e-3)


def test_serving_texts_never_grow_the_cache(tmp_path, monkeypatch):
    cache = EmbeddingCache(tmp_path, model_id="m")
    cache.add([text_key("catalogue")], _unit_vectors(1))
    encoder = Encoder(cache=cache)
    monkeypatch.setattr(encoder, "encode", lambda texts, **kw: _unit_vectors(len(texts), seed=len(texts)))
    monkeypatch.setattr("guide.data.text.RECENT_ENTRIES", 50)
    matrix_before = cache.lookup([text_key("catalogue")])[1]
    for number in range(200):
        encoder.embed([f"a shopper's review number {number}"], persist=False)
    assert len(cache) == 1 and cache.recent_size == 50  # the LRU is bounded; the matrix did not grow
    assert sum(len(block) for block in cache._blocks) == 1
    assert not list((tmp_path / "m").glob("*.npz"))[1:]  # only the catalogue's shard on disk
    found, _ = cache.lookup([text_key("a shopper's review number 199"), text_key("a shopper's review number 0")])
    assert found.tolist() == [True, False]  # the newest are kept, the oldest evicted
    np.testing.assert_array_equal(cache.lookup([text_key("catalogue")])[1], matrix_before)


def test_cache_is_separate_per_model_id(tmp_path):
    EmbeddingCache(tmp_path, model_id="one").add([text_key("x")], _unit_vectors(1))
    assert len(EmbeddingCache(tmp_path, model_id="one")) == 1
    assert len(EmbeddingCache(tmp_path, model_id="two")) == 0


def test_embed_uses_the_cache_on_the_second_call(tmp_path, monkeypatch):
    encoder = Encoder(cache=EmbeddingCache(tmp_path, model_id="fake"))
    calls = []

    def fake_encode(texts, batch_size=64, progress=False):
        calls.append(list(texts))
        return _unit_vectors(len(texts), seed=len(calls))

    monkeypatch.setattr(encoder, "encode", fake_encode)
    texts = ["good lipstick", "bad serum", "good lipstick"]
    first = encoder.embed(texts, persist=True)
    assert calls == [["good lipstick", "bad serum"]]  # duplicates are encoded once
    np.testing.assert_array_equal(first[0], first[2])

    def refuse(*args, **kwargs):
        raise AssertionError("encode called for cached texts")

    monkeypatch.setattr(encoder, "encode", refuse)
    np.testing.assert_allclose(encoder.embed(texts), first, atol=1e-3)
    # and a fresh cache object over the same folder reads the persisted shard
    again = Encoder(cache=EmbeddingCache(tmp_path, model_id="fake"))
    monkeypatch.setattr(again, "encode", refuse)
    np.testing.assert_allclose(again.embed(texts[:2]), first[:2], atol=1e-3)


def test_embed_keys_long_texts_by_their_readable_prefix(tmp_path, monkeypatch):
    encoder = Encoder(cache=EmbeddingCache(tmp_path, model_id="fake"))
    monkeypatch.setattr(encoder, "encode", lambda texts, **kw: _unit_vectors(len(texts)))
    base = "x" * MAX_CHARS
    first = encoder.embed([base + " tail one"], persist=False)
    monkeypatch.setattr(encoder, "encode", lambda *a, **kw: pytest.fail("re-encoded an equal prefix"))
    np.testing.assert_allclose(encoder.embed([base + " another tail"], persist=False), first, atol=1e-3)


def test_real_encoder_returns_normalised_vectors(encoder):
    texts = ["This moisturiser left my skin soft and calm.", "Broke out after one use, returning it."]
    vectors = encoder.encode(texts)
    assert vectors.shape == (2, EMBED_DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert float(vectors[0] @ vectors[1]) < 0.99  # different texts, different vectors
    assert encoder.encode([]).shape == (0, EMBED_DIM)


def test_shipped_cached_embeddings_are_normalised(encoder, small_catalog):
    vectors = encoder.embed(small_catalog.items["text"].tolist()[:200], persist=False)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=5e-3)


def test_tokens_lowercase_words_keep_apostrophes_and_marks():
    assert tokens("Don't LOVE it!! 10/10?") == ["don't", "love", "it", "!", "!", "10", "10", "?"]


@pytest.mark.parametrize("buckets", [2, 17, 2**12])
def test_hash_ngrams_are_in_range_and_never_padding(buckets):
    ids = hash_ngrams("Great matte lipstick, great colour and it lasts all day", buckets)
    words = len(tokens("Great matte lipstick, great colour and it lasts all day"))
    assert len(ids) == words + (words - 1)  # unigrams + bigrams
    assert all(1 <= i < buckets for i in ids)
    assert len(hash_ngrams("", buckets)) == 1 and 1 <= hash_ngrams("", buckets)[0] < buckets


def test_hash_ngrams_are_deterministic_across_processes():
    text = "hydrating serum for dry skin"
    here = hash_ngrams(text, 2**12)
    code = f"from guide.data.text import hash_ngrams; print(hash_ngrams({text!r}, 2**12))"
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            check=True,
            timeout=60,
        )
        assert out.stdout.strip() == str(here)
    assert hash_ngrams(text, 2**12) != hash_ngrams("oily skin cleanser", 2**12)


def test_hash_ngrams_cap_the_number_of_tokens():
    ids = hash_ngrams("word " * 10_000, 2**12, max_tokens=50)
    assert len(ids) == 50 + 49


def test_pack_ngrams_offsets_mark_each_text():
    texts = ["one two", "three", "four five six"]
    flat, offsets = pack_ngrams(texts, 64)
    assert offsets.tolist() == [0, 3, 4]
    assert flat.tolist() == [i for t in texts for i in hash_ngrams(t, 64)]
