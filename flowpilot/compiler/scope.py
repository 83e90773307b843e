"""Which steps have run at a point of the flow, and the expression environment there.

The checker walks the flow in execution order carrying a :class:`Scope`: a chain of frames
mapping step ids to whether the step has *certainly* run (``True``) or *may* have been skipped
(``False``: behind an ``if``, in one case of a switch, inside a ``try`` that may have failed…).
Frames are chained instead of copied so the walk stays linear in the size of the flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flowpilot.compiler import types as T
from flowpilot.compiler.context import GLOBAL_NAMES, CompileContext, step_type
from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import DiagnosticSink, did_you_mean


class Scope:
    """A frame of the step-visibility chain plus the local names (loop item, ``error``)."""

    __slots__ = ("locals", "parent", "ran")

    def __init__(self, parent: Scope | None = None, local_names: dict[str, T.Type] | None = None):
        self.parent = parent
        self.ran: dict[str, bool] = {}
        self.locals = local_names or {}

    def child(self, local_names: dict[str, T.Type] | None = None) -> Scope:
        return Scope(self, local_names)

    def status(self, step_id: str) -> bool | None:
        """True: certainly ran; False: may have been skipped; None: not run at this point."""
        frame: Scope | None = self
        while frame is not None:
            found = frame.ran.get(step_id)
            if found is not None:
                return found
            frame = frame.parent
        return None

    def local(self, name: str) -> T.Type | None:
        frame: Scope | None = self
        while frame is not None:
            if name in frame.locals:
                return frame.locals[name]
            frame = frame.parent
        return None

    def local_names(self) -> list[str]:
        names: list[str] = []
        frame: Scope | None = self
        while frame is not None:
            names.extend(frame.locals)
            frame = frame.parent
        return names


@dataclass
class MaybeRef:
    """A ``steps.<id>.output`` use of a step that may have been skipped (W101 candidate)."""

    step_id: str
    node: ast.Attr | ast.Index


@dataclass
class SiteEnv:
    """The :class:`~flowpilot.compiler.infer.ExprEnv` of one expression site."""

    ctx: CompileContext
    scope: Scope
    current: ast.Step | None
    sink: DiagnosticSink
    maybe: list[MaybeRef] = field(default_factory=list)

    def root(self, name: str, node: ast.Name) -> T.Type | None:
        local = self.scope.local(name)
        if local is not None:
            return local
        if name == "steps":
            return T.ANY
        if name in _TRACKED:
            _track_use(self.ctx, name, node)
        return self.ctx.root_types().get(name)

    def root_names(self) -> list[str]:
        return [*self.scope.local_names(), *GLOBAL_NAMES]

    def step(self, step_id: str, node: ast.Attr | ast.Index) -> T.Type:
        ctx = self.ctx
        info = ctx.steps.get(step_id)
        span = node.attr_span if isinstance(node, ast.Attr) else node.index.span
        if info is None:
            self.sink.error(
                "E201",
                f"unknown step '{step_id}'",
                span,
                did_you_mean(step_id, ctx.steps) or None,
            )
            return T.ANY
        status = self.scope.status(step_id)
        if status is None:
            self.sink.error(
                "E202",
                _not_run_message(ctx, info.step, self.current),
                span,
                _not_run_hint(ctx, info.step, self.current),
            )
            return T.ANY
        if not status:
            self.maybe.append(MaybeRef(step_id, node))
        return step_type(step_id, info.output)


_TRACKED = frozenset({"inputs", "vars", "secrets"})


def _track_use(ctx: CompileContext, root: str, node: ast.Name) -> None:
    """Note which input, var or secret an expression reads (W102, the plan's secret list)."""
    target = {"inputs": ctx.used_inputs, "vars": ctx.used_vars, "secrets": ctx.used_secrets}[root]
    parent = node.parent
    if parent is None:
        return  # a template's expression: its uses are found from the template text
    if isinstance(parent, ast.Attr) and parent.obj is node:
        target.add(parent.attr)
    elif (
        isinstance(parent, ast.Index)
        and parent.obj is node
        and isinstance(parent.index, ast.Const)
        and isinstance(parent.index.value, str)
    ):
        target.add(parent.index.value)
    elif root != "secrets":
        # The whole object is used (e.g. to_json(inputs)): every field counts.
        target.update(ctx.input_types if root == "inputs" else ctx.var_types)


def _enclosing_loop(ctx: CompileContext, step: ast.Step) -> ast.Step | None:
    """The innermost foreach or repeat around ``step``."""
    info = ctx.steps.get(step.id)
    if info is None:
        return None
    for ancestor in reversed(info.ancestors):
        if isinstance(ancestor, ast.ForeachStep | ast.RepeatStep):
            return ancestor
    return None


def _not_run_message(ctx: CompileContext, target: ast.Step, current: ast.Step | None) -> str:
    if current is None:
        return f"step '{target.id}' has not run yet: vars and trigger inputs are evaluated first"
    if target is current:
        return f"step '{target.id}' cannot use its own output"
    here_info = ctx.steps.get(current.id) if current is not None else None
    if here_info is not None and target in here_info.ancestors:
        return f"step '{target.id}' has not finished while its own body runs"
    loop = _enclosing_loop(ctx, target)
    if loop is not None and (current is None or loop not in _ancestors(ctx, current)):
        return (
            f"step '{target.id}' runs inside {loop.kind} '{loop.id}' and is not visible outside it"
        )
    info = ctx.steps[target.id]
    here = ctx.steps.get(current.id) if current is not None else None
    if here is not None and info.order > here.order:
        return f"step '{target.id}' runs after this point"
    if info.section != "steps" and (here is None or here.section == "steps"):
        return f"step '{target.id}' belongs to the flow's '{info.section}' and runs after"
    return f"step '{target.id}' runs in another branch and may not have run at this point"


def _not_run_hint(ctx: CompileContext, target: ast.Step, current: ast.Step | None) -> str | None:
    loop = _enclosing_loop(ctx, target)
    if loop is not None and (current is None or loop not in _ancestors(ctx, current)):
        if isinstance(loop, ast.RepeatStep):
            return "keep what the loop computes in vars ('set') and read vars.<name> after it"
        return f"use steps.{loop.id}.output (the list of per-item results) instead"
    if current is None:
        return "vars are set before any step runs; use a 'set' step after it instead"
    if target is current:
        return None
    return "move this step after the one it uses, or pass the value through 'vars'"


def _ancestors(ctx: CompileContext, step: ast.Step) -> tuple[ast.Step, ...]:
    info = ctx.steps.get(step.id)
    return info.ancestors if info is not None else ()


def mentions_step(expr: ast.Node, step_id: str) -> bool:
    """Does ``expr`` contain a ``steps.<step_id>`` reference?"""
    for node in expr.walk():
        if (
            isinstance(node, ast.Attr)
            and node.attr == step_id
            and isinstance(node.obj, ast.Name)
            and node.obj.name == "steps"
        ):
            return True
        if (
            isinstance(node, ast.Index)
            and isinstance(node.obj, ast.Name)
            and node.obj.name == "steps"
            and isinstance(node.index, ast.Const)
            and node.index.value == step_id
        ):
            return True
    return False


_NULL_SAFE_FUNCS = frozenset({"default", "coalesce"})


def null_checked(expr: ast.Node, step_id: str) -> bool:
    """True when ``expr`` guards its use of a maybe-skipped step: ``x | default(...)``,
    ``coalesce(x, ...)``, a conditional or ``and``/``or`` whose test mentions the step."""
    for node in expr.walk():
        if isinstance(node, ast.Call) and node.func in _NULL_SAFE_FUNCS:
            if any(mentions_step(arg, step_id) for arg in node.args):
                return True
        elif isinstance(node, ast.CondExpr):
            if mentions_step(node.test, step_id):
                return True
        elif isinstance(node, ast.BinOp) and node.op in ("and", "or"):
            if mentions_step(node.left, step_id):
                return True
        elif isinstance(node, ast.BinOp) and node.op in ("==", "!="):
            for side, other in ((node.left, node.right), (node.right, node.left)):
                if (
                    isinstance(other, ast.Const)
                    and other.value is None
                    and mentions_step(side, step_id)
                ):
                    return True
        elif isinstance(node, ast.Attr) and node.attr in ("status", "error", "attempts"):
            continue
    return False
