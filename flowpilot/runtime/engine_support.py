"""What the engine's handlers share: its context, outcomes and errors, and the names an
expression sees at one point of the flow."""

from __future__ import annotations

import contextlib
import copy
import os
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowpilot.compiler.constants import truthy
from flowpilot.runtime import actions as A
from flowpilot.runtime.codec import dumps
from flowpilot.runtime.evaluate import EvaluationError, resolve_value
from flowpilot.runtime.secrets import Redactor, SecretMissing, SecretsView, display, unseal
from flowpilot.stdlib.errors import NodeError
from flowpilot.store.ids import uuid7

Outcome = dict[str, Any]


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw and raw.isdigit() else default


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one execution; each, when hit, fails with a message naming it.

    Attributes:
        max_steps: step instances one execution may start (loops included).
        max_foreach_items: items one ``foreach`` may iterate over.
        max_payload_bytes: the largest step output or input snapshot kept (JSON bytes).
        inline_payload_bytes: outputs larger than this are stored apart and referenced.
    """

    max_steps: int = 100_000
    max_foreach_items: int = 10_000
    max_payload_bytes: int = 16 * 1024 * 1024
    inline_payload_bytes: int = 256 * 1024

    @classmethod
    def from_env(cls) -> Limits:
        base = cls()
        return cls(
            max_steps=_env_int("FLOWPILOT_MAX_STEPS_PER_EXECUTION", base.max_steps),
            max_foreach_items=_env_int("FLOWPILOT_MAX_FOREACH_ITEMS", base.max_foreach_items),
            max_payload_bytes=_env_int("FLOWPILOT_MAX_PAYLOAD_BYTES", base.max_payload_bytes),
            inline_payload_bytes=_env_int(
                "FLOWPILOT_INLINE_PAYLOAD_BYTES", base.inline_payload_bytes
            ),
        )


InlineRunner = Callable[[dict[str, Any], dict[str, Any], "StepInfo"], Any]
MockMaker = Callable[[dict[str, Any], dict[str, Any]], tuple[Any, str | None]]
PayloadLoader = Callable[[str], Any]


@dataclass(frozen=True, slots=True)
class StepInfo:
    """Identifies one attempt of one step for an inline node run."""

    key: str
    attempt: int
    idempotency_key: str
    names: Mapping[str, Any]


@dataclass
class EngineContext:
    """Everything about the execution that is not in the plan or the state."""

    execution_id: str
    org_id: str
    inputs: dict[str, Any]
    secrets: SecretsView
    now: Callable[[], float]
    inline_runner: InlineRunner
    trigger: dict[str, Any] = field(default_factory=lambda: {"type": "manual"})
    dry_run: bool = False
    started_at: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    mock_maker: MockMaker | None = None
    payload_loader: PayloadLoader | None = None


def step_key(scope: str, node_id: str) -> str:
    """The unique key of a step instance: ``fetch``, ``each[2]/show``, ``poll#3/check``."""
    return f"{scope}/{node_id}" if scope else node_id


def error_object(
    message: str,
    type_: str,
    *,
    step: str | None = None,
    details: Any = None,
    attempts: int = 1,
) -> dict[str, Any]:
    """An ``error`` as flows see it (DSL §9): message, type, step, details, attempts."""
    return {
        "message": message,
        "type": type_,
        "step": step,
        "details": details,
        "attempts": attempts,
    }


def failed(error: dict[str, Any]) -> Outcome:
    return {"status": "failed", "error": error}


def readable_result(
    found: dict[str, Any], load: PayloadLoader, secrets: Mapping[str, str] | None
) -> dict[str, Any]:
    """A stored step result as flows see it: a stored-apart output loaded, a sealed one
    (an output holding a secret's value) unsealed."""
    if "output_ref" in found:
        found = {**found, "output": load(found["output_ref"])}
    if found.get("sealed") and secrets is not None:
        found = {k: v for k, v in found.items() if k != "sealed"}
        found["output"] = unseal(found["output"], secrets)
    return found


def scope_chain(scope: str) -> list[str]:
    """``a[1]/b[2]`` → ``["a[1]/b[2]", "a[1]", ""]``."""
    chain = [scope]
    while scope:
        scope = scope.rpartition("/")[0]
        chain.append(scope)
    return chain


class StepsView(Mapping[str, Any]):
    """``steps`` in expressions at one scope: the innermost result of each step id."""

    def __init__(
        self,
        results: dict[str, dict[str, Any]],
        scope: str,
        load: PayloadLoader,
        secrets: Mapping[str, str] | None = None,
    ):
        self._results = results
        self._chain = scope_chain(scope)
        self._load = load
        self._secrets = secrets

    def get(self, step_id: str, default: Any = None) -> Any:  # type: ignore[override]
        for scope in self._chain:
            found = self._results.get(scope, {}).get(step_id)
            if found is not None:
                return readable_result(found, self._load, self._secrets)
        return default

    def __getitem__(self, step_id: str) -> Any:
        found = self.get(step_id)
        if found is None:
            raise KeyError(step_id)
        return found

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for scope in self._chain:
            for key in self._results.get(scope, {}):
                if key not in seen:
                    seen.add(key)
                    yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)


class EngineBase:
    """Names, evaluation, errors and step records, shared by the engine's handlers."""

    plan: dict[str, Any]
    nodes: dict[str, dict[str, Any]]
    ctx: EngineContext
    state: dict[str, Any]
    actions: list[A.Action]
    _payload_cache: dict[str, Any]
    _redactor: tuple[int, Redactor] | None = None
    _plan_secrets_read: bool = False

    # ----------------------------------------------------------------- secrets

    def redactor(self) -> Redactor:
        """Masks (and seals) the value of every secret this execution may meet: each one the
        plan reads, and any resolved meanwhile. Each event has a fresh engine that may not
        have read a secret yet, while its value already sits in a var, an argument or a
        node's error message — so the plan's list is read, not just what this event used."""
        view = self.ctx.secrets
        if not self._plan_secrets_read:
            self._plan_secrets_read = True
            for name in self.plan.get("secrets") or ():
                # A missing one is no value to hide; a step that reads it fails on its own.
                with contextlib.suppress(SecretMissing):
                    view.get(name)
        if self._redactor is None or self._redactor[0] != len(view.resolved):
            self._redactor = (len(view.resolved), Redactor(view.resolved))
        return self._redactor[1]

    def redact_error(self, error: dict[str, Any]) -> dict[str, Any]:
        return self.redactor().value(error)

    def store_var(self, name: str, value: Any) -> None:
        """Assign a var, sealing secret values so the stored state never holds one
        (``vars`` in expressions unseals them again)."""
        redactor = self.redactor()
        # A copy: `set: { snap: "${{ vars }}" }` must not store vars inside itself (a cycle
        # the state's JSON cannot hold), nor a value that changes when a var does.
        stored = redactor.seal(value) if redactor else copy.deepcopy(value)
        sealed: list[str] = self.state.setdefault("sealed_vars", [])
        if stored != value:
            if name not in sealed:
                sealed.append(name)
        elif name in sealed:
            sealed.remove(name)
        self.state["vars"][name] = stored

    def vars_value(self) -> dict[str, Any]:
        """``vars`` as expressions see it: sealed secret values restored."""
        stored = self.state["vars"]
        sealed = self.state.get("sealed_vars")
        if not sealed:
            return dict(stored)  # a snapshot: later `set` steps must not change it
        view = self.ctx.secrets
        return {**stored, **{name: unseal(stored[name], view) for name in sealed}}

    # ----------------------------------------------------------------- names

    def base_names(self) -> dict[str, Any]:
        ctx = self.ctx
        trigger = ctx.trigger
        return {
            "inputs": ctx.inputs,
            "vars": self.vars_value(),
            "secrets": ctx.secrets,
            "env": ctx.env,
            "trigger": trigger,
            "event": trigger.get("event"),
            "execution": {
                "id": ctx.execution_id,
                "started_at": ctx.started_at,
                "dry_run": ctx.dry_run,
                "attempt": 1,
            },
            "flow": {
                "id": self.plan["flow"]["id"],
                "name": self.plan["flow"].get("name"),
                "labels": self.plan["flow"].get("labels", {}),
            },
        }

    def _load_payload(self, ref: str) -> Any:
        if ref not in self._payload_cache:
            loader = self.ctx.payload_loader
            if loader is None:
                raise RuntimeError("this engine cannot load stored payloads")
            self._payload_cache[ref] = loader(ref)
        return self._payload_cache[ref]

    def names_for_scope(self, scope: str, locals_: dict[str, Any]) -> ChainMap[str, Any]:
        steps = StepsView(self.state["results"], scope, self._load_payload, self.ctx.secrets)
        return ChainMap(locals_, {"steps": steps}, self.base_names())

    def output_of(self, scope: str, step_id: str) -> Any:
        """The output of step ``step_id`` stored in exactly ``scope`` (null when it has none)."""
        found = self.state["results"].get(scope, {}).get(step_id)
        if found is None:
            return None
        return readable_result(found, self._load_payload, self.ctx.secrets)["output"]

    def locals_of(self, act: dict[str, Any]) -> dict[str, Any]:
        """The local names of ``act`` and its ancestors (loop variables, ``error``); an inner
        name hides an outer one."""
        acts = self.state["acts"]
        layers: list[dict[str, Any]] = []
        cursor: dict[str, Any] | None = act
        while cursor is not None:
            if "locals" in cursor:
                layers.append(cursor["locals"])
            cursor = acts.get(cursor["parent"]) if cursor["parent"] else None
        merged: dict[str, Any] = {}
        for layer in reversed(layers):
            merged.update(layer)
        return merged

    def names(self, aid: str) -> ChainMap[str, Any]:
        """The names visible to activation ``aid``: loop variables, ``error`` in catch scopes,
        the steps that ran in its scope and outside, and the flow's globals."""
        act = self.state["acts"][aid]
        return self.names_for_scope(act["scope"], self.locals_of(act))

    # ----------------------------------------------------------------- evaluation

    def resolve(self, value: Any, names: Mapping[str, Any]) -> Any:
        return resolve_value(value, names)

    def truthy(self, value: Any, names: Mapping[str, Any]) -> bool:
        return truthy(resolve_value(value, names))

    def to_error(self, exc: BaseException, step: str | None, attempts: int) -> dict[str, Any]:
        """An exception as a flow ``error`` (never with a secret in it)."""
        if isinstance(exc, NodeError):
            error = error_object(
                exc.message, exc.type, step=step, details=exc.data or None, attempts=attempts
            )
            error["retryable"] = exc.retryable
            if exc.retry_after is not None:
                error["retry_after"] = exc.retry_after
        elif isinstance(exc, EvaluationError):
            error = error_object(str(exc), "expression_error", step=step, attempts=attempts)
            error["retryable"] = False
        elif isinstance(exc, SecretMissing):
            error = error_object(str(exc), "secret_missing", step=step, attempts=attempts)
            error["retryable"] = False
        else:
            error = error_object(
                f"{type(exc).__name__}: {exc}", "node_crash", step=step, attempts=attempts
            )
            error["retryable"] = True
        return self.redact_error(error)

    # ----------------------------------------------------------------- records

    def record(
        self,
        aid: str,
        act: dict[str, Any],
        status: str,
        *,
        output: Any = None,
        error: dict[str, Any] | None = None,
        attempts: int | None = None,
    ) -> None:
        """Store a finished step's result in its scope and emit its record and event."""
        node = self.nodes[act["node"]]
        key = step_key(act["scope"], act["node"])
        attempts = (
            attempts
            if attempts is not None
            else act.get("attempt", 1 if status != "skipped" else 0)
        )
        result: dict[str, Any] = {
            "status": status if status != "timed_out" else "failed",
            "output": output,
            "error": public_error(error),
            "attempts": attempts,
        }
        shown = output
        if output is not None and (redactor := self.redactor()):
            # A node may echo a secret (an API returning the token it was sent): the state
            # keeps it sealed for later steps, the record shows it masked.
            sealed = redactor.seal(output)
            if sealed != output:
                result.update(output=sealed, sealed=True)
                shown = display(sealed)
        if output is not None:
            shown = self._keep_apart(result, shown)
        self.state["results"].setdefault(act["scope"], {})[act["node"]] = result
        self.actions.append(
            A.RecordStep(
                key,
                act["node"],
                node["kind"],
                status,
                attempt=max(attempts, 1),
                node_type=node.get("node_type"),
                output=shown,
                error=public_error(error),
                finished=True,
            )
        )
        self.actions.append(
            A.Emit(f"step.{status}", key, {"error": public_error(error)} if error else {})
        )

    def _keep_apart(self, result: dict[str, Any], shown: Any) -> Any:
        """An output over the inline limit goes to ``payloads``: the state (rewritten at every
        transition) keeps its id, expressions load it on first read."""
        size = len(dumps(result["output"]))
        if size <= self.ctx.limits.inline_payload_bytes:
            return shown
        ref = str(uuid7())
        self.actions.append(A.StorePayload(ref, result["output"]))
        self._payload_cache[ref] = result["output"]
        result["output_ref"] = ref
        result["output"] = None
        return {"$payload": ref, "size": size}

    # Provided by Engine and its handlers.
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
        error = self.redact_error(public_error(error) or {})
        if error.get("step") is None:
            error["step"] = act["node"]
        self.record(aid, act, status, error=error)
        handled = bool(node.get("continue_on_error"))
        if handled:
            self._log("warning", f"failed, continuing: {error['message']}", act.get("key"))
        self.finish_act(aid, {"status": "failed", "error": error, "handled": handled})

    def _arm_step_timeout(self, aid: str, act: dict[str, Any], node: dict[str, Any]) -> None:
        timeout = node.get("timeout_ms")
        if timeout and not act.get("timer"):  # a retried container keeps its first timer
            act["timer"] = True
            self.actions.append(
                A.StartTimer("step_timeout", self.ctx.now() + timeout / 1000, {"act": aid})
            )

    def disarm_step_timeout(self, aid: str, act: dict[str, Any]) -> None:
        """The step ended: its timeout timer is no longer needed."""
        if not act.get("timer"):
            return
        for i, action in enumerate(self.actions):
            if (
                isinstance(action, A.StartTimer)
                and action.kind == "step_timeout"
                and action.payload.get("act") == aid
            ):
                del self.actions[i]  # armed during this very event: never written
                return
        self.actions.append(A.CancelTimer("step_timeout", aid))

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

    def _started(self, act: dict[str, Any], node: dict[str, Any]) -> None:
        self.actions.append(
            A.RecordStep(
                act["key"],
                act["node"],
                node["kind"],
                "running",
                attempt=act.get("attempt", 1),
                started=True,
            )
        )


def public_error(error: dict[str, Any] | None) -> dict[str, Any] | None:
    """The fields of an error flows see (DSL §9), without the engine's retry hints."""
    if error is None:
        return None
    return {k: error.get(k) for k in ("message", "type", "step", "details", "attempts")}
