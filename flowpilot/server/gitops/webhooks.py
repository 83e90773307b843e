"""Push webhooks from GitHub, GitLab and Gitea: which host sent a delivery, whether it is
authentic, and whether it concerns the ref a repository syncs.

Each host proves a delivery its own way, all with the repository's webhook secret:

- GitHub: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>``;
- Gitea (and Forgejo): ``X-Gitea-Signature: <hex HMAC-SHA256(secret, raw body)>``;
- GitLab: ``X-Gitlab-Token: <secret>``.

Gitea also sends GitHub's headers, so it is recognised first. The body is parsed only once the
delivery is authentic.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from flowpilot.server.errors import BadRequest, FieldError, Unauthorized

Provider = Literal["github", "gitlab", "gitea"]
_PUSH_EVENTS: dict[str, tuple[str, ...]] = {
    "github": ("push",),
    "gitea": ("push",),
    "gitlab": ("Push Hook", "Tag Push Hook"),
}
_DELETED = "0" * 40


@dataclass(frozen=True)
class Push:
    ref: str
    after: str | None
    default_branch: str | None


def identify(headers: Mapping[str, str]) -> tuple[Provider, str]:
    """(the host, its event name) from the delivery's headers; 400 when none is recognised."""
    for header, provider in (
        ("x-gitea-event", "gitea"),
        ("x-gitlab-event", "gitlab"),
        ("x-github-event", "github"),
    ):
        event = headers.get(header)
        if event:
            return provider, event.strip()  # type: ignore[return-value]
    raise BadRequest(
        "not a webhook from GitHub, GitLab or Gitea (no X-GitHub-Event, X-Gitlab-Event or "
        "X-Gitea-Event header)",
        code="unknown_webhook",
        errors=[FieldError("header.x-github-event", "missing")],
    )


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(provider: Provider, headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """401 unless the delivery carries the proof its host gives with ``secret``."""
    if provider == "gitlab":
        header, given = "x-gitlab-token", headers.get("x-gitlab-token")
        expected = secret
    elif provider == "gitea":
        header, given = "x-gitea-signature", headers.get("x-gitea-signature")
        expected = _hmac_hex(secret, body)
    else:
        header, given = "x-hub-signature-256", headers.get("x-hub-signature-256")
        expected = "sha256=" + _hmac_hex(secret, body)
    if not given:
        raise Unauthorized(
            f"the delivery has no {header} header (set the webhook's secret on the git host)",
            code="signature_missing",
            errors=[FieldError(f"header.{header}", "missing")],
        )
    given = given.strip()
    if provider != "gitlab":  # hex digests may come in either case; a token is exact
        given, expected = given.lower(), expected.lower()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized(
            f"the {header} header does not match the repository's webhook secret",
            code="invalid_signature",
            errors=[FieldError(f"header.{header}", "does not match")],
        )


def is_push(provider: Provider, event: str) -> bool:
    return event in _PUSH_EVENTS[provider]


def parse_push(body: bytes) -> Push:
    """The pushed ref, the new commit (``ref`` and ``after`` on all three hosts) and the
    default branch; 400 naming the field when the payload is not a push."""
    try:
        payload: Any = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(
            f"the payload is not JSON: {exc}",
            code="malformed_json",
            errors=[FieldError("body", str(exc))],
        ) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("ref"), str):
        raise BadRequest(
            "a push payload has a `ref` (like refs/heads/main)",
            code="invalid_push",
            errors=[FieldError("body.ref", "missing")],
        )
    # GitHub and Gitea name the default branch in `repository`; GitLab in `project` (its
    # `repository` object has no such field).
    default = next(
        (
            found["default_branch"]
            for found in (payload.get("project"), payload.get("repository"))
            if isinstance(found, dict) and isinstance(found.get("default_branch"), str)
        ),
        None,
    )
    after = payload.get("after")
    return Push(
        ref=payload["ref"],
        after=after if isinstance(after, str) else None,
        default_branch=default,
    )


def concerns(push: Push, ref: str | None) -> tuple[bool, str]:
    """Whether a push to ``push.ref`` changes what a repository syncing ``ref`` (None: the
    default branch) reads, and why (for the delivery's answer)."""
    if push.after == _DELETED:
        return False, f"{push.ref} was deleted"
    if ref:
        names = {ref, f"refs/heads/{ref}", f"refs/tags/{ref}"}
        if push.ref in names:
            return True, f"a push to {push.ref}"
        return False, f"the repository syncs {ref}, not {push.ref}"
    if push.default_branch and push.ref != f"refs/heads/{push.default_branch}":
        return False, f"the repository syncs the default branch {push.default_branch}"
    return True, f"a push to {push.ref}"
