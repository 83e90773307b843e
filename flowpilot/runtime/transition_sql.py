"""The statements that write a transition: fixed text, rows passed as JSON arrays.

Everything one transition writes — step runs dispatched and recorded, timers armed and
disarmed, logs, events, payloads stored apart and the execution row itself — goes to
PostgreSQL in one statement of data-modifying CTEs. The rows travel as JSON arrays unpacked by
``jsonb_to_recordset``, so the text of the statement never changes with what the transition
did: psycopg converts it once per process (its query cache takes statements up to 4 KiB and 50
parameters) and prepares it on each pooled connection, so PostgreSQL parses and plans it once
per connection instead of once per transition. Empty arrays cost next to nothing.

All the CTEs see one snapshot, and PostgreSQL refuses to touch a row twice in one statement:
a transition that writes the same step attempt twice sends what it has first
(:data:`WRITES_ONLY`).
"""

from __future__ import annotations

from typing import Any

#: Data-modifying CTEs shared by every variant; ``%(e)s`` is the execution, ``%(o)s`` its
#: organization, each ``%(<name>)s`` array a JSON text.
_CTES = (
    "WITH d AS (INSERT INTO step_runs (execution_id,id,org_id,node_id,step_key,kind,node_type,"
    "attempt,status,args,inputs,idempotency_key,queue,enqueued_at,worker,started_at,"
    "lease_expires_at,created_at) SELECT %(e)s,x.id,%(o)s,x.n,x.k,'uses',x.t,x.a,x.s,x.args,"
    "x.inputs,x.ik,x.q,now(),x.w,CASE WHEN x.eager THEN now() END,CASE WHEN x.eager THEN "
    "now()+make_interval(secs=>x.lease) END,now() FROM jsonb_to_recordset(%(dispatch)s::jsonb) "
    "x(id uuid,n text,k text,t text,a int,s text,args jsonb,inputs jsonb,ik text,q text,w text,"
    "eager bool,lease float8) ON CONFLICT (execution_id,step_key,attempt) DO NOTHING),"
    "r AS (INSERT INTO step_runs (execution_id,id,org_id,node_id,step_key,kind,node_type,attempt,"
    "status,inputs,output,output_ref,error,worker,started_at,finished_at,created_at) "
    "SELECT %(e)s,x.id,%(o)s,x.n,x.k,x.kind,x.t,x.a,x.s,x.inputs,x.output,x.ref,x.error,x.w,"
    "CASE WHEN x.started OR x.finished THEN now() END,CASE WHEN x.finished THEN now() END,now() "
    "FROM jsonb_to_recordset(%(records)s::jsonb) x(id uuid,n text,k text,kind text,t text,a int,"
    "s text,inputs jsonb,output jsonb,ref uuid,error jsonb,w text,started bool,finished bool) "
    "ON CONFLICT (execution_id,step_key,attempt) DO UPDATE SET status=EXCLUDED.status,"
    "inputs=coalesce(EXCLUDED.inputs,step_runs.inputs),"
    "output=coalesce(EXCLUDED.output,step_runs.output),"
    "output_ref=coalesce(EXCLUDED.output_ref,step_runs.output_ref),"
    "error=coalesce(EXCLUDED.error,step_runs.error),"
    "started_at=coalesce(step_runs.started_at,EXCLUDED.started_at),"
    "finished_at=coalesce(EXCLUDED.finished_at,step_runs.finished_at)),"
    "ct AS (DELETE FROM timers WHERE execution_id=%(e)s AND fired_at IS NULL AND (%(finish)s OR "
    "(kind,payload->>'act') IN (SELECT x.k,x.a FROM jsonb_to_recordset(%(untimers)s::jsonb) "
    "x(k text,a text)))),"
    "t AS (INSERT INTO timers (id,org_id,execution_id,kind,due_at,payload) SELECT x.id,%(o)s,"
    "%(e)s,x.k,x.d,x.p FROM jsonb_to_recordset(%(timers)s::jsonb) x(id uuid,k text,"
    "d timestamptz,p jsonb)),"
    "p AS (INSERT INTO payloads (id,org_id,execution_id,size,data) SELECT x.id,%(o)s,%(e)s,x.n,"
    "x.d FROM jsonb_to_recordset(%(payloads)s::jsonb) x(id uuid,n int,d jsonb)),"
    "l AS (INSERT INTO execution_logs (execution_id,org_id,step_key,level,message,fields) "
    "SELECT %(e)s,%(o)s,x.k,x.l,x.m,x.f FROM ROWS FROM (jsonb_to_recordset(%(logs)s::jsonb) "
    "AS (k text,l text,m text,f jsonb)) WITH ORDINALITY x(k,l,m,f,i) ORDER BY x.i),"
    "ev AS (INSERT INTO execution_events (execution_id,org_id,type,step_key,data) "
    "SELECT %(e)s,%(o)s,x.t,x.k,x.d FROM ROWS FROM (jsonb_to_recordset(%(events)s::jsonb) "
    "AS (t text,k text,d jsonb)) WITH ORDINALITY x(t,k,d,i) ORDER BY x.i RETURNING id) "
)

# NOTIFY is transactional: listeners (flowpilot.runtime.events.follow) hear of the events
# when, and only if, this transaction commits.
_RETURNING = (
    " RETURNING (SELECT array_agg(id ORDER BY id) FROM ev),"
    "CASE WHEN %(notify)s THEN pg_notify('flowpilot_events',%(o)s::text) END"
)

#: The writes and the update of an execution already in the database; with ``expect`` (the
#: version this process last wrote) the update applies only if nobody advanced it since.
UPDATE_EXECUTION = (
    _CTES + "UPDATE executions SET status=%(status)s,state=%(state)s::jsonb,"
    "outputs=CASE WHEN %(finish)s THEN %(outputs)s::jsonb ELSE outputs END,"
    "error=CASE WHEN %(finish)s THEN %(error)s::jsonb ELSE error END,"
    "finished_at=CASE WHEN %(finish)s THEN now() ELSE finished_at END,"
    "updated_at=now(),version=version+1 "
    "WHERE id=%(e)s AND (%(expect)s::int IS NULL OR version=%(expect)s::int)" + _RETURNING
)

#: The writes and the insert of a new execution with the state its start produced (version
#: 1, as if inserted empty and updated once).
INSERT_EXECUTION = (
    _CTES + "INSERT INTO executions (id,org_id,flow_id,plan_hash,workflow_id,status,priority,"
    "dry_run,inputs,trigger,state,outputs,error,parent_id,parent_step,created_at,updated_at,"
    "started_at,finished_at,version) VALUES (%(e)s,%(o)s,%(n_flow)s,%(n_hash)s,%(n_wf)s,"
    "%(status)s,%(n_prio)s,%(n_dry)s,%(n_inputs)s::jsonb,%(n_trigger)s::jsonb,%(state)s::jsonb,"
    "%(outputs)s::jsonb,%(error)s::jsonb,%(n_parent)s,%(n_pstep)s,%(n_now)s,now(),"
    "%(n_started)s,CASE WHEN %(finish)s THEN now() END,1)" + _RETURNING
)

#: The writes alone, sent early when a transition touches one step attempt twice.
WRITES_ONLY = _CTES + "SELECT 1"

_EMPTY = "[]"


def rows(items: list[dict[str, Any]], dumps: Any) -> str:
    """One JSON array parameter (``[]`` when there is nothing to write)."""
    return dumps(items) if items else _EMPTY
