"""API benchmark: the webhook trigger under load, and reads over a large tenant.

1. Trigger (``--phase trigger``): a published flow with a webhook trigger (no auth); the server
   (``flowpilot serve --no-worker``: executions are only created and enqueued) is loaded from a
   separate process (``bench/loadgen.py``) by ``--clients`` keep-alive connections for
   ``--seconds``; requests/s, p50 and p99. Run for one and two server processes
   (``--server-workers 1,2``) and, when a Redis URL is given, with the Redis broker too.
   Target: >= 500 requests/s with p99 <= 50 ms at 32 clients on this 2-core machine.
2. Reads (``--phase reads``): the database is seeded by COPY (``bench/api_seed.py``: 1,000,000
   executions, 100,000 workflow versions, three step runs each and fifty for a sample), then
   one client measures, sequentially, listing the organization's executions with filters and
   fetching one execution with fifty steps. Target: p95 <= 30 ms each.

The database is the embedded PostgreSQL under ``--home`` (default: a directory in the system
temp dir, kept between runs so the seed is made once) or ``--database-url``.

    python bench/api.py [--phase trigger|reads|all] [--runs 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

SECRET_KEY = "bench-secret-key-" + "b" * 32
HOOK_FLOW = """\
flow: bench-hook
name: Bench hook
inputs:
  who: { type: string, default: world }
  amount: { type: number, default: 1 }
triggers:
  - id: inbound
    type: webhook
    path: in
    inputs: { who: "${{ trigger.body.who }}", amount: "${{ trigger.body.amount }}" }
steps:
  - id: call
    uses: http.request
    with: { url: "http://127.0.0.1:9/never", method: POST, body: { who: "${{ inputs.who }}" } }
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(args: argparse.Namespace, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["FLOWPILOT_HOME"] = str(args.home)
    env["FLOWPILOT_SECRET_KEY"] = SECRET_KEY
    if args.database_url:
        env["FLOWPILOT_DATABASE_URL"] = args.database_url
    env.update(extra)
    return env


def _engine(args: argparse.Namespace) -> sa.Engine:
    os.environ["FLOWPILOT_HOME"] = str(args.home)
    if args.database_url:
        os.environ["FLOWPILOT_DATABASE_URL"] = args.database_url
    from flowpilot.runtime.local import open_database

    return open_database()


@contextmanager
def server(args: argparse.Namespace, workers: int, **env: str) -> Iterator[str]:
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "flowpilot.cli.main",
        "serve",
        "--no-worker",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(
        cmd,
        env=_env(args, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _prepare_hook(engine: sa.Engine) -> str:
    """The bench organization with the webhook flow published; returns the hook path."""
    from flowpilot.runtime.service import Runtime
    from flowpilot.server.workflows.history import publish
    from flowpilot.server.workflows.versions import create_workflow
    from flowpilot.store.ids import uuid7

    with engine.begin() as conn:
        org = conn.execute(sa.text("SELECT id FROM organizations WHERE slug = 'hooks'")).scalar()
        if org is None:
            org = uuid7()
            conn.execute(
                sa.text("INSERT INTO organizations (id, slug, name) VALUES (:i, 'hooks', 'Hooks')"),
                {"i": org},
            )
            runtime = Runtime(engine)
            saved = create_workflow(conn, runtime, org, HOOK_FLOW, "yaml")
            publish(conn, runtime, org, saved.workflow_id, str(saved.version_id))
    return "/hooks/hooks/bench-hook/in"


def _loadgen(url: str, args: argparse.Namespace) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "loadgen.py"),
            "--url",
            url,
            "--method",
            "POST",
            "--body",
            json.dumps({"who": "bench", "amount": 3}),
            "--clients",
            str(args.clients),
            "--seconds",
            str(args.seconds),
            "--warmup",
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def phase_trigger(args: argparse.Namespace) -> None:
    engine = _engine(args)
    path = _prepare_hook(engine)
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM executions")).scalar()
    engine.dispose()
    brokers = [("memory", {})]
    if args.redis_url:
        brokers.append(
            (
                "redis",
                {
                    "FLOWPILOT_BROKER_URL": args.redis_url,
                    "FLOWPILOT_BROKER_NAMESPACE": "flowpilot-bench",
                },
            )
        )
    print(
        f"\n== webhook trigger: {args.clients} clients, {args.seconds:g} s x {args.runs} runs "
        f"(server only, executions created and enqueued)"
    )
    for broker, env in brokers:
        for workers in args.server_workers:
            runs = []
            with server(args, workers, **env) as url:
                for _ in range(args.runs):
                    runs.append(_loadgen(url + path, args))
            rps = statistics.median(r["requests_per_s"] for r in runs)
            p50 = statistics.median(r["p50_ms"] for r in runs)
            p99 = statistics.median(r["p99_ms"] for r in runs)
            errors = sum(r["errors"] for r in runs)
            ok = "met" if rps >= 500 and p99 <= 50 else "NOT met"
            per_run = ", ".join(f"{r['requests_per_s']:.0f}/{r['p99_ms']:.0f}" for r in runs)
            print(
                f"  broker={broker:6} server processes={workers}: {rps:7.1f} req/s  "
                f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  errors {errors}  "
                f"(runs req/s / p99: {per_run})"
                f"  target >=500 req/s p99<=50 ms: {ok}"
            )
    engine = _engine(args)
    with engine.connect() as conn:
        after = conn.execute(sa.text("SELECT count(*) FROM executions")).scalar()
    print(f"  executions created during the phase: {after - before}")


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    pick = lambda p: ordered[min(len(ordered) - 1, int(p * len(ordered)))]  # noqa: E731
    return pick(0.5), pick(0.95), pick(0.99)


def phase_reads(args: argparse.Namespace) -> None:
    import random
    from datetime import UTC, datetime, timedelta

    from bench.api_seed import seed
    from flowpilot.server.security import issue_access_token

    engine = _engine(args)
    info = seed(
        engine, executions=args.executions, versions=args.versions, log=lambda m: print("  " + m)
    )
    with engine.connect() as conn:
        user_id = conn.execute(
            sa.text("SELECT id FROM users WHERE email = 'bench@flowpilot.local'")
        ).scalar()
        counts = {
            t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("executions", "step_runs", "workflow_versions", "workflows")
        }
    engine.dispose()
    token, _ = issue_access_token(SECRET_KEY, user_id, info["org_id"], 3600)
    rng = random.Random(3)
    now = datetime.now(UTC)
    print(f"\n== reads over {counts}")
    workflows = info["workflow_ids"]
    detailed = info["detailed_execution_ids"]
    cases = {
        "list: newest 50 of the org": lambda: "/api/v1/executions?limit=50",
        "list: workflow + status=failed": lambda: (
            f"/api/v1/executions?workflow_id={rng.choice(workflows)}&status=failed&limit=50"
        ),
        "list: status=succeeded, one week": lambda: (
            "/api/v1/executions?status=succeeded&limit=50&created_after="
            + (now - timedelta(days=rng.randint(8, 70))).strftime("%Y-%m-%dT%H:%M:%SZ")
            + "&created_before="
            + (now - timedelta(days=rng.randint(1, 7))).strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
        "list: trigger=webhook, page 2": None,
        "detail: one execution, 50 steps": lambda: f"/api/v1/executions/{rng.choice(detailed)}",
    }
    with (
        server(args, 1) as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client,
    ):
        first = client.get("/api/v1/executions?trigger=webhook&limit=50").json()
        cursor = first.get("next_cursor")
        cases["list: trigger=webhook, page 2"] = lambda: (
            f"/api/v1/executions?trigger=webhook&limit=50&cursor={cursor}"
        )
        for name, make in cases.items():
            assert make is not None
            for _ in range(20):  # warm the connection pool, caches and plans
                client.get(make())
            samples = []
            for _ in range(args.samples):
                target = make()
                started = time.perf_counter()
                response = client.get(target)
                samples.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise SystemExit(f"{target}: {response.status_code} {response.text[:300]}")
            p50, p95, p99 = _percentiles(samples)
            ok = "met" if p95 <= 30 else "NOT met"
            print(
                f"  {name:34} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  p99 {p99:6.2f} ms  "
                f"(target p95 <= 30 ms: {ok})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase", choices=["trigger", "reads", "all"], default="all")
    parser.add_argument(
        "--home", type=Path, default=Path(tempfile.gettempdir()) / "flowpilot-bench-api"
    )
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url", default=os.environ.get("FLOWPILOT_TEST_REDIS_URL"))
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--server-workers", default="1,2", type=lambda s: [int(x) for x in s.split(",")]
    )
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    args.home.mkdir(parents=True, exist_ok=True)
    print(
        f"FlowPilot API benchmark — {os.cpu_count()} CPUs; database under {args.home}"
        if not args.database_url
        else "FlowPilot API benchmark — external database"
    )
    if args.phase in ("trigger", "all"):
        phase_trigger(args)
    if args.phase in ("reads", "all"):
        phase_reads(args)


if __name__ == "__main__":
    main()
