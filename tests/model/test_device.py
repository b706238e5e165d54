"""guide.model.device: GUIDE_DEVICE overrides every other choice, as the README says."""

from __future__ import annotations

import pytest
import torch

from guide.model.device import resolve_device


def test_guide_device_overrides_what_the_caller_asks_for(monkeypatch):
    monkeypatch.setenv("GUIDE_DEVICE", "cpu")
    assert resolve_device("cuda").type == "cpu"
    assert resolve_device(None).type == "cpu"


def test_without_guide_device_the_callers_choice_then_cuda_when_available(monkeypatch):
    monkeypatch.delenv("GUIDE_DEVICE", raising=False)
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_a_bad_or_absent_device_is_refused_with_a_fix(monkeypatch):
    monkeypatch.setenv("GUIDE_DEVICE", "tpu-please")
    with pytest.raises(ValueError, match="expected 'cpu', 'cuda' or 'cuda:N'; got 'tpu-please'; fix:"):
        resolve_device("cpu")
    if not torch.cuda.is_available():
        monkeypatch.setenv("GUIDE_DEVICE", "cuda")
        with pytest.raises(ValueError, match="CUDA is not available here; fix: GUIDE_DEVICE=cpu"):
            resolve_device(None)
