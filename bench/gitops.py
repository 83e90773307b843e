"""GitOps benchmark: how long a sync of a repository of N flows takes, stage by stage.

A real git repository of N flows (about 20 steps each, in both syntaxes) is written with
dulwich; then, against the real server on an embedded PostgreSQL (a fresh database):

- ``read``: reading the repository at HEAD (dulwich, local);
- ``compile``: compiling every flow (what the server does before planning);
- ``plan (new)`` / ``apply (new)``: the first sync, every flow created;
- ``plan (same)``: a sync of the same commit, every flow unchanged;
- ``apply (10%)``: a commit changing a tenth of the flows, applied.

Times are medians of ``--runs`` runs (the applies run once per size: they change the state).

    python bench/gitops.py [--sizes 100,500] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.compile import generate_yaml
from flowpilot.cli.gitops_api import bundle_of
from flowpilot.gitops.prepare import prepare
from flowpilot.gitops.source import read_snapshot
from flowpilot.runtime.broker import make_broker
from flowpilot.runtime.local import LocalRuntime
from flowpilot.server.config import Settings
from tests.gitops.gitrepo import GitRepo
from tests.pg import fresh_database
from tests.server.conftest import SECRET_KEY, LiveServer, create_member, serve


def flows(count: int, version: int = 1, changed_every: int = 0) -> dict[str, str]:
    files = {}
    for i in range(count):
        source = generate_yaml(20, seed=i).replace("flow: bench-20", f"flow: flow-{i}", 1)
        if changed_every and i % changed_every == 0:
            source += f"# version {version}\n"
        files[f"flows/team-{i % 10}/flow-{i}.flow.yaml"] = source
    return files


def median(runs: int, action: Callable[[], Any]) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_size(live: LiveServer, count: int, runs: int, tmp: Path) -> dict[str, float]:
    owner = create_member(live, "owner")
    repo = GitRepo(tmp / f"repo-{count}")
    repo.commit(flows(count), f"{count} flows")
    figures: dict[str, float] = {}
    figures["read"] = median(runs, lambda: read_snapshot(str(repo.path)))
    snapshot = read_snapshot(str(repo.path))
    figures["compile"] = median(runs, lambda: prepare(snapshot))
    sources = {path: data.decode() for path, data in snapshot.files.items()}
    body = bundle_of(snapshot, sources)
    client = httpx.Client(
        base_url=live.url, headers={"Authorization": f"Bearer {owner.token}"}, timeout=600
    )

    def call(path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = client.post(path, json=payload)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    figures["plan (new)"] = median(runs, lambda: call("/api/v1/gitops/plan", body))
    figures["apply (new)"] = median(1, lambda: call("/api/v1/gitops/apply", body))
    figures["plan (same)"] = median(runs, lambda: call("/api/v1/gitops/plan", body))
    repo.commit(flows(count, version=2, changed_every=10), "Change a tenth")
    changed = read_snapshot(str(repo.path))
    body = bundle_of(changed, {p: d.decode() for p, d in changed.files.items()})
    figures["apply (10%)"] = median(1, lambda: call("/api/v1/gitops/apply", body))
    client.close()
    repo.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for db in fresh_database():
            settings = Settings(secret_key=SECRET_KEY)
            with LocalRuntime(db=db, broker=make_broker("memory://"), threads=2) as runtime:
                for url in serve(settings, runtime):
                    live = LiveServer(url=url, db=db, runtime=runtime, settings=settings)
                    for size in sizes:
                        results[size] = bench_size(live, size, args.runs, Path(tmp))
    stages = list(next(iter(results.values())))
    print(f"{'stage':<14}" + "".join(f"{f'{n} flows':>12}" for n in sizes))
    for stage in stages:
        cells = "".join(f"{results[n][stage] * 1000:>10.0f}ms" for n in sizes)
        print(f"{stage:<14}{cells}")


if __name__ == "__main__":
    main()
