"""Type checking: every expression, argument, template and condition, in execution order.

The walk follows the flow as it would run, carrying a :class:`~flowpilot.compiler.scope.Scope`
of the steps that have run, so that each expression is checked against exactly what exists at
that point (E201/E202/W101), and each step's output type is known before anything uses it.
"""

from __future__ import annotations

import re
from typing import Any

from flowpilot.compiler import types as T
from flowpilot.compiler.arguments import check_arguments, check_uses, schema_error
from flowpilot.compiler.context import (
    ERROR,
    CompileContext,
    StepInfo,
    literal_data,
    template_text,
)
from flowpilot.compiler.infer import constant_value, infer_value
from flowpilot.compiler.scope import MaybeRef, Scope, SiteEnv, mentions_step, null_checked
from flowpilot.compiler.structure import input_schema_problem
from flowpilot.compiler.templates import check_template
from flowpilot.dsl import ast
from flowpilot.dsl.expressions import format_expression
from flowpilot.dsl.span import Origin, Span


def check_types(ctx: CompileContext) -> None:
    flow = ctx.flow
    _declare_inputs(ctx)
    _declare_vars(ctx)
    root = Scope()
    checker = _Checker(ctx)
    for trigger in flow.triggers:
        checker.trigger(trigger, root)
    after_main = checker.sequence(flow.steps, root, guards=())
    if flow.catch is not None:
        catch_scope = _all_maybe(root.child({"error": ERROR}), after_main)
        checker.sequence(flow.catch, catch_scope, guards=())
    if flow.finally_ is not None:
        final_scope = _all_maybe(root.child({"error": T.optional(ERROR)}), after_main)
        checker.sequence(flow.finally_, final_scope, guards=())
    for output in flow.outputs:
        value_type = checker.value(output.value, after_main, None, guards=())
        if T.contains_secret(value_type):
            ctx.sink.error(
                "E601",
                f"output '{output.name}' would expose a secret",
                output.value.span,
                "outputs are stored and shown in the UI; never put secrets in them",
            )
    _unused(ctx)


def _all_maybe(scope: Scope, ran_from: Scope) -> Scope:
    frame: Scope | None = ran_from
    while frame is not None:
        for step_id in frame.ran:
            scope.ran.setdefault(step_id, False)
        frame = frame.parent
    return scope


def _declare_inputs(ctx: CompileContext) -> None:
    for decl in ctx.flow.inputs:
        schema: dict[str, Any] = {"type": decl.type, **decl.options}
        typ = T.from_schema(schema, closed=True)
        _check_default(ctx, decl, schema)
        if not decl.required and decl.default is None:
            typ = T.optional(typ)
        ctx.input_types[decl.name] = typ


def _check_default(ctx: CompileContext, decl: ast.InputDecl, schema: dict[str, Any]) -> None:
    """A literal default must be a valid value of its input."""
    if decl.default is None or decl.type in ("file", "secret", "any"):
        return
    if input_schema_problem(decl) is not None:
        return  # already reported as E012
    ok, data = literal_data(decl.default)
    if not ok:
        return
    error = schema_error(schema, data)
    if error is not None:
        ctx.sink.error("E104", f"default of input '{decl.name}': {error}", decl.default.span)


def _declare_vars(ctx: CompileContext) -> None:
    """Var types: declared ``vars:`` (inferred in order) joined with every ``set`` value."""
    root = Scope()
    seen: dict[str, ast.VarDecl] = {}
    for decl in ctx.flow.vars:
        if decl.name in seen:
            ctx.sink.error(
                "E401",
                f"duplicate var '{decl.name}'",
                decl.span,
                f"first declared on line {seen[decl.name].span.line}",
            )
            continue
        seen[decl.name] = decl
        if ctx.site_hook is not None:
            ctx.site_hook(decl.value, root, None)
        env = SiteEnv(ctx, root, None, ctx.sink)
        ctx._roots.clear()
        ctx.var_types[decl.name] = infer_value(decl.value, env, ctx.sink)
    assigned: dict[str, list[T.Type]] = {}
    for info in ctx.steps.values():  # every step, indexed by the structure pass
        step = info.step
        if isinstance(step, ast.SetStep):
            for entry in step.values.entries:
                if any(isinstance(n, ast.Name) and n.name == "secrets" for n in entry.value.walk()):
                    literal = T.SECRET  # a var holding a secret stays a secret
                elif isinstance(entry.value, ast.Scalar | ast.Interpolated):
                    literal = _literal_type(entry.value)
                else:
                    literal = T.ANY
                assigned.setdefault(entry.key, []).append(literal)
    for name, found in assigned.items():
        declared = ctx.var_types.get(name)
        ctx.var_types[name] = T.union([*found, declared] if declared is not None else found)
    ctx._roots.clear()


def _literal_type(value: ast.Value) -> T.Type:
    if isinstance(value, ast.Interpolated):
        return T.STRING
    if isinstance(value, ast.Scalar):
        return T.type_of_value(value.value)
    return T.ANY


def _unused(ctx: CompileContext) -> None:
    if any(d.code == "E003" for d in ctx.sink.items):
        return  # an expression that did not parse may use anything: no W102 guesses
    for decl in ctx.flow.inputs:
        if decl.name not in ctx.used_inputs:
            ctx.sink.warning(
                "W102",
                f"input '{decl.name}' is never used",
                decl.span,
                "remove it, or use it as ${{ inputs." + decl.name + " }}",
            )
    for decl in ctx.flow.vars:
        if decl.name not in ctx.used_vars:
            ctx.sink.warning(
                "W102",
                f"var '{decl.name}' is never used",
                decl.span,
                "remove it, or use it as ${{ vars." + decl.name + " }}",
            )


_TEMPLATE_USE = re.compile(
    r"\b(inputs|vars|secrets)\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*['\"]([^'\"]+)['\"]\s*\])"
)


def record_template_uses(ctx: CompileContext, text: str) -> None:
    """Note the inputs and vars a Jinja2 template mentions (for W102)."""
    if "inputs" not in text and "vars" not in text and "secrets" not in text:
        return
    targets = {"inputs": ctx.used_inputs, "vars": ctx.used_vars, "secrets": ctx.used_secrets}
    for root, attr, key in _TEMPLATE_USE.findall(text):
        targets[root].add(attr or key)


def _is_truth_test(value: ast.Value) -> bool:
    """A condition that only tests a value's truthiness (``x``, ``not x``): null is falsy."""
    expr = value.expr if isinstance(value, ast.ExprValue) else None
    while isinstance(expr, ast.UnaryOp) and expr.op == "not":
        expr = expr.operand
    return isinstance(expr, ast.Attr | ast.Index)


def _always(expr: ast.Expr) -> bool | None:
    """True/False when a condition is decided by a constant side of ``or``/``and``/``not``
    (``x == 1 or true``), else None."""
    if isinstance(expr, ast.UnaryOp) and expr.op == "not":
        inner = _always(expr.operand)
        return None if inner is None else not inner
    if isinstance(expr, ast.BinOp) and expr.op in ("or", "and"):
        sides = []
        for side in (expr.left, expr.right):
            known, value = constant_value(side)
            sides.append(bool(value) if known else _always(side))
        decisive = expr.op == "or"  # `or` is decided by a true side, `and` by a false one
        if decisive in sides:
            return decisive
        if sides[0] is not None and sides[1] is not None:
            return sides[0] and sides[1] if expr.op == "and" else sides[0] or sides[1]
    return None


def _narrowed(guards: tuple[ast.Value, ...]) -> set[str]:
    """Expressions the guards prove non-null: ``x != null``, ``x`` alone, joined by ``and``."""
    found: set[str] = set()
    stack = [g.expr for g in guards if isinstance(g, ast.ExprValue) and g.expr is not None]
    while stack:
        expr = stack.pop()
        if isinstance(expr, ast.BinOp) and expr.op == "and":
            stack.extend((expr.left, expr.right))
        elif isinstance(expr, ast.BinOp) and expr.op == "!=":
            for side, other in ((expr.left, expr.right), (expr.right, expr.left)):
                if isinstance(other, ast.Const) and other.value is None:
                    found.add(format_expression(side))
        elif isinstance(expr, ast.Attr | ast.Name | ast.Index):
            found.add(format_expression(expr))
    return found


def _literal_strings(expr: ast.Expr) -> T.Type | None:
    """The exact type of ``'a'`` or ``'a' if c else 'b'``: an enum of those strings, so such
    an expression fits an enum argument."""
    if isinstance(expr, ast.Const) and isinstance(expr.value, str):
        return T.StringType(enum=(expr.value,))
    if isinstance(expr, ast.CondExpr):
        body, orelse = _literal_strings(expr.body), _literal_strings(expr.orelse)
        if body is not None and orelse is not None:
            return T.union((body, orelse))
    return None


def _is_narrowed(value: ast.Value, narrowed: set[str]) -> bool:
    return (
        isinstance(value, ast.ExprValue)
        and value.expr is not None
        and format_expression(value.expr) in narrowed
    )


def _template_null_checks(text: str, step_id: str) -> bool:
    """Does a template test the step before using it (``{% if steps.x… %}``, ``| default``,
    ``steps.x.status``)? Then its uses of the step's output are guarded."""
    ref = re.escape(f"steps.{step_id}")
    return bool(
        re.search(r"\{%-?\s*(?:el)?if\b[^%]*" + ref + r"\b", text)
        or re.search(ref + r"\.output[^}|]*\|\s*default\b", text)
        or re.search(ref + r"\.status\b", text)
    )


class _Checker:
    def __init__(self, ctx: CompileContext) -> None:
        self.ctx = ctx
        self.sink = ctx.sink

    # ------------------------------------------------------------------ values

    def value(
        self,
        value: ast.Value | None,
        scope: Scope,
        step: ast.Step | None,
        guards: tuple[ast.Value, ...],
        condition: bool = False,
    ) -> T.Type:
        if value is None:
            return T.NULL
        if self.ctx.site_hook is not None:
            self.ctx.site_hook(value, scope, step)
        env = SiteEnv(self.ctx, scope, step, self.sink)
        typ = infer_value(value, env, self.sink)
        if env.maybe:
            if condition and _is_truth_test(value):
                return typ  # `if: steps.x.output` is itself the null check
            self._warn_maybe(value, env.maybe, guards)
        return typ

    def _warn_maybe(
        self, value: ast.Value, refs: list[MaybeRef], guards: tuple[ast.Value, ...]
    ) -> None:
        for ref in refs:
            parent = ref.node.parent
            if not (isinstance(parent, ast.Attr) and parent.attr == "output"):
                continue
            if null_checked(value, ref.step_id):
                continue
            if any(mentions_step(g, ref.step_id) for g in guards):
                continue
            self.sink.warning(
                "W101",
                f"step '{ref.step_id}' may have been skipped, so its output may be null here",
                ref.node.attr_span if isinstance(ref.node, ast.Attr) else ref.node.span,
                f"guard it: steps.{ref.step_id}.output.x | default(...), or check "
                f"steps.{ref.step_id}.status == 'succeeded'",
            )

    def condition(
        self,
        value: ast.Value | None,
        scope: Scope,
        step: ast.Step | None,
        guards: tuple[ast.Value, ...],
        what: str,
    ) -> None:
        if value is None:
            return
        self.value(value, scope, step, guards, condition=True)
        constant: tuple[bool, Any] = (False, None)
        if isinstance(value, ast.Scalar):
            constant = (True, value.value)
        elif isinstance(value, ast.ExprValue) and value.expr is not None:
            constant = constant_value(value.expr)
            if not constant[0]:
                always = _always(value.expr)
                constant = (always is not None, always)
        if constant[0]:
            truth = bool(constant[1])
            self.sink.warning(
                "W104",
                f"{what} is always {'true' if truth else 'false'}",
                value.span,
                "use an expression such as ${{ inputs.enabled }}"
                if truth
                else "the guarded steps never run; remove them or fix the condition",
            )

    def trigger(self, trigger: ast.Trigger, scope: Scope) -> None:
        trigger_scope = scope.child()
        filter_entry = trigger.config.get("filter")
        if filter_entry is not None:
            self.condition(filter_entry.value, trigger_scope, None, (), "the trigger filter")
        for entry in trigger.config.entries:
            if entry is not filter_entry:
                self.value(entry.value, trigger_scope, None, ())
        if trigger.inputs is not None:
            declared = {d.name for d in self.ctx.flow.inputs}
            for entry in trigger.inputs.entries:
                if declared and entry.key not in declared:
                    from flowpilot.dsl.diagnostics import did_you_mean

                    self.sink.error(
                        "E204",
                        f"trigger '{trigger.id}' sets unknown input '{entry.key}'",
                        entry.span,
                        did_you_mean(entry.key, declared),
                    )
                    continue
                typ = self.value(entry.value, trigger_scope, None, ())
                expected = self.ctx.input_types.get(entry.key)
                if (
                    expected is not None
                    and not T.assignable(typ, expected)
                    # Trigger payloads are validated against the input when they arrive.
                    and not (
                        isinstance(T.non_null(expected), T.StringType)
                        and isinstance(T.non_null(typ), T.StringType)
                    )
                ):
                    self.sink.error(
                        "E104",
                        f"input '{entry.key}' expects {expected}, got {typ}",
                        entry.value.span,
                    )

    # ------------------------------------------------------------------ steps

    def sequence(self, steps: list[ast.Step], scope: Scope, guards: tuple[ast.Value, ...]) -> Scope:
        for step in steps:
            scope = self.step(step, scope, guards)
        return scope

    def step(self, step: ast.Step, scope: Scope, guards: tuple[ast.Value, ...]) -> Scope:
        """Check ``step`` with what has run before it; returns the scope after it."""
        if self.ctx.site_hook is not None:
            self.ctx.site_hook(step, scope, step)
        if step.if_ is not None:
            self.condition(step.if_, scope, step, guards, f"the 'if' of step '{step.id}'")
            inner_guards = (*guards, step.if_)
        else:
            inner_guards = guards
        body_scope = Scope(scope)
        output = _STEP_CHECKS[step.__class__](self, step, body_scope, inner_guards)
        info: StepInfo | None = self.ctx.steps.get(step.id)
        if info is not None and info.step is step:
            info.output = output
        certain = step.if_ is None and not step.continue_on_error
        # Everything that ran inside the step is visible after it; behind an `if` only maybe.
        if not isinstance(step, ast.ForeachStep | ast.RepeatStep):
            # Loop bodies run many times: their steps are not visible after the loop.
            for step_id, ran in body_scope.ran.items():
                scope.ran[step_id] = ran and certain
        if step.id:
            scope.ran[step.id] = certain
        if step.mock is not None:
            self.value(step.mock, scope, step, inner_guards)
        return scope

    def _UsesStep(self, step: ast.UsesStep, scope: Scope, guards) -> T.Type:  # type: ignore[no-untyped-def]
        node_type = check_uses(self.ctx, step)
        if step.id in self.ctx.steps:
            self.ctx.steps[step.id].node_type = node_type
        arg_types: dict[str, T.Type] = {}
        narrowed = _narrowed(guards)
        lazy: list[ast.Entry] = []
        props = node_type.arguments if node_type is not None else {}
        if step.args is not None:
            for entry in step.args.entries:
                prop = props.get(entry.key)
                if isinstance(prop, dict) and prop.get("x-lazy"):
                    lazy.append(entry)
                    continue
                typ = self._argument_type(step, node_type, entry, scope, guards)
                if narrowed and _is_narrowed(entry.value, narrowed):
                    typ = T.non_null(typ)
                if isinstance(entry.value, ast.ExprValue) and entry.value.expr is not None:
                    typ = _literal_strings(entry.value.expr) or typ
                arg_types[entry.key] = typ
        if lazy:
            # `x-lazy` arguments are evaluated once per element of `items` at run time.
            items = T.non_null(arg_types.get("items", T.ANY))
            item = items.item if isinstance(items, T.ArrayType) else T.ANY
            element_scope = scope.child({"item": item, "index": T.INT})
            for entry in lazy:
                arg_types[entry.key] = self.value(entry.value, element_scope, step, guards)
        if node_type is None:
            return T.ANY
        return check_arguments(self.ctx, step, node_type, arg_types)

    def _argument_type(self, step, node_type, entry, scope, guards) -> T.Type:  # type: ignore[no-untyped-def]
        prop = node_type.arguments.get(entry.key) if node_type is not None else None
        value = entry.value
        text = template_text(value) if isinstance(prop, dict) and prop.get("x-template") else None
        if text is None:
            if prop is None and isinstance(value, ast.Scalar) and isinstance(value.value, str):
                record_template_uses(self.ctx, value.value)  # a misspelt template argument
            return self.value(value, scope, step, guards)
        if self.ctx.site_hook is not None:
            self.ctx.site_hook(value, scope, step)
        env = SiteEnv(self.ctx, scope, step, self.sink)
        if isinstance(value, ast.Scalar):
            origin = self.ctx.origin_of(value, text)
        else:
            origin = Origin(
                value.span.file,
                value.span.line,
                value.span.column,
                value.span.start,
                fallback=value.span,
            )
        secrets: list[Span] = []
        typ = check_template(text, origin, env, self.sink, secret_spans=secrets)
        if secrets:
            self.ctx.template_secrets[id(value)] = secrets
        record_template_uses(self.ctx, text)
        if env.maybe:
            self._warn_template_maybe(env.maybe, guards, text)
        return typ

    def _warn_template_maybe(self, refs: list[MaybeRef], guards, text: str) -> None:  # type: ignore[no-untyped-def]
        warned: set[str] = set()
        for ref in refs:
            parent = ref.node.parent
            if not (isinstance(parent, ast.Attr) and parent.attr == "output"):
                continue
            if ref.step_id in warned or any(mentions_step(g, ref.step_id) for g in guards):
                continue
            if _template_null_checks(text, ref.step_id):
                continue
            warned.add(ref.step_id)
            self.sink.warning(
                "W101",
                f"step '{ref.step_id}' may have been skipped, so its output may be null here",
                ref.node.attr_span if isinstance(ref.node, ast.Attr) else ref.node.span,
                f"use {{{{ steps.{ref.step_id}.output.x | default('') }}}} or guard the step",
            )

    def _GroupStep(self, step: ast.GroupStep, scope: Scope, guards) -> T.Type:  # type: ignore[no-untyped-def]
        self.sequence(step.steps, scope, guards)
        return T.NULL

    def _ParallelStep(self, step: ast.ParallelStep, scope: Scope, guards) -> T.Type:  # type: ignore[no-untyped-def]
        outputs = []
        joined: dict[str, bool] = {}
        for branch in step.branches:
            # Each branch sees only what ran before the parallel step, never its siblings.
            branch_scope = scope.child()
            self.step(branch, branch_scope, guards)
            joined.update(branch_scope.ran)
            info = self.ctx.steps.get(branch.id)
            outputs.append((branch.id, info.output if info else T.ANY))
        scope.ran.update(joined)
        return T.ObjectType(properties=tuple(outputs), extra=None)

    def _SwitchStep(self, step: ast.SwitchStep, scope: Scope, guards) -> T.Type:  # type: ignore[no-untyped-def]
        # One case runs: a case never sees another case's steps; after the switch they all
        # may have been skipped.
        joined: dict[str, bool] = {}
        for case in step.cases:
            self.condition(case.when, scope, step, guards, "this switch case's 'when'")
            case_scope = self.sequence(case.steps, scope.child(), (*guards, case.when))
            joined.update(dict.fromkeys(case_scope.ran, False))
        if step.default is not None:
            default_scope = self.sequence(step.default, scope.child(), guards)
            joined.update(dict.fromkeys(default_scope.ran, False))
        scope.ran.update(joined)
        return T.NULL

    def _ForeachStep(self, step: ast.ForeachStep, scope: Scope, guards) -> T.Type:  # type: ignore[no-untyped-def]
        items = self.value(step.items, scope, step, guards)
        item_type: T.Type = T.ANY
        base = T.non_null(items)
        if isinstance(base, T.ArrayType):
            item_type = base.item
        elif not isinstance(base, T.AnyType):
            self.sink.error(
                "E303",
                f"foreach needs a list, but this is {items}",
                step.items.span,
                "iterate over an array, e.g. ${{ steps.fetch.output.json.items }}; for an "
                "object use items(x) or keys(x)",
            )
        body_scope = scope.child({step.as_: item_type, "index": T.INT})
        after = self.sequence(step.steps, body_scope, guards)
        if step.collect is not None:
            collected = self.value(step.collect, after, step, guards)
            return T.ArrayType(collected)
        fields = []
        for body_step in step.steps:
            info = self.ctx.steps.get(body_step.id)
            fields.append((body_step.id, info.output if info else T.ANY))
        return T.ArrayType(T.ObjectType(properties=tuple(fields), extra=None))

    def _RepeatStep(self, step: ast.RepeatStep, scope: Scope, guards) -> T.Type:  # type: ignore[no-untyped-def]
        body_scope = scope.child({"iteration": T.INT})
        after = self.sequence(step.steps, body_scope, guards)
        self.condition(step.until, after, step, guards, "'until'")
        return T.NULL

    def _TryStep(self, step: ast.TryStep, scope: Scope, guards) -> T.Type:  # type: ignore[no-untyped-def]
        try_scope = self.sequence(step.try_, scope.child(), guards)
        handled = step.catch is not None
        for step_id, ran in try_scope.ran.items():
            scope.ran[step_id] = ran and not handled
        # try_scope's own frame holds exactly the try body's steps: they may not all have run
        # when catch/finally start. Only that frame is copied, never the enclosing ones.
        maybe_try = dict.fromkeys(try_scope.ran, False)
        caught: dict[str, bool] = {}
        if step.catch is not None:
            catch_scope = scope.child({"error": ERROR})
            catch_scope.ran.update(maybe_try)
            after_catch = self.sequence(step.catch, catch_scope, guards)
            caught = {k: False for k in after_catch.ran if k not in maybe_try}
            for step_id in caught:
                scope.ran.setdefault(step_id, False)
        if step.finally_ is not None:
            final_scope = scope.child({"error": T.optional(ERROR)})
            final_scope.ran.update(maybe_try)
            final_scope.ran.update(caught)
            after_final = self.sequence(step.finally_, final_scope, guards)
            for step_id, ran in after_final.ran.items():
                if step_id not in maybe_try and step_id not in caught:
                    scope.ran[step_id] = ran
        return T.NULL

    def _WaitStep(self, step: ast.WaitStep, scope: Scope, guards) -> T.Type:  # type: ignore[no-untyped-def]
        if step.until is not None:
            typ = self.value(step.until, scope, step, guards)
            if not T.assignable(typ, T.union((T.STRING, T.NUMBER))):
                self.sink.error(
                    "E104",
                    f"'wait.until' needs a timestamp (ISO-8601 string or epoch seconds), got {typ}",
                    step.until.span,
                )
        return T.NULL

    def _CallStep(self, step: ast.CallStep, scope: Scope, guards) -> T.Type:  # type: ignore[no-untyped-def]
        if step.args is not None:
            for entry in step.args.entries:
                typ = self.value(entry.value, scope, step, guards)
                if T.contains_secret(typ):
                    self.sink.error(
                        "E601",
                        f"secret passed as input '{entry.key}' of flow '{step.flow}'",
                        entry.value.span,
                        "child executions store their inputs; let the child read "
                        "${{ secrets.NAME }} itself",
                    )
        return T.ANY

    def _SetStep(self, step: ast.SetStep, scope: Scope, guards) -> T.Type:  # type: ignore[no-untyped-def]
        for entry in step.values.entries:
            self.value(entry.value, scope, step, guards)
        return T.NULL

    def _FailStep(self, step: ast.FailStep, scope: Scope, guards) -> T.Type:  # type: ignore[no-untyped-def]
        for part in (step.message, step.type):
            if part is None:
                continue
            typ = self.value(part, scope, step, guards)
            if T.contains_secret(typ):
                self.sink.error(
                    "E601",
                    "secret used in a failure message",
                    part.span,
                    "error messages are stored and shown; never put secrets in them",
                )
        return T.NULL

    def _ReturnStep(self, step: ast.ReturnStep, scope: Scope, guards) -> T.Type:  # type: ignore[no-untyped-def]
        for entry in step.values.entries:
            typ = self.value(entry.value, scope, step, guards)
            if T.contains_secret(typ):
                self.sink.error(
                    "E601", f"return value '{entry.key}' would expose a secret", entry.value.span
                )
        return T.NULL


_STEP_CHECKS = {cls: getattr(_Checker, "_" + cls.__name__) for cls in ast.STEP_KINDS.values()}
