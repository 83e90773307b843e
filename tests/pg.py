"""PostgreSQL for tests: one embedded server per test session (or FLOWPILOT_TEST_DATABASE_URL),
one migrated template database per process, and a fresh database per test cloned from it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from flowpilot.store import migrate
from flowpilot.store.db import create_engine, embedded_url

_lock = threading.Lock()
_template: dict[str, URL] = {}


PG_DIR_ENV = "FLOWPILOT_TEST_PG_DIR"


def server_url() -> URL:
    external = os.environ.get("FLOWPILOT_TEST_DATABASE_URL")
    if external:
        return make_url(external).set(drivername="postgresql+psycopg")
    return embedded_url(run_server_dir(), database="postgres")


def run_server_dir() -> Path:
    """The data directory of this test run's embedded server.

    The conftest gives each run (all its xdist workers) a directory of its own, so a run never
    joins a server that another checkout, session or earlier run started and may stop under it.
    """
    configured = os.environ.get(PG_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"flowpilot-test-pg-{os.getuid()}"


def start_test_server_dir() -> Path:
    """Choose a fresh data directory for this run; workers inherit it through the environment.
    Directories that killed runs left behind (no live server, untouched for an hour) go."""
    for stale in Path(tempfile.gettempdir()).glob("fp-pg-*"):
        with contextlib.suppress(OSError, ValueError):
            if time.time() - stale.stat().st_mtime > 3600 and not _server_alive(stale / "data"):
                shutil.rmtree(stale, ignore_errors=True)
    parent = Path(tempfile.mkdtemp(prefix="fp-pg-"))
    data_dir = parent / "data"
    os.environ[PG_DIR_ENV] = str(data_dir)
    return data_dir


def _server_alive(data_dir: Path) -> bool:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def stop_test_server(data_dir: Path) -> None:
    """Stop the run's embedded server (if one started) and remove its files."""
    pid_file = data_dir / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError):
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, signal.SIGQUIT)  # immediate shutdown: the data is thrown away anyway
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.05)
    shutil.rmtree(data_dir.parent, ignore_errors=True)


def _admin(url: URL) -> sa.Engine:
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def template_url() -> URL:
    with _lock:
        if "t" not in _template:
            base = server_url()
            name = f"fp_template_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            admin = _admin(base)
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = base.set(database=name)
            engine = create_engine(url, pool_size=1)
            migrate.upgrade(engine)
            engine.dispose()
            _template["t"] = url
        return _template["t"]


def fresh_database() -> Iterator[sa.Engine]:
    template = template_url()
    name = f"fp_test_{uuid.uuid4().hex[:12]}"
    admin = _admin(template.set(database="postgres"))
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
    engine = create_engine(template.set(database=name), pool_size=5)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def service_url(env: str) -> str:
    """A URL of a machine service for tests, or skip (fail under FLOWPILOT_REQUIRE_SERVICES)."""
    url = os.environ.get(env)
    if not url:
        if os.environ.get("FLOWPILOT_REQUIRE_SERVICES"):
            pytest.fail(f"{env} is not set but FLOWPILOT_REQUIRE_SERVICES=1")
        pytest.skip(f"{env} is not set: this test needs that service")
    return url
