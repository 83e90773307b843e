"""A small HTTP/1.1 load generator for the API benchmarks, run in its own process.

Each of ``--clients`` connections sends one request, waits for the whole response, and sends the
next (closed loop, keep-alive), for ``--seconds`` after a warm-up. The requests are pre-built
bytes and responses are parsed only as far as the status line and Content-Length, so the
generator costs little CPU next to the server it measures (both share this machine).

Prints one JSON object: requests, errors (non-2xx or broken connections), requests/s and the
latency percentiles in milliseconds.

    python bench/loadgen.py --url http://127.0.0.1:8080/hooks/a/b/c --method POST \\
        --body '{"x": 1}' --clients 32 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections import Counter
from urllib.parse import urlsplit


def build_request(
    method: str, url: str, body: bytes, headers: dict[str, str]
) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: keep-alive"]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
        lines.append("Content-Type: application/json")
    lines.extend(f"{k}: {v}" for k, v in headers.items())
    return host, port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value.strip())
        elif lowered == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _client(
    host: str,
    port: int,
    request: bytes,
    stop_at: float,
    record_from: float,
    latencies: list[float],
    statuses: Counter[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            started = time.perf_counter()
            if started >= stop_at:
                return
            writer.write(request)
            try:
                status = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                statuses[0] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            if started >= record_from:
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] += 1
    finally:
        writer.close()


async def run(
    url: str,
    method: str,
    body: bytes,
    headers: dict[str, str],
    clients: int,
    seconds: float,
    warmup: float,
) -> dict[str, object]:
    host, port, request = build_request(method, url, body, headers)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    begin = time.perf_counter()
    record_from = begin + warmup
    stop_at = record_from + seconds
    await asyncio.gather(
        *(
            _client(host, port, request, stop_at, record_from, latencies, statuses)
            for _ in range(clients)
        )
    )
    elapsed = time.perf_counter() - record_from
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return float("nan")
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 2)

    return {
        "requests": len(latencies),
        "ok": ok,
        "errors": len(latencies) - ok + statuses.get(0, 0),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="")
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(
        run(
            args.url,
            args.method.upper(),
            args.body.encode(),
            headers,
            args.clients,
            args.seconds,
            args.warmup,
        )
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
