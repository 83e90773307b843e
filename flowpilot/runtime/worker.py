"""What a worker does with one step message: claim it, run the node, report the result."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

import sqlalchemy as sa

from flowpilot.runtime.codec import dumps
from flowpilot.runtime.engine_support import error_object
from flowpilot.runtime.inline import call_node, node_type_of
from flowpilot.runtime.secrets import Redactor, SecretsView, unseal
from flowpilot.runtime.service import Runtime
from flowpilot.stdlib.context import NodeContext
from flowpilot.stdlib.errors import NodeError
from flowpilot.store.ids import uuid7

log = logging.getLogger("flowpilot.worker")


def env_credentials(kind: str, name: str | None) -> dict[str, Any] | None:
    """Credentials from ``FLOWPILOT_CREDENTIAL_<KIND>`` (the default one) or
    ``FLOWPILOT_CREDENTIAL_<KIND>__<NAME>``, each a JSON object. The server's encrypted
    credential store replaces this lookup."""
    key = "FLOWPILOT_CREDENTIAL_" + kind.upper().replace("-", "_")
    if name and name != "default":
        key += "__" + name.upper().replace("-", "_")
    raw = os.environ.get(key)
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise NodeError(
            f"the {kind} credential is not valid JSON ({key})",
            type="credential_invalid",
            retryable=False,
        ) from None
    return value if isinstance(value, dict) else None


class Heartbeat:
    """Extends the leases of the step runs this process holds, so recovery does not hand a
    long-running step to another worker."""

    def __init__(self, runtime: Runtime, interval: float) -> None:
        self.runtime = runtime
        self.interval = interval
        self.held: set[tuple[str, str, int]] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, item: tuple[str, str, int]) -> None:
        with self._lock:
            self.held.add(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, daemon=True, name="heartbeat")
                self._thread.start()

    def release(self, item: tuple[str, str, int]) -> None:
        with self._lock:
            self.held.discard(item)

    def _beat(self) -> None:
        while True:
            time.sleep(self.interval)
            with self._lock:
                items = list(self.held)
            if not items:
                continue
            try:
                with self.runtime.db.begin() as conn:
                    for execution_id, key, attempt in items:
                        conn.execute(
                            sa.text(
                                "UPDATE step_runs SET lease_expires_at = now() + "
                                "make_interval(secs => :lease) WHERE execution_id = :e AND "
                                "step_key = :k AND attempt = :a AND status = 'running'"
                            ),
                            {
                                "lease": self.runtime.lease_seconds(execution_id, key),
                                "e": execution_id,
                                "k": key,
                                "a": attempt,
                            },
                        )
            except Exception:
                log.exception("lease heartbeat failed")


_heartbeats: dict[int, Heartbeat] = {}


def _heartbeat(runtime: Runtime) -> Heartbeat:
    found = _heartbeats.get(id(runtime))
    if found is None:
        interval = max(0.5, runtime.lease_seconds("", "") / 3)
        found = _heartbeats[id(runtime)] = Heartbeat(runtime, interval)
    return found


def warm_up() -> None:
    """Load now what the first steps would otherwise load while their executions wait: the
    node catalogue with its implementations, their compiled argument checks, the HTTP client."""
    from flowpilot.stdlib.nodes._http import shared_client
    from flowpilot.stdlib.registry import default_registry
    from flowpilot.stdlib.validation import prepare_checks

    prepare_checks(t for t in default_registry() if t.run is not None)
    shared_client()


def execute_step(runtime: Runtime, execution_id: str, step_key: str, attempt: int) -> None:
    """Run one attempt of one step, then — while the execution's next step is an I/O step
    that this thread can take at once — that one too, without a broker hop. A message for a
    step run that is no longer runnable (done, cancelled, or held by a live worker) is a
    duplicate and is dropped."""
    row = runtime.claim_step(execution_id, step_key, attempt)
    if row is None:
        return
    claimed: dict[str, Any] | None = {
        "execution_id": execution_id,
        "step_key": step_key,
        "attempt": attempt,
        "org_id": str(row.org_id),
        "flow_id": row.flow_id,
        "node_type": row.node_type,
        "args": row.args,
        "idempotency_key": row.idempotency_key,
    }
    while claimed is not None:
        output, error = run_claimed(runtime, claimed)
        claimed = runtime.complete_and_take_next(
            claimed["execution_id"],
            claimed["step_key"],
            claimed["attempt"],
            output=output,
            error=error,
        )


def run_claimed(runtime: Runtime, claimed: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
    """Run a claimed step run's node; returns (output, error), both already redacted."""
    execution_id, step_key, attempt = (
        claimed["execution_id"],
        claimed["step_key"],
        claimed["attempt"],
    )
    org_id = claimed["org_id"]
    heartbeat = _heartbeat(runtime)
    item = (execution_id, step_key, attempt)
    heartbeat.hold(item)
    secrets = SecretsView(runtime.secrets, org_id)
    logs = StepLogs(runtime, execution_id, org_id, step_key, secrets)
    output: Any = None
    error: dict[str, Any] | None = None
    try:
        node_type = node_type_of(claimed["node_type"])
        args = unseal(claimed["args"] or {}, secrets)
        ctx = NodeContext(
            execution_id=execution_id,
            org_id=org_id,
            flow_id=claimed["flow_id"],
            step_id=step_key,
            attempt=attempt,
            idempotency_key=claimed["idempotency_key"] or f"{execution_id}:{step_key}:{attempt}",
            log_sink=logs.add,
            credential_lookup=env_credentials,
            file_reader=lambda ref: _read_file(runtime, org_id, ref),
        )
        output = call_node(node_type, args, ctx)
        size = len(dumps(output))
        if size > runtime.limits.max_payload_bytes:
            raise NodeError(
                f"the output is {size} bytes, more than the limit of "
                f"{runtime.limits.max_payload_bytes} (FLOWPILOT_MAX_PAYLOAD_BYTES)",
                type="limit_exceeded",
                retryable=False,
            )
    except NodeError as exc:
        error = _node_error(exc, step_key, attempt)
    except Exception as exc:
        log.exception("node %s crashed", claimed["node_type"])
        error = error_object(
            f"{type(exc).__name__}: {exc}", "node_crash", step=step_key, attempts=attempt
        )
        error["retryable"] = True
    finally:
        heartbeat.release(item)
    redactor = Redactor(secrets.resolved)
    if error is not None:
        error = redactor.value(error)
        output = None
    logs.flush()
    return output, error


def _node_error(exc: NodeError, step_key: str, attempt: int) -> dict[str, Any]:
    error = error_object(
        exc.message, exc.type, step=step_key, details=exc.data or None, attempts=attempt
    )
    error["retryable"] = exc.retryable
    if exc.retry_after is not None:
        error["retry_after"] = exc.retry_after
    return error


class StepLogs:
    """A node's log lines: stored when the step ends, and every ``interval`` seconds while a
    long step runs, so they can be followed live. Secret values are masked when written."""

    def __init__(
        self,
        runtime: Runtime,
        execution_id: str,
        org_id: str,
        step_key: str,
        secrets: SecretsView,
        interval: float = 1.0,
    ) -> None:
        self.runtime = runtime
        self.where = (execution_id, org_id, step_key)
        self.secrets = secrets
        self.interval = interval
        self.pending: list[tuple[str, str, dict[str, Any]]] = []
        self.last_flush = time.monotonic()

    def add(self, level: str, message: str, fields: Any) -> None:
        self.pending.append((level, message, dict(fields)))
        if time.monotonic() - self.last_flush >= self.interval:
            try:
                self.flush()
            except Exception:  # a log write must not fail the node; retried at the next flush
                log.exception("writing step logs failed; kept for the next attempt")

    def flush(self) -> None:
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        execution_id, org_id, step_key = self.where
        redactor = Redactor(self.secrets.resolved)
        _write_logs(self.runtime, execution_id, org_id, step_key, self.pending, redactor)
        self.pending = []


def _write_logs(
    runtime: Runtime,
    execution_id: str,
    org_id: str,
    step_key: str,
    logs: list[tuple[str, str, dict[str, Any]]],
    redactor: Redactor,
) -> None:
    with runtime.db.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO execution_logs (execution_id, org_id, step_key, level, message, "
                "fields) VALUES (:e, :o, :k, :l, :m, CAST(:f AS jsonb))"
            ),
            [
                {
                    "e": execution_id,
                    "o": org_id,
                    "k": step_key,
                    "l": level,
                    "m": redactor.text(message),
                    "f": json.dumps(redactor.value(fields), default=str),
                }
                for level, message, fields in logs
            ],
        )


def _read_file(runtime: Runtime, org_id: str, ref: Any) -> bytes:
    with runtime.db.connect() as conn:
        content = conn.execute(
            sa.text("SELECT content FROM files WHERE id = :id AND org_id = :o"),
            {"id": str(ref.get("id")), "o": org_id},
        ).scalar()
    if content is None:
        raise NodeError(
            f"file {ref.get('name') or ref.get('id')} is not in this organization's file store",
            type="file_missing",
            retryable=False,
        )
    return bytes(content)


def dead_letter(runtime: Runtime, message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """A message exhausted its deliveries: keep it for ``flowpilot dlq``, and fail the step it
    carried so its execution does not wait forever."""
    actor = message.get("actor_name", "")
    args = message.get("args", [])
    traceback = (message.get("options") or {}).get("traceback") or ""
    last_line = traceback.strip().splitlines()[-1] if traceback.strip() else "delivery failed"
    org_id = None
    if actor.startswith("flowpilot_run_step") and len(args) == 3:
        with runtime.db.connect() as conn:
            org_id = conn.execute(
                sa.text("SELECT org_id FROM executions WHERE id = :e"), {"e": args[0]}
            ).scalar()
    with runtime.db.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO dead_letters (id, org_id, queue, actor, message, error) "
                "VALUES (:id, :o, :q, :a, CAST(:m AS jsonb), :err)"
            ),
            {
                "id": uuid7(),
                "o": org_id,
                "q": message.get("queue_name", ""),
                "a": actor,
                "m": json.dumps(message, default=str),
                "err": last_line[:2000],
            },
        )
    if org_id is not None:
        execution_id, step_key, attempt = args
        error = error_object(
            f"the worker failed to deliver this step {retry_info.get('retries', '?')} times: "
            f"{last_line[:500]}",
            "delivery_failed",
            step=step_key,
            attempts=attempt,
        )
        error["retryable"] = False
        runtime.complete_step(execution_id, step_key, attempt, error=error)
