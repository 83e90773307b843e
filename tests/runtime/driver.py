"""Drives the pure engine in tests: no database, no broker, a virtual clock.

Dispatched steps are answered by ``handlers`` (node type → function(args, attempt) returning an
output or raising NodeError); timers fire in due order as the virtual clock jumps to them. The
engine's state is JSON-encoded and decoded between events, as the database would store it, so a
state that is not JSON-able fails here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flowpilot.compiler.pipeline import compile_source
from flowpilot.runtime import actions as A
from flowpilot.runtime.engine import Engine
from flowpilot.runtime.engine_support import EngineContext, Limits
from flowpilot.runtime.inline import run_inline
from flowpilot.runtime.secrets import DictSecretProvider, SecretsView, unseal
from flowpilot.stdlib.errors import NodeError

Handler = Callable[[dict[str, Any], int], Any]


def compile_plan(source: str, name: str = "t.flow.yaml") -> dict[str, Any]:
    result = compile_source(source, name)
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert not errors, errors
    return result.plan


@dataclass
class Run:
    plan: dict[str, Any]
    handlers: dict[str, Handler] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False
    limits: Limits = field(default_factory=Limits)
    clock: float = 1_000_000.0
    state: dict[str, Any] | None = None
    records: list[A.RecordStep] = field(default_factory=list)
    logs: list[A.Log] = field(default_factory=list)
    events: list[A.Emit] = field(default_factory=list)
    dispatched: list[A.DispatchStep] = field(default_factory=list)
    timers: list[tuple[float, int, A.StartTimer]] = field(default_factory=list)
    children: list[A.StartChild] = field(default_factory=list)
    payloads: dict[str, Any] = field(default_factory=dict)
    finish: A.Finish | None = None
    calls: list[tuple[str, int]] = field(default_factory=list)
    _seq: int = 0

    def engine(self) -> Engine:
        view = SecretsView(DictSecretProvider(self.secrets), "org")
        ctx = EngineContext(
            execution_id="exec",
            org_id="org",
            inputs=self.inputs,
            secrets=view,
            now=lambda: self.clock,
            inline_runner=run_inline,
            dry_run=self.dry_run,
            limits=self.limits,
            payload_loader=lambda ref: json.loads(json.dumps(self.payloads[ref])),
        )
        state = json.loads(json.dumps(self.state)) if self.state is not None else None
        return Engine(self.plan, state, ctx)

    def _apply(self, engine: Engine, actions: list[A.Action]) -> None:
        self.state = json.loads(json.dumps(engine.state))
        for action in actions:
            if isinstance(action, A.DispatchStep):
                self.dispatched.append(action)
            elif isinstance(action, A.RecordStep):
                self.records.append(action)
            elif isinstance(action, A.Log):
                self.logs.append(action)
            elif isinstance(action, A.Emit):
                self.events.append(action)
            elif isinstance(action, A.StartTimer):
                self._seq += 1
                self.timers.append((action.due_at, self._seq, action))
            elif isinstance(action, A.StorePayload):
                self.payloads[action.ref] = action.value
            elif isinstance(action, A.CancelTimer):
                self.timers = [
                    t
                    for t in self.timers
                    if not (t[2].kind == action.kind and t[2].payload.get("act") == action.act)
                ]
            elif isinstance(action, A.StartChild):
                self.children.append(action)
            elif isinstance(action, A.Finish):
                self.finish = action

    def start(self) -> Run:
        engine = self.engine()
        self._apply(engine, engine.start())
        return self.settle()

    def settle(self, *, fire_timers: bool = True) -> Run:
        """Answer dispatched steps, then fire due timers, until nothing is left to do."""
        while self.finish is None:
            if self.dispatched:
                step = self.dispatched.pop(0)
                self.calls.append((step.step_key, step.attempt))
                engine = self.engine()
                view = SecretsView(DictSecretProvider(self.secrets), "org")
                args = unseal(step.args, view)
                try:
                    output = self.handlers[step.node_type](args, step.attempt)
                except NodeError as exc:
                    error = engine.to_error(exc, step.node_id, step.attempt)
                    self._apply(
                        engine, engine.step_finished(step.step_key, step.attempt, error=error)
                    )
                else:
                    self._apply(
                        engine, engine.step_finished(step.step_key, step.attempt, output=output)
                    )
                continue
            if fire_timers and self.timers:
                self.timers.sort()
                due, _, timer = self.timers.pop(0)
                self.clock = max(self.clock, due)
                engine = self.engine()
                self._apply(engine, engine.timer_fired(timer.kind, timer.payload))
                continue
            break
        return self

    def signal(self, key: str, decision: dict[str, Any]) -> Run:
        engine = self.engine()
        self._apply(engine, engine.signal(key, decision))
        return self.settle()

    def child_done(self, key: str, status: str, outputs: Any, error: Any = None) -> Run:
        engine = self.engine()
        self._apply(engine, engine.child_finished(key, status, outputs, error))
        return self.settle()

    def cancel(self) -> Run:
        engine = self.engine()
        self._apply(engine, engine.cancel())
        return self

    def status_of(self, key: str) -> str:
        final = [r for r in self.records if r.step_key == key and r.finished]
        return final[-1].status if final else "none"
