"""The compiler driver: source → AST → passes → plan, collecting every diagnostic on the way."""

from __future__ import annotations

import gc
import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowpilot.compiler.check import check_types
from flowpilot.compiler.context import CompileContext, CompileOptions
from flowpilot.compiler.lower import NotJSONError, lower_flow, plan_hash, plan_json
from flowpilot.compiler.structure import check_structure
from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import Diagnostic, DiagnosticSink, Severity
from flowpilot.dsl.span import Span
from flowpilot.dsl.step_cache import StepCache
from flowpilot.stdlib.registry import Registry, default_registry

log = logging.getLogger(__name__)

Pass = Callable[[CompileContext], None]

# Checks run in order; each is a small function over the shared context.
PASSES: tuple[Pass, ...] = (check_structure, check_types)

TEXT_SUFFIXES = (".flow",)
YAML_SUFFIXES = (".flow.yaml", ".flow.yml", ".yaml", ".yml")


def syntax_of(path: str) -> str:
    """``text`` for ``*.flow`` files, ``yaml`` otherwise."""
    return "text" if path.endswith(TEXT_SUFFIXES) else "yaml"


def is_flow_file(path: str) -> bool:
    return path.endswith((".flow", ".flow.yaml", ".flow.yml"))


@dataclass
class CompileResult:
    file: str
    source: str
    flow: ast.Flow | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    plan: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def plan_json(self) -> str:
        if self.plan is None:
            raise ValueError("the flow has errors; there is no plan")
        return plan_json(self.plan)

    @property
    def plan_hash(self) -> str | None:
        return plan_hash(self.plan) if self.plan is not None else None


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building a large AST.

    A compile allocates hundreds of thousands of small objects and frees none of them, so every
    automatic collection would re-scan the growing heap for nothing: that made compile time
    grow faster than the flow. Cycles made meanwhile are collected once the collector resumes.

    On the way out, what the compile made is moved to the oldest generation (``freeze`` then
    ``unfreeze``) instead of being left young: otherwise the first allocation after resuming
    scans all of it at once, a pause that grows with the flow and that the next compile of the
    same size pays again. Its garbage cycles are collected by the next full collection.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def parse_source(
    source: str, file: str, syntax: str | None = None, *, cache: StepCache | None = None
) -> tuple[ast.Flow | None, list[Diagnostic]]:
    """Parse either syntax into the AST (front-end diagnostics only).

    ``cache`` (YAML only) reuses the steps of an earlier version of the same file.
    """
    syntax = syntax or syntax_of(file)
    with gc_paused():
        if syntax == "text":
            from flowpilot.dsl.text_parser import parse_text

            return parse_text(source, file)
        from flowpilot.dsl.yaml_loader import parse_yaml

        return parse_yaml(source, file, cache)


def compile_source(
    source: str,
    file: str = "<flow>",
    *,
    syntax: str | None = None,
    registry: Registry | None = None,
    options: CompileOptions | None = None,
    lower: bool = True,
) -> CompileResult:
    """Parse, check and (when there are no errors and ``lower``) lower one flow.

    Never raises on user input: every problem is a diagnostic. An internal compiler fault is
    reported as ``E000`` with the location of the file, so the user still gets an answer.
    """
    with gc_paused():
        return _compile(source, file, syntax, registry, options, lower)


class CompileSession:
    """Compiles successive versions of one file, as an editor or language server does.

    Each :meth:`compile` gives exactly what :func:`compile_source` gives for the same text —
    the same AST, spans, diagnostics and plan — but the YAML front end reuses the steps whose
    text did not change since the previous version (moved by the lines added or removed above
    them), so re-checking after an edit costs a fraction of a cold compile. The session holds
    only what the latest version needs.
    """

    def __init__(
        self,
        file: str = "<flow>",
        *,
        syntax: str | None = None,
        registry: Registry | None = None,
        options: CompileOptions | None = None,
    ) -> None:
        self.file = file
        self.syntax = syntax
        self.registry = registry
        self.options = options
        self._steps = StepCache()

    def compile(self, source: str, *, lower: bool = True) -> CompileResult:
        """Compile ``source``, the current text of the session's file."""
        with gc_paused():
            return _compile(
                source,
                self.file,
                self.syntax,
                self.registry,
                self.options,
                lower,
                cache=self._steps,
            )


def _compile(
    source: str,
    file: str,
    syntax: str | None,
    registry: Registry | None,
    options: CompileOptions | None,
    lower: bool,
    cache: StepCache | None = None,
) -> CompileResult:
    flow, front = parse_source(source, file, syntax, cache=cache)
    sink = DiagnosticSink(list(front))
    result = CompileResult(file=file, source=source, flow=flow)
    if flow is not None:
        ast.link_parents(flow)
        ctx = CompileContext(
            flow=flow,
            source=source,
            registry=registry or default_registry(),
            sink=sink,
            options=options or CompileOptions(),
        )
        try:
            for compiler_pass in PASSES:
                compiler_pass(ctx)
            if lower and not sink.has_errors:
                try:
                    result.plan = lower_flow(ctx)
                except NotJSONError as exc:
                    sink.error(
                        "E012",
                        f"{exc.what} cannot be stored as JSON",
                        exc.span,
                        "infinite numbers and lone surrogate characters are not allowed",
                    )
        except RecursionError:
            sink.error("E012", "the flow is nested too deeply to compile", flow.span)
        except Exception as exc:  # a compiler bug must not become a user-facing traceback
            log.error("internal compiler error in %s\n%s", file, traceback.format_exc())
            sink.error(
                "E000",
                f"internal compiler error ({type(exc).__name__}); please report it",
                Span(file, 1, 1, 1, 1, 0, 0),
            )
            result.plan = None
    result.diagnostics = sink.sorted()
    return result


def compile_file(path: str | Path, **kwargs: Any) -> CompileResult:
    path = Path(path)
    data = path.read_bytes()
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        result = CompileResult(file=str(path), source="", flow=None)
        result.diagnostics = [decode_error(data, exc, str(path))]
        return result
    return compile_source(source, str(path), **kwargs)


def decode_error(data: bytes, exc: UnicodeDecodeError, file: str) -> Diagnostic:
    """E001/E002 for a file that is not UTF-8, pointing at the first bad byte."""
    line = data.count(b"\n", 0, exc.start) + 1
    line_start = data.rfind(b"\n", 0, exc.start) + 1
    column = len(data[line_start : exc.start].decode("utf-8", errors="replace")) + 1
    return Diagnostic(
        "E001" if syntax_of(file) == "yaml" else "E002",
        Severity.ERROR,
        f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x} on line {line}); "
        "save it as UTF-8",
        Span(file, line, column, line, column + 1, 0, 0),
    )


def format_source(
    source: str, file: str, to: str | None = None
) -> tuple[str | None, list[Diagnostic]]:
    """The canonical text of a flow in ``to`` syntax (default: its own), or None on errors."""
    flow, diagnostics = parse_source(source, file)
    errors = [d for d in diagnostics if d.is_error]
    if flow is None or errors:
        return None, diagnostics
    target = to or syntax_of(file)
    if target == "text":
        from flowpilot.dsl.text_printer import print_text

        return print_text(flow), diagnostics
    from flowpilot.dsl.yaml_printer import print_yaml

    return print_yaml(flow), diagnostics
