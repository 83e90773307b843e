"""What handlers receive by dependency injection: the database, the runtime, the settings and
the authenticated caller (checked against the endpoint's permission)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from flowpilot.runtime.service import Runtime
from flowpilot.server.config import Settings
from flowpilot.server.errors import Unauthorized
from flowpilot.server.security import Principal, authenticate, bearer_of


@dataclass
class Services:
    """The process-wide parts every request uses (kept in ``app.state.services``)."""

    db: sa.Engine
    runtime: Runtime
    settings: Settings


def services_of(state: State) -> Services:
    return state.services  # type: ignore[no-any-return]


def provide_db(state: State) -> sa.Engine:
    return services_of(state).db


def provide_runtime(state: State) -> Runtime:
    return services_of(state).runtime


def provide_settings(state: State) -> Settings:
    return services_of(state).settings


def permission_of(request: Request[Any, Any, Any]) -> str | None:
    return request.route_handler.opt.get("permission")


def provide_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    """Authenticate the caller and, when the endpoint names a permission, authorize it."""
    credential = bearer_of(request.headers)
    if credential is None:
        raise Unauthorized(
            "this endpoint needs a bearer token or an API key",
            headers={"WWW-Authenticate": 'Bearer realm="flowpilot"'},
        )
    services = services_of(state)
    with services.db.begin() as conn:
        principal = authenticate(conn, services.settings.secret_key, credential)
    permission = permission_of(request)
    if permission is not None:
        principal.require(permission)
    request.scope.setdefault("state", {})["principal"] = principal
    return principal


DEPENDENCIES = {
    "db": Provide(provide_db, sync_to_thread=False),
    "runtime": Provide(provide_runtime, sync_to_thread=False),
    "settings": Provide(provide_settings, sync_to_thread=False),
    "principal": Provide(provide_principal, sync_to_thread=True),
}


def permission(name: str) -> dict[str, Any]:
    """``opt`` for a route handler that needs ``name`` (see :data:`security.PERMISSIONS`)."""
    return {"permission": name}


# Parameter annotations for handlers: ``def handler(db: DB, principal: Caller) -> …``.
DB = NamedDependency[sa.Engine]
RuntimeDep = NamedDependency[Runtime]
SettingsDep = NamedDependency[Settings]
Caller = NamedDependency[Principal]
