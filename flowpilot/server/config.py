"""Server settings, read once from the environment (``FLOWPILOT_*``)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from flowpilot.store.db import DATABASE_URL_ENV, flowpilot_home

SECRET_KEY_ENV = "FLOWPILOT_SECRET_KEY"


class ConfigError(RuntimeError):
    """A setting is missing or invalid (the message says which and what to do)."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, not {value}")
    return value


def _list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _secret_key() -> str:
    """The key that signs tokens. Embedded mode keeps a generated one under FLOWPILOT_HOME; a
    distributed deployment must share one key between its servers, so it must be given."""
    configured = os.environ.get(SECRET_KEY_ENV)
    if configured:
        if len(configured) < 32:
            raise ConfigError(f"{SECRET_KEY_ENV} must be at least 32 characters long")
        return configured
    if os.environ.get(DATABASE_URL_ENV):
        raise ConfigError(
            f"{SECRET_KEY_ENV} is not set: with an external database every server must sign "
            "tokens with the same key (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`)"
        )
    path = flowpilot_home() / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
    return Path(path).read_text().strip()


@dataclass(frozen=True)
class Settings:
    """What the server needs to know; :meth:`from_env` reads it."""

    secret_key: str
    access_token_seconds: int = 15 * 60
    refresh_token_seconds: int = 7 * 24 * 3600
    #: Largest request body accepted anywhere (webhooks have their own, smaller limit).
    max_body_bytes: int = 10 * 1024 * 1024
    webhook_max_body_bytes: int = 1024 * 1024
    #: How old a signed webhook delivery may be (and how long its signature is remembered).
    webhook_replay_seconds: int = 300
    cors_origins: list[str] = field(default_factory=list)
    #: Content-Security-Policy and friends on every response.
    security_headers: bool = True
    #: Run a worker and the scheduler inside the server process (embedded mode).
    embedded_worker: bool = True
    worker_threads: int = 8
    #: Longest ``wait`` a client may ask for when starting an execution.
    max_wait_seconds: int = 300
    public_url: str = "http://127.0.0.1:8080"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "secret_key": _secret_key(),
            "access_token_seconds": _int("FLOWPILOT_ACCESS_TOKEN_SECONDS", 15 * 60),
            "refresh_token_seconds": _int("FLOWPILOT_REFRESH_TOKEN_SECONDS", 7 * 24 * 3600),
            "max_body_bytes": _int("FLOWPILOT_MAX_BODY_BYTES", 10 * 1024 * 1024),
            "webhook_max_body_bytes": _int("FLOWPILOT_WEBHOOK_MAX_BODY_BYTES", 1024 * 1024),
            "webhook_replay_seconds": _int("FLOWPILOT_WEBHOOK_REPLAY_SECONDS", 300),
            "cors_origins": _list("FLOWPILOT_CORS_ORIGINS"),
            "security_headers": os.environ.get("FLOWPILOT_SECURITY_HEADERS", "1") != "0",
            "max_wait_seconds": _int("FLOWPILOT_MAX_WAIT_SECONDS", 300),
            "public_url": os.environ.get("FLOWPILOT_PUBLIC_URL", "http://127.0.0.1:8080"),
            "embedded_worker": os.environ.get("FLOWPILOT_EMBEDDED_WORKER", "1") != "0",
            "worker_threads": _int("FLOWPILOT_WORKER_THREADS", 8),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
