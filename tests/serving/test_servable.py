"""What `Guide` refuses to serve and how it runs a pass: a checkpoint over other data than it was trained on,
a checkpoint without calibration (refused, or flagged when allowed), the prepared-array cache keyed by the
code that fills it, reviews encoded outside the model lock, passes on the serving threads."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from threadpoolctl import threadpool_info

from guide.serving import prepared

pytest_plugins = ["tests.core_fixtures"]
pytestmark = pytest.mark.usefixtures("one_thread")


def _copy_with(folder, tmp_path, **changes):
    copy = shutil.copytree(folder, tmp_path / "ckpt")
    document = json.loads((copy / "config.json").read_text())
    document.update(changes)
    (copy / "config.json").write_text(json.dumps(document))
    return copy


def test_a_checkpoint_over_other_data_is_refused_with_a_fix(tiny_checkpoint_dir, embedding_dir, tmp_path):
    from guide.serving.facade import Guide

    folder = _copy_with(tiny_checkpoint_dir, tmp_path, fingerprint="0123456789abcdef")
    with pytest.raises(ValueError, match=r"data fingerprint: expected 0123456789abcdef .* got [0-9a-f]+;.*Fix: serve"):
        Guide.load(path=folder, device="cpu")


def test_an_uncalibrated_checkpoint_is_refused_unless_allowed_then_flagged(guide, tiny_checkpoint_dir, tmp_path):
    from guide.serving.facade import Guide

    assert guide.uncalibrated == []  # the trained checkpoint carries every task's calibration
    document = json.loads((tiny_checkpoint_dir / "config.json").read_text())
    calibration = dict(document["calibration"])
    del calibration["purchase_temperature"], calibration["sentiment_bias"]
    folder = _copy_with(tiny_checkpoint_dir, tmp_path, calibration=calibration)
    with pytest.raises(ValueError, match="calibration: expected purchase_temperature, sentiment_bias .*Fix: calibrate"):
        Guide.load(path=folder, device="cpu")
    flagged = Guide.load(path=folder, device="cpu", allow_uncalibrated=True)
    assert flagged.uncalibrated == ["purchase_temperature", "sentiment_bias"]


def _fill_a():
    return {}


def _fill_b():
    return {"other": None}


def test_the_prepared_cache_key_follows_the_code_that_fills_it():
    from tests.core_fixtures import synthetic_model

    model, cpu = synthetic_model(), torch.device("cpu")
    same = prepared.key(model, {}, "data", cpu, _fill_a)
    assert prepared.key(model, {}, "data", cpu, _fill_a) == same
    assert prepared.key(model, {}, "data", cpu, _fill_b) != same  # another filling function: another file
    assert prepared.key(model, {}, "other data", cpu, _fill_a) != same
    assert b"def _fill_b" in prepared.fill_source(_fill_b)


def test_reviews_are_encoded_outside_the_model_lock(guide, monkeypatch):
    embed, held = guide.encoder.embed, []

    def recording(*args, **kwargs):  # the real encoder, noting whether a pass holds the model lock
        held.append(guide._lock.locked())
        return embed(*args, **kwargs)

    monkeypatch.setattr(guide.encoder, "embed", recording)
    guide.sentiment(["Soft and light, my skin loves it."])
    guide.predict([], items=[], review="It stung my eyes; returned it.")
    assert held == [False, False]


def _blas_threads() -> list[int]:
    return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]


def test_a_pass_runs_on_the_serving_threads_whatever_torch_is_set_to(guide, monkeypatch):
    """torch's default threads (here 2) are not what a pass runs on: the torch (OpenMP) and BLAS pools are
    both at GUIDE_TORCH_THREADS (1) inside it, and torch's setting is given back afterwards."""
    seen = []
    hook = guide.model.register_forward_pre_hook(lambda *_: seen.append((torch.get_num_threads(), _blas_threads())))
    torch.set_num_threads(2)
    try:
        guide.predict([], items=[], review="Lovely.")
        assert torch.get_num_threads() == 2
    finally:
        hook.remove()
    assert seen == [(1, [1] * len(_blas_threads()))]
