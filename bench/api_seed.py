"""Seeding the API benchmark's database with COPY: an organization with many workflows,
versions, executions and step runs, spread over the last three months like a busy tenant's.

The data is synthetic but shaped like production: UUIDv7 ids whose time is the creation time
(so rows land in their month's partition), a status mix dominated by successes, four trigger
types, every execution with three step runs, and a sample of executions with fifty steps (the
ones the detail benchmark fetches). A second organization holds a tenth as much, so every
query must filter by organization. Seeding is skipped when the database already holds the
requested volume (the ``bench_seed`` table records it).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from flowpilot.compiler.pipeline import compile_source
from flowpilot.store.partitions import ensure_partitions

STATUSES = [("succeeded", 80), ("failed", 10), ("cancelled", 3), ("running", 4), ("waiting", 3)]
TRIGGERS = [("manual", 30), ("webhook", 40), ("cron", 20), ("event", 10)]
DAYS = 80

FLOW = """\
flow: bench-{n}
name: Bench flow {n}
inputs:
  who: {{ type: string, default: world }}
steps:
  - id: greet
    uses: core.log
    with: {{ message: "hello ${{{{ inputs.who }}}} ({v})" }}
"""


def _uuid7_at(moment_ms: int, rng: random.Random) -> uuid.UUID:
    rand = rng.getrandbits(62)
    counter = rng.getrandbits(12)
    return uuid.UUID(int=(moment_ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand)


def _weighted(choices: list[tuple[str, int]], rng: random.Random, n: int) -> list[str]:
    names = [c for c, _ in choices]
    weights = [w for _, w in choices]
    return rng.choices(names, weights=weights, k=n)


def _copy(raw: Any, table: str, columns: list[str], rows: Any) -> int:
    count = 0
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def seeded(engine: sa.Engine) -> dict[str, Any] | None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS bench_seed (info jsonb NOT NULL)"))
        return conn.execute(sa.text("SELECT info FROM bench_seed")).scalar()


def seed(
    engine: sa.Engine,
    *,
    executions: int = 1_000_000,
    versions: int = 100_000,
    workflows: int = 1_000,
    detailed: int = 2_000,
    log: Any = print,
) -> dict[str, Any]:
    """Fill the database (idempotent for the same volume); returns what the benchmark needs."""
    info = seeded(engine)
    wanted = {"executions": executions, "versions": versions, "workflows": workflows}
    if info and all(info.get(k) == v for k, v in wanted.items()):
        return info
    if info:
        raise SystemExit(
            "the benchmark database holds another volume; drop it (or use another "
            "FLOWPILOT_HOME / --database-url)"
        )
    rng = random.Random(7)
    started = time.perf_counter()
    now = datetime.now(UTC)
    begin_ms = int((now - timedelta(days=DAYS)).timestamp() * 1000)
    end_ms = int(now.timestamp() * 1000)
    with engine.begin() as conn:
        ensure_partitions(conn, now=now, months_back=4)
    orgs = [(_uuid7_at(begin_ms, rng), "bench", 1.0), (_uuid7_at(begin_ms, rng), "noise", 0.1)]
    raw_conn = engine.raw_connection()
    try:
        raw = raw_conn.driver_connection
        assert raw is not None
        user_id = _uuid7_at(begin_ms, rng)
        with raw.cursor() as cur:
            cur.execute(
                "INSERT INTO users (id, email, name, password_hash) VALUES "
                "(%s, 'bench@flowpilot.local', 'Bench', 'x')",
                (user_id,),
            )
            for org_id, slug, _ in orgs:
                cur.execute(
                    "INSERT INTO organizations (id, slug, name) VALUES (%s, %s, %s)",
                    (org_id, slug, slug.title()),
                )
                cur.execute(
                    "INSERT INTO org_members (org_id, user_id, role) VALUES (%s, %s, 'owner')",
                    (org_id, user_id),
                )
        result = compile_source(FLOW.format(n=0, v=0), "bench.flow.yaml")
        assert result.plan is not None and result.plan_hash is not None, result.diagnostics
        plan_hash = result.plan_hash
        plan_json = json.dumps(result.plan)
        totals: dict[str, int] = {}
        first_org: dict[str, Any] = {}
        for org_id, slug, share in orgs:
            n_workflows = max(1, int(workflows * share))
            n_versions = max(n_workflows, int(versions * share))
            n_exec = int(executions * share)
            with raw.cursor() as cur:
                cur.execute(
                    "INSERT INTO plans (org_id, hash, flow_id, ir_version, plan) "
                    "VALUES (%s, %s, 'bench-0', %s, %s::jsonb)",
                    (org_id, plan_hash, result.plan["ir_version"], plan_json),
                )
            wf_ids = [_uuid7_at(begin_ms + i, rng) for i in range(n_workflows)]
            per_wf = n_versions // n_workflows
            version_rows = []
            heads: dict[uuid.UUID, uuid.UUID] = {}
            for w, wf in enumerate(wf_ids):
                parent = None
                for number in range(1, per_wf + 1):
                    vid = _uuid7_at(begin_ms + w * per_wf + number, rng)
                    source = FLOW.format(n=w, v=number)
                    version_rows.append(
                        (
                            vid,
                            org_id,
                            wf,
                            number,
                            f"{w:08x}{number:056x}",
                            parent,
                            "yaml",
                            source,
                            plan_hash,
                            user_id,
                            f"change {number}",
                            "{}",
                        )
                    )
                    parent = vid
                heads[wf] = parent  # type: ignore[assignment]
            _copy(
                raw,
                "workflows",
                [
                    "id",
                    "org_id",
                    "flow_id",
                    "name",
                    "head_version_id",
                    "published_version_id",
                    "created_by",
                ],
                (
                    (wf, org_id, f"bench-{w}", f"Bench flow {w}", heads[wf], heads[wf], user_id)
                    for w, wf in enumerate(wf_ids)
                ),
            )
            totals[f"{slug}.versions"] = _copy(
                raw,
                "workflow_versions",
                [
                    "id",
                    "org_id",
                    "workflow_id",
                    "number",
                    "hash",
                    "parent_id",
                    "format",
                    "source",
                    "plan_hash",
                    "author_id",
                    "message",
                    "origin",
                ],
                version_rows,
            )
            times = sorted(rng.randint(begin_ms, end_ms) for _ in range(n_exec))
            statuses = _weighted(STATUSES, rng, n_exec)
            triggers = _weighted(TRIGGERS, rng, n_exec)
            wf_choice = [rng.randrange(n_workflows) for _ in range(n_exec)]
            exec_ids = [_uuid7_at(t, rng) for t in times]
            detailed_ids = set(rng.sample(range(n_exec), min(detailed, n_exec)))

            def execution_rows(
                org_id: uuid.UUID = org_id,
                exec_ids: list[uuid.UUID] = exec_ids,
                times: list[int] = times,
                statuses: list[str] = statuses,
                triggers: list[str] = triggers,
                wf_choice: list[int] = wf_choice,
                wf_ids: list[uuid.UUID] = wf_ids,
            ) -> Any:
                for i, eid in enumerate(exec_ids):
                    created = datetime.fromtimestamp(times[i] / 1000, UTC)
                    status = statuses[i]
                    finished = (
                        created + timedelta(milliseconds=rng.randint(50, 60_000))
                        if status in ("succeeded", "failed", "cancelled")
                        else None
                    )
                    error = (
                        json.dumps({"message": "step 'greet' failed: HTTP 503", "type": "node"})
                        if status == "failed"
                        else None
                    )
                    w = wf_choice[i]
                    yield (
                        eid,
                        org_id,
                        f"bench-{w}",
                        plan_hash,
                        wf_ids[w],
                        status,
                        "default",
                        False,
                        '{"who": "world"}',
                        '{"message": "hello"}' if finished else None,
                        error,
                        json.dumps({"type": triggers[i]}),
                        "{}",
                        0,
                        created,
                        created,
                        finished,
                        created,
                    )

            totals[f"{slug}.executions"] = _copy(
                raw,
                "executions",
                [
                    "id",
                    "org_id",
                    "flow_id",
                    "plan_hash",
                    "workflow_id",
                    "status",
                    "priority",
                    "dry_run",
                    "inputs",
                    "outputs",
                    "error",
                    "trigger",
                    "state",
                    "version",
                    "created_at",
                    "started_at",
                    "finished_at",
                    "updated_at",
                ],
                execution_rows(),
            )

            def step_rows(
                org_id: uuid.UUID = org_id,
                exec_ids: list[uuid.UUID] = exec_ids,
                times: list[int] = times,
                detailed_ids: set[int] = detailed_ids,
            ) -> Any:
                for i, eid in enumerate(exec_ids):
                    created = datetime.fromtimestamp(times[i] / 1000, UTC)
                    for s in range(50 if i in detailed_ids else 3):
                        at = created + timedelta(milliseconds=s * 20)
                        yield (
                            eid,
                            _uuid7_at(times[i] + s, rng),
                            org_id,
                            f"step_{s}",
                            f"step_{s}",
                            "uses",
                            "core.log",
                            1,
                            "succeeded",
                            json.dumps({"message": f"hello {s}"}),
                            '{"logged": true}',
                            at,
                            at,
                            at + timedelta(milliseconds=15),
                            at,
                        )

            totals[f"{slug}.step_runs"] = _copy(
                raw,
                "step_runs",
                [
                    "execution_id",
                    "id",
                    "org_id",
                    "node_id",
                    "step_key",
                    "kind",
                    "node_type",
                    "attempt",
                    "status",
                    "inputs",
                    "output",
                    "enqueued_at",
                    "started_at",
                    "finished_at",
                    "created_at",
                ],
                step_rows(),
            )
            if not first_org:
                first_org = {
                    "org_id": str(org_id),
                    "workflow_ids": [str(w) for w in wf_ids[:50]],
                    "detailed_execution_ids": [str(exec_ids[i]) for i in sorted(detailed_ids)],
                    "user_email": "bench@flowpilot.local",
                }
            log(f"seeded {slug}: {totals} ({time.perf_counter() - started:.0f} s)")
        raw.commit()
    finally:
        raw_conn.close()
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
        info = {**wanted, **first_org, "totals": totals, "plan_hash": plan_hash}
        conn.execute(
            sa.text("INSERT INTO bench_seed (info) VALUES (CAST(:i AS jsonb))"),
            {"i": json.dumps(info)},
        )
    log(f"seeding took {time.perf_counter() - started:.0f} s")
    return info
