"""Shared fixtures: the real shipped `Guide` (loaded once per session) and a `ShopService` over it on a
throwaway SQLite database. Tests that need them skip, saying why, when the checkpoint or data is absent."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from guide.config import DEFAULT_CHECKPOINT


@pytest.fixture(scope="session")
def shipped_guide():
    """The checkpoint the app would serve: `GUIDE_CHECKPOINT`, else the shipped assets/model."""
    folder = Path(os.environ.get("GUIDE_CHECKPOINT") or DEFAULT_CHECKPOINT)
    if not (folder / "config.json").exists():
        pytest.skip(f"no checkpoint in {folder}; train one with `python -m guide train`")
    from guide import Guide

    try:
        return Guide.load(folder)
    except FileNotFoundError as error:  # the public data sets are not beside the checkout
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def shop(shipped_guide, tmp_path_factory):
    from guide.service import ShopService
    from guide.store import Store

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('shop') / 'shop.db'}")
    yield ShopService(shipped_guide, store)
    store.close()


@pytest.fixture
def visitor() -> str:
    """A fresh visitor per test, so tests sharing the session's database never see each other."""
    return secrets.token_hex(6)
