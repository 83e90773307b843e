"""The asynchronous client: :class:`AsyncFlowPilot`, the same API as
:class:`~flowpilot.client.FlowPilot` with ``await`` and ``async for``.

::

    from flowpilot.client import AsyncFlowPilot

    async with AsyncFlowPilot("http://127.0.0.1:8080", api_key="fp_…") as client:
        started = await client.executions.start("getting-started", {"who": "Ada"})
        async for event in client.executions.events(started.id):
            print(event.type, event.step)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import httpx
import msgspec
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from flowpilot.client import endpoints as ep
from flowpilot.client.endpoints import Call, Id
from flowpilot.client.errors import NotFound, Unauthorized, WaitTimeout, error_from_response
from flowpilot.client.gitops import AsyncGitOps
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
from flowpilot.client.paging import AsyncPager
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


class AsyncTransport:
    """Sends calls: credentials, renewal of expired tokens, retries, errors, live streams."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        timeout: float | httpx.Timeout | None,
        retry: RetryPolicy,
        transport: httpx.AsyncBaseTransport | None,
        headers: Mapping[str, str] | None,
    ) -> None:
        self.base_url = base_url
        self.credentials = credentials
        self.timeout = timeout_of(timeout)
        self.retry = retry
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=self.timeout,
            transport=transport,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
        )
        # Serializes logins and refreshes among this client's tasks (see Credentials).
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self.http.aclose()

    async def call(self, call: Call[T]) -> T:
        if call.authenticated:
            await self.obtain_token_if_needed()
        renewed = False
        while True:
            generation = self.credentials.generation
            response = await self._send(call)
            if (
                response.status_code == 401
                and call.authenticated
                and not renewed
                and self.credentials.renewable
            ):
                await self.renew(generation)
                renewed = True
                continue
            if response.is_error:
                raise error_from_response(response)
            return call.decode(response)

    async def _send(self, call: Call[Any]) -> httpx.Response:
        tries = 0
        while True:
            headers = self.credentials.headers() if call.authenticated else {}
            if call.body is not None:
                headers["Content-Type"] = "application/json"
            try:
                response = await self.http.request(
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
                    await asyncio.sleep(self.retry.delay(tries))
                    continue
                raise connection_failed(self.base_url, call, exc, tries) from exc
            if retryable_status(call, response.status_code) and tries < self.retry.retries:
                tries += 1
                await asyncio.sleep(self.retry.delay(tries, response.headers.get("retry-after")))
                continue
            return response

    async def obtain_token_if_needed(self) -> None:
        if self.credentials.needs_token:
            async with self._lock:
                if self.credentials.needs_token:
                    await self._obtain(self.credentials.renewal())

    async def renew(self, generation: int) -> None:
        async with self._lock:
            if self.credentials.generation == generation:
                await self._obtain(self.credentials.renewal())

    async def _obtain(self, call: Call[TokenPair]) -> None:
        try:
            pair = await self.call(call)
        except Unauthorized:
            if not self.credentials.renewal_failed(call):
                raise
            pair = await self.call(self.credentials.login_call())
        self.credentials.accept(pair)

    async def follow(
        self, path: str, after: int | None, deadline: float | None = None
    ) -> AsyncIterator[ExecutionEvent]:
        """The events of a live stream, resumed after the last one received when the
        connection breaks, until the server closes it normally."""
        stream = StreamResume(path, after, self.retry, self.credentials)
        while True:
            await self.obtain_token_if_needed()
            generation = self.credentials.generation
            code: int | None = None
            try:
                async with ws_connect(
                    stream.url(self.base_url),
                    additional_headers=self.credentials.headers(),
                    user_agent_header=USER_AGENT,
                    open_timeout=self.timeout.connect,
                    max_size=MAX_EVENT_BYTES,
                ) as socket:
                    while True:
                        message = await _receive(socket, deadline, path)
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
                await self.renew(generation)
            else:
                await asyncio.sleep(step)  # type: ignore[arg-type]


async def _receive(socket: Any, deadline: float | None, path: str) -> str | bytes:
    left = remaining(deadline, path)
    if left is None:
        return await socket.recv()  # type: ignore[no-any-return]
    try:
        return await asyncio.wait_for(socket.recv(), left)  # type: ignore[no-any-return]
    except TimeoutError:
        raise WaitTimeout(f"gave up waiting on {path}", instance=path) from None


# ---------------------------------------------------------------------------- areas


class AsyncWorkflows:
    """Workflows; see :class:`flowpilot.client.sync.Workflows` for each method."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    def list(
        self,
        *,
        q: str | None = None,
        labels: Mapping[str, str] | Iterable[str] | None = None,
        published: bool | None = None,
        deleted: bool = False,
        page_size: int | None = None,
    ) -> AsyncPager[Workflow]:
        async def fetch(cursor: str | None) -> Page[Workflow]:
            call = ep.list_workflows(
                q=q,
                labels=labels,
                published=published,
                deleted=deleted,
                limit=page_size,
                cursor=cursor,
            )
            return await self._t.call(call)

        return AsyncPager(fetch)

    async def get(self, workflow_id: Id, *, include_source: bool = False) -> Workflow:
        return await self._t.call(ep.get_workflow(workflow_id, include_source=include_source))

    async def resolve(self, workflow: Workflow | Id) -> Workflow:
        if isinstance(workflow, Workflow):
            return workflow
        if is_uuid(workflow):
            return await self.get(workflow)
        async for found in self.list(q=str(workflow)):
            if found.flow_id == workflow:
                return found
        raise NotFound(f"no workflow has the flow id {workflow!r}", code="workflow_not_found")

    async def create(
        self, source: str, *, message: str = "", format: str | None = None, path: str | None = None
    ) -> WorkflowSaved:
        call = ep.create_workflow(source, format=format, message=message, path=path)
        return await self._t.call(call)

    async def save(
        self,
        workflow: Id,
        source: str,
        *,
        parent_version_id: Id | None = None,
        message: str = "",
        format: str | None = None,
        path: str | None = None,
    ) -> WorkflowSaved:
        call = ep.save_workflow(
            workflow,
            source,
            parent_version_id=parent_version_id,
            format=format,
            message=message,
            path=path,
        )
        return await self._t.call(call)

    async def delete(self, workflow_id: Id) -> None:
        await self._t.call(ep.delete_workflow(workflow_id))

    async def restore(self, workflow_id: Id) -> Workflow:
        return await self._t.call(ep.restore_workflow(workflow_id))

    async def validate(
        self, source: str, *, format: str | None = None, path: str | None = None
    ) -> Validation:
        return await self._t.call(ep.validate(source, format=format, path=path))

    async def compile(self, workflow_id: Id, version: str | int | None = None) -> CompiledPlan:
        ref = None if version is None else str(version)
        return await self._t.call(ep.compile_workflow(workflow_id, ref))

    async def graph(self, workflow_id: Id, version: str | int | None = None) -> WorkflowGraph:
        ref = None if version is None else str(version)
        return await self._t.call(ep.workflow_graph(workflow_id, ref))

    async def publish(self, workflow_id: Id, version: str | int | None = None) -> Publication:
        ref = None if version is None else str(version)
        return await self._t.call(ep.publish(workflow_id, ref))

    async def unpublish(self, workflow_id: Id) -> Workflow:
        return await self._t.call(ep.unpublish(workflow_id))


class AsyncVersions:
    """A workflow's versions; see :class:`flowpilot.client.sync.Versions`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    def list(self, workflow_id: Id, *, page_size: int | None = None) -> AsyncPager[VersionInfo]:
        async def fetch(cursor: str | None) -> Page[VersionInfo]:
            return await self._t.call(ep.list_versions(workflow_id, limit=page_size, cursor=cursor))

        return AsyncPager(fetch)

    async def get(self, workflow_id: Id, ref: str | int = "head") -> VersionDetail:
        return await self._t.call(ep.get_version(workflow_id, ref))

    async def diff(
        self, workflow_id: Id, from_: str | int | None = None, to: str | int | None = None
    ) -> VersionDiff:
        return await self._t.call(ep.diff(workflow_id, from_, to))

    async def rollback(
        self, workflow_id: Id, to: str | int, *, message: str | None = None
    ) -> WorkflowSaved:
        return await self._t.call(ep.rollback(workflow_id, to, message))

    async def tags(self, workflow_id: Id) -> list[Tag]:
        return (await self._t.call(ep.list_tags(workflow_id))).items

    async def tag(self, workflow_id: Id, name: str, version: str | int) -> Tag:
        return await self._t.call(ep.set_tag(workflow_id, name, version))

    async def untag(self, workflow_id: Id, name: str) -> None:
        await self._t.call(ep.delete_tag(workflow_id, name))


class AsyncTemplates:
    """Example flows; see :class:`flowpilot.client.sync.Templates`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def list(self) -> list[Template]:
        return (await self._t.call(ep.list_templates())).items

    async def get(self, template_id: str) -> TemplateDetail:
        return await self._t.call(ep.get_template(template_id))

    async def instantiate(
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
        return await self._t.call(call)


class AsyncExecutions:
    """Executions; see :class:`flowpilot.client.sync.Executions` for each method."""

    def __init__(self, transport: AsyncTransport, workflows: AsyncWorkflows) -> None:
        self._t = transport
        self._workflows = workflows

    async def _workflow_id(self, workflow: Workflow | Id) -> Id:
        if isinstance(workflow, Workflow):
            return workflow.id
        return workflow if is_uuid(workflow) else (await self._workflows.resolve(workflow)).id

    async def start(
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
        call = ep.start_execution(
            await self._workflow_id(workflow),
            inputs,
            version=version,
            wait=wait,
            priority=priority,
            dry_run=dry_run,
            mocks=mocks,
        )
        return await self._t.call(call)

    async def run(
        self,
        workflow: Workflow | Id,
        inputs: Mapping[str, Any] | None = None,
        *,
        version: str | int | None = None,
        timeout: float | None = None,
        dry_run: bool = False,
        mocks: Mapping[str, Any] | None = None,
    ) -> ExecutionDetail:
        started = await self.start(workflow, inputs, version=version, dry_run=dry_run, mocks=mocks)
        return await self.wait(started.id, timeout=timeout)

    async def wait(self, execution_id: Id, *, timeout: float | None = None) -> ExecutionDetail:
        deadline = None if timeout is None else time.monotonic() + timeout
        async for _ in self._t.follow(ep.execution_events_path(execution_id), None, deadline):
            pass
        return await self.get(execution_id)

    def events(
        self, execution_id: Id, *, after: int | None = None, timeout: float | None = None
    ) -> AsyncIterator[ExecutionEvent]:
        deadline = None if timeout is None else time.monotonic() + timeout
        return self._t.follow(ep.execution_events_path(execution_id), after, deadline)

    def stream(self, *, after: int | None = None) -> AsyncIterator[ExecutionEvent]:
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
    ) -> AsyncPager[ExecutionSummary]:
        async def fetch(cursor: str | None) -> Page[ExecutionSummary]:
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
            return await self._t.call(call)

        return AsyncPager(fetch)

    async def get(self, execution_id: Id) -> ExecutionDetail:
        return await self._t.call(ep.get_execution(execution_id))

    def logs(
        self,
        execution_id: Id,
        *,
        level: str | None = None,
        step: str | None = None,
        page_size: int | None = None,
    ) -> AsyncPager[LogEntry]:
        async def fetch(cursor: str | None) -> Page[LogEntry]:
            call = ep.execution_logs(
                execution_id, level=level, step=step, limit=page_size, cursor=cursor
            )
            return await self._t.call(call)

        return AsyncPager(fetch)

    async def cancel(self, execution_id: Id) -> Execution:
        return await self._t.call(ep.cancel_execution(execution_id))

    async def retry(self, execution_id: Id, *, from_step: str | None = None) -> Execution:
        return await self._t.call(ep.retry_execution(execution_id, from_step))

    async def approve(
        self,
        execution_id: Id,
        step: str,
        *,
        comment: str | None = None,
        step_key: str | None = None,
    ) -> Execution:
        call = ep.decide(execution_id, step, approved=True, comment=comment, step_key=step_key)
        return await self._t.call(call)

    async def reject(
        self,
        execution_id: Id,
        step: str,
        *,
        comment: str | None = None,
        step_key: str | None = None,
    ) -> Execution:
        call = ep.decide(execution_id, step, approved=False, comment=comment, step_key=step_key)
        return await self._t.call(call)


# ---------------------------------------------------------------------------- the client


class AsyncFlowPilot:
    """An asynchronous client of a FlowPilot server; the arguments are
    :class:`~flowpilot.client.FlowPilot`'s (``transport`` is an ``httpx.AsyncBaseTransport``).
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
        transport: httpx.AsyncBaseTransport | None = None,
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
        self._t = AsyncTransport(
            base_url_of(base_url),
            self.credentials,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            transport=transport,
            headers=headers,
        )
        self.workflows = AsyncWorkflows(self._t)
        self.versions = AsyncVersions(self._t)
        self.templates = AsyncTemplates(self._t)
        self.executions = AsyncExecutions(self._t, self.workflows)
        self.gitops = AsyncGitOps(self._t)

    @property
    def base_url(self) -> str:
        return self._t.base_url

    async def me(self) -> Me:
        return await self._t.call(ep.me())

    async def login(
        self, email: str, password: str, *, organization: str | None = None
    ) -> TokenPair:
        pair = await self._t.call(ep.login(email, password, organization))
        self.credentials.logged_in(email, password, pair)
        return pair

    async def logout(self) -> None:
        if self.credentials.refresh_token is not None:
            await self._t.call(ep.logout(self.credentials.refresh_token))
        self.credentials.forget()

    async def aclose(self) -> None:
        await self._t.close()

    async def __aenter__(self) -> AsyncFlowPilot:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
