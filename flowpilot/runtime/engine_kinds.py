"""The engine's handlers, one pair per node kind: ``begin_<kind>`` starts an activation and
``child_done_<kind>`` receives the outcome of one of its children (DSL.md §1, docs/dsl.md §8).
``uses`` and approvals live in :mod:`~flowpilot.runtime.engine_uses`."""

from __future__ import annotations

import json
from typing import Any

from flowpilot.compiler.function_impls import type_name
from flowpilot.runtime import actions as A
from flowpilot.runtime.engine_support import Outcome, error_object, failed, public_error
from flowpilot.runtime.engine_uses import UsesHandlers, _iso
from flowpilot.runtime.retry import RetryPolicy


class KindHandlers(UsesHandlers):
    def _pass_up(self, aid: str, act: dict[str, Any], outcome: Outcome) -> bool:
        """Handle a child's failure or ``return`` for a container step; True when handled."""
        if outcome["status"] == "failed" and not outcome.get("handled"):
            if not self._retry_container(aid, act, outcome["error"]):
                self.fail_step(aid, act, outcome["error"])
            return True
        if outcome["status"] == "returned":
            for kid in list(act["kids"]):
                self.cancel_subtree(kid)
            self.record(aid, act, "succeeded")
            self.finish_act(aid, outcome)
            return True
        return False

    def _retry_container(self, aid: str, act: dict[str, Any], error: dict[str, Any]) -> bool:
        """A group, parallel, switch, foreach, repeat or try step with its own ``retry``
        runs again from the start when its body fails and the policy allows; True then."""
        node = self.nodes[act["node"]]
        if not node.get("retry"):
            return False
        attempt = act.get("attempt", 1)
        policy = RetryPolicy.from_plan(node["retry"])
        if not policy.should_retry(attempt, error.get("type", "error"), True):
            act["attempt"] = attempt
            return False
        for kid in list(act["kids"]):
            self.cancel_subtree(kid)
        self.actions.append(
            A.RecordStep(
                act["key"],
                act["node"],
                node["kind"],
                "failed",
                attempt,
                error=public_error(self.redact_error(error)),
                finished=True,
            )
        )
        delay_ms = policy.delay_after(attempt)
        self._log(
            "warning",
            f"attempt {attempt} of {policy.max_attempts} failed ({error.get('type')}): "
            f"{error.get('message')}; running the step again in {delay_ms / 1000:g}s",
            act["key"],
        )
        act["attempt"] = attempt + 1
        act["token"] = act["attempt"]
        if delay_ms <= 0:
            self.on_timer_container_retry(aid, act)
        else:
            self.actions.append(
                A.StartTimer(
                    "container_retry",
                    self.ctx.now() + delay_ms / 1000,
                    {"act": aid, "token": act["token"]},
                )
            )
        return True

    def on_timer_container_retry(self, aid: str, act: dict[str, Any]) -> None:
        node = self.nodes[act["node"]]
        getattr(self, f"begin_{node['kind']}")(aid, act, node)

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
        output = {b: self.output_of(act["scope"], b) for b in node["branches"]}
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
                    f"foreach '{act['node']}' needs an array, got {type_name(items)}",
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
                    act["collected"][i] = {
                        sid: self.output_of(scope, sid)
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
        elif node.get("delay_ms") and self.ctx.dry_run:
            # Like a `wait`, the pause between polling rounds is skipped in a dry run.
            self._log("info", f"dry run: not waiting {node['delay_ms'] / 1000:g}s", act.get("key"))
            self._start_round(aid, act, node)
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
        # The token is spent: the same timer delivered twice must not start a second round.
        act.pop("token", None)
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
            A.RecordStep(
                key, act["node"], "wait", "waiting", inputs={"until": _iso(due)}, started=True
            )
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
        snapshot = self.redactor().value(inputs)
        self.actions.append(
            A.RecordStep(key, act["node"], "call", "waiting", inputs=snapshot, started=True)
        )
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
        for name, value in values.items():
            self.store_var(name, value)
        self.complete_step(aid, act)

    def begin_fail(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        try:
            message = self.resolve(node["message"], self.names(aid))
        except Exception as exc:
            self.fail_step(aid, act, self.to_error(exc, act["node"], 1))
            return
        text = message if isinstance(message, str) else json.dumps(message)
        text = self.redactor().text(text)
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


def _timestamp(value: Any) -> float:
    """A ``wait: {until}`` value (ISO-8601 text or epoch seconds) as epoch seconds."""
    from datetime import UTC, datetime

    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    raise ValueError(f"wait until needs an ISO-8601 timestamp or epoch seconds, got {value!r}")
