"""The Celery peer for ``bench/runtime.py --celery``: a Celery 5 app and the measuring driver.

Runs only in the throwaway venv the benchmark creates (``celery[redis]`` + ``httpx``), never in
FlowPilot's own environment. Broker and result backend are the Redis URL in
``CELERY_PEER_REDIS`` (the benchmark passes its own db, flushed at the start).

* worker: ``celery -A celery_peer worker --pool threads --concurrency 8`` (started by the bench)
* driver: ``python celery_peer.py drive --port P --runs N --executions M --workers 2``; prints one
  JSON line with the raw measurements for the bench to summarise.

Tasks mirror the FlowPilot flows: ``http_get(prev, url)`` is one GET through a process-wide
pooled ``httpx.Client`` (as FlowPilot's ``http.request`` does) returning a small dict, and
``logic(prev)`` does trivial work. Each task's result is stored in the Redis result backend,
which is all Celery persists (FlowPilot persists every step in PostgreSQL).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
import time
from typing import Any

from celery import Celery, chain

REDIS_URL = os.environ.get("CELERY_PEER_REDIS", "redis://127.0.0.1:6379/12")

app = Celery("celery_peer", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

_client: Any = None
_client_lock = threading.Lock()


def _http() -> Any:
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                import httpx

                _client = httpx.Client(
                    limits=httpx.Limits(max_connections=200, max_keepalive_connections=40)
                )
    return _client


@app.task(name="celery_peer.http_get")
def http_get(prev: Any, url: str) -> dict[str, Any]:
    r = _http().get(url)
    r.raise_for_status()
    return {"status": r.status_code, "path": r.json().get("path"), "t": time.time()}


@app.task(name="celery_peer.logic")
def logic(prev: Any) -> dict[str, Any]:
    got = prev.get("path") if isinstance(prev, dict) else None
    digest = hashlib.sha256(json.dumps(prev, sort_keys=True).encode()).hexdigest()[:16]
    return {"got": got, "h": digest, "path": got, "t": time.time()}


# ---------------------------------------------------------------------------- driver


def chain40(port: int, n: int, steps: int = 40) -> Any:
    base = f"http://127.0.0.1:{port}"
    sigs = [http_get.s(None, f"{base}/c/0/{n}")]
    sigs += [http_get.s(f"{base}/c/{i}/{n}") for i in range(1, steps)]
    return chain(*sigs)


def chain5(port: int, n: int) -> Any:
    base = f"http://127.0.0.1:{port}"
    return chain(
        http_get.s(None, f"{base}/a/{n}"),
        logic.s(),
        http_get.s(f"{base}/b/{n}"),
        logic.s(),
        logic.s(),
    )


def wait_workers(count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5) or []
        if len(replies) >= count:
            return
    raise SystemExit(f"only {len(replies)} of {count} Celery workers answered a ping")


def drive(port: int, runs: int, executions: int, workers: int) -> dict[str, Any]:
    import redis

    wait_workers(workers)
    # Warm-up: imports, connection pools, the result consumer.
    chain40(port, -1).apply_async().get(timeout=120)
    totals = []
    for i in range(runs):
        t0 = time.perf_counter()
        res = chain40(port, i).apply_async().get(timeout=120)
        totals.append((time.perf_counter() - t0) * 1000)
        if res.get("status") != 200:
            raise SystemExit(f"chain run {i} ended with {res}")

    for r in [chain5(port, -i).apply_async() for i in range(1, 21)]:
        r.get(timeout=60)

    # Submit as fast as possible from one thread (Celery's client is not meant to be shared
    # across threads), then poll the last task's result key, as the FlowPilot side polls SQL.
    # The results are polled below, not awaited: skip the per-task pub/sub subscription the
    # Redis result backend makes in apply_async (FlowPilot's submitter subscribes to nothing).
    app.backend.on_task_call = lambda producer, task_id: None
    submitted: list[float] = []
    ids: list[str] = []
    t0 = time.perf_counter()
    for i in range(executions):
        submitted.append(time.time())
        ids.append(chain5(port, i).apply_async().id)
    submit_s = time.perf_counter() - t0
    rdb = redis.Redis.from_url(REDIS_URL)
    keys = [f"celery-task-meta-{tid}" for tid in ids]
    done: dict[int, dict[str, Any]] = {}
    deadline = time.monotonic() + max(120, executions / 5)
    while len(done) < len(keys) and time.monotonic() < deadline:
        pending = [i for i in range(len(keys)) if i not in done]
        for start in range(0, len(pending), 500):
            part = pending[start : start + 500]
            for i, raw in zip(part, rdb.mget([keys[i] for i in part]), strict=True):
                if raw is not None:
                    meta = json.loads(raw)
                    if meta.get("status") in ("SUCCESS", "FAILURE"):
                        done[i] = meta
        if len(done) < len(keys):
            time.sleep(0.02)
    wall_s = time.perf_counter() - t0
    ok = [i for i, m in done.items() if m["status"] == "SUCCESS"]
    return {
        "celery": __import__("celery").__version__,
        "chain_totals_ms": totals,
        "executions": executions,
        "succeeded": len(ok),
        "unfinished": executions - len(done),
        "submit_s": submit_s,
        "wall_s": wall_s,
        "submitted": [submitted[i] for i in ok],
        "finished": [done[i]["result"]["t"] for i in ok],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=("drive",))
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--executions", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    out = drive(a.port, a.runs, a.executions, a.workers)
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
