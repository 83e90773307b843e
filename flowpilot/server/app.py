"""Assembling the application: routes of every domain, dependencies, error handling,
middleware, OpenAPI, and the runtime the server drives (in-process worker in embedded mode)."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from litestar import Litestar, Router, get
from litestar.config.cors import CORSConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.response import Redirect

from flowpilot import __version__
from flowpilot.runtime.local import LocalRuntime, open_database
from flowpilot.runtime.service import Runtime
from flowpilot.server.config import Settings
from flowpilot.server.deps import DEPENDENCIES, Services
from flowpilot.server.errors import EXCEPTION_HANDLERS
from flowpilot.server.openapi import close_input_schemas, document_problems
from flowpilot.server.ops.controllers import healthz, readyz
from flowpilot.server.ops.middleware import request_id_middleware
from flowpilot.server.triggers.tasks import install_trigger_tasks

API_PREFIX = "/api/v1"

#: Each domain's ``controllers`` module exposes ``ROUTES`` (handlers/controllers under /api/v1)
#: and may expose ``ROOT_ROUTES`` (outside it, like the webhook receiver at /hooks).
DOMAINS = ("auth", "orgs", "workflows", "executions", "triggers", "gitops")


def _domain_routes() -> tuple[list[Any], list[Any]]:
    api: list[Any] = []
    root: list[Any] = []
    for name in DOMAINS:
        try:
            module = importlib.import_module(f"flowpilot.server.{name}.controllers")
        except ModuleNotFoundError as exc:
            if exc.name != f"flowpilot.server.{name}.controllers" and exc.name != (
                f"flowpilot.server.{name}"
            ):
                raise
            continue
        api.extend(getattr(module, "ROUTES", ()))
        root.extend(getattr(module, "ROOT_ROUTES", ()))
    return api, root


@get("/api/docs", include_in_schema=False, sync_to_thread=False)
def api_docs() -> Redirect:
    return Redirect("/api/schema/swagger")


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="FlowPilot API",
        version=__version__,
        description=(
            "Workflows written in the FlowPilot DSL, their versions, executions and triggers. "
            "Authenticate with `Authorization: Bearer <access token or API key>`. Errors are "
            "RFC 9457 problem details with a stable `code`."
        ),
        path="/api/schema",
        render_plugins=[SwaggerRenderPlugin(path="/swagger")],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    bearer_format="JWT or fp_ API key",
                    description="An access token from /api/v1/auth/login, or an API key.",
                ),
            }
        ),
        security=[{"bearer": []}],
        use_handler_docstrings=True,
    )


def create_app(
    settings: Settings | None = None,
    *,
    db: sa.Engine | None = None,
    runtime: Runtime | None = None,
    local: LocalRuntime | None = None,
) -> Litestar:
    """The application. With no ``runtime``, it opens the configured database and starts a
    runtime on startup: an in-process worker and scheduler when ``settings.embedded_worker``,
    otherwise a dispatcher to the configured broker only."""
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        owned: LocalRuntime | None = None
        nonlocal runtime
        if runtime is None:
            engine = db or open_database()
            owned = local or LocalRuntime(
                db=engine,
                threads=settings.worker_threads,
                worker=settings.embedded_worker,
                scheduler=settings.embedded_worker,
            )
            runtime = owned.__enter__()
        app.state.services = Services(db=runtime.db, runtime=runtime, settings=settings)
        # Cron and event triggers run in whichever scheduler this process runs (if any).
        install_trigger_tasks(runtime)
        try:
            yield
        finally:
            if owned is not None:
                owned.__exit__(None, None, None)

    api_routes, root_routes = _domain_routes()
    cors = (
        CORSConfig(
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            expose_headers=["x-request-id", "location"],
        )
        if settings.cors_origins
        else None
    )
    app = Litestar(
        route_handlers=[
            healthz,
            readyz,
            api_docs,
            Router(API_PREFIX, route_handlers=api_routes),
            *root_routes,
        ],
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        cors_config=cors,
        openapi_config=openapi_config(),
        lifespan=[lifespan],
        request_max_body_size=settings.max_body_bytes,
        debug=False,
        logging_config=None,  # the process owner configures logging (flowpilot serve: JSON)
    )
    document_problems(app)
    close_input_schemas(app)
    # Outermost, so that even requests no route matches get a request id and the headers.
    app.asgi_handler = request_id_middleware(settings.security_headers)(app.asgi_handler)
    return app
