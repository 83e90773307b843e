"""PostgreSQL for tests: one embedded server per test session (or FLOWPILOT_TEST_DATABASE_URL),
one migrated template database per process, and a fresh database per test cloned from it."""

from __future__ import annotations

import os
import tempfile
import threading
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


def server_url() -> URL:
    external = os.environ.get("FLOWPILOT_TEST_DATABASE_URL")
    if external:
        return make_url(external).set(drivername="postgresql+psycopg")
    data_dir = Path(tempfile.gettempdir()) / f"flowpilot-test-pg-{os.getuid()}"
    return embedded_url(data_dir, database="postgres")


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
