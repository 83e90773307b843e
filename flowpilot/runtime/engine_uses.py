"""The ``uses`` step: attempts (dispatched to a worker, run inline, or mocked in a dry run),
retries with their backoff, and ``human.approval``, which waits for people instead of a worker
(docs/dsl.md §8.2, §12)."""

from __future__ import annotations

from typing import Any

from flowpilot.durations import parse_duration
from flowpilot.runtime import actions as A
from flowpilot.runtime.engine_support import EngineBase, StepInfo, error_object
from flowpilot.runtime.retry import RetryPolicy

APPROVAL_NODE = "human.approval"


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    text = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


class UsesHandlers(EngineBase):
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
        redactor = self.redactor()
        snapshot = redactor.value(args)
        idempotency_key = f"{self.ctx.execution_id}:{key}:{attempt}"
        if self._replayed(aid, act, node, snapshot):
            return
        if self.ctx.dry_run and node.get("side_effects"):
            self._mock(aid, act, node, args, snapshot, names)
            return
        if node.get("inline"):
            info = StepInfo(key, attempt, idempotency_key, names)
            self._record_started(act, node, snapshot)
            try:
                output = self.ctx.inline_runner(node, args, info)
            except Exception as exc:
                self.uses_failed(aid, act, self.to_error(exc, act["node"], attempt))
                return
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
        self._record_started(act, node, snapshot)
        # Mocks given with the run (by step key, or by step id for every instance) come
        # before the flow's own `mock:`.
        given = self.state.get("mocks") or {}
        for name in (key, act["node"]):
            if name in given:
                self._log("info", "dry run: returned the mock given with the run", key)
                self.complete_step(aid, act, given[name])
                return
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
        error = self.redact_error({**error, "attempts": attempt, "step": act["node"]})
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

    def _record_started(self, act: dict[str, Any], node: dict[str, Any], snapshot: Any) -> None:
        """The attempt's step run begins, with its (redacted) resolved inputs."""
        self.actions.append(
            A.RecordStep(
                act["key"],
                act["node"],
                "uses",
                "running",
                act["attempt"],
                node["node_type"],
                inputs=snapshot,
                started=True,
            )
        )

    def _replayed(self, aid: str, act: dict[str, Any], node: dict[str, Any], snapshot: Any) -> bool:
        """When retrying an execution from a later step, reuse this step's earlier output."""
        replay = self.state.get("replay")
        key = act["key"]
        if not replay or act["attempt"] != 1 or key not in replay:
            return False
        output = replay.pop(key)
        self._record_started(act, node, snapshot)
        self._log(
            "info",
            f"reused the output of execution {self.state.get('replay_of')} (retry from a "
            "later step)",
            key,
        )
        self.complete_step(aid, act, output)
        return True

    def _begin_approval(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        act["attempt"] = 1
        key = act["key"]
        try:
            args, names = self._resolved_args(aid, node)
        except Exception as exc:
            self.fail_step(aid, act, self.to_error(exc, act["node"], 1))
            return
        snapshot = self.redactor().value(args)
        if self._replayed(aid, act, node, snapshot):
            return
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
        named = decision.get("by")
        if named and any(r["by"] == named for r in act["responses"]):
            # `min_approvals` counts people: a second answer from the same person (a double
            # click, a second link) neither counts again nor changes their first answer.
            self._log("info", f"{named} already responded; ignoring the repeat", act["key"])
            return
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
