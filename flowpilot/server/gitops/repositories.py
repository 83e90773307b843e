"""Registered repositories: an organization's git repositories, each with the ref and directory
it syncs, its policies, and sealed credentials and webhook secret (never returned)."""

from __future__ import annotations

import json
import os
import re
import secrets
import uuid
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from flowpilot.gitops.source import (
    GitSourceError,
    Snapshot,
    check_root,
    is_local,
    read_snapshot,
    redact,
    repository_identity,
)
from flowpilot.server.config import Settings
from flowpilot.server.errors import Conflict, FieldError, Invalid, NotFound
from flowpilot.server.gitops.schemas import (
    Credentials,
    Repository,
    RepositoryCreate,
    RepositoryCreated,
    RepositoryList,
    RepositoryUpdate,
)
from flowpilot.server.gitops.sealing import SealError, seal, unseal
from flowpilot.store.ids import uuid7

#: Set to 1 to let repositories be local paths or ``file://`` URLs on the server's machine
#: (development and tests; a shared server should read repositories over the network only).
ALLOW_LOCAL_ENV = "FLOWPILOT_GITOPS_ALLOW_LOCAL"
_SCHEMES = ("https", "http", "ssh", "git", "git+ssh", "ssh+git")
_SCP = re.compile(r"^[\w.-]+@[\w.-]+:[^\s]+$")
_COLUMNS = (
    "id, name, url, ref, path, prune, drift, publish, credentials IS NOT NULL AS has_credentials, "
    "last_commit, last_synced_at, created_by, created_at, updated_at"
)


def webhook_url(settings: Settings, repository_id: uuid.UUID) -> str:
    return f"{settings.public_url.rstrip('/')}/api/v1/gitops/repositories/{repository_id}/webhook"


def _context(repository_id: uuid.UUID, what: str) -> str:
    return f"gitops_repository:{repository_id}:{what}"


def check_url(url: str) -> str:
    """``url`` when the server may read a repository there; 422 naming ``url`` otherwise."""
    url = url.strip()
    if is_local(url):
        if os.environ.get(ALLOW_LOCAL_ENV) != "1":
            raise Invalid(
                "this server reads repositories over the network only (a local path needs "
                f"{ALLOW_LOCAL_ENV}=1 on the server)",
                code="invalid_repository_url",
                errors=[FieldError("url", "a local path is not allowed")],
            )
        if not os.path.isabs(url.removeprefix("file://")):
            raise Invalid(
                "a local repository is given by its absolute path",
                code="invalid_repository_url",
                errors=[FieldError("url", "not an absolute path")],
            )
        return url
    if _SCP.match(url):
        return url
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES or not parts.hostname:
        raise Invalid(
            f"{redact(url)!r} is not a repository URL (https://, http://, ssh://, git:// or "
            "git@host:path)",
            code="invalid_repository_url",
            errors=[FieldError("url", "not a repository URL")],
        )
    if parts.password:
        raise Invalid(
            "put credentials in `credentials`, not in the URL (they are stored sealed there)",
            code="invalid_repository_url",
            errors=[FieldError("url", "contains a password")],
        )
    return url


def _check_path(path: str) -> str:
    try:
        return check_root(path)
    except ValueError as exc:
        raise Invalid(str(exc), errors=[FieldError("path", str(exc))]) from None


def _repository(settings: Settings, row: Any) -> Repository:
    return Repository(
        id=row.id,
        name=row.name,
        url=row.url,
        ref=row.ref,
        path=row.path,
        prune=row.prune,
        drift=row.drift,
        publish=row.publish,
        has_credentials=row.has_credentials,
        webhook_url=webhook_url(settings, row.id),
        last_commit=row.last_commit,
        last_synced_at=row.last_synced_at,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"the organization already has a repository named {name!r}",
        code="repository_exists",
        errors=[FieldError("name", "taken")],
    )


def _sealed_credentials(
    settings: Settings, repository_id: uuid.UUID, credentials: Credentials
) -> bytes:
    plain = json.dumps({"username": credentials.username, "password": credentials.password})
    return seal(settings.secret_key, plain.encode(), _context(repository_id, "credentials"))


def create_repository(
    conn: sa.Connection,
    settings: Settings,
    org_id: uuid.UUID,
    user_id: uuid.UUID | None,
    data: RepositoryCreate,
) -> RepositoryCreated:
    repository_id = uuid7()
    url = check_url(data.url)
    path = _check_path(data.path)
    secret = data.webhook_secret or secrets.token_urlsafe(32)
    params = {
        "id": repository_id,
        "o": org_id,
        "name": data.name.strip(),
        "url": url,
        "ref": data.ref,
        "path": path,
        "creds": _sealed_credentials(settings, repository_id, data.credentials)
        if data.credentials
        else None,
        "secret": seal(
            settings.secret_key, secret.encode(), _context(repository_id, "webhook_secret")
        ),
        "prune": data.prune,
        "drift": data.drift,
        "publish": data.publish,
        "by": user_id,
    }
    try:
        with conn.begin_nested():
            row = conn.execute(
                sa.text(
                    "INSERT INTO gitops_repositories (id, org_id, name, url, ref, path, "
                    "credentials, webhook_secret, prune, drift, publish, created_by) VALUES "
                    "(:id, :o, :name, :url, :ref, :path, :creds, :secret, :prune, :drift, "
                    f":publish, :by) RETURNING {_COLUMNS}"
                ),
                params,
            ).one()
    except sa.exc.IntegrityError:
        raise _name_taken(data.name) from None
    fields = _repository(settings, row)
    return RepositoryCreated(
        **{name: getattr(fields, name) for name in Repository.__struct_fields__},
        webhook_secret=secret,
    )


def repository_row(
    conn: sa.Connection, org_id: uuid.UUID | None, repository_id: uuid.UUID, *, lock: bool = False
) -> Any:
    """The repository row with its sealed columns; 404 when absent or another organization's
    (``org_id`` None: any organization's, for the webhook receiver)."""
    row = conn.execute(
        sa.text(
            f"SELECT org_id, credentials, webhook_secret, {_COLUMNS} FROM gitops_repositories "
            "WHERE id = :id AND (CAST(:o AS uuid) IS NULL OR org_id = :o)"
            + (" FOR UPDATE" if lock else "")
        ),
        {"id": repository_id, "o": org_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no repository {repository_id}", code="repository_not_found")
    return row


def get_repository(
    conn: sa.Connection, settings: Settings, org_id: uuid.UUID, repository_id: uuid.UUID
) -> Repository:
    return _repository(settings, repository_row(conn, org_id, repository_id))


def list_repositories(conn: sa.Connection, settings: Settings, org_id: uuid.UUID) -> RepositoryList:
    rows = conn.execute(
        sa.text(
            f"SELECT {_COLUMNS} FROM gitops_repositories WHERE org_id = :o ORDER BY lower(name)"
        ),
        {"o": org_id},
    ).all()
    return RepositoryList(items=[_repository(settings, row) for row in rows])


def update_repository(
    conn: sa.Connection,
    settings: Settings,
    org_id: uuid.UUID,
    repository_id: uuid.UUID,
    data: RepositoryUpdate,
) -> Repository:
    repository_row(conn, org_id, repository_id, lock=True)
    changes: dict[str, Any] = {}
    if data.name is not None:
        changes["name"] = data.name.strip()
    if data.url is not None:
        changes["url"] = check_url(data.url)
    if data.ref is not None:
        changes["ref"] = data.ref.strip() or None
    if data.path is not None:
        changes["path"] = _check_path(data.path)
    for name in ("prune", "drift", "publish"):
        if getattr(data, name) is not None:
            changes[name] = getattr(data, name)
    if data.credentials is not None and data.remove_credentials:
        raise Invalid(
            "give new credentials or remove them, not both",
            errors=[FieldError("remove_credentials", "conflicts with credentials")],
        )
    if data.credentials is not None:
        changes["credentials"] = _sealed_credentials(settings, repository_id, data.credentials)
    elif data.remove_credentials:
        changes["credentials"] = None
    if data.webhook_secret is not None:
        changes["webhook_secret"] = seal(
            settings.secret_key,
            data.webhook_secret.encode(),
            _context(repository_id, "webhook_secret"),
        )
    if changes:
        assignments = ", ".join(f"{name} = :{name}" for name in changes)
        try:
            with conn.begin_nested():
                conn.execute(
                    sa.text(
                        f"UPDATE gitops_repositories SET {assignments}, updated_at = now() "
                        "WHERE id = :id"
                    ),
                    {**changes, "id": repository_id},
                )
        except sa.exc.IntegrityError:
            raise _name_taken(str(data.name)) from None
    return get_repository(conn, settings, org_id, repository_id)


def delete_repository(conn: sa.Connection, org_id: uuid.UUID, repository_id: uuid.UUID) -> Any:
    """Forget a repository (its workflows stay; its sync history stays, unattached)."""
    row = repository_row(conn, org_id, repository_id, lock=True)
    conn.execute(sa.text("DELETE FROM gitops_repositories WHERE id = :id"), {"id": repository_id})
    return row


def webhook_secret(settings: Settings, row: Any) -> str:
    return unseal(
        settings.secret_key, row.webhook_secret, _context(row.id, "webhook_secret")
    ).decode()


def read_repository(settings: Settings, row: Any, ref: str | None = None) -> Snapshot:
    """The registered repository at ``ref`` (default: its configured ref), fetched with its
    credentials; 422 ``repository_unreadable`` saying why when it cannot be read."""
    username = password = None
    if row.credentials is not None:
        try:
            plain = unseal(settings.secret_key, row.credentials, _context(row.id, "credentials"))
        except SealError as exc:
            raise Invalid(
                f"the stored credentials cannot be read: {exc}; set them again",
                code="repository_unreadable",
                errors=[FieldError("credentials", "cannot be unsealed")],
            ) from None
        stored = json.loads(plain)
        username, password = stored.get("username") or None, stored.get("password") or None
    url = row.url
    if is_local(url) and os.environ.get(ALLOW_LOCAL_ENV) != "1":
        raise Invalid(
            f"local repositories are disabled on this server ({ALLOW_LOCAL_ENV})",
            code="repository_unreadable",
            errors=[FieldError("url", "a local path is not allowed")],
        )
    try:
        return read_snapshot(
            url,
            ref or row.ref,
            root=row.path,
            username=username,
            password=password,
            repository=repository_identity(url),
        )
    except GitSourceError as exc:
        field = "ref" if "branch, tag or commit" in str(exc) else "url"
        raise Invalid(
            f"the repository cannot be read: {exc}",
            code="repository_unreadable",
            errors=[FieldError(field, str(exc))],
        ) from None
