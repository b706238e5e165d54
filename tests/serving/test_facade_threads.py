"""One shared `Guide` (the shipped model) driven from several threads at once, as the app's sessions do:
mixes of predict, score_catalog, attributes, sentiment, profile and search give the same results as the
same calls one at a time, nothing raises, and each thread reads the time of its own forward pass."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

THREADS = 6
REPEATS = 4  # each call runs this many times, in a shuffled order, across the threads


@pytest.fixture(scope="module")
def histories(shipped_guide) -> list[list[str]]:
    """Three real shoppers' train histories (oldest first): short, typical and long."""
    inter = shipped_guide.interactions
    train = inter[inter["split"] == "train"].sort_values("timestamp")
    lengths = train.groupby("user_id").size().sort_values()
    users = [lengths.index[0], lengths.index[len(lengths) // 2], lengths.index[-1]]
    return [train.loc[train["user_id"] == user, "item_id"].tolist() for user in users]


def _plain(value):
    """A result as nested tuples of strings and float arrays, comparable across runs."""
    if isinstance(value, np.ndarray):
        return value.astype(np.float64)
    if isinstance(value, dict):
        return tuple((key, _plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_plain(item) for item in value)
    if isinstance(value, float):
        return np.float64(value)
    if hasattr(value, "__dataclass_fields__"):
        fields = [name for name in value.__dataclass_fields__ if name not in ("elapsed_ms", "device")]
        return tuple((name, _plain(getattr(value, name))) for name in fields)
    return value


def _assert_same(got, want, where: str) -> None:
    if isinstance(want, np.ndarray) or isinstance(want, np.float64):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9, err_msg=where)
        return
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), f"{where}: {len(got)} parts, expected {len(want)}"
        for number, (g, w) in enumerate(zip(got, want, strict=True)):
            _assert_same(g, w, f"{where}[{number}]")
        return
    assert got == want, where


def _calls(guide, histories) -> dict[str, callable]:
    short, typical, long = histories
    reviewed = typical[-1]
    return {
        "predict": lambda: guide.predict(typical, review="Lovely and light, no breakouts.", review_item=reviewed),
        "predict_items": lambda: guide.predict(long, items=short[:5], review="Smells awful, returned it."),
        "score_catalog": lambda: guide.score_catalog(short),
        "score_catalog_new": lambda: guide.score_catalog([]),
        "attributes": lambda: guide.attributes(["Vegan hyaluronic serum for dry skin", "Matte long-wear lipstick"]),
        "sentiment": lambda: guide.sentiment(["Broke after two days.", "Fine, nothing special", "Love it!"]),
        "profile": lambda: guide.profile(long),
        "search": lambda: guide.search("gentle moisturizer for dry skin", k=20),
    }


def test_one_guide_from_many_threads_gives_the_single_thread_results(shipped_guide, histories):
    calls = _calls(shipped_guide, histories)
    for call in calls.values():  # a text's first embedding is float32, later ones come from the float16 cache
        call()
    expected = {name: _plain(call()) for name, call in calls.items()}
    order = [name for name in calls for _ in range(REPEATS)]
    random.Random(8).shuffle(order)
    start = threading.Barrier(THREADS)
    own_timing_mismatches = []

    def run(name: str):
        if threading.get_ident() not in started:
            started.add(threading.get_ident())
            start.wait(timeout=60)  # every worker begins together, so the calls overlap
        result = calls[name]()
        if name.startswith("predict") and shipped_guide.last_inference_ms != result.elapsed_ms:
            own_timing_mismatches.append((name, shipped_guide.last_inference_ms, result.elapsed_ms))
        return name, _plain(result)

    started: set[int] = set()
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(run, order))  # re-raises the first exception of any call

    assert len(results) == len(order)
    for number, (name, got) in enumerate(results):
        _assert_same(got, expected[name], f"call {number} ({name})")
    assert not own_timing_mismatches, "a thread read another thread's forward-pass time"


def test_each_thread_reads_its_own_pass_and_wait(shipped_guide, histories):
    """`last_inference_ms` / `last_wait_ms` are the calling thread's (the app shows them to that session)."""
    seen, gate = {}, threading.Barrier(2)

    def shopper(number: int) -> None:
        gate.wait(timeout=60)
        prediction = shipped_guide.predict(histories[number], review=f"Review number {number}, quite nice.")
        gate.wait(timeout=60)  # both passes are done before either thread reads its figures
        seen[number] = (prediction.elapsed_ms, shipped_guide.last_inference_ms, shipped_guide.last_wait_ms)

    threads = [threading.Thread(target=shopper, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert set(seen) == {0, 1}
    for elapsed, last_pass, last_wait in seen.values():
        assert last_pass == elapsed and last_wait >= 0
    assert max(wait for _, _, wait in seen.values()) > 0  # one of the two waited for the other's pass


def _wait_until(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_asks_that_queue_during_a_pass_are_served_together_by_one_pass(shipped_guide, histories):
    """Six sessions ask while a pass runs (the lock is held): when it ends, ONE batched pass serves all six,
    each gets exactly its single-thread result, and each thread reads that pass's time and its own wait."""
    guide, reviews = shipped_guide, [f"Shopper {n} says: light, lovely, no breakouts at all." for n in range(THREADS)]
    shoppers = [histories[n % 3][: 3 + n] for n in range(THREADS)]
    asks = [lambda n=n: guide.predict(shoppers[n], review=reviews[n], review_item=shoppers[n][-1]) for n in range(3)]
    asks += [lambda: guide.score_catalog(shoppers[3]), lambda: guide.profile(shoppers[4])]
    asks += [lambda: guide.sentiment([reviews[5], "Broke after two days."])]
    for ask in asks:  # a text's first embedding is float32, later ones come from the float16 cache
        ask()
    expected = [_plain(ask()) for ask in asks]
    results, timings = {}, {}

    def shopper(number: int) -> None:
        results[number] = asks[number]()
        timings[number] = (getattr(results[number], "elapsed_ms", None), guide.last_inference_ms, guide.last_wait_ms)

    batcher = guide.batcher
    passes, served = batcher.passes, batcher.served
    running = threading.Thread(target=guide.score_catalog, args=(histories[0],))
    threads = [threading.Thread(target=shopper, args=(n,)) for n in range(THREADS)]
    with guide._lock:  # another model call holds the lock, so the pass led by `running` cannot end yet
        running.start()
        _wait_until(lambda: batcher.busy and not batcher.queued)
        for thread in threads:
            thread.start()
        _wait_until(lambda: batcher.queued == THREADS)
    for thread in [running, *threads]:
        thread.join(timeout=120)
    assert sorted(results) == list(range(THREADS))
    assert (batcher.passes - passes, batcher.served - served) == (2, 1 + THREADS)  # `running`'s, then one
    for number, want in enumerate(expected):
        _assert_same(_plain(results[number]), want, f"ask {number}")
    shared_pass = timings[0][1]
    for number in range(3):  # predicts: the pass shown is the shared one; the wait is each thread's own
        elapsed, last_pass, last_wait = timings[number]
        assert elapsed == last_pass == shared_pass and last_wait > 0


def test_a_failing_ask_fails_alone_and_the_others_in_its_batch_are_served():
    from guide.serving.batching import Ask, MicroBatcher

    lock, calls = threading.Lock(), []

    def run_pass(asks):
        calls.append(len(asks))
        if any(ask.texts == ["bad"] for ask in asks):
            raise ValueError("bad text")
        for ask in asks:
            ask.out = {"echo": list(ask.texts)}

    batcher = MicroBatcher(lock, run_pass)
    results = {}

    def worker(text: str) -> None:
        try:
            results[text] = batcher.run(Ask(texts=[text]))
        except ValueError as error:
            results[text] = error

    texts = ["first", "a", "bad", "b"]
    threads = [threading.Thread(target=worker, args=(text,)) for text in texts]
    with lock:  # "first" leads a pass that waits for the lock; the other three queue meanwhile
        threads[0].start()
        _wait_until(lambda: batcher.busy and not batcher.queued)
        for thread in threads[1:]:
            thread.start()
        _wait_until(lambda: batcher.queued == 3)
    for thread in threads:
        thread.join(timeout=30)
    assert calls[:2] == [1, 3] and calls[2:] == [1, 1, 1]  # "first", the batch, then each of its asks alone
    assert results["a"] == {"echo": ["a"]} and results["b"] == {"echo": ["b"]}
    assert isinstance(results["bad"], ValueError)
    assert (batcher.passes, batcher.served) == (5, 3)
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(lock, run_pass, max_batch=0)


def test_serving_threads_come_from_the_environment(monkeypatch):
    import torch

    from guide.serving.facade import SERVING_THREADS_ENV, use_serving_threads

    before = torch.get_num_threads()
    try:
        monkeypatch.delenv(SERVING_THREADS_ENV, raising=False)
        assert use_serving_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv(SERVING_THREADS_ENV, "2")
        assert use_serving_threads() == 2 and torch.get_num_threads() == 2
        for bad in ("0", "two", "-1"):
            monkeypatch.setenv(SERVING_THREADS_ENV, bad)
            with pytest.raises(ValueError, match="expected a whole number"):
                use_serving_threads()
    finally:
        torch.set_num_threads(before)
