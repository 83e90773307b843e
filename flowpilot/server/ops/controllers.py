"""``/healthz`` (the process answers) and ``/readyz`` (it can reach its database and broker)."""

from __future__ import annotations

from typing import Any

import msgspec
import sqlalchemy as sa
from litestar import Response, get

from flowpilot.runtime.service import Runtime
from flowpilot.server.deps import DB, RuntimeDep


class Health(msgspec.Struct):
    status: str
    checks: dict[str, str] = msgspec.field(default_factory=dict)


@get("/healthz", tags=["operations"], summary="The process is alive", sync_to_thread=False)
def healthz() -> Health:
    return Health(status="ok")


@get(
    "/readyz",
    tags=["operations"],
    summary="The database and the broker answer",
    sync_to_thread=True,
    responses={},
)
def readyz(db: DB, runtime: RuntimeDep) -> Response[Health]:
    checks: dict[str, str] = {}
    try:
        with db.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # a readiness probe reports, it does not raise
        checks["database"] = f"unavailable: {type(exc).__name__}"
    checks["broker"] = _broker_check(runtime)
    ready = all(v == "ok" for v in checks.values())
    return Response(
        Health(status="ok" if ready else "unavailable", checks=checks),
        status_code=200 if ready else 503,
    )


def _broker_check(runtime: Runtime) -> str:
    dispatcher: Any = runtime.dispatcher
    broker = getattr(dispatcher, "broker", None)
    if broker is None:
        return "ok"
    try:
        client = getattr(broker, "client", None)
        if client is not None and hasattr(client, "ping"):  # Redis
            client.ping()
        elif hasattr(broker, "connection"):  # RabbitMQ: opening a channel proves the link
            broker.connection  # noqa: B018
        return "ok"
    except Exception as exc:
        return f"unavailable: {type(exc).__name__}"
