"""The on-disk catalogue cache: the same catalogue back, invalidated by a changed data file, off on request."""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from guide.config import DataConfig, data_dir
from guide.data.catalog import FOLDERS, Catalog

pytestmark = pytest.mark.realdata


@pytest.fixture
def data_copy(tmp_path):
    root = tmp_path / "data"
    for folder in FOLDERS.values():
        if not (data_dir() / folder).is_dir():
            pytest.skip(f"real data absent: {data_dir() / folder}")
        shutil.copytree(data_dir() / folder, root / folder)
    return root


def test_a_cached_catalogue_equals_the_one_read_from_the_files(data_copy, tmp_path, monkeypatch):
    config = DataConfig(sephora_fraction=0.1, clothing_fraction=0.02)
    monkeypatch.setenv("GUIDE_CACHE_DIR", str(tmp_path / "cache"))
    first = Catalog.load(data_copy, config)
    assert len(list((tmp_path / "cache").glob("catalog-*.pkl"))) == 1
    second = Catalog.load(data_copy, config)
    pd.testing.assert_frame_equal(first.items.drop(columns="features"), second.items.drop(columns="features"))
    pd.testing.assert_frame_equal(first.interactions, second.interactions)
    assert first.fingerprint() == second.fingerprint() and first.tags == second.tags
    monkeypatch.setenv("GUIDE_CACHE_DIR", "off")
    fresh = Catalog.load(data_copy, config)
    assert fresh.fingerprint() == first.fingerprint()


def test_a_changed_data_file_or_config_misses_the_cache(data_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("GUIDE_CACHE_DIR", str(tmp_path / "cache"))
    config = DataConfig(sephora_fraction=0.1, clothing_fraction=0.02)
    Catalog.load(data_copy, config)
    before = {p.name for p in (tmp_path / "cache").glob("catalog-*.pkl")}
    csv = data_copy / FOLDERS["amazon"] / "All_Beauty.test.csv"
    os.utime(csv, ns=(csv.stat().st_atime_ns, csv.stat().st_mtime_ns + 10**9))
    Catalog.load(data_copy, config)
    after = {p.name for p in (tmp_path / "cache").glob("catalog-*.pkl")}
    assert after and after != before  # a new key; the stale file is gone
    Catalog.load(data_copy, DataConfig(sephora_fraction=0.2, clothing_fraction=0.02))
    assert {p.name for p in (tmp_path / "cache").glob("catalog-*.pkl")} != after


def test_an_unreadable_cache_file_is_ignored(data_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("GUIDE_CACHE_DIR", str(tmp_path / "cache"))
    config = DataConfig(sephora_fraction=0.1, clothing_fraction=0.02)
    first = Catalog.load(data_copy, config)
    (cached,) = (tmp_path / "cache").glob("catalog-*.pkl")
    cached.write_bytes(b"not a pickle")
    assert Catalog.load(data_copy, config).fingerprint() == first.fingerprint()
