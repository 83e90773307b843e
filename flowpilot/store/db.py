"""Where the database is: ``FLOWPILOT_DATABASE_URL``, or an embedded PostgreSQL from pgserver.

The embedded server (real PostgreSQL 16 with pgvector) keeps its data under
``$FLOWPILOT_HOME/pgdata`` (default ``~/.flowpilot``); it is started on first use and reused by
every later process on this machine (pgserver shares one server per data directory). Both paths
run the same code and the same migrations.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

DATABASE_URL_ENV = "FLOWPILOT_DATABASE_URL"
HOME_ENV = "FLOWPILOT_HOME"
EMBEDDED_DATABASE = "flowpilot"

_embedded_lock = threading.Lock()
_embedded_servers: dict[Path, object] = {}


class DatabaseError(RuntimeError):
    """The database cannot be reached or is not usable (with what to do about it)."""


def flowpilot_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".flowpilot").expanduser()


def _normalise(url: str) -> URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise DatabaseError(
            f"{DATABASE_URL_ENV} must be a PostgreSQL URL (postgresql://…), "
            f"not {parsed.drivername}://"
        )
    return parsed


def embedded_url(data_dir: Path | None = None, database: str = EMBEDDED_DATABASE) -> URL:
    """Start (or join) the embedded PostgreSQL in ``data_dir`` and return a URL to ``database``,
    creating the database on first use."""
    data_dir = (data_dir or flowpilot_home() / "pgdata").resolve()
    with _embedded_lock:
        server = _embedded_servers.get(data_dir)
        if server is None or not _is_running(server):
            server = _start_embedded(data_dir)
            _embedded_servers[data_dir] = server
    socket_dir = make_url(server.get_uri()).query.get("host")  # type: ignore[attr-defined]
    admin = sa.create_engine(
        f"postgresql+psycopg://postgres@/postgres?host={quote(str(socket_dir))}",
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}
        ).scalar()
        if not exists:
            # Another process may create it first: that is fine.
            with contextlib.suppress(sa.exc.ProgrammingError):
                conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return make_url(f"postgresql+psycopg://postgres@/{database}?host={quote(str(socket_dir))}")


def _start_embedded(data_dir: Path, attempts: int = 3) -> object:
    """Start or join the pgserver instance of ``data_dir``.

    pgserver registers an instance before it has started PostgreSQL, and hands that broken
    instance to every later call in the process if the start failed (its ``pg_ctl`` waits only
    10 s, which a loaded machine or a crash recovery can exceed). Forget such an instance and try
    again, so one slow start does not poison the process.
    """
    try:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR
            warnings.simplefilter("ignore")
            import pgserver
            from pgserver.postgres_server import PostgresServer
    except ImportError as exc:  # pragma: no cover - a dependency
        raise DatabaseError(
            f"the embedded PostgreSQL needs the 'pgserver' package ({exc}); "
            f"install it or set {DATABASE_URL_ENV}"
        ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    for _ in range(attempts):
        PostgresServer._instances.pop(data_dir, None)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server = pgserver.get_server(str(data_dir), cleanup_mode=None)
            if _is_running(server):
                return server
        except Exception as exc:  # pgserver raises assertions and subprocess errors
            last_error = exc
    PostgresServer._instances.pop(data_dir, None)
    raise DatabaseError(
        f"the embedded PostgreSQL in {data_dir} did not start "
        f"({type(last_error).__name__ if last_error else 'not running'}); "
        f"see {data_dir / 'log'}"
    )


def _is_running(server: object) -> bool:
    info = getattr(server, "_postmaster_info", None)
    try:
        return info is not None and bool(info.is_running())
    except Exception:  # a vanished process
        return False


def database_url() -> URL:
    """The configured database: ``FLOWPILOT_DATABASE_URL`` or the embedded server."""
    configured = os.environ.get(DATABASE_URL_ENV)
    return _normalise(configured) if configured else embedded_url()


def create_engine(url: URL | str | None = None, *, pool_size: int = 10) -> Engine:
    """A SQLAlchemy engine (psycopg 3) with a connection pool."""
    resolved = _normalise(str(url)) if isinstance(url, str) else (url or database_url())
    return sa.create_engine(
        resolved,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping (a round trip per checkout): a connection broken by a database restart
        # fails its statement, SQLAlchemy invalidates the pool, and the work is retried (the
        # broker redelivers, the scheduler sweeps again).
        pool_pre_ping=False,
        pool_recycle=1800,
    )


@lru_cache(maxsize=1)
def default_engine() -> Engine:
    return create_engine()


def redacted(url: URL | str) -> str:
    """The URL with its password hidden, for messages."""
    return make_url(str(url)).render_as_string(hide_password=True)
