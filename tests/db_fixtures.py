"""Database fixtures for the store tests: a SQLite file and a throwaway local PostgreSQL server.

The PostgreSQL params start their own server from the installed binaries (initdb + pg_ctl, loopback
only, in a temporary directory) and skip with a reason when no binaries are installed.
Use from a test module with `pytest_plugins = ["tests.db_fixtures"]`.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from guide.serving.store import Store, metadata

PG_USER = "guide"
PG_DATABASE = "guide_test"


def _postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and pg_ctl."""
    found = [
        path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb") if (path.parent / "pg_ctl").exists()
    ]
    return max(found, key=lambda path: int(re.sub(r"\D", "", path.parent.name) or 0), default=None)


def _run_as_prefix(directory: Path) -> list[str]:
    """initdb refuses root: run the server as an unprivileged user that owns `directory`."""
    if os.geteuid() != 0:
        return []
    for name in ("postgres", "nobody"):
        try:
            user = pwd.getpwnam(name)
        except KeyError:
            continue
        if shutil.which("runuser"):
            os.chown(directory, user.pw_uid, user.pw_gid)
            return ["runuser", "-u", name, "--"]
    pytest.skip("running as root without runuser and a 'postgres' or 'nobody' user to run initdb")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(command: list[str], cwd: Path, log: Path | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        log_text = log.read_text()[-2000:] if log and log.exists() else ""
        pytest.fail(f"{command[-1]!r} failed ({done.returncode}): {done.stderr}\n{log_text}")


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server on 127.0.0.1:<free port> for this test session; stopped at the end."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb)")
    root = Path(tempfile.mkdtemp(prefix="guide-pg-"))
    data, log, port = root / "data", root / "server.log", free_port()
    prefix = _run_as_prefix(root)
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    try:
        _run(
            [
                *prefix,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            cwd=root,
        )
        _run(
            [
                *prefix,
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "30",
                "-o",
                options,
                "start",
            ],
            cwd=root,
            log=log,
        )
        admin = sa.create_engine(
            f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {PG_DATABASE}")
        admin.dispose()
        yield f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/{PG_DATABASE}"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                cwd=root,
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    """A fresh Store on each backend; the PostgreSQL tables are dropped after every test."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'guide.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = Store(url)
    yield opened
    metadata.drop_all(opened.engine)
    opened.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'guide.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request, tmp_path):
    """The URL of a database with no tables yet: a new SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    server = sa.make_url(request.getfixturevalue("postgres_url"))
    name = f"guide_fresh_{secrets.token_hex(4)}"
    admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


def sample_review(store: Store, shopper_id: str = "ana", **overrides):
    """Save a plain review (overrides change any argument) and return what `save_review` returns."""
    arguments = {
        "shopper_id": shopper_id,
        "session_id": "s1",
        "item_id": "lipstick",
        "stars": 4,
        "title": "Nice",
        "text": "Lasts all day.",
        "sentiment_label": "positive",
        "sentiment_score": 0.8,
        "interests": {"lips": 0.7, "vegan": 0.3},
    }
    return store.save_review(**{**arguments, **overrides})
