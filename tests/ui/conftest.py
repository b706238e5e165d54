"""The app tests' database: `database`, a throwaway SQLite database as GUIDE_DATABASE_URL for app.py under test,
fresh per test module, and the store the tests read it back with."""

from __future__ import annotations

import pytest

from guide.serving.store import Store
from tests.ui.app_driver import app_database


@pytest.fixture(scope="module")
def database(shipped_guide, tmp_path_factory):
    """GUIDE_DATABASE_URL for the app under test; the store the tests read it back with."""
    with app_database(tmp_path_factory, "app") as url:
        store = Store(url)
        yield store
        store.close()
