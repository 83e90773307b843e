"""The engine's handlers, one pair per node kind: ``begin_<kind>`` starts an activation and
``child_done_<kind>`` receives the outcome of one of its children (DSL.md §1, docs/dsl.md §8)."""

from __future__ import annotations

import json
from typing import Any

from flowpilot.dsl.durations import parse_duration
from flowpilot.runtime import actions as A
from flowpilot.runtime.engine_support import (
    EngineBase,
    Outcome,
    StepInfo,
    error_object,
    failed,
    public_error,
    step_key,
)
from flowpilot.runtime.retry import RetryPolicy
from flowpilot.runtime.secrets import Redactor

APPROVAL_NODE = "human.approval"


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    text = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)


class KindHandlers(EngineBase):
    # Provided by Engine.
    def begin(self, node_id, scope, parent, locals_=None): ...  # type: ignore[no-untyped-def]
    def finish_act(self, aid: str, outcome: Outcome) -> None: ...
    def cancel_subtree(self, aid: str) -> None: ...
    def _log(self, level: str, message: str, key: str | None, **fields: Any) -> None: ...
    def _emit(self, type_: str, key: str | None, data: dict[str, Any]) -> None: ...

    # ------------------------------------------------------------------ ending a step

    def register_key(self, aid: str, act: dict[str, Any]) -> str:
        key = step_key(act["scope"], act["node"])
        act["key"] = key
        self.state["keys"][key] = aid
        return key

    def complete_step(self, aid: str, act: dict[str, Any], output: Any = None) -> None:
        self.record(aid, act, "succeeded", output=output)
        self.finish_act(aid, {"status": "succeeded", "output": output})

    def fail_step(
        self,
        aid: str,
        act: dict[str, Any],
        error: dict[str, Any],
        *,
        retry: bool = False,
        status: str = "failed",
    ) -> None:
        """End a step as failed; with ``continue_on_error`` the flow goes on (output null)."""
        for kid in list(act["kids"]):
            self.cancel_subtree(kid)
        node = self.nodes[act["node"]]
        # Only the public fields travel on: catch scopes and the execution's error see exactly
        # {message, type, step, details, attempts} (docs/dsl.md §9).
        error = public_error(error) or {}
        if error.get("step") is None:
            error["step"] = act["node"]
        self.record(aid, act, status, error=error)
        handled = bool(node.get("continue_on_error"))
        if handled:
            self._log("warning", f"failed, continuing: {error['message']}", act.get("key"))
        self.finish_act(aid, {"status": "failed", "error": error, "handled": handled})

    def _pass_up(self, aid: str, act: dict[str, Any], outcome: Outcome) -> bool:
        """Handle a child's failure or ``return`` for a container step; True when handled."""
        if outcome["status"] == "failed" and not outcome.get("handled"):
            self.fail_step(aid, act, outcome["error"])
            return True
        if outcome["status"] == "returned":
            for kid in list(act["kids"]):
                self.cancel_subtree(kid)
            self.record(aid, act, "succeeded")
            self.finish_act(aid, outcome)
            return True
        return False

    def _arm_step_timeout(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        timeout = node.get("timeout_ms")
        if timeout:
            self.actions.append(
                A.StartTimer("step_timeout", self.ctx.now() + timeout / 1000, {"act": aid})
            )

    def on_timer_step_timeout(self, aid: str, act: dict[str, Any]) -> None:
        node = self.nodes[act["node"]]
        if act.get("dispatched") or act.get("waiting") or act.get("approval"):
            self.actions.append(A.CancelStepRuns([act["key"]]))
        if act.get("child"):
            self.actions.append(A.CancelChild(act["key"]))
        act["dispatched"] = False
        seconds = node["timeout_ms"] / 1000
        error = error_object(
            f"step '{act['node']}' timed out after {seconds:g}s",
            "timeout",
            step=act["node"],
            attempts=act.get("attempt", 1),
        )
        self.fail_step(aid, act, error, status="timed_out")

    # ------------------------------------------------------------------ sequence

    def begin_sequence(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        act["i"] = 0
        if not node["children"]:
            self.finish_act(aid, {"status": "succeeded"})
            return
        self.begin(node["children"][0], act["scope"], aid)

    def child_done_sequence(
        self, aid: str, act: dict[str, Any], child: dict[str, Any], outcome: Outcome
    ) -> None:
        if outcome["status"] == "returned" or (
            outcome["status"] == "failed" and not outcome.get("handled")
        ):
            self.finish_act(aid, outcome)
            return
        act["i"] += 1
        children = self.nodes[act["node"]]["children"]
        if act["i"] < len(children):
            self.begin(children[act["i"]], act["scope"], aid)
        else:
            self.finish_act(aid, {"status": "succeeded"})

    # ------------------------------------------------------------------ group, switch

    def begin_group(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        self.register_key(aid, act)
        self._started(act, node)
        self._arm_step_timeout(aid, act, node)
        self.begin(node["body"], act["scope"], aid)

    def child_done_group(
        self, aid: str, act: dict[str, Any], child: dict[str, Any], outcome: Outcome
    ) -> None:
        if not self._pass_up(aid, act, outcome):
            self.complete_step(aid, act)

    def begin_switch(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        self.register_key(aid, act)
        self._started(act, node)
        names = self.names(aid)
        try:
            chosen = next(
                (case["body"] for case in node["cases"] if self.truthy(case["when"], names)),
                node.get("default"),
            )
        except Exception as exc:
            self.fail_step(aid, act, self.to_error(exc, act["node"], 1))
            return
        if chosen is None:
            self.complete_step(aid, act)
            return
        self._arm_step_timeout(aid, act, node)
        self.begin(chosen, act["scope"], aid)

    child_done_switch = child_done_group

    # ------------------------------------------------------------------ parallel

    def begin_parallel(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        self.register_key(aid, act)
        self._started(act, node)
        self._arm_step_timeout(aid, act, node)
        act["pending"] = list(node["branches"])
        act["error"] = None
        limit = node.get("max_concurrency") or len(node["branches"])
        if not act["pending"]:
            self.complete_step(aid, act, {})
            return
        for _ in range(min(limit, len(act["pending"]))):
            self.begin(act["pending"].pop(0), act["scope"], aid)

    def child_done_parallel(
        self, aid: str, act: dict[str, Any], child: dict[str, Any], outcome: Outcome
    ) -> None:
        node = self.nodes[act["node"]]
        if outcome["status"] == "returned" or (
            outcome["status"] == "failed" and not outcome.get("handled") and node["fail_fast"]
        ):
            act["pending"] = []
            self._pass_up(aid, act, outcome)
            return
        if outcome["status"] == "failed" and not outcome.get("handled"):
            act["error"] = act["error"] or outcome["error"]
        if act["pending"]:
            self.begin(act["pending"].pop(0), act["scope"], aid)
            return
        if act["kids"]:
            return
        if act["error"]:
            self.fail_step(aid, act, act["error"])
            return
        results = self.state["results"].get(act["scope"], {})
        output = {b: (results.get(b) or {}).get("output") for b in node["branches"]}
        self.complete_step(aid, act, output)

    # ------------------------------------------------------------------ foreach

    def begin_foreach(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        key = self.register_key(aid, act)
        self._started(act, node)
        try:
            items = self.resolve(node["items"], self.names(aid))
        except Exception as exc:
            self.fail_step(aid, act, self.to_error(exc, act["node"], 1))
            return
        if not isinstance(items, list):
            self.fail_step(
                aid,
                act,
                error_object(
                    f"foreach '{act['node']}' needs an array, got {_type_name(items)}",
                    "type_error",
                    step=act["node"],
                ),
            )
            return
        limit = self.ctx.limits.max_foreach_items
        if len(items) > limit:
            self.fail_step(
                aid,
                act,
                error_object(
                    f"foreach '{act['node']}' has {len(items)} items, more than the limit of "
                    f"{limit} (FLOWPILOT_MAX_FOREACH_ITEMS)",
                    "limit_exceeded",
                    step=act["node"],
                ),
            )
            return
        if not items:
            self.complete_step(aid, act, [])
            return
        self._arm_step_timeout(aid, act, node)
        act.update(items=items, next=0, collected=[None] * len(items), base=key)
        for _ in range(min(max(1, node.get("concurrency") or 1), len(items))):
            self._start_iteration(aid, act, node)

    def _start_iteration(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        i = act["next"]
        act["next"] += 1
        locals_ = {node.get("as") or "item": act["items"][i], "index": i, "$iteration": i}
        self.begin(node["body"], f"{act['base']}[{i}]", aid, locals_)

    def child_done_foreach(
        self, aid: str, act: dict[str, Any], child: dict[str, Any], outcome: Outcome
    ) -> None:
        node = self.nodes[act["node"]]
        scope = child["scope"]
        if outcome["status"] == "succeeded":
            i = child["locals"]["$iteration"]
            try:
                if node.get("collect") is not None:
                    # `collect` sees the enclosing loops' variables too, not only this one's.
                    names = self.names_for_scope(scope, self.locals_of(child))
                    act["collected"][i] = self.resolve(node["collect"], names)
                else:
                    # Only the body's top-level steps (DSL §1), not steps nested in them.
                    body = self.state["results"].get(scope, {})
                    act["collected"][i] = {
                        sid: (body.get(sid) or {}).get("output")
                        for sid in self.nodes[node["body"]]["children"]
                    }
            except Exception as exc:
                outcome = failed(self.to_error(exc, act["node"], 1))
        self._drop_scope(scope)
        if self._pass_up(aid, act, outcome):
            return
        if act["next"] < len(act["items"]):
            self._start_iteration(aid, act, node)
        elif not act["kids"]:
            collected = act.pop("collected")
            act.pop("items", None)
            self.complete_step(aid, act, collected)

    def _drop_scope(self, scope: str) -> None:
        results = self.state["results"]
        results.pop(scope, None)
        prefix = scope + "/"
        for key in [k for k in results if k.startswith(prefix)]:
            del results[key]

    # ------------------------------------------------------------------ repeat

    def begin_repeat(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        act["base"] = self.register_key(aid, act)
        act["iteration"] = 0
        self._started(act, node)
        self._arm_step_timeout(aid, act, node)
        self._start_round(aid, act, node)

    def _start_round(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        act["iteration"] += 1
        n = act["iteration"]
        self.begin(node["body"], f"{act['base']}#{n}", aid, {"iteration": n})

    def child_done_repeat(
        self, aid: str, act: dict[str, Any], child: dict[str, Any], outcome: Outcome
    ) -> None:
        node = self.nodes[act["node"]]
        done = False
        if outcome["status"] == "succeeded":
            try:
                names = self.names_for_scope(child["scope"], self.locals_of(child))
                done = self.truthy(node["until"], names)
            except Exception as exc:
                outcome = failed(self.to_error(exc, act["node"], 1))
        self._drop_scope(child["scope"])
        if self._pass_up(aid, act, outcome):
            return
        if done or act["iteration"] >= node["max_iterations"]:
            self.complete_step(aid, act)
        elif node.get("delay_ms"):
            act["token"] = act["iteration"]
            self.actions.append(
                A.StartTimer(
                    "repeat_delay",
                    self.ctx.now() + node["delay_ms"] / 1000,
                    {"act": aid, "token": act["token"]},
                )
            )
        else:
            self._start_round(aid, act, node)

    def on_timer_repeat_delay(self, aid: str, act: dict[str, Any]) -> None:
        self._start_round(aid, act, self.nodes[act["node"]])

    # ------------------------------------------------------------------ try

    def begin_try(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        self.register_key(aid, act)
        self._started(act, node)
        self._arm_step_timeout(aid, act, node)
        act.update(phase="try", error=None, failing=False)
        self.begin(node["body"], act["scope"], aid)

    def child_done_try(
        self, aid: str, act: dict[str, Any], child: dict[str, Any], outcome: Outcome
    ) -> None:
        node = self.nodes[act["node"]]
        if outcome["status"] == "returned":
            self._pass_up(aid, act, outcome)
            return
        problem = outcome["status"] == "failed" and not outcome.get("handled")
        phase = act["phase"]
        if phase == "try" and problem:
            act["error"] = outcome["error"]
            if node.get("catch"):
                act["phase"] = "catch"
                self.begin(node["catch"], act["scope"], aid, {"error": outcome["error"]})
                return
            act["failing"] = True
        elif phase == "catch" and problem:
            act["failing"], act["error"] = True, outcome["error"]
        elif phase == "finally":
            if problem:
                self.fail_step(aid, act, outcome["error"])
            elif act["failing"]:
                self.fail_step(aid, act, act["error"])
            else:
                self.complete_step(aid, act)
            return
        if node.get("finally"):
            act["phase"] = "finally"
            self.begin(node["finally"], act["scope"], aid, {"error": act["error"]})
        elif act["failing"]:
            self.fail_step(aid, act, act["error"])
        else:
            self.complete_step(aid, act)

    # ------------------------------------------------------------------ wait, call

    def begin_wait(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        key = self.register_key(aid, act)
        now = self.ctx.now()
        if node.get("duration_ms") is not None:
            due = now + node["duration_ms"] / 1000
        else:
            try:
                due = _timestamp(self.resolve(node["until"], self.names(aid)))
            except Exception as exc:
                self.fail_step(aid, act, self.to_error(exc, act["node"], 1))
                return
        if self.ctx.dry_run:
            self._log("info", f"dry run: not waiting until {_iso(due)}", key)
            self.complete_step(aid, act)
            return
        act["waiting"] = True
        self.actions.append(
            A.RecordStep(key, act["node"], "wait", "waiting", inputs={"until": _iso(due)})
        )
        self._emit("step.waiting", key, {"until": _iso(due)})
        if due <= now:
            self.complete_step(aid, act)
            return
        self._arm_step_timeout(aid, act, node)
        self.actions.append(A.StartTimer("wait", due, {"act": aid}))

    def on_timer_wait(self, aid: str, act: dict[str, Any]) -> None:
        act["waiting"] = False
        self.complete_step(aid, act)

    def begin_call(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        key = self.register_key(aid, act)
        try:
            inputs = self.resolve(node["args"], self.names(aid))
        except Exception as exc:
            self.fail_step(aid, act, self.to_error(exc, act["node"], 1))
            return
        act["child"] = True
        snapshot = Redactor(self.ctx.secrets.resolved).value(inputs)
        self.actions.append(A.RecordStep(key, act["node"], "call", "waiting", inputs=snapshot))
        self._emit("step.waiting", key, {"flow": node["flow"]})
        self._arm_step_timeout(aid, act, node)
        self.actions.append(A.StartChild(key, node["flow"], inputs))

    # ------------------------------------------------------------------ set, fail, return

    def begin_set(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        try:
            names = self.names(aid)
            values = {k: self.resolve(v, names) for k, v in node["values"].items()}
        except Exception as exc:
            self.fail_step(aid, act, self.to_error(exc, act["node"], 1))
            return
        self.state["vars"].update(values)
        self.complete_step(aid, act)

    def begin_fail(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        try:
            message = self.resolve(node["message"], self.names(aid))
        except Exception as exc:
            self.fail_step(aid, act, self.to_error(exc, act["node"], 1))
            return
        text = message if isinstance(message, str) else json.dumps(message)
        text = Redactor(self.ctx.secrets.resolved).text(text)
        self.fail_step(aid, act, error_object(text, node.get("error_type") or "fail"))

    def begin_return(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        try:
            names = self.names(aid)
            values = {k: self.resolve(v, names) for k, v in (node.get("values") or {}).items()}
        except Exception as exc:
            self.fail_step(aid, act, self.to_error(exc, act["node"], 1))
            return
        self.state["returned"] = {**(self.state.get("returned") or {}), **values}
        self.record(aid, act, "succeeded")
        self.finish_act(aid, {"status": "returned"})

    # ------------------------------------------------------------------ uses

    def begin_uses(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        self.register_key(aid, act)
        act["attempt"] = 0
        self._arm_step_timeout(aid, act, node)
        if node["node_type"] == APPROVAL_NODE:
            self._begin_approval(aid, act, node)
        else:
            self._attempt(aid, act)

    def _resolved_args(self, aid: str, node: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        names = self.names(aid)
        lazy = set(node.get("lazy_args") or ())
        args = {k: (v if k in lazy else self.resolve(v, names)) for k, v in node["args"].items()}
        return args, names

    def _attempt(self, aid: str, act: dict[str, Any]) -> None:
        node = self.nodes[act["node"]]
        act["attempt"] += 1
        act["token"] = act["attempt"]
        attempt, key = act["attempt"], act["key"]
        try:
            args, names = self._resolved_args(aid, node)
        except Exception as exc:
            self.fail_step(aid, act, self.to_error(exc, act["node"], attempt))
            return
        redactor = Redactor(self.ctx.secrets.resolved)
        snapshot = redactor.value(args)
        idempotency_key = f"{self.ctx.execution_id}:{key}:{attempt}"
        if self.ctx.dry_run and node.get("side_effects"):
            self._mock(aid, act, node, args, snapshot, names)
            return
        if node.get("inline"):
            info = StepInfo(key, attempt, idempotency_key, names)
            try:
                output = self.ctx.inline_runner(node, args, info)
            except Exception as exc:
                self.actions.append(
                    A.RecordStep(
                        key,
                        act["node"],
                        "uses",
                        "running",
                        attempt,
                        node["node_type"],
                        inputs=snapshot,
                        started=True,
                    )
                )
                self.uses_failed(aid, act, self.to_error(exc, act["node"], attempt))
                return
            self.actions.append(
                A.RecordStep(
                    key,
                    act["node"],
                    "uses",
                    "running",
                    attempt,
                    node["node_type"],
                    inputs=snapshot,
                    started=True,
                )
            )
            self.complete_step(aid, act, output)
            return
        act["dispatched"] = True
        self.actions.append(
            A.DispatchStep(
                key,
                act["node"],
                attempt,
                node["node_type"],
                redactor.seal(args),
                snapshot,
                idempotency_key,
                node.get("timeout_ms"),
            )
        )
        self._emit("step.queued", key, {"attempt": attempt, "node_type": node["node_type"]})

    def _mock(self, aid, act, node, args, snapshot, names) -> None:  # type: ignore[no-untyped-def]
        key = act["key"]
        self.actions.append(
            A.RecordStep(
                key,
                act["node"],
                "uses",
                "running",
                act["attempt"],
                node["node_type"],
                inputs=snapshot,
                started=True,
            )
        )
        if node.get("mock") is not None:
            try:
                output = self.resolve(node["mock"], names)
            except Exception as exc:
                self.fail_step(aid, act, self.to_error(exc, act["node"], act["attempt"]))
                return
            self._log("info", "dry run: returned the step's mock output", key)
        elif self.ctx.mock_maker is not None:
            output, warning = self.ctx.mock_maker(node, args)
            if warning:
                self._log("warning", warning, key)
        else:
            output = None
            self._log("warning", "dry run: no mock output; the step returned null", key)
        self.complete_step(aid, act, output)

    def uses_succeeded(self, aid: str, act: dict[str, Any], output: Any) -> None:
        self.complete_step(aid, act, output)

    def uses_failed(self, aid: str, act: dict[str, Any], error: dict[str, Any]) -> None:
        node = self.nodes[act["node"]]
        attempt = act["attempt"]
        policy = RetryPolicy.from_plan(node.get("retry"))
        error = {**error, "attempts": attempt, "step": act["node"]}
        retry = policy.should_retry(attempt, error["type"], error.get("retryable", True))
        if not retry:
            self.fail_step(aid, act, error)
            return
        delay_ms = policy.delay_after(attempt, retry_after_s=error.get("retry_after"))
        key = act["key"]
        self.actions.append(
            A.RecordStep(
                key,
                act["node"],
                "uses",
                "failed",
                attempt,
                node["node_type"],
                error={k: error.get(k) for k in ("message", "type", "details")},
                finished=True,
            )
        )
        self._log(
            "warning",
            f"attempt {attempt} of {policy.max_attempts} failed ({error['type']}): "
            f"{error['message']}; retrying in {delay_ms / 1000:g}s",
            key,
        )
        self._emit("step.retrying", key, {"attempt": attempt, "delay_ms": delay_ms})
        if delay_ms <= 0:
            self._attempt(aid, act)
            return
        self.actions.append(
            A.StartTimer("retry", self.ctx.now() + delay_ms / 1000, {"act": aid, "token": attempt})
        )

    def on_timer_retry(self, aid: str, act: dict[str, Any]) -> None:
        self._attempt(aid, act)

    # ------------------------------------------------------------------ approvals

    def _begin_approval(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        act["attempt"] = 1
        key = act["key"]
        try:
            args, names = self._resolved_args(aid, node)
        except Exception as exc:
            self.fail_step(aid, act, self.to_error(exc, act["node"], 1))
            return
        snapshot = Redactor(self.ctx.secrets.resolved).value(args)
        if self.ctx.dry_run:
            self._mock(aid, act, node, args, snapshot, names)
            return
        act.update(approval=True, responses=[], needed=int(args.get("min_approvals") or 1))
        act["on_timeout"] = args.get("on_timeout") or "reject"
        self.actions.append(
            A.RecordStep(
                key, act["node"], "uses", "waiting", 1, APPROVAL_NODE, inputs=snapshot, started=True
            )
        )
        self._emit(
            "approval.requested",
            key,
            {k: snapshot.get(k) for k in ("title", "message", "approvers", "details")},
        )
        timeout_ms = parse_duration(str(args.get("timeout") or "3d")) or 3 * 86_400_000
        act["token"] = 1
        self.actions.append(
            A.StartTimer(
                "approval_timeout",
                self.ctx.now() + timeout_ms / 1000,
                {"act": aid, "token": 1},
            )
        )

    def approval_decided(self, aid: str, act: dict[str, Any], decision: dict[str, Any]) -> None:
        now = _iso(self.ctx.now())
        response = {
            "by": decision.get("by") or "unknown",
            "approved": bool(decision.get("approved")),
            "comment": decision.get("comment"),
            "at": now,
        }
        act["responses"].append(response)
        approvals = sum(1 for r in act["responses"] if r["approved"])
        if response["approved"] and approvals < act["needed"]:
            self._log(
                "info", f"approved by {response['by']} ({approvals}/{act['needed']})", act["key"]
            )
            return
        act["approval"] = False
        self.complete_step(
            aid,
            act,
            {
                "approved": response["approved"],
                "decision": "approved" if response["approved"] else "rejected",
                "choice": decision.get("choice"),
                "by": response["by"],
                "comment": response["comment"],
                "at": now,
                "form": decision.get("form"),
                "responses": act["responses"],
            },
        )

    def on_timer_approval_timeout(self, aid: str, act: dict[str, Any]) -> None:
        act["approval"] = False
        if act["on_timeout"] == "fail":
            self.fail_step(
                aid,
                act,
                error_object("nobody decided in time", "human_timeout", step=act["node"]),
                status="timed_out",
            )
            return
        self.complete_step(
            aid,
            act,
            {
                "approved": act["on_timeout"] == "approve",
                "decision": "timed_out",
                "choice": None,
                "by": None,
                "comment": None,
                "at": _iso(self.ctx.now()),
                "form": None,
                "responses": act["responses"],
            },
        )

    # ------------------------------------------------------------------ records

    def _started(self, act: dict[str, Any], node: dict[str, Any]) -> None:
        self.actions.append(
            A.RecordStep(act["key"], act["node"], node["kind"], "running", started=True)
        )


def _timestamp(value: Any) -> float:
    """A ``wait: {until}`` value (ISO-8601 text or epoch seconds) as epoch seconds."""
    from datetime import UTC, datetime

    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    raise ValueError(f"wait until needs an ISO-8601 timestamp or epoch seconds, got {value!r}")
