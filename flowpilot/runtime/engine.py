"""The pure engine: given a plan, the stored state of one execution and an event, decide what
happens next.

The engine never touches the database, the broker or the clock directly: the service loads the
state (a JSON document stored with the execution), calls one of the entry points —
:meth:`Engine.start`, :meth:`Engine.step_finished`, :meth:`Engine.timer_fired`,
:meth:`Engine.signal`, :meth:`Engine.child_finished`, :meth:`Engine.cancel` — and persists the
new state together with the :mod:`actions <flowpilot.runtime.actions>` it returns, in one
transaction. Tests drive it with no broker and no database.

Execution is an interpreter over *activations*: one per running node instance (a sequence, a
step, a loop iteration's body), kept in ``state["acts"]`` with their parent. When an activation
ends it hands an *outcome* (``succeeded``, ``failed``, ``skipped``, ``cancelled`` or
``returned``) to its parent. Pending hand-overs go through a work queue instead of recursion, so
a 10,000-step sequence of inline steps does not grow the Python stack. Cheap steps (``set``,
``switch``, inline ``core.*`` nodes…) complete inside one call; I/O steps become
:class:`~flowpilot.runtime.actions.DispatchStep` actions and the activation waits.

Step results live in ``state["results"][scope][step_id]``. The scope is ``""`` at the top and
``<scope>/<id>[<i>]`` for iteration ``i`` of foreach ``id`` (``<id>#<n>`` for repeat round
``n``), so each iteration sees its own body steps and the steps outside; a loop's iteration
scopes are dropped when the iteration ends (its body is invisible after the loop).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from flowpilot.runtime import actions as A
from flowpilot.runtime.engine_kinds import KindHandlers
from flowpilot.runtime.engine_support import (
    EngineContext,
    Outcome,
    error_object,
    failed,
    step_key,
)

STATE_VERSION = 1


class Engine(KindHandlers):
    """Advances one execution. Create one per event; read :attr:`state` and :attr:`actions`
    afterwards."""

    def __init__(self, plan: dict[str, Any], state: dict[str, Any] | None, ctx: EngineContext):
        self.plan = plan
        self.nodes: dict[str, dict[str, Any]] = plan["nodes"]
        self.ctx = ctx
        self.state: dict[str, Any] = state if state is not None else {}
        self.actions: list[A.Action] = []
        self._queue: deque[tuple[str, str | None, dict[str, Any], Outcome]] = deque()
        self._payload_cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ entry points

    def start(self) -> list[A.Action]:
        """Begin the execution: evaluate vars, arm the execution timeout, start the main steps.

        A state that already holds ``replay`` (step key -> output) and ``replay_of`` (an
        execution id) reuses those outputs for the matching steps' first attempts: retrying an
        execution from a later step. One that holds ``mocks`` (step key or step id -> output)
        gives those outputs to the steps a dry run mocks."""
        self.state.update(
            v=STATE_VERSION,
            vars={},
            results={},
            acts={},
            keys={},
            next=0,
            phase="main",
            failure=None,
            returned=None,
            outputs=None,
            finished=None,
            steps_started=0,
        )
        self._emit("execution.started", None, {"flow": self.plan["flow"]["id"]})
        timeout = self.plan.get("timeout_ms")
        if timeout:
            self.actions.append(
                A.StartTimer("execution_timeout", self.ctx.now() + timeout / 1000, {})
            )
        for var in self.plan["vars"]:
            try:
                self.store_var(var["name"], self.resolve(var["value"], self.base_names()))
            except Exception as exc:
                error = self.to_error(exc, None, 1)
                error["message"] = f"vars.{var['name']}: {error['message']}"
                self._finish_execution("failed", None, error)
                return self.actions
        self._enter_phase("main", self.plan["entry"], {})
        return self._run()

    def step_finished(
        self,
        key: str,
        attempt: int,
        *,
        output: Any = None,
        error: dict[str, Any] | None = None,
    ) -> list[A.Action]:
        """A worker finished attempt ``attempt`` of step ``key``. A result for an attempt the
        engine no longer waits for (a duplicate, or a cancelled step) changes nothing."""
        aid = self.state["keys"].get(key)
        act = self.state["acts"].get(aid) if aid else None
        if act is None or act.get("attempt") != attempt or not act.get("dispatched"):
            return self.actions
        act["dispatched"] = False
        if error is None:
            self.uses_succeeded(aid, act, output)
        else:
            self.uses_failed(aid, act, error)
        return self._run()

    def timer_fired(self, kind: str, payload: dict[str, Any]) -> list[A.Action]:
        """A durable timer came due. Timers of activations that have ended are ignored."""
        if self.state.get("finished"):
            return self.actions
        if kind == "execution_timeout":
            self._abort("timed_out", error_object("execution timed out", "timeout"))
            return self.actions
        aid = payload.get("act")
        act = self.state["acts"].get(aid) if aid else None
        # Activation ids are never reused, so a timer of an ended activation finds nothing.
        # Retry, repeat and approval timers also carry a token: the round they were armed
        # for. A step timeout has none — it covers the step however many rounds it takes.
        if act is None or ("token" in payload and act.get("token") != payload["token"]):
            return self.actions
        handler = getattr(self, f"on_timer_{kind}", None)
        if handler is None:
            raise ValueError(f"unknown timer kind {kind!r}")
        handler(aid, act)
        return self._run()

    def signal(self, key: str, decision: dict[str, Any]) -> list[A.Action]:
        """A decision for a waiting ``human.approval`` step."""
        aid = self.state["keys"].get(key)
        act = self.state["acts"].get(aid) if aid else None
        if act is None or not act.get("approval"):
            raise LookupError(f"step {key} is not waiting for an approval")
        self.approval_decided(aid, act, decision)
        return self._run()

    def child_finished(
        self, key: str, status: str, outputs: Any, error: dict[str, Any] | None
    ) -> list[A.Action]:
        aid = self.state["keys"].get(key)
        act = self.state["acts"].get(aid) if aid else None
        if act is None or not act.get("child"):
            return self.actions
        if status == "succeeded":
            self.complete_step(aid, act, output=outputs)
        else:
            message = (error or {}).get("message") or f"child execution {status}"
            self.fail_step(
                aid,
                act,
                error_object(f"{act['node']}: {message}", "child_failed", details=error),
            )
        return self._run()

    def cancel(self, reason: str = "cancelled") -> list[A.Action]:
        """Cancel the execution: every running step is cancelled, nothing else runs."""
        if not self.state.get("finished"):
            self._abort("cancelled", error_object(reason, "cancelled"))
        return self.actions

    # ------------------------------------------------------------------ activations

    def new_act(
        self,
        node_id: str,
        scope: str,
        parent: str | None,
        locals_: dict[str, Any] | None = None,
    ) -> str:
        self.state["next"] += 1
        aid = str(self.state["next"])
        act: dict[str, Any] = {"node": node_id, "scope": scope, "parent": parent, "kids": []}
        if locals_:
            act["locals"] = locals_
        self.state["acts"][aid] = act
        if parent is not None:
            self.state["acts"][parent]["kids"].append(aid)
        return aid

    def begin(self, node_id: str, scope: str, parent: str | None, locals_=None) -> str:
        """Create an activation of ``node_id`` and start it."""
        aid = self.new_act(node_id, scope, parent, locals_)
        node = self.nodes[node_id]
        act = self.state["acts"][aid]
        if node["kind"] != "sequence":
            limit = self.ctx.limits.max_steps
            self.state["steps_started"] += 1
            if self.state["steps_started"] > limit:
                self.finish_act(
                    aid,
                    failed(
                        error_object(
                            f"the execution ran more than {limit} steps "
                            "(FLOWPILOT_MAX_STEPS_PER_EXECUTION)",
                            "limit_exceeded",
                            step=node_id,
                        )
                    ),
                )
                return aid
            guard = node.get("if")
            if guard is not None:
                try:
                    run = self.truthy(guard, self.names(aid))
                except Exception as exc:
                    self.fail_step(aid, act, self.to_error(exc, node_id, 0), retry=False)
                    return aid
                if not run:
                    self.record(aid, act, "skipped")
                    self.finish_act(aid, {"status": "skipped"})
                    return aid
        getattr(self, f"begin_{node['kind']}")(aid, act, node)
        return aid

    def finish_act(self, aid: str, outcome: Outcome) -> None:
        """End activation ``aid`` and hand its outcome to its parent (through the queue)."""
        act = self.state["acts"].pop(aid)
        self.disarm_step_timeout(aid, act)
        key = act.get("key")
        if key is not None:
            self.state["keys"].pop(key, None)
        parent = act["parent"]
        if parent is not None and parent in self.state["acts"]:
            kids = self.state["acts"][parent]["kids"]
            if aid in kids:
                kids.remove(aid)
        self._queue.append(("done", parent, act, outcome))

    def _run(self) -> list[A.Action]:
        while self._queue:
            _, parent, act, outcome = self._queue.popleft()
            if self.state.get("finished"):
                break
            if parent is None:
                self._phase_done(act, outcome)
                continue
            parent_act = self.state["acts"].get(parent)
            if parent_act is None:  # the parent was cancelled meanwhile
                continue
            kind = self.nodes[parent_act["node"]]["kind"]
            getattr(self, f"child_done_{kind}")(parent, parent_act, act, outcome)
        return self.actions

    # ------------------------------------------------------------------ phases

    def _enter_phase(self, phase: str, node_id: str, locals_: dict[str, Any]) -> None:
        self.state["phase"] = phase
        self.begin(node_id, "", None, {**locals_, "$phase": phase})

    def _phase_done(self, act: dict[str, Any], outcome: Outcome) -> None:
        phase = self.state["phase"]
        status = outcome["status"]
        if phase == "main":
            if status == "failed" and not outcome.get("handled"):
                self.state["failure"] = outcome["error"]
                if self.plan.get("catch"):
                    self._enter_phase("catch", self.plan["catch"], {"error": outcome["error"]})
                    return
            else:
                try:
                    self.state["outputs"] = self._evaluate_outputs()
                except Exception as exc:
                    error = self.to_error(exc, None, 1)
                    error["message"] = f"outputs: {error['message']}"
                    self.state["failure"] = error
        elif phase == "catch" and status == "failed" and not outcome.get("handled"):
            self._log("error", f"the flow's catch failed: {outcome['error']['message']}", None)
        elif phase == "finally":
            if status == "failed" and not outcome.get("handled") and not self.state["failure"]:
                self.state["failure"] = outcome["error"]
            self._complete()
            return
        if phase != "finally" and self.plan.get("finally"):
            self._enter_phase("finally", self.plan["finally"], {"error": self.state["failure"]})
            return
        self._complete()

    def _evaluate_outputs(self) -> dict[str, Any]:
        names = self.names_for_scope("", {})
        outputs = {name: self.resolve(value, names) for name, value in self.plan["outputs"].items()}
        returned = self.state.get("returned")
        if returned:
            outputs.update(returned)
        # The compiler keeps `secrets` out of outputs, but a step's output may echo one.
        return self.redactor().value(outputs)

    def _complete(self) -> None:
        failure = self.state["failure"]
        if failure:
            self._finish_execution("failed", None, failure)
        else:
            # A `return` in the flow's `finally` runs after the outputs were evaluated.
            outputs = {**(self.state["outputs"] or {}), **(self.state.get("returned") or {})}
            self._finish_execution("succeeded", self.redactor().value(outputs), None)

    def _finish_execution(
        self, status: str, outputs: dict[str, Any] | None, error: dict[str, Any] | None
    ) -> None:
        self.state["finished"] = status
        self._queue.clear()
        self.actions.append(A.Finish(status, outputs, error))
        self._emit(f"execution.{status}", None, {"error": error} if error else {})

    def _abort(self, status: str, error: dict[str, Any]) -> None:
        for aid in list(self.state["acts"]):
            act = self.state["acts"].get(aid)
            if act is not None and act["parent"] is None:
                self.cancel_subtree(aid)
        self._finish_execution(status, None, error)

    def cancel_subtree(self, aid: str) -> None:
        """Cancel activation ``aid`` and everything under it, recording cancelled steps."""
        act = self.state["acts"].get(aid)
        if act is None:
            return
        for kid in list(act["kids"]):
            self.cancel_subtree(kid)
        node = self.nodes[act["node"]]
        if node["kind"] != "sequence":
            if act.get("dispatched") or act.get("approval") or act.get("waiting"):
                self.actions.append(A.CancelStepRuns([act["key"]]))
            if act.get("child"):
                self.actions.append(A.CancelChild(act["key"]))
            self.record(aid, act, "cancelled")
        self.state["acts"].pop(aid, None)
        self.disarm_step_timeout(aid, act)
        if act.get("key"):
            self.state["keys"].pop(act["key"], None)
        parent = self.state["acts"].get(act["parent"]) if act["parent"] else None
        if parent is not None and aid in parent["kids"]:
            parent["kids"].remove(aid)
        if parent is not None and parent["scope"] != act["scope"]:
            # A loop iteration: its steps are invisible once the loop ended, as when it ends
            # normally, so its results leave the stored state too.
            self._drop_scope(act["scope"])

    # ------------------------------------------------------------------ small helpers

    def step_key_of(self, act: dict[str, Any]) -> str:
        return step_key(act["scope"], act["node"])

    def _emit(self, type_: str, key: str | None, data: dict[str, Any]) -> None:
        self.actions.append(A.Emit(type_, key, data))

    def _log(self, level: str, message: str, key: str | None, **fields: Any) -> None:
        self.actions.append(A.Log(level, self.redactor().text(message), key, fields))
