"""Runtime benchmark: per-step engine overhead, throughput and worker memory.

1. Step overhead: a 40-step sequential flow of ``http.request`` GETs against a local
   ThreadingHTTPServer, run ``--runs`` times. Per execution: wall time, and per-step overhead =
   (wall - 40 x median raw httpx GET). From ``step_runs``: the gap between one step's
   ``finished_at`` and the next step's ``started_at`` (what the engine and the broker add between
   steps), p50/p99 over all steps of all runs. Embedded mode: memory broker + in-process worker.
   Redis mode: ``flowpilot worker`` subprocess on Redis, this process only starts executions.
   Target: <= 5 ms per step in Redis mode.
2. Throughput (Redis mode): ``--executions`` executions of a 5-step flow (2 ``http.request`` +
   3 inline logic steps) with two worker processes; executions/s, steps/s, p99 latency.
   Target: >= 200 executions/s.
   Also a drain phase: the executions are queued first and the two workers started after,
   which times the workers alone (and the rate of ``start_execution`` on its own).
3. Memory: RSS of each worker process after a 20-execution warm-up and after the run.

The idle CPU of one worker is printed too (Redis consumers block until an enqueue wakes them;
the environment is passed on to the worker processes).

The database is a fresh PostgreSQL database (``--database-url``, dropped and recreated per run)
or, with ``--database-url embedded``, the embedded pgserver under a temporary FLOWPILOT_HOME
(the Redis mode then shares it with the worker subprocesses through FLOWPILOT_HOME). The Redis
database given by ``--redis-url`` is flushed at the start: give the bench its own.

4. Celery side by side (``--celery``, Redis and all modes only): Celery 5 on the same Redis
   server (``--celery-redis-url``, another db, flushed; broker and result backend) runs the
   equivalent 40-task ``chain`` of ``http_get`` to the same HTTP server and the same
   ``--executions`` x 5-task chains (http, logic, http, logic, logic), with two worker processes
   ``--pool threads --concurrency <--threads>`` (the same shape as FlowPilot's 2 processes x 8
   threads; ``--celery-pool prefork`` for the other pool). Celery is installed into a throwaway
   venv under the system temp dir, reused while its version key is unchanged; the app and the
   measuring driver are ``bench/celery_peer.py``, run with that venv's Python. Celery persists only each task's result in Redis, FlowPilot every
   step in PostgreSQL: the comparison says so when printed.

    python bench/runtime.py [--mode embedded|redis|all] [--runs 5] [--executions 1000] [--celery]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEPS = 40
CELERY_REQUIREMENTS = ["celery[redis]>=5.3,<6", "httpx"]
CELERY_VENV_KEY = "v1 " + " ".join(CELERY_REQUIREMENTS) + f" py{sys.version_info[:2]}"
TARGET_STEP_MS = 5.0
TARGET_EXEC_PER_S = 200.0
FINISHED = ("succeeded", "failed", "cancelled", "timed_out")


# ---------------------------------------------------------------------------- http server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    handled_ns: list[int] = []

    def do_GET(self) -> None:
        t0 = time.perf_counter_ns()
        body = json.dumps({"ok": True, "path": self.path}).encode()
        # One write: separate header and body segments meet Nagle + delayed ACK (+40 ms).
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.wfile.write(head + body)
        _Handler.handled_ns.append(time.perf_counter_ns() - t0)

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A worker that exits resets its keep-alive connections: not worth a traceback.
        pass


def start_http() -> tuple[ThreadingHTTPServer, int]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


def raw_get_ms(port: int, n: int = 40) -> float:
    """Median of a fresh-connection httpx GET (what a step pays for the request itself)."""
    import httpx

    times = []
    with httpx.Client() as client:
        client.get(f"http://127.0.0.1:{port}/warm")
        for i in range(n):
            t0 = time.perf_counter()
            client.get(f"http://127.0.0.1:{port}/raw/{i}")
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


# ---------------------------------------------------------------------------- flows


def chain_flow(port: int, n: int = STEPS) -> str:
    lines = ["flow: bench-chain", "inputs: { n: number }", "steps:"]
    for i in range(n):
        lines += [
            f"  - id: s{i}",
            "    uses: http.request",
            f'    with: {{ url: "http://127.0.0.1:{port}/c/{i}/${{{{ inputs.n }}}}" }}',
        ]
    lines += ["outputs:", "  last: ${{ steps.s" + str(n - 1) + ".output.status }}"]
    return "\n".join(lines) + "\n"


def five_step_flow(port: int) -> str:
    return f"""flow: bench-five
inputs: {{ n: number }}
steps:
  - id: a
    uses: http.request
    with: {{ url: "http://127.0.0.1:{port}/a/${{{{ inputs.n }}}}" }}
  - id: s
    set: {{ got: "${{{{ steps.a.output.json.path }}}}", n: "${{{{ inputs.n }}}}" }}
  - id: h
    uses: core.hash
    with: {{ value: "${{{{ vars.got }}}}" }}
  - id: m
    uses: core.merge
    with: {{ objects: [{{ a: 1 }}, {{ b: "${{{{ inputs.n }}}}" }}] }}
  - id: b
    uses: http.request
    with: {{ url: "http://127.0.0.1:{port}/b/${{{{ inputs.n }}}}" }}
outputs:
  hash: ${{{{ steps.h.output }}}}
"""


def compile_flow(text: str, name: str) -> tuple[dict[str, Any], str]:
    from flowpilot.compiler.pipeline import compile_source

    result = compile_source(text, name)
    errors = [d for d in result.diagnostics if str(getattr(d, "severity", "")).endswith("error")]
    if result.plan is None or errors:
        raise SystemExit(f"{name} does not compile: {result.diagnostics}")
    return result.plan, result.plan_hash


# ---------------------------------------------------------------------------- environment


def prepare_database(url: str) -> None:
    import sqlalchemy as sa

    from flowpilot.store import migrate
    from flowpilot.store.db import create_engine

    if url != "embedded":
        admin_url = url.rsplit("/", 1)[0] + "/postgres"
        name = url.rsplit("/", 1)[1]
        admin = sa.create_engine(
            admin_url.replace("postgresql://", "postgresql+psycopg://"),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        os.environ["FLOWPILOT_DATABASE_URL"] = url
        engine = create_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
    else:
        os.environ.pop("FLOWPILOT_DATABASE_URL", None)
        os.environ["FLOWPILOT_HOME"] = tempfile.mkdtemp(prefix="flowpilot-bench-")


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


@contextmanager
def workers(count: int, threads: int, redis_url: str) -> Iterator[list[subprocess.Popen[str]]]:
    env = dict(os.environ, FLOWPILOT_BROKER_URL=redis_url, PYTHONUNBUFFERED="1")
    exe = str(Path(sys.executable).with_name("flowpilot"))
    procs = [
        subprocess.Popen(
            [exe, "worker", "--threads", str(threads)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for p in procs:
            line = p.stdout.readline() if p.stdout else ""
            if "threads on" not in line:
                raise SystemExit(
                    f"worker did not start: {line}{p.stdout.read() if p.stdout else ''}"
                )
            # Keep draining its output so the pipe never fills up.
            threading.Thread(target=_drain, args=(p,), daemon=True).start()
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def _drain(p: subprocess.Popen[str]) -> None:
    assert p.stdout is not None
    for line in p.stdout:
        if "Traceback" in line or "ERROR" in line:
            sys.stderr.write(f"[worker {p.pid}] {line}")


def rss_mb(pid: int) -> float:
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 2**20
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def runtime_in_process(*, redis_url: str | None, worker: bool, threads: int = 8) -> Iterator[Any]:
    from flowpilot.runtime.local import LocalRuntime, open_database

    if redis_url:
        os.environ["FLOWPILOT_BROKER_URL"] = redis_url
    else:
        os.environ.pop("FLOWPILOT_BROKER_URL", None)
    local = LocalRuntime(db=open_database(), worker=worker, threads=threads)
    with local as rt:
        yield rt


# ---------------------------------------------------------------------------- measurements


def idle_cpu(procs: list[subprocess.Popen[str]], seconds: float = 2.0) -> float:
    import psutil

    handles = [psutil.Process(p.pid) for p in procs]
    for h in handles:
        h.cpu_percent(None)
    time.sleep(seconds)
    return sum(h.cpu_percent(None) for h in handles)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def step_gaps_ms(rt: Any, execution_id: str) -> tuple[list[float], list[float]]:
    """finished_at of one step → started_at of the next, and created_at → first start."""
    import sqlalchemy as sa

    with rt.db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT step_key, started_at, finished_at FROM step_runs "
                "WHERE execution_id = :e AND started_at IS NOT NULL ORDER BY started_at"
            ),
            {"e": execution_id},
        ).all()
        created = conn.execute(
            sa.text("SELECT created_at FROM executions WHERE id = :e"), {"e": execution_id}
        ).scalar()
    gaps = []
    previous_end = created
    durations = []
    for _, started, finished in rows:
        if previous_end is not None:
            gaps.append((started - previous_end).total_seconds() * 1000)
        if finished is not None:
            durations.append((finished - started).total_seconds() * 1000)
        previous_end = finished
    return gaps, durations


def bench_chain(rt: Any, port: int, runs: int, get_ms: float) -> dict[str, float]:
    org = rt.ensure_org()
    plan, plan_hash = compile_flow(chain_flow(port), "chain.flow.yaml")
    rt.save_plan(org, plan, plan_hash)
    # Warm-up: imports, connection pools, plan caches.
    eid = rt.start_execution(org, plan_hash, {"n": -1})
    res = rt.wait_finished(eid, 120)
    if res["status"] != "succeeded":
        raise SystemExit(f"warm-up execution {res['status']}: {res['error']}")
    totals: list[float] = []
    gaps: list[float] = []
    durations: list[float] = []
    for i in range(runs):
        t0 = time.perf_counter()
        eid = rt.start_execution(org, plan_hash, {"n": i})
        res = rt.wait_finished(eid, 120)
        totals.append((time.perf_counter() - t0) * 1000)
        if res["status"] != "succeeded":
            raise SystemExit(f"chain execution {res['status']}: {res['error']}")
        g, d = step_gaps_ms(rt, eid)
        gaps += g
        durations += d
    total = statistics.median(totals)
    return {
        "total_ms": total,
        "get_ms": get_ms,
        "per_step_ms": (total - STEPS * get_ms) / STEPS,
        "gap_p50": pct(gaps, 50),
        "gap_p99": pct(gaps, 99),
        "dur_p50": pct(durations, 50),
        "dur_p99": pct(durations, 99),
    }


def bench_throughput(
    rt: Any, port: int, executions: int, procs: list[subprocess.Popen[str]]
) -> dict[str, Any]:
    import sqlalchemy as sa

    org = rt.ensure_org()
    plan, plan_hash = compile_flow(five_step_flow(port), "five.flow.yaml")
    rt.save_plan(org, plan, plan_hash)
    warm = [rt.start_execution(org, plan_hash, {"n": -i}) for i in range(1, 21)]
    for eid in warm:
        res = rt.wait_finished(eid, 60)
        if res["status"] != "succeeded":
            raise SystemExit(f"five-step execution {res['status']}: {res['error']}")
    # Baseline after the warm-up, so first-use imports and caches are not counted as growth.
    rss_before = [rss_mb(p.pid) for p in procs]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        ids = list(
            pool.map(lambda i: rt.start_execution(org, plan_hash, {"n": i}), range(executions))
        )
    submitted = time.perf_counter() - t0
    deadline = time.monotonic() + max(120, executions / 5)
    with rt.db.connect() as conn:
        while True:
            done = conn.execute(
                sa.text(
                    "SELECT count(*) FROM executions WHERE id = ANY(:ids) AND status = ANY(:f)"
                ),
                {"ids": ids, "f": list(FINISHED)},
            ).scalar()
            conn.rollback()
            if done == len(ids) or time.monotonic() > deadline:
                break
            # Rates come from the rows' timestamps, not from this loop: polling gently keeps
            # the benchmark's own queries (1,000 ids each) off the machine it measures.
            time.sleep(0.25)
        wall = time.perf_counter() - t0
        rows = conn.execute(
            sa.text("SELECT status, created_at, finished_at FROM executions WHERE id = ANY(:ids)"),
            {"ids": ids},
        ).all()
    ok = sum(1 for r in rows if r.status == "succeeded")
    lat = [(r.finished_at - r.created_at).total_seconds() * 1000 for r in rows if r.finished_at]
    first = min(r.created_at for r in rows)
    last = max(r.finished_at for r in rows if r.finished_at)
    span = (last - first).total_seconds()
    return {
        "executions": len(ids),
        "succeeded": ok,
        "unfinished": len(ids) - done,
        "submit_s": submitted,
        "wall_s": wall,
        "exec_per_s": ok / span,
        "steps_per_s": 5 * ok / span,
        "lat_p50": pct(lat, 50),
        "lat_p99": pct(lat, 99),
        "rss_before": rss_before,
        "rss_after": [rss_mb(p.pid) for p in procs],
    }


def wait_all(rt: Any, ids: list[str], timeout: float) -> int:
    import sqlalchemy as sa

    deadline = time.monotonic() + timeout
    with rt.db.connect() as conn:
        while True:
            done = conn.execute(
                sa.text(
                    "SELECT count(*) FROM executions WHERE id = ANY(:ids) AND status = ANY(:f)"
                ),
                {"ids": ids, "f": list(FINISHED)},
            ).scalar()
            conn.rollback()
            if done == len(ids) or time.monotonic() > deadline:
                return int(done or 0)
            # Rates come from the rows' timestamps, not from this loop: polling gently keeps
            # the benchmark's own queries (1,000 ids each) off the machine it measures.
            time.sleep(0.25)


def bench_drain(args: argparse.Namespace, port: int) -> dict[str, float]:
    """Queue every execution first (no worker running), then start two workers and time how
    fast they empty the queue: the workers' throughput without the submitter in the way."""
    flush_redis(args.redis_url)
    with runtime_in_process(redis_url=args.redis_url, worker=False) as rt:
        org = rt.ensure_org()
        plan, plan_hash = compile_flow(five_step_flow(port), "five.flow.yaml")
        rt.save_plan(org, plan, plan_hash)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            ids = list(
                pool.map(
                    lambda i: rt.start_execution(org, plan_hash, {"n": i}), range(args.executions)
                )
            )
        submit = time.perf_counter() - t0
        with workers(2, args.threads, args.redis_url):
            t1 = time.perf_counter()
            done = wait_all(rt, ids, max(120, args.executions / 5))
            drain = time.perf_counter() - t1
    return {
        "starts_per_s": len(ids) / submit,
        "done": done,
        "exec_per_s": done / drain,
        "steps_per_s": 5 * done / drain,
    }


# ---------------------------------------------------------------------------- celery peer


def celery_venv() -> Path:
    """A throwaway venv with Celery, under the system temp dir, reused while the key holds."""
    key = hashlib.sha256(CELERY_VENV_KEY.encode()).hexdigest()[:12]
    venv = Path(tempfile.gettempdir()) / f"flowpilot-bench-celery-{key}"
    marker = venv / ".bench-ready"
    if marker.exists() and marker.read_text() == CELERY_VENV_KEY:
        return venv
    print(f"\n[celery] creating {venv} ({CELERY_VENV_KEY})", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *CELERY_REQUIREMENTS],
        check=True,
    )
    marker.write_text(CELERY_VENV_KEY)
    return venv


@contextmanager
def celery_workers(
    venv: Path, count: int, concurrency: int, redis_url: str, pool: str = "threads"
) -> Iterator[None]:
    env = dict(os.environ, CELERY_PEER_REDIS=redis_url, PYTHONUNBUFFERED="1")
    procs = []
    try:
        for i in range(count):
            procs.append(
                subprocess.Popen(
                    [
                        str(venv / "bin" / "celery"),
                        "-A",
                        "celery_peer",
                        "worker",
                        "--pool",
                        pool,
                        "--concurrency",
                        str(concurrency),
                        "-n",
                        f"celery-peer-{i}@%h",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                        "--loglevel",
                        "WARNING",
                    ],
                    cwd=str(ROOT / "bench"),
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
            threading.Thread(target=_drain, args=(procs[-1],), daemon=True).start()
        yield
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)  # warm shutdown
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def bench_celery(args: argparse.Namespace, port: int, get_ms: float) -> dict[str, Any]:
    venv = celery_venv()
    flush_redis(args.celery_redis_url)
    with celery_workers(venv, 2, args.threads, args.celery_redis_url, args.celery_pool):
        out = subprocess.run(
            [
                str(venv / "bin" / "python"),
                str(ROOT / "bench" / "celery_peer.py"),
                "drive",
                "--port",
                str(port),
                "--runs",
                str(args.runs),
                "--executions",
                str(args.executions),
                "--workers",
                "2",
            ],
            cwd=str(ROOT / "bench"),
            env=dict(os.environ, CELERY_PEER_REDIS=args.celery_redis_url),
            stdout=subprocess.PIPE,
            text=True,
            timeout=600 + args.executions,
            check=True,
        )
    raw = json.loads(out.stdout.strip().splitlines()[-1])
    total = statistics.median(raw["chain_totals_ms"])
    lat = [(f - s) * 1000 for s, f in zip(raw["submitted"], raw["finished"], strict=True)]
    ok = raw["succeeded"]
    span = max(raw["finished"]) - min(raw["submitted"]) if ok else float("nan")
    return {
        "version": raw["celery"],
        "total_ms": total,
        "get_ms": get_ms,
        "per_step_ms": (total - STEPS * get_ms) / STEPS,
        "executions": raw["executions"],
        "succeeded": ok,
        "unfinished": raw["unfinished"],
        "submit_s": raw["submit_s"],
        "exec_per_s": ok / span,
        "steps_per_s": 5 * ok / span,
        "lat_p50": pct(lat, 50),
        "lat_p99": pct(lat, 99),
    }


def print_side_by_side(
    fp_chain: dict[str, float], fp_thr: dict[str, Any], cel: dict[str, Any], threads: int, pool: str
) -> None:
    def row(label: str, a: float, b: float, unit: str, better: str) -> None:
        ratio = a / b if b else float("nan")
        print(f"  {label:<30} {a:10.2f} {b:10.2f}  {unit:<4} {ratio:8.2f}  ({better})")

    print(
        f"\n[side by side] same run, same Redis server, same HTTP server, "
        f"2 worker processes x {threads} threads each"
    )
    print(
        f"  {'':<30} {'FlowPilot':>10} {'Celery ' + cel['version']:>10}  {'':<4} {'FP/Celery':>8}"
    )
    row("40-hop chain wall time", fp_chain["total_ms"], cel["total_ms"], "ms", "lower is better")
    hop_ratio = fp_chain["per_step_ms"] / cel["per_step_ms"] if cel["per_step_ms"] else math.nan
    row(
        "per-hop overhead (wall-40*GET)",
        fp_chain["per_step_ms"],
        cel["per_step_ms"],
        "ms",
        f"target <= 1: {verdict(hop_ratio <= 1)}",
    )
    rate_ratio = fp_thr["exec_per_s"] / cel["exec_per_s"] if cel["exec_per_s"] else math.nan
    row(
        "5-step executions/s",
        fp_thr["exec_per_s"],
        cel["exec_per_s"],
        "/s",
        f"higher is better: {'FlowPilot' if rate_ratio >= 1 else 'Celery'} ahead",
    )
    row("5-step steps/s", fp_thr["steps_per_s"], cel["steps_per_s"], "/s", "higher is better")
    row("execution latency p50", fp_thr["lat_p50"], cel["lat_p50"], "ms", "lower is better")
    row("execution latency p99", fp_thr["lat_p99"], cel["lat_p99"], "ms", "lower is better")
    row("submitting took", fp_thr["submit_s"], cel["submit_s"], "s", "FP 4 threads, Celery 1")
    hop = fp_chain["per_step_ms"] <= cel["per_step_ms"]
    print(f"  target: FlowPilot per hop at least as fast as Celery: {verdict(hop)}")
    print(
        "  caveat: Celery persists nothing but each task's result in Redis (no step history, no\n"
        "  inputs, no state to resume from); FlowPilot persists every step (step_runs, outputs,\n"
        f"  execution state) in PostgreSQL. Celery runs --pool {pool}; its chain hands each\n"
        "  result to the next task through the broker; latencies are submit -> last task done."
    )


# ---------------------------------------------------------------------------- report


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def print_chain(mode: str, r: dict[str, float], runs: int) -> None:
    target = ""
    if mode == "redis":
        target = (
            f"   target <= {TARGET_STEP_MS:.0f} ms: {verdict(r['per_step_ms'] <= TARGET_STEP_MS)}"
        )
    print(f"\n[{mode}] 40-step http.request chain, median of {runs} runs")
    print(f"  execution wall time            {r['total_ms']:9.1f} ms")
    print(f"  raw httpx GET (median)         {r['get_ms']:9.2f} ms")
    print(f"  per-step overhead (wall-40*GET) {r['per_step_ms']:8.2f} ms{target}")
    print(f"  step gap p50 (step_runs)       {r['gap_p50']:9.2f} ms")
    print(f"  step gap p99 (step_runs)       {r['gap_p99']:9.2f} ms")
    print(f"  step run p50 (started→finished) {r['dur_p50']:8.2f} ms")
    print(f"  step run p99 (started→finished) {r['dur_p99']:8.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--mode", choices=("embedded", "redis", "all"), default="all")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--executions", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=8, help="threads per worker process")
    ap.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1:5432/flowpilot_bench",
        help="recreated for the run; 'embedded' for pgserver in a temp FLOWPILOT_HOME",
    )
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/11", help="flushed for the run")
    ap.add_argument(
        "--celery",
        action="store_true",
        help="also run Celery 5 side by side (redis/all modes; installs into a temp venv)",
    )
    ap.add_argument(
        "--celery-redis-url",
        default="redis://127.0.0.1:6379/12",
        help="Celery broker + result backend, flushed for the run",
    )
    ap.add_argument(
        "--celery-pool",
        choices=("threads", "prefork"),
        default="threads",
        help="Celery worker pool, --threads wide (threads matches FlowPilot's 2 x 8 threads)",
    )
    args = ap.parse_args()
    if args.celery and args.mode == "embedded":
        ap.error("--celery compares against the Redis mode: use --mode redis or --mode all")
    if args.celery and args.celery_redis_url == args.redis_url:
        ap.error("--celery-redis-url must differ from --redis-url")

    import logging

    logging.basicConfig(level=logging.WARNING)
    prepare_database(args.database_url)
    _, port = start_http()
    get_ms = raw_get_ms(port, 200)
    print(f"runtime bench: db={args.database_url} broker={args.redis_url} cpus={os.cpu_count()}")
    load = os.getloadavg()
    print(
        f"load average at start: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (figures are noisy above ~2)"
    )

    if args.mode in ("embedded", "all"):
        with runtime_in_process(redis_url=None, worker=True, threads=args.threads) as rt:
            print_chain("embedded", bench_chain(rt, port, args.runs, get_ms), args.runs)

    if args.mode in ("redis", "all"):
        flush_redis(args.redis_url)
        with (
            workers(1, args.threads, args.redis_url) as procs,
            runtime_in_process(redis_url=args.redis_url, worker=False) as rt,
        ):
            time.sleep(1.0)
            idle = idle_cpu(procs)
            print(f"\n[redis] idle worker CPU ({args.threads} threads, 2 s): {idle:.0f}% of a core")
            fp_chain = bench_chain(rt, port, args.runs, get_ms)
            print_chain("redis", fp_chain, args.runs)

        flush_redis(args.redis_url)
        with (
            workers(2, args.threads, args.redis_url) as procs,
            runtime_in_process(redis_url=args.redis_url, worker=False) as rt,
        ):
            r = bench_throughput(rt, port, args.executions, procs)
            before, after = r["rss_before"], r["rss_after"]
        print(
            f"\n[redis] throughput, end to end (submitting while 2 workers x {args.threads} "
            f"threads run): {r['executions']} x 5-step flow"
        )
        print(f"  succeeded / unfinished          {r['succeeded']:>6} / {r['unfinished']}")
        print(f"  submitting took                {r['submit_s']:9.2f} s")
        print(
            f"  executions/s                   {r['exec_per_s']:9.1f}"
            f"     target >= {TARGET_EXEC_PER_S:.0f}: {verdict(r['exec_per_s'] >= TARGET_EXEC_PER_S)}"
        )
        print(f"  steps/s                        {r['steps_per_s']:9.1f}")
        print(f"  execution latency p50          {r['lat_p50']:9.1f} ms")
        print(f"  execution latency p99          {r['lat_p99']:9.1f} ms")
        d = bench_drain(args, port)
        print(f"\n[redis] drain: {args.executions} queued first, then 2 workers started")
        print(f"  start_execution rate (4 threads, no workers) {d['starts_per_s']:7.1f} /s")
        print(
            f"  executions/s                   {d['exec_per_s']:9.1f}"
            f"     target >= {TARGET_EXEC_PER_S:.0f}: {verdict(d['exec_per_s'] >= TARGET_EXEC_PER_S)}"
        )
        print(f"  steps/s                        {d['steps_per_s']:9.1f}")
        print(f"  finished                       {d['done']:>9}")
        print("\n[redis] worker RSS after warm-up (20 executions) -> after the run")
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            print(f"  worker {i}: {b:7.1f} MB -> {a:7.1f} MB  ({(a - b) / b * 100:+.1f}%)")
        if args.celery:
            c = bench_celery(args, port, get_ms)
            print(
                f"\n[celery {c['version']}] 40-task chain (median of {args.runs} runs), then "
                f"{c['executions']} x 5-task chains, 2 workers x {args.threads} threads"
            )
            print(f"  chain wall time                {c['total_ms']:9.1f} ms")
            print(f"  per-hop overhead (wall-40*GET) {c['per_step_ms']:9.2f} ms")
            print(f"  succeeded / unfinished          {c['succeeded']:>6} / {c['unfinished']}")
            print(f"  submitting took (1 thread)     {c['submit_s']:9.2f} s")
            print(f"  executions/s                   {c['exec_per_s']:9.1f}")
            print(f"  steps/s                        {c['steps_per_s']:9.1f}")
            print(f"  execution latency p50          {c['lat_p50']:9.1f} ms")
            print(f"  execution latency p99          {c['lat_p99']:9.1f} ms")
            print_side_by_side(fp_chain, r, c, args.threads, args.celery_pool)


if __name__ == "__main__":
    main()
