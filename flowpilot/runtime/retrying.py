"""Running a finished execution again, whole or from a step (its earlier outputs reused)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from flowpilot.runtime import history
from flowpilot.runtime.states import ExecutionStatus

if TYPE_CHECKING:
    from flowpilot.runtime.service import Runtime


def retry_execution(
    runtime: Runtime,
    execution_id: str,
    from_step: str | None = None,
    *,
    by: dict[str, Any] | None = None,
    within: Callable[[sa.Connection, str], None] | None = None,
) -> str:
    """Run a finished execution again with the same plan and inputs. With ``from_step``,
    steps that succeeded before that step's first run reuse their recorded outputs instead
    of running again (their side effects are not repeated); ``from_step`` and everything
    after it run anew. Raises LookupError when the execution or the step is unknown.

    ``by`` (who asked) goes into the new execution's trigger; ``within(conn, new_id)`` runs
    in the transaction that creates it (to record an audit entry with it)."""
    from flowpilot.runtime.service import ExecutionNotFound

    with runtime.db.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT org_id, plan_hash, workflow_id, inputs, dry_run, priority, status "
                "FROM executions WHERE id = :id"
            ),
            {"id": execution_id},
        ).one_or_none()
        if row is None:
            raise ExecutionNotFound(f"no execution {execution_id}")
        if not ExecutionStatus(row.status).finished:
            raise ValueError(f"execution {execution_id} is still {row.status}")
        state: dict[str, Any] = {}
        if from_step:
            state = {
                "replay": _replay_before(conn, execution_id, from_step),
                "replay_of": execution_id,
            }
    trigger = {
        "type": "retry",
        "of": execution_id,
        **({"from": from_step} if from_step else {}),
        **({"by": by} if by else {}),
    }
    with runtime.transaction() as (conn, post):
        new_id = runtime.create_execution(
            conn,
            str(row.org_id),
            row.plan_hash,
            row.inputs,
            post=post,
            trigger=trigger,
            dry_run=row.dry_run,
            priority=row.priority,
            workflow_id=str(row.workflow_id) if row.workflow_id else None,
            initial_state=state,
        )
        if within is not None:
            within(conn, new_id)
    return new_id


def _replay_before(conn: sa.Connection, execution_id: str, from_step: str) -> dict[str, Any]:
    """The outputs of the ``uses`` steps that succeeded before ``from_step`` first ran,
    by step key. Step runs are ordered by their time-ordered ids (runs recorded in one
    transaction share its ``created_at``), outputs stored apart loaded."""
    runs = history.step_runs(conn, execution_id)

    def is_target(key: str) -> bool:
        last = key.rsplit("/", 1)[-1]
        return key == from_step or last == from_step

    first = next((i for i, run in enumerate(runs) if is_target(run["step_key"])), None)
    if first is None:
        raise LookupError(f"step '{from_step}' did not run in execution {execution_id}")
    return {
        run["step_key"]: run["output"]
        for run in runs[:first]
        if run["kind"] == "uses" and run["status"] == "succeeded"
    }
