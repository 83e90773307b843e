"""Compiler benchmark: parse, check and lower times and peak memory by flow size.

Generates flows of 10, 100, 1,000 and 10,000 steps (mixed kinds, nested containers, an
expression on most steps) in both syntaxes, and prints a table of medians. Targets (2-core
machine): a 1,000-step YAML flow checked and lowered in <= 100 ms median; 10,000 steps
<= 12x the 1,000-step time; re-checking a 500-step file after a one-line edit <= 50 ms.

    python bench/compile.py [--sizes 10,100,1000,10000] [--runs 7]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flowpilot.compiler.check import check_types
from flowpilot.compiler.context import CompileContext
from flowpilot.compiler.lower import lower_flow, plan_json
from flowpilot.compiler.pipeline import CompileSession, compile_source, gc_paused, parse_source
from flowpilot.compiler.structure import check_structure
from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import DiagnosticSink
from flowpilot.stdlib.registry import default_registry


def generate_yaml(n_steps: int, seed: int = 7) -> str:
    """A valid flow of about ``n_steps`` steps mixing every common kind."""
    rng = random.Random(seed)
    lines = [
        f"flow: bench-{n_steps}",
        "inputs:",
        "  customer: string",
        "  amount: { type: number, default: 10 }",
        "  rows: { type: array, items: { type: object, properties: { id: { type: integer }, name: { type: string } } } }",
        "vars:",
        "  threshold: ${{ inputs.amount * 2 }}",
        "steps:",
    ]
    made: list[str] = []  # ids of top-level steps usable by later expressions
    count = 0

    def ref() -> str:
        return rng.choice(made) if made else None  # type: ignore[return-value]

    while count < n_steps:
        i = count
        kind = rng.random()
        if kind < 0.45 or not made:
            if rng.random() < 0.5:
                prev = ref()
                url = (
                    f'"https://api.example.com/items/${{{{ steps.{prev}.output.status }}}}"'
                    if prev and prev.startswith("http")
                    else '"https://api.example.com/items/${{ inputs.customer }}"'
                )
                lines += [
                    f"  - id: http_{i}",
                    "    uses: http.request",
                    f'    with: {{ url: {url}, method: GET, headers: {{ X-Req: "${{{{ inputs.customer | upper }}}}" }} }}',
                    "    timeout: 10s",
                ]
                made.append(f"http_{i}")
            else:
                lines += [
                    f"  - id: log_{i}",
                    "    uses: core.log",
                    f'    with: {{ message: "step {i} for {{{{ inputs.customer }}}} over {{{{ vars.threshold }}}}", level: info }}',
                ]
                made.append(f"log_{i}")
            count += 1
        elif kind < 0.6:
            lines += [
                f"  - id: set_{i}",
                f'    set: {{ total_{i % 7}: "${{{{ vars.threshold + {i} }}}}" }}',
            ]
            count += 1
        elif kind < 0.72:
            lines += [
                f"  - id: route_{i}",
                "    switch:",
                f"      - when: ${{{{ inputs.amount > {i} }}}}",
                f"        steps: [ {{ id: big_{i}, uses: core.log, with: {{ message: big }} }} ]",
                f"      - default: [ {{ id: small_{i}, set: {{ small: true }} }} ]",
            ]
            count += 3
        elif kind < 0.84:
            lines += [
                f"  - id: each_{i}",
                "    foreach: ${{ inputs.rows }}",
                "    as: row",
                "    concurrency: 4",
                "    collect: ${{ row.id }}",
                "    steps:",
                f'      - {{ id: show_{i}, uses: core.log, with: {{ message: "{{{{ row.name }}}}" }} }}',
                f'      - {{ id: mark_{i}, set: {{ last: "${{{{ row.id * 2 }}}}" }} }}',
            ]
            count += 3
        elif kind < 0.93:
            lines += [
                f"  - id: fan_{i}",
                "    parallel:",
                f'      - {{ id: left_{i}, uses: http.request, with: {{ url: "https://a.example.com" }} }}',
                f"      - id: right_{i}",
                f"        steps: [ {{ id: r_{i}, uses: core.log, with: {{ message: right }} }} ]",
            ]
            made.append(f"fan_{i}")
            count += 4
        else:
            lines += [
                f"  - id: guard_{i}",
                f'    try: [ {{ id: post_{i}, uses: http.request, with: {{ url: "https://erp.example.com", method: POST }} }} ]',
                f'    catch: [ {{ id: report_{i}, uses: core.log, with: {{ level: error, message: "{{{{ error.message }}}}" }} }} ]',
            ]
            count += 3
    lines += ["outputs:", "  customer: ${{ inputs.customer }}"]
    return "\n".join(lines) + "\n"


def timed(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    samples = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def peak_memory_mb(fn: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def measure(source: str, file: str, runs: int) -> dict[str, float]:
    registry = default_registry()
    flow, _ = parse_source(source, file)
    assert flow is not None

    def parse() -> ast.Flow:
        parsed, _ = parse_source(source, file)
        return parsed  # type: ignore[return-value]

    def check() -> CompileContext:
        with gc_paused():
            return _check()

    def _check() -> CompileContext:
        parsed = parse()
        ast.link_parents(parsed)
        ctx = CompileContext(flow=parsed, source=source, registry=registry, sink=DiagnosticSink())
        check_structure(ctx)
        check_types(ctx)
        return ctx

    ctx = check()
    errors = [d for d in ctx.sink.items if d.is_error]
    if errors:
        raise SystemExit(f"generated flow has errors: {errors[:3]}")

    parse_ms = timed(parse, runs)
    check_ms = timed(check, runs) - parse_ms

    def lower() -> str:
        with gc_paused():
            return plan_json(lower_flow(ctx))

    lower_ms = timed(lower, runs)
    total_ms = timed(lambda: compile_source(source, file), runs)
    memory = peak_memory_mb(lambda: compile_source(source, file))
    return {
        "parse": parse_ms,
        "check": max(check_ms, 0.0),
        "lower": lower_ms,
        "total": total_ms,
        "peak_mb": memory,
    }


def to_text(source: str) -> str | None:
    try:
        from flowpilot.dsl.text_printer import print_text
    except ImportError:
        return None
    flow, _ = parse_source(source, "x.flow.yaml")
    return print_text(flow)  # type: ignore[arg-type]


def edit_recheck(runs: int, *, session: bool = True) -> float:
    """Median time to re-check a 500-step YAML file after changing one line.

    With ``session`` the file is re-checked as an editor does it, through a
    :class:`CompileSession` that compiled the previous version; without, cold.
    """
    source = generate_yaml(500)
    lines = source.splitlines(keepends=True)
    target = next(i for i, line in enumerate(lines) if 'message: "' in line)
    compiler = CompileSession("edit.flow.yaml")
    compiler.compile(source, lower=False)
    samples = []
    for n in range(runs):
        edited = lines.copy()
        # Inside the quoted message, so that every version parses and is checked in full.
        edited[target] = edited[target].replace('message: "', f'message: "edit{n} ', 1)
        text = "".join(edited)
        gc.collect()
        start = time.perf_counter()
        if session:
            compiler.compile(text, lower=False)
        else:
            compile_source(text, "edit.flow.yaml", lower=False)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    default_registry()  # loading the catalogue is start-up cost, not compile cost
    compile_source(generate_yaml(50), "warm.flow.yaml")

    header = f"{'syntax':<6} {'steps':>6} {'lines':>7} {'parse ms':>9} {'check ms':>9} {'lower ms':>9} {'total ms':>9} {'peak MB':>8}"
    print(header)
    print("-" * len(header))
    totals: dict[tuple[str, int], float] = {}
    for size in sizes:
        yaml_source = generate_yaml(size)
        runs = args.runs if size <= 1000 else max(3, args.runs // 2)
        variants = [("yaml", yaml_source, "bench.flow.yaml")]
        text_source = to_text(yaml_source)
        if text_source is not None:
            variants.append(("text", text_source, "bench.flow"))
        for syntax, source, file in variants:
            m = measure(source, file, runs)
            totals[(syntax, size)] = m["total"]
            print(
                f"{syntax:<6} {size:>6} {source.count(chr(10)):>7} {m['parse']:>9.1f} "
                f"{m['check']:>9.1f} {m['lower']:>9.1f} {m['total']:>9.1f} {m['peak_mb']:>8.1f}"
            )
    print()
    if ("yaml", 1000) in totals:
        t1k = totals[("yaml", 1000)]
        print(f"1,000-step YAML check+lower: {t1k:.1f} ms median (target <= 100 ms)")
        if ("yaml", 10000) in totals:
            ratio = totals[("yaml", 10000)] / t1k
            print(f"10,000 / 1,000 steps: {ratio:.1f}x (target <= 12x, linear = 10x)")
    print(
        f"re-check 500-step file after a one-line edit: {edit_recheck(args.runs):.1f} ms median "
        f"(target <= 50 ms; cold compile of the edited file: "
        f"{edit_recheck(args.runs, session=False):.1f} ms)"
    )


if __name__ == "__main__":
    main()
