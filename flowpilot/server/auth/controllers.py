"""``/auth/*`` (register, log in, refresh, log out) and ``GET /me``."""

from __future__ import annotations

import sqlalchemy as sa
from litestar import Response, get, post
from litestar.params import JSONBody

from flowpilot.server.auth import services, tokens
from flowpilot.server.auth.schemas import (
    LoginInput,
    Me,
    RefreshInput,
    RegisterInput,
    Registration,
    TokenPair,
    User,
)
from flowpilot.server.deps import DB, Caller, SettingsDep
from flowpilot.server.orgs.api_keys import get_api_key
from flowpilot.server.orgs.services import list_memberships
from flowpilot.server.security import PERMISSIONS

AUTH = ["auth"]
#: These endpoints take no bearer credential (the body carries what proves who you are).
ANONYMOUS = [{}]
#: Token responses must not be cached by anything between the server and the client.
NO_STORE = {"Cache-Control": "no-store"}


@post(
    "/auth/register",
    summary="Create an account (with a personal organization you own) and log in",
    tags=AUTH,
    status_code=201,
    security=ANONYMOUS,
    sync_to_thread=True,
)
def register(
    data: JSONBody[RegisterInput], db: DB, settings: SettingsDep
) -> Response[Registration]:
    return Response(
        services.register(db, settings, data),
        status_code=201,
        headers={**NO_STORE, "Location": "/api/v1/me"},
    )


@post(
    "/auth/login",
    summary="Log in with email and password: an access and a refresh token",
    description=(
        "A wrong email and a wrong password both answer 401 invalid_credentials. "
        "`organization` (id or slug) picks the organization to act in; by default the one "
        "you joined first."
    ),
    tags=AUTH,
    status_code=200,
    security=ANONYMOUS,
    sync_to_thread=True,
)
def login(data: JSONBody[LoginInput], db: DB, settings: SettingsDep) -> Response[TokenPair]:
    return Response(services.login(db, settings, data), headers=NO_STORE)


@post(
    "/auth/refresh",
    summary="Trade a refresh token for a new pair (the old one stops working)",
    description=(
        "Presenting a refresh token a second time logs out every session of its family "
        "(401 refresh_token_reused)."
    ),
    tags=AUTH,
    status_code=200,
    security=ANONYMOUS,
    sync_to_thread=True,
)
def refresh(data: JSONBody[RefreshInput], db: DB, settings: SettingsDep) -> Response[TokenPair]:
    return Response(tokens.refresh_session(db, settings, data.refresh_token), headers=NO_STORE)


@post(
    "/auth/logout",
    summary="Log out: revoke the refresh token and every token of its session",
    tags=AUTH,
    status_code=204,
    security=ANONYMOUS,
    sync_to_thread=True,
)
def logout(data: JSONBody[RefreshInput], db: DB) -> None:
    tokens.end_session(db, data.refresh_token)


@get(
    "/me",
    summary="Who you are, your organizations and what you may do",
    tags=AUTH,
    sync_to_thread=True,
)
def me(db: DB, principal: Caller) -> Me:
    with db.connect() as conn:
        user = api_key = None
        if principal.user_id is not None:
            row = conn.execute(
                sa.text("SELECT id, email, name, created_at FROM users WHERE id = :u"),
                {"u": principal.user_id},
            ).one()
            user = User(id=row.id, email=row.email, name=row.name, created_at=row.created_at)
        else:
            assert principal.api_key_id is not None
            api_key = get_api_key(conn, principal.org, principal.api_key_id)
        organizations, _ = list_memberships(conn, principal, limit=1000)
    active = next((o for o in organizations if o.id == principal.org_id), None)
    return Me(
        user=user,
        api_key=api_key,
        organizations=organizations,
        organization=active,
        role=principal.role.name if principal.role else None,
        permissions=[p for p in PERMISSIONS if principal.can(p)],
    )


ROUTES = [register, login, refresh, logout, me]
