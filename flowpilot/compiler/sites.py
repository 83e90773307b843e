"""What is in scope at a position of a flow: the hook editors and the language server use.

The type checker walks a flow in execution order with the scope of each point (which steps have
run, the loop variable, ``error`` in a ``catch``) and forgets it as it goes. :func:`scope_at`
runs the checker again over an already parsed flow with a :data:`~flowpilot.compiler.context.
SiteHook` that copies the scope of the innermost step or expression site containing a position,
so that completion ("which steps are visible here?") and hover ("what is the type of this
expression here?") answer exactly what the compiler would, without a second implementation of
the scoping rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowpilot.compiler import types as T
from flowpilot.compiler.context import CompileContext, CompileOptions
from flowpilot.compiler.infer import infer
from flowpilot.compiler.scope import Scope, SiteEnv
from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import DiagnosticSink
from flowpilot.stdlib.registry import Registry, default_registry


@dataclass
class SiteScope:
    """The scope at one point of a flow.

    Attributes:
        ctx: the compile context of the re-check (step infos with output types, input and var
            types) — as complete as the walk got before it found the site.
        node: the innermost expression site (a value) or step containing the position.
        step: the step the site belongs to (None for vars, triggers and outputs).
        scope: a frozen copy of the scope there.
    """

    ctx: CompileContext
    node: ast.Node
    step: ast.Step | None
    scope: Scope

    def visible_steps(self) -> dict[str, bool]:
        """Step ids that may be used here: True when the step has certainly run, False when it
        may have been skipped (an ``if``, a switch case, a ``try`` that may have failed…)."""
        return dict(self.scope.ran)

    def local_names(self) -> dict[str, T.Type]:
        """Names bound here besides the globals: the loop variable and ``index``, ``error``…"""
        return dict(self.scope.locals)

    def infer(self, expr: ast.Expr) -> T.Type:
        """The static type of ``expr`` as if it were written here (problems are ignored)."""
        sink = DiagnosticSink()
        return infer(expr, SiteEnv(self.ctx, self.scope, self.step, sink), sink)


class _Found(Exception):
    """Ends the walk once the expression site at the position is known."""


def _frozen(scope: Scope) -> Scope:
    """A flat, unchained copy of ``scope`` (inner frames win, as in lookups)."""
    ran: dict[str, bool] = {}
    local_names: dict[str, T.Type] = {}
    frame: Scope | None = scope
    while frame is not None:
        for step_id, status in frame.ran.items():
            ran.setdefault(step_id, status)
        for name, typ in frame.locals.items():
            local_names.setdefault(name, typ)
        frame = frame.parent
    copy = Scope(None, local_names)
    copy.ran = ran
    return copy


def _contains(node: ast.Node, offset: int) -> bool:
    span = node.span
    return span.start <= offset <= span.end and span.end > span.start


def scope_at(
    flow: ast.Flow,
    source: str,
    offset: int,
    *,
    registry: Registry | None = None,
    options: CompileOptions | None = None,
) -> SiteScope | None:
    """The scope at code-point ``offset`` of ``source``, whose parsed flow is ``flow``.

    The innermost expression site (an argument, a condition, a ``set`` value, an output …)
    whose span contains the offset wins; failing that, the innermost step containing it (its
    scope is what ran before the step). None when the offset is in neither, e.g. in the
    flow's header. ``flow`` must have its parents linked (as every compile leaves it); the
    check runs on a fresh context, so ``flow`` is not changed and no diagnostic is kept.
    """
    from flowpilot.compiler.pipeline import PASSES

    ctx = CompileContext(
        flow=flow,
        source=source,
        registry=registry or default_registry(),
        sink=DiagnosticSink(),
        options=options or CompileOptions(),
    )
    found: list[SiteScope] = []

    def hook(node: ast.Node, scope: Scope, step: ast.Step | None) -> None:
        if not _contains(node, offset):
            return
        found.append(SiteScope(ctx, node, step, _frozen(scope)))
        if not isinstance(node, ast.Step):
            raise _Found  # values do not nest: this is the innermost site

    ctx.site_hook = hook
    try:
        for compiler_pass in PASSES:
            compiler_pass(ctx)
    except _Found:
        pass
    return found[-1] if found else None
