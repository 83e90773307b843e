"""The API's operations as data: each function returns the :class:`Call` that performs one.

The sync and async clients execute the same calls, so what a request looks like (path, query,
body, what the answer decodes to, whether it may be retried) is written once, here, with no
I/O. Bodies leave out the options the caller did not give, so the server's defaults apply.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from flowpilot.client import models as m
from flowpilot.client.errors import UnexpectedResponse

T = TypeVar("T")

API = "/api/v1"
#: Methods whose repetition has the effect of one request: safe to retry.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

Id = uuid.UUID | str
Params = list[tuple[str, str]]


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read its answer.

    Attributes:
        method: The HTTP method.
        path: The path, from the server's root (``/api/v1/...``).
        answer: What a successful body decodes to; None when there is no body (204).
        params: Query parameters (repeated names allowed).
        body: The JSON body, or None for none.
        idempotent: Whether sending it twice does what sending it once does, so that a
            request that failed on the way may be sent again.
        authenticated: Whether it carries the client's credentials (login and refresh
            do not, and are never renewed-and-retried).
        wait: Seconds the server may hold the request before answering (added to the read
            timeout).
    """

    method: str
    path: str
    answer: type[T] | None
    params: Params = field(default_factory=list)
    body: Any = None
    idempotent: bool = False
    authenticated: bool = True
    wait: float = 0.0

    def decode(self, response: httpx.Response) -> T:
        """The typed answer of a successful response."""
        if self.answer is None:
            return None  # type: ignore[return-value]
        try:
            return msgspec.json.decode(response.content, type=self.answer)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise UnexpectedResponse(
                f"the answer to {self.method} {self.path} does not match this client "
                f"(is the server a different version?): {exc}",
                status=response.status_code,
                request_id=response.headers.get("x-request-id"),
                instance=self.path,
            ) from exc

    def content(self) -> bytes | None:
        return None if self.body is None else msgspec.json.encode(self.body)


def _call(
    method: str,
    path: str,
    answer: type[T] | None,
    *,
    params: Params | None = None,
    body: Any = None,
    idempotent: bool | None = None,
    authenticated: bool = True,
    wait: float = 0.0,
) -> Call[T]:
    return Call(
        method,
        API + path,
        answer,
        params or [],
        body,
        method in IDEMPOTENT_METHODS if idempotent is None else idempotent,
        authenticated,
        wait,
    )


def segment(value: Any) -> str:
    """A path segment: ids, refs, tags and step keys (``each[2]/show``) quoted whole."""
    return quote(str(value), safe="")


def _given(**options: Any) -> dict[str, Any]:
    """The options that were given (not None)."""
    return {k: v for k, v in options.items() if v is not None}


def _params(**options: Any) -> Params:
    """Query parameters: None left out, lists repeated, booleans as true/false."""
    params: Params = []
    for name, value in options.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                continue
            if isinstance(item, bool):
                item = "true" if item else "false"
            elif isinstance(item, datetime):
                item = item.isoformat()
            params.append((name.rstrip("_"), str(item)))
    return params


def page_params(limit: int | None, cursor: str | None) -> Params:
    return _params(limit=limit, cursor=cursor)


# ---------------------------------------------------------------------------- accounts


def login(email: str, password: str, organization: str | None = None) -> Call[m.TokenPair]:
    body = _given(email=email, password=password, organization=organization)
    return _call("POST", "/auth/login", m.TokenPair, body=body, authenticated=False)


def refresh(refresh_token: str) -> Call[m.TokenPair]:
    # Never retried: a refresh token works once, and a second use logs the session out.
    body = {"refresh_token": refresh_token}
    return _call("POST", "/auth/refresh", m.TokenPair, body=body, authenticated=False)


def logout(refresh_token: str) -> Call[None]:
    body = {"refresh_token": refresh_token}
    return _call("POST", "/auth/logout", None, body=body, idempotent=True, authenticated=False)


def me() -> Call[m.Me]:
    return _call("GET", "/me", m.Me)


# ---------------------------------------------------------------------------- workflows


def label_filters(labels: Mapping[str, str] | Iterable[str] | None) -> list[str]:
    """``{"team": "finance"}`` or ``["team:finance"]`` as the ``label`` query values."""
    if labels is None:
        return []
    if isinstance(labels, Mapping):
        return [f"{k}:{v}" for k, v in labels.items()]
    return [labels] if isinstance(labels, str) else list(labels)


def list_workflows(
    *,
    q: str | None = None,
    labels: Mapping[str, str] | Iterable[str] | None = None,
    published: bool | None = None,
    deleted: bool = False,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[m.Page[m.Workflow]]:
    params = _params(
        q=q,
        label=label_filters(labels),
        published=published,
        deleted=deleted or None,
        limit=limit,
        cursor=cursor,
    )
    return _call("GET", "/workflows", m.Page[m.Workflow], params=params)


def get_workflow(workflow_id: Id, *, include_source: bool = False) -> Call[m.Workflow]:
    params = _params(include="source" if include_source else None)
    return _call("GET", f"/workflows/{segment(workflow_id)}", m.Workflow, params=params)


def create_workflow(
    source: str, *, format: str | None = None, message: str = "", path: str | None = None
) -> Call[m.WorkflowSaved]:
    body = _given(source=source, format=format, message=message, path=path)
    return _call("POST", "/workflows", m.WorkflowSaved, body=body)


def save_workflow(
    workflow_id: Id,
    source: str,
    *,
    parent_version_id: Id | None = None,
    format: str | None = None,
    message: str = "",
    path: str | None = None,
) -> Call[m.WorkflowSaved]:
    body = _given(
        source=source,
        format=format,
        message=message,
        path=path,
        parent_version_id=str(parent_version_id) if parent_version_id else None,
    )
    # Saving the head's source again writes nothing, so a plain save may be repeated; one
    # on a named parent may not (the repeat would find its parent stale and answer 409).
    return _call(
        "PUT",
        f"/workflows/{segment(workflow_id)}",
        m.WorkflowSaved,
        body=body,
        idempotent=parent_version_id is None,
    )


def delete_workflow(workflow_id: Id) -> Call[None]:
    return _call("DELETE", f"/workflows/{segment(workflow_id)}", None)


def restore_workflow(workflow_id: Id) -> Call[m.Workflow]:
    return _call("POST", f"/workflows/{segment(workflow_id)}/restore", m.Workflow)


def validate(
    source: str, *, format: str | None = None, path: str | None = None
) -> Call[m.Validation]:
    body = _given(source=source, format=format, path=path)
    return _call("POST", "/workflows/validate", m.Validation, body=body, idempotent=True)


def compile_workflow(workflow_id: Id, version: str | None = None) -> Call[m.CompiledPlan]:
    return _call(
        "POST",
        f"/workflows/{segment(workflow_id)}/compile",
        m.CompiledPlan,
        params=_params(version=version),
        idempotent=True,
    )


def workflow_graph(workflow_id: Id, version: str | None = None) -> Call[m.WorkflowGraph]:
    path = f"/workflows/{segment(workflow_id)}/graph"
    return _call("GET", path, m.WorkflowGraph, params=_params(version=version))


def publish(workflow_id: Id, version: str | None = None) -> Call[m.Publication]:
    path = f"/workflows/{segment(workflow_id)}/publish"
    return _call("POST", path, m.Publication, body=_given(version=version), idempotent=True)


def unpublish(workflow_id: Id) -> Call[m.Workflow]:
    path = f"/workflows/{segment(workflow_id)}/unpublish"
    return _call("POST", path, m.Workflow, idempotent=True)


# ---------------------------------------------------------------------------- versions


def list_versions(
    workflow_id: Id, *, limit: int | None = None, cursor: str | None = None
) -> Call[m.Page[m.VersionInfo]]:
    path = f"/workflows/{segment(workflow_id)}/versions"
    return _call("GET", path, m.Page[m.VersionInfo], params=page_params(limit, cursor))


def get_version(workflow_id: Id, ref: str | int) -> Call[m.VersionDetail]:
    path = f"/workflows/{segment(workflow_id)}/versions/{segment(ref)}"
    return _call("GET", path, m.VersionDetail)


def diff(
    workflow_id: Id, from_: str | int | None = None, to: str | int | None = None
) -> Call[m.VersionDiff]:
    path = f"/workflows/{segment(workflow_id)}/diff"
    return _call("GET", path, m.VersionDiff, params=_params(from_=from_, to=to))


def rollback(workflow_id: Id, to: str | int, message: str | None = None) -> Call[m.WorkflowSaved]:
    path = f"/workflows/{segment(workflow_id)}/rollback"
    # A repeat finds the content already at the head and writes nothing.
    body = _given(to=str(to), message=message)
    return _call("POST", path, m.WorkflowSaved, body=body, idempotent=True)


def list_tags(workflow_id: Id) -> Call[m.TagList]:
    return _call("GET", f"/workflows/{segment(workflow_id)}/tags", m.TagList)


def set_tag(workflow_id: Id, name: str, version: str | int) -> Call[m.Tag]:
    path = f"/workflows/{segment(workflow_id)}/tags/{segment(name)}"
    return _call("PUT", path, m.Tag, body={"version": str(version)})


def delete_tag(workflow_id: Id, name: str) -> Call[None]:
    return _call("DELETE", f"/workflows/{segment(workflow_id)}/tags/{segment(name)}", None)


# ---------------------------------------------------------------------------- templates


def list_templates() -> Call[m.TemplateList]:
    return _call("GET", "/workflow-templates", m.TemplateList)


def get_template(template_id: str) -> Call[m.TemplateDetail]:
    return _call("GET", f"/workflow-templates/{segment(template_id)}", m.TemplateDetail)


def instantiate_template(
    template_id: str,
    *,
    flow_id: str | None = None,
    name: str | None = None,
    format: str | None = None,
    message: str | None = None,
) -> Call[m.WorkflowSaved]:
    body = _given(flow_id=flow_id, name=name, format=format, message=message)
    path = f"/workflow-templates/{segment(template_id)}/instantiate"
    return _call("POST", path, m.WorkflowSaved, body=body)


# ---------------------------------------------------------------------------- executions


def start_execution(
    workflow_id: Id,
    inputs: Mapping[str, Any] | None = None,
    *,
    version: str | int | None = None,
    wait: float | None = None,
    priority: str | None = None,
    dry_run: bool = False,
    mocks: Mapping[str, Any] | None = None,
) -> Call[m.Execution]:
    body = _given(
        inputs=dict(inputs or {}),
        version=None if version is None else str(version),
        wait=wait,
        priority=priority,
        mocks=None if mocks is None else dict(mocks),
    )
    if dry_run:
        path = f"/workflows/{segment(workflow_id)}/dry-run"
    else:
        path = f"/workflows/{segment(workflow_id)}/executions"
    return _call("POST", path, m.Execution, body=body, wait=wait or 0.0)


def list_executions(
    *,
    workflow_id: Id | None = None,
    flow_id: str | None = None,
    status: str | Iterable[str] | None = None,
    trigger: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[m.Page[m.ExecutionSummary]]:
    statuses = [status] if isinstance(status, str) else list(status or [])
    params = _params(
        workflow_id=workflow_id,
        flow_id=flow_id,
        status=statuses,
        trigger=trigger,
        created_after=created_after,
        created_before=created_before,
        limit=limit,
        cursor=cursor,
    )
    return _call("GET", "/executions", m.Page[m.ExecutionSummary], params=params)


def get_execution(execution_id: Id) -> Call[m.ExecutionDetail]:
    return _call("GET", f"/executions/{segment(execution_id)}", m.ExecutionDetail)


def execution_logs(
    execution_id: Id,
    *,
    level: str | None = None,
    step: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> Call[m.Page[m.LogEntry]]:
    params = _params(level=level, step=step, limit=limit, cursor=cursor)
    path = f"/executions/{segment(execution_id)}/logs"
    return _call("GET", path, m.Page[m.LogEntry], params=params)


def cancel_execution(execution_id: Id) -> Call[m.Execution]:
    return _call("POST", f"/executions/{segment(execution_id)}/cancel", m.Execution)


def retry_execution(execution_id: Id, from_step: str | None = None) -> Call[m.Execution]:
    path = f"/executions/{segment(execution_id)}/retry"
    return _call("POST", path, m.Execution, body=_given(from_step=from_step))


def decide(
    execution_id: Id,
    step: str,
    *,
    approved: bool,
    comment: str | None = None,
    step_key: str | None = None,
) -> Call[m.Execution]:
    verb = "approve" if approved else "reject"
    path = f"/executions/{segment(execution_id)}/steps/{segment(step)}/{verb}"
    return _call("POST", path, m.Execution, body=_given(comment=comment, step_key=step_key))


# ---------------------------------------------------------------------------- gitops


def _bundle(bundle: m.Bundle | Mapping[str, Any]) -> Any:
    return bundle if isinstance(bundle, m.Bundle) else dict(bundle)


def plan_bundle(bundle: m.Bundle | Mapping[str, Any]) -> Call[m.SyncPlan]:
    return _call("POST", "/gitops/plan", m.SyncPlan, body=_bundle(bundle), idempotent=True)


def apply_bundle(bundle: m.Bundle | Mapping[str, Any]) -> Call[m.Sync]:
    # Not repeated: a repeat would find everything unchanged, but record a second sync.
    return _call("POST", "/gitops/apply", m.Sync, body=_bundle(bundle))


def list_syncs(
    *, repository_id: Id | None = None, limit: int | None = None, cursor: str | None = None
) -> Call[m.Page[m.SyncSummary]]:
    params = _params(repository_id=repository_id, limit=limit, cursor=cursor)
    return _call("GET", "/gitops/syncs", m.Page[m.SyncSummary], params=params)


def get_sync(sync_id: Id) -> Call[m.Sync]:
    return _call("GET", f"/gitops/syncs/{segment(sync_id)}", m.Sync)


def export_flows(
    *, version: str = "head", limit: int | None = None, cursor: str | None = None
) -> Call[m.Page[m.ExportedFlow]]:
    params = _params(version=version, limit=limit, cursor=cursor)
    return _call("GET", "/gitops/export", m.Page[m.ExportedFlow], params=params)


def list_repositories() -> Call[m.RepositoryList]:
    return _call("GET", "/gitops/repositories", m.RepositoryList)


def _git_credentials(username: str | None, password: str | None) -> dict[str, str] | None:
    if password is None:
        if username is not None:
            raise ValueError("credentials need a password (or an access token)")
        return None
    return _given(username=username, password=password)


def create_repository(
    name: str,
    url: str,
    *,
    ref: str | None = None,
    path: str | None = None,
    username: str | None = None,
    password: str | None = None,
    webhook_secret: str | None = None,
    prune: bool | None = None,
    drift: str | None = None,
    publish: bool | None = None,
) -> Call[m.RepositoryCreated]:
    body = _given(
        name=name,
        url=url,
        ref=ref,
        path=path,
        credentials=_git_credentials(username, password),
        webhook_secret=webhook_secret,
        prune=prune,
        drift=drift,
        publish=publish,
    )
    return _call("POST", "/gitops/repositories", m.RepositoryCreated, body=body)


def get_repository(repository_id: Id) -> Call[m.Repository]:
    return _call("GET", f"/gitops/repositories/{segment(repository_id)}", m.Repository)


def update_repository(
    repository_id: Id,
    *,
    name: str | None = None,
    url: str | None = None,
    ref: str | None = None,
    path: str | None = None,
    username: str | None = None,
    password: str | None = None,
    remove_credentials: bool = False,
    webhook_secret: str | None = None,
    prune: bool | None = None,
    drift: str | None = None,
    publish: bool | None = None,
) -> Call[m.Repository]:
    body = _given(
        name=name,
        url=url,
        ref=ref,
        path=path,
        credentials=_git_credentials(username, password),
        remove_credentials=remove_credentials or None,
        webhook_secret=webhook_secret,
        prune=prune,
        drift=drift,
        publish=publish,
    )
    path_ = f"/gitops/repositories/{segment(repository_id)}"
    return _call("PATCH", path_, m.Repository, body=body)


def delete_repository(repository_id: Id) -> Call[None]:
    return _call("DELETE", f"/gitops/repositories/{segment(repository_id)}", None)


def _repository_sync(
    repository_id: Id, verb: str, answer: type[T], options: dict[str, Any]
) -> Call[T]:
    path = f"/gitops/repositories/{segment(repository_id)}/{verb}"
    # A plan reads only; an apply is not repeated (a repeat would record a second sync).
    return _call("POST", path, answer, body=_given(**options), idempotent=verb == "plan")


def plan_repository(
    repository_id: Id,
    *,
    ref: str | None = None,
    prune: bool | None = None,
    drift: str | None = None,
    publish: bool | None = None,
) -> Call[m.SyncPlan]:
    options = {"ref": ref, "prune": prune, "drift": drift, "publish": publish}
    return _repository_sync(repository_id, "plan", m.SyncPlan, options)


def apply_repository(
    repository_id: Id,
    *,
    ref: str | None = None,
    prune: bool | None = None,
    drift: str | None = None,
    publish: bool | None = None,
) -> Call[m.Sync]:
    options = {"ref": ref, "prune": prune, "drift": drift, "publish": publish}
    return _repository_sync(repository_id, "apply", m.Sync, options)


def execution_events_path(execution_id: Id) -> str:
    return f"{API}/executions/{segment(execution_id)}/events"


ORG_EVENTS_PATH = f"{API}/events/stream"
