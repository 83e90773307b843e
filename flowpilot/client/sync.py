"""The synchronous client: :class:`FlowPilot`.

::

    from flowpilot.client import FlowPilot

    with FlowPilot("http://127.0.0.1:8080", api_key="fp_…") as client:
        saved = client.workflows.create(open("hello.flow.yaml").read(), message="first")
        done = client.executions.run(saved.id, {"who": "Ada"}, timeout=60)
        print(done.status, done.outputs)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, TypeVar

import httpx
import msgspec
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect as ws_connect

from flowpilot.client import endpoints as ep
from flowpilot.client.endpoints import Call, Id
from flowpilot.client.errors import (
    NotFound,
    Unauthorized,
    WaitTimeout,
    error_from_response,
)
from flowpilot.client.gitops import GitOps
from flowpilot.client.models import (
    CompiledPlan,
    Execution,
    ExecutionDetail,
    ExecutionEvent,
    ExecutionSummary,
    LogEntry,
    Me,
    Page,
    Publication,
    Tag,
    Template,
    TemplateDetail,
    TokenPair,
    Validation,
    VersionDetail,
    VersionDiff,
    VersionInfo,
    Workflow,
    WorkflowGraph,
    WorkflowSaved,
)
from flowpilot.client.paging import Pager
from flowpilot.client.session import (
    MAX_EVENT_BYTES,
    USER_AGENT,
    Credentials,
    RetryPolicy,
    StreamResume,
    TokenListener,
    base_url_of,
    connection_failed,
    is_uuid,
    remaining,
    request_timeout,
    retryable_status,
    timeout_of,
)

T = TypeVar("T")


class Transport:
    """Sends calls: credentials, renewal of expired tokens, retries, errors, live streams."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        timeout: float | httpx.Timeout | None,
        retry: RetryPolicy,
        transport: httpx.BaseTransport | None,
        headers: Mapping[str, str] | None,
    ) -> None:
        self.base_url = base_url
        self.credentials = credentials
        self.timeout = timeout_of(timeout)
        self.retry = retry
        self.http = httpx.Client(
            base_url=base_url,
            timeout=self.timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
        )

    def close(self) -> None:
        self.http.close()

    def call(self, call: Call[T]) -> T:
        """Send ``call`` (renewing an expired access token once) and decode its answer."""
        if call.authenticated:
            self.obtain_token_if_needed()
        renewed = False
        while True:
            generation = self.credentials.generation
            response = self._send(call)
            if (
                response.status_code == 401
                and call.authenticated
                and not renewed
                and self.credentials.renewable
            ):
                self.renew(generation)
                renewed = True
                continue
            if response.is_error:
                raise error_from_response(response)
            return call.decode(response)

    def _send(self, call: Call[Any]) -> httpx.Response:
        tries = 0
        while True:
            headers = self.credentials.headers() if call.authenticated else {}
            if call.body is not None:
                headers["Content-Type"] = "application/json"
            try:
                response = self.http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    content=call.content(),
                    headers=headers,
                    timeout=request_timeout(self.timeout, call),
                )
            except httpx.TransportError as exc:
                if call.idempotent and tries < self.retry.retries:
                    tries += 1
                    time.sleep(self.retry.delay(tries))
                    continue
                raise connection_failed(self.base_url, call, exc, tries) from exc
            if retryable_status(call, response.status_code) and tries < self.retry.retries:
                tries += 1
                time.sleep(self.retry.delay(tries, response.headers.get("retry-after")))
                continue
            return response

    def obtain_token_if_needed(self) -> None:
        if self.credentials.needs_token:
            with self.credentials.lock:
                if self.credentials.needs_token:
                    self._obtain(self.credentials.renewal())

    def renew(self, generation: int) -> None:
        """A new access token, unless another request renewed it since ``generation``."""
        with self.credentials.lock:
            if self.credentials.generation == generation:
                self._obtain(self.credentials.renewal())

    def _obtain(self, call: Call[TokenPair]) -> None:
        try:
            pair = self.call(call)
        except Unauthorized:
            if not self.credentials.renewal_failed(call):
                raise
            pair = self.call(self.credentials.login_call())
        self.credentials.accept(pair)

    def follow(
        self, path: str, after: int | None, deadline: float | None = None
    ) -> Iterator[ExecutionEvent]:
        """The events of a live stream, reconnecting after the last one received when the
        connection breaks, until the server closes it normally (an execution finished)."""
        stream = StreamResume(path, after, self.retry, self.credentials)
        while True:
            self.obtain_token_if_needed()
            generation = self.credentials.generation
            code: int | None = None
            try:
                with ws_connect(
                    stream.url(self.base_url),
                    additional_headers=self.credentials.headers(),
                    user_agent_header=USER_AGENT,
                    open_timeout=self.timeout.connect,
                    max_size=MAX_EVENT_BYTES,
                ) as socket:
                    while True:
                        message = socket.recv(timeout=remaining(deadline, path))
                        event = msgspec.json.decode(message, type=ExecutionEvent)
                        stream.received(event.id)
                        yield event
            except WaitTimeout:
                raise
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                reason = closed.rcvd.reason if closed.rcvd else "the connection was lost"
            except InvalidStatus as exc:
                reason = stream.refused(exc.response.status_code)
            except (OSError, InvalidHandshake) as exc:  # TimeoutError is an OSError
                reason = str(exc) or type(exc).__name__
            step = stream.ended(code, reason)
            if step == StreamResume.DONE:
                return
            if step == StreamResume.RENEW:
                self.renew(generation)
            else:
                time.sleep(step)


# ---------------------------------------------------------------------------- areas


class Workflows:
    """Workflows: create, save versions, search, publish, validate and compile flows."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(
        self,
        *,
        q: str | None = None,
        labels: Mapping[str, str] | Iterable[str] | None = None,
        published: bool | None = None,
        deleted: bool = False,
        page_size: int | None = None,
    ) -> Pager[Workflow]:
        """The organization's workflows, most recently updated first, without sources.

        Args:
            q: Words that start words of the name, flow id or description.
            labels: Required labels, as ``{"team": "finance"}`` or ``["team:finance"]``.
            published: Only published (True) or unpublished (False) workflows.
            deleted: List the trash instead.
            page_size: Workflows per request (1 to 200; the server's default is 50).
        """

        def fetch(cursor: str | None) -> Page[Workflow]:
            call = ep.list_workflows(
                q=q,
                labels=labels,
                published=published,
                deleted=deleted,
                limit=page_size,
                cursor=cursor,
            )
            return self._t.call(call)

        return Pager(fetch)

    def get(self, workflow_id: Id, *, include_source: bool = False) -> Workflow:
        return self._t.call(ep.get_workflow(workflow_id, include_source=include_source))

    def resolve(self, workflow: Workflow | Id) -> Workflow:
        """A workflow named by its id or by its flow id (``invoice-triage``); NotFound
        (``workflow_not_found``) when neither matches."""
        if isinstance(workflow, Workflow):
            return workflow
        if is_uuid(workflow):
            return self.get(workflow)
        for found in self.list(q=str(workflow)):
            if found.flow_id == workflow:
                return found
        raise NotFound(f"no workflow has the flow id {workflow!r}", code="workflow_not_found")

    def create(
        self, source: str, *, message: str = "", format: str | None = None, path: str | None = None
    ) -> WorkflowSaved:
        """A new workflow from a flow's source (the YAML or the text form).

        ``format`` (``yaml`` or ``text``) defaults to what ``path`` says, else to the form the
        source is written in; ``path`` is the file name diagnostics mention. A flow with
        errors raises :class:`ValidationFailed` with its ``diagnostics``; a flow id in use
        raises :class:`Conflict` (``workflow_exists``).
        """
        return self._t.call(ep.create_workflow(source, format=format, message=message, path=path))

    def save(
        self,
        workflow: Id,
        source: str,
        *,
        parent_version_id: Id | None = None,
        message: str = "",
        format: str | None = None,
        path: str | None = None,
    ) -> WorkflowSaved:
        """Save ``source`` as the workflow's next version (``created`` is False when it equals
        the head's). With ``parent_version_id`` — the version your edit started from — a save
        over someone else's newer version raises :class:`Conflict` (``stale_parent``)."""
        call = ep.save_workflow(
            workflow,
            source,
            parent_version_id=parent_version_id,
            format=format,
            message=message,
            path=path,
        )
        return self._t.call(call)

    def delete(self, workflow_id: Id) -> None:
        """Move the workflow to the trash; its triggers stop at once."""
        self._t.call(ep.delete_workflow(workflow_id))

    def restore(self, workflow_id: Id) -> Workflow:
        return self._t.call(ep.restore_workflow(workflow_id))

    def validate(
        self, source: str, *, format: str | None = None, path: str | None = None
    ) -> Validation:
        """Check a flow without saving it; ``ok`` says whether it has errors."""
        return self._t.call(ep.validate(source, format=format, path=path))

    def compile(self, workflow_id: Id, version: str | int | None = None) -> CompiledPlan:
        """The execution plan a version compiles to (default: the published one, else the
        head)."""
        ref = None if version is None else str(version)
        return self._t.call(ep.compile_workflow(workflow_id, ref))

    def graph(self, workflow_id: Id, version: str | int | None = None) -> WorkflowGraph:
        ref = None if version is None else str(version)
        return self._t.call(ep.workflow_graph(workflow_id, ref))

    def publish(self, workflow_id: Id, version: str | int | None = None) -> Publication:
        """Publish a version (default: the head); its triggers replace the previous ones."""
        ref = None if version is None else str(version)
        return self._t.call(ep.publish(workflow_id, ref))

    def unpublish(self, workflow_id: Id) -> Workflow:
        return self._t.call(ep.unpublish(workflow_id))


class Versions:
    """A workflow's immutable versions: history, one version, diffs, rollback and tags.

    A *ref* names a version: its number (``3`` or ``"v3"``), id, a tag, a hash prefix,
    ``"head"`` or ``"published"``.
    """

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(self, workflow_id: Id, *, page_size: int | None = None) -> Pager[VersionInfo]:
        """The history, newest first."""

        def fetch(cursor: str | None) -> Page[VersionInfo]:
            return self._t.call(ep.list_versions(workflow_id, limit=page_size, cursor=cursor))

        return Pager(fetch)

    def get(self, workflow_id: Id, ref: str | int = "head") -> VersionDetail:
        """One version with its source."""
        return self._t.call(ep.get_version(workflow_id, ref))

    def diff(
        self, workflow_id: Id, from_: str | int | None = None, to: str | int | None = None
    ) -> VersionDiff:
        """What changed between two versions; ``to`` defaults to the head and ``from_`` to
        the version ``to`` was saved on."""
        return self._t.call(ep.diff(workflow_id, from_, to))

    def rollback(
        self, workflow_id: Id, to: str | int, *, message: str | None = None
    ) -> WorkflowSaved:
        """Save version ``to``'s content as the new head (history is never rewritten)."""
        return self._t.call(ep.rollback(workflow_id, to, message))

    def tags(self, workflow_id: Id) -> list[Tag]:
        return self._t.call(ep.list_tags(workflow_id)).items

    def tag(self, workflow_id: Id, name: str, version: str | int) -> Tag:
        """Point tag ``name`` at a version (creating or moving it)."""
        return self._t.call(ep.set_tag(workflow_id, name, version))

    def untag(self, workflow_id: Id, name: str) -> None:
        self._t.call(ep.delete_tag(workflow_id, name))


class Templates:
    """The example flows a workflow can be started from."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(self) -> list[Template]:
        return self._t.call(ep.list_templates()).items

    def get(self, template_id: str) -> TemplateDetail:
        return self._t.call(ep.get_template(template_id))

    def instantiate(
        self,
        template_id: str,
        *,
        flow_id: str | None = None,
        name: str | None = None,
        format: str | None = None,
        message: str | None = None,
    ) -> WorkflowSaved:
        call = ep.instantiate_template(
            template_id, flow_id=flow_id, name=name, format=format, message=message
        )
        return self._t.call(call)


class Executions:
    """Runs of workflows: start, wait, follow live, read, cancel, retry, approve."""

    def __init__(self, transport: Transport, workflows: Workflows) -> None:
        self._t = transport
        self._workflows = workflows

    def _workflow_id(self, workflow: Workflow | Id) -> Id:
        if isinstance(workflow, Workflow):
            return workflow.id
        return workflow if is_uuid(workflow) else self._workflows.resolve(workflow).id

    def start(
        self,
        workflow: Workflow | Id,
        inputs: Mapping[str, Any] | None = None,
        *,
        version: str | int | None = None,
        wait: float | None = None,
        priority: str | None = None,
        dry_run: bool = False,
        mocks: Mapping[str, Any] | None = None,
    ) -> Execution:
        """Start an execution of a workflow (its id, flow id, or a :class:`Workflow`).

        Args:
            inputs: The flow's inputs; a mismatch raises :class:`ValidationFailed`
                (``invalid_inputs``) naming each bad input.
            version: The version to run (default: the published one, else the head).
            wait: Let the server hold the answer up to this many seconds (at most its
                ``FLOWPILOT_MAX_WAIT_SECONDS``) for the execution to finish.
            priority: ``high``, ``default`` or ``low``.
            dry_run: Steps with side effects return mock data instead of running.
            mocks: Dry runs: outputs of mocked steps, by step id or step key.

        Never retried: a start whose answer was lost may have started the execution.
        """
        call = ep.start_execution(
            self._workflow_id(workflow),
            inputs,
            version=version,
            wait=wait,
            priority=priority,
            dry_run=dry_run,
            mocks=mocks,
        )
        return self._t.call(call)

    def run(
        self,
        workflow: Workflow | Id,
        inputs: Mapping[str, Any] | None = None,
        *,
        version: str | int | None = None,
        timeout: float | None = None,
        dry_run: bool = False,
        mocks: Mapping[str, Any] | None = None,
    ) -> ExecutionDetail:
        """Start an execution and wait for it to finish (see :meth:`wait`)."""
        started = self.start(workflow, inputs, version=version, dry_run=dry_run, mocks=mocks)
        return self.wait(started.id, timeout=timeout)

    def wait(self, execution_id: Id, *, timeout: float | None = None) -> ExecutionDetail:
        """The execution once it has finished, followed over its live stream (no polling).
        Raises :class:`WaitTimeout` after ``timeout`` seconds; the execution goes on."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for _ in self._t.follow(ep.execution_events_path(execution_id), None, deadline):
            pass
        return self.get(execution_id)

    def events(
        self, execution_id: Id, *, after: int | None = None, timeout: float | None = None
    ) -> Iterator[ExecutionEvent]:
        """The execution's events, from its first (or after event id ``after``), live, until
        it has finished. A broken connection is resumed after the last event received, so
        none is missed or repeated. With ``timeout``, raises :class:`WaitTimeout` if the
        execution has not finished that many seconds from now."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return self._t.follow(ep.execution_events_path(execution_id), after, deadline)

    def stream(self, *, after: int | None = None) -> Iterator[ExecutionEvent]:
        """Every event of the organization's executions, from now on (or after ``after``);
        it never ends by itself — break out of the loop to stop."""
        return self._t.follow(ep.ORG_EVENTS_PATH, after)

    def list(
        self,
        *,
        workflow_id: Id | None = None,
        flow_id: str | None = None,
        status: str | Iterable[str] | None = None,
        trigger: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        page_size: int | None = None,
    ) -> Pager[ExecutionSummary]:
        """The organization's executions, newest first; filters combine (``status`` may
        name several)."""

        def fetch(cursor: str | None) -> Page[ExecutionSummary]:
            call = ep.list_executions(
                workflow_id=workflow_id,
                flow_id=flow_id,
                status=status,
                trigger=trigger,
                created_after=created_after,
                created_before=created_before,
                limit=page_size,
                cursor=cursor,
            )
            return self._t.call(call)

        return Pager(fetch)

    def get(self, execution_id: Id) -> ExecutionDetail:
        """The execution with every step run."""
        return self._t.call(ep.get_execution(execution_id))

    def logs(
        self,
        execution_id: Id,
        *,
        level: str | None = None,
        step: str | None = None,
        page_size: int | None = None,
    ) -> Pager[LogEntry]:
        """Log lines in order; ``level`` keeps that level and above, ``step`` one step's."""

        def fetch(cursor: str | None) -> Page[LogEntry]:
            call = ep.execution_logs(
                execution_id, level=level, step=step, limit=page_size, cursor=cursor
            )
            return self._t.call(call)

        return Pager(fetch)

    def cancel(self, execution_id: Id) -> Execution:
        """Cancel an execution that has not finished (else :class:`Conflict`,
        ``execution_finished``)."""
        return self._t.call(ep.cancel_execution(execution_id))

    def retry(self, execution_id: Id, *, from_step: str | None = None) -> Execution:
        """Run a finished execution again as a new one; with ``from_step``, the steps that
        succeeded before it reuse their outputs."""
        return self._t.call(ep.retry_execution(execution_id, from_step))

    def approve(
        self,
        execution_id: Id,
        step: str,
        *,
        comment: str | None = None,
        step_key: str | None = None,
    ) -> Execution:
        """Approve the waiting approval ``step`` (``step_key`` picks one instance inside a
        ``foreach``); you are recorded as the approver."""
        call = ep.decide(execution_id, step, approved=True, comment=comment, step_key=step_key)
        return self._t.call(call)

    def reject(
        self,
        execution_id: Id,
        step: str,
        *,
        comment: str | None = None,
        step_key: str | None = None,
    ) -> Execution:
        call = ep.decide(execution_id, step, approved=False, comment=comment, step_key=step_key)
        return self._t.call(call)


# ---------------------------------------------------------------------------- the client


class FlowPilot:
    """A client of a FlowPilot server.

    Args:
        base_url: The server's URL (default ``FLOWPILOT_SERVER_URL``).
        api_key: An API key (``fp_…``; default ``FLOWPILOT_API_KEY`` when no other
            credential is given).
        api_key_header: ``"Authorization"`` sends the key as a bearer token,
            ``"X-API-Key"`` in that header.
        email, password: Log in as a user on the first request; expired access tokens are
            refreshed, and when the refresh token runs out the client logs in again.
        organization: The organization (id or slug) to log in to.
        access_token, refresh_token: A session obtained earlier (with ``on_tokens``, an
            application can store each rotated refresh token and resume from it).
        on_tokens: Called with every new token pair.
        timeout: Seconds (or an ``httpx.Timeout``) for each request.
        retry: When to send a failed idempotent request again.
        transport: An httpx transport (for proxies, tests, or mounting an app directly).
        headers: Extra headers sent with every request.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        api_key_header: str = "Authorization",
        email: str | None = None,
        password: str | None = None,
        organization: str | None = None,
        access_token: str | None = None,
        refresh_token: str | None = None,
        on_tokens: TokenListener | None = None,
        timeout: float | httpx.Timeout | None = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.credentials = Credentials.given(
            api_key=api_key,
            api_key_header=api_key_header,
            access_token=access_token,
            refresh_token=refresh_token,
            email=email,
            password=password,
            organization=organization,
            on_tokens=on_tokens,
        )
        self._t = Transport(
            base_url_of(base_url),
            self.credentials,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            transport=transport,
            headers=headers,
        )
        self.workflows = Workflows(self._t)
        self.versions = Versions(self._t)
        self.templates = Templates(self._t)
        self.executions = Executions(self._t, self.workflows)
        self.gitops = GitOps(self._t)

    @property
    def base_url(self) -> str:
        return self._t.base_url

    def me(self) -> Me:
        """Who the credential is, where it acts and what it may do."""
        return self._t.call(ep.me())

    def login(self, email: str, password: str, *, organization: str | None = None) -> TokenPair:
        """Log in as a user (replacing any credential); the client then refreshes the
        access token by itself, and logs in again with the password if it must."""
        pair = self._t.call(ep.login(email, password, organization))
        self.credentials.logged_in(email, password, pair)
        return pair

    def logout(self) -> None:
        """End the session on the server (its refresh tokens stop working) and forget the
        tokens and password."""
        if self.credentials.refresh_token is not None:
            self._t.call(ep.logout(self.credentials.refresh_token))
        self.credentials.forget()

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> FlowPilot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
