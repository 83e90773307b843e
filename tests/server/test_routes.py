"""Every endpoint is guarded: it names the permission it needs, or it is on a short list of
endpoints that check the caller themselves or that take no bearer credential at all. A new
endpoint that forgets its permission fails here rather than answering every role."""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

from flowpilot.server.app import create_app
from flowpilot.server.config import Settings
from flowpilot.server.security import PERMISSIONS

#: Authenticated endpoints that check the caller's role themselves, where the permission
#: depends on the request: the organization named in the path (tests/server/test_orgs.py),
#: or none beyond being a user (``/me``, creating, listing and switching organizations).
CHECKS_ITS_OWN_CALLER = {
    "me",
    "create_org",
    "list_orgs",
    "get_org",
    "update_org",
    "switch_org",
    "list_members",
    "add_member",
    "change_member_role",
    "remove_member",
}
#: Endpoints with no bearer credential: the body proves who calls (a password, a refresh
#: token) or the delivery is authenticated by the trigger's or the repository's own secret.
NO_BEARER = {"register", "login", "refresh", "logout", "receive_webhook", "receive_push"}
OPERATIONS = {"healthz", "readyz", "api_docs"}


def _handlers() -> list[tuple[str, str, HTTPRouteHandler]]:
    app = create_app(Settings(secret_key="routes-" + "k" * 32))
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if not isinstance(handler, HTTPRouteHandler) or "OPTIONS" in handler.http_methods:
                continue
            if route.path.startswith("/api/schema"):
                continue
            found.append((route.path, handler.handler_name, handler))
    return found


def test_every_endpoint_names_a_permission_or_says_why_not() -> None:
    unguarded = []
    for path, name, handler in _handlers():
        authenticated = "principal" in handler.parsed_fn_signature.parameters
        permission = handler.opt.get("permission")
        if permission is not None:
            assert permission in PERMISSIONS, f"{path}: unknown permission {permission!r}"
            assert authenticated, f"{path} names a permission but takes no caller"
        elif authenticated and name not in CHECKS_ITS_OWN_CALLER:
            unguarded.append(f"{path} ({name}): authenticated, but names no permission")
        elif not authenticated and name not in NO_BEARER | OPERATIONS:
            unguarded.append(f"{path} ({name}): takes no credential at all")
    assert not unguarded, "\n".join(unguarded)


def test_the_lists_above_name_existing_endpoints() -> None:
    names = {name for _, name, _ in _handlers()}
    assert names >= CHECKS_ITS_OWN_CALLER | NO_BEARER | OPERATIONS
