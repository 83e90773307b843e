"""Small helpers shared by the engine's behavioural tests (``test_engine_*.py``).

Flows are written without their ``flow:`` header; ``run`` adds it, compiles the flow and drives
it with :class:`~tests.runtime.driver.Run`. Side-effecting steps are ``http.request`` calls
answered by handlers keyed by URL, so a test reads like the flow it checks.
"""

from __future__ import annotations

from typing import Any

from flowpilot.stdlib.errors import NodeError
from tests.runtime.driver import Handler, Run, compile_plan


def plan(body: str) -> dict[str, Any]:
    return compile_plan("flow: t\n" + body)


def make(body: str, handlers: dict[str, Handler] | None = None, **options: Any) -> Run:
    """A run of ``body`` that has not started yet."""
    return Run(plan(body), handlers={"http.request": by_url(handlers or {})}, **options)


def run(body: str, handlers: dict[str, Handler] | None = None, **options: Any) -> Run:
    """Compile ``body`` and run it until nothing is left to do."""
    return make(body, handlers, **options).start()


def by_url(routes: dict[str, Handler]) -> Handler:
    """An ``http.request`` handler answering each URL with its route (default: ``{"url"…}``)."""

    def handle(args: dict[str, Any], attempt: int) -> Any:
        route = routes.get(args["url"])
        if route is None:
            return {"status": 200, "url": args["url"], "attempt": attempt}
        return route(args, attempt)

    return handle


def returns(value: Any) -> Handler:
    return lambda args, attempt: value


def fails(
    message: str = "boom",
    *,
    type: str = "http_status",
    until: int | None = None,
    retryable: bool = True,
    retry_after: float | None = None,
    data: dict[str, Any] | None = None,
) -> Handler:
    """Fails every attempt (or every attempt before ``until``, which then returns its number)."""

    def handle(args: dict[str, Any], attempt: int) -> Any:
        if until is not None and attempt >= until:
            return {"attempt": attempt}
        raise NodeError(message, type=type, retryable=retryable, retry_after=retry_after, data=data)

    return handle


def http(step_id: str, url: str | None = None, extra: str = "") -> str:
    """One ``http.request`` step as a YAML flow-mapping line."""
    url = url or f"https://{step_id}.example.com"
    return f'{{ id: {step_id}, uses: http.request, with: {{ url: "{url}" }}{extra} }}'


def finished(r: Run) -> list[str]:
    """Step keys in the order their records said they finished (retried attempts included)."""
    return [rec.step_key for rec in r.records if rec.finished]


def statuses(r: Run) -> dict[str, str]:
    """The last recorded status of every step key."""
    return {rec.step_key: rec.status for rec in r.records if rec.finished}


def texts(r: Run) -> str:
    """Everything a person could read about the run: logs, records, events and the result."""
    return repr((r.logs, r.records, r.events, r.finish))
