"""Lowering: a checked AST → the execution-plan IR (see ``docs/ir.md``).

The plan is plain JSON: a flat map of nodes (one per step, plus synthetic sequence nodes for
bodies), each with its source span and a JSON pointer into the YAML form; expressions are
pre-parsed into nested arrays the runtime compiles once. Lowering is deterministic: the same
source gives byte-identical JSON (:func:`plan_json`), and ``plan_hash`` is its SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from flowpilot.compiler.context import CompileContext, template_text
from flowpilot.dsl import ast
from flowpilot.dsl.span import Span
from flowpilot.stdlib.registry import NodeType

IR_VERSION = 1

DEFAULT_RETRY = {
    "max_attempts": 3,
    "backoff": "exponential",
    "delay_ms": 1000,
    "factor": 2,
    "max_delay_ms": None,
    "jitter": False,
    "retry_on": None,
}
NO_RETRY = {**DEFAULT_RETRY, "max_attempts": 1}


def plan_json(plan: dict[str, Any]) -> str:
    """The canonical serialisation of a plan (sorted keys, no spaces)."""
    return json.dumps(
        plan, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def plan_hash(plan: dict[str, Any]) -> str:
    return hashlib.sha256(plan_json(plan).encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Expressions and values
# --------------------------------------------------------------------------------------------


def lower_expr(expr: ast.Expr) -> list[Any]:
    """An expression as nested arrays: ``["attr", ["name", "inputs"], "x"]``."""
    return _EXPR[type(expr)](expr)


class NotJSONError(ValueError):
    """A literal the plan cannot hold (an infinite number, a lone surrogate)."""

    def __init__(self, what: str, span: Span) -> None:
        super().__init__(what)
        self.what = what
        self.span = span


_SURROGATE = re.compile("[\ud800-\udfff]")
_INF = float("inf")


def _json_literal(value: Any, node: ast.Node) -> Any:
    if value.__class__ is float and (value != value or value in (_INF, -_INF)):
        raise NotJSONError(f"the number {value}", node.span)
    if value.__class__ is str and not value.isascii() and _SURROGATE.search(value):
        raise NotJSONError("a string with a lone surrogate character", node.span)
    return value


_EXPR: dict[type, Any] = {
    ast.Const: lambda e: ["lit", _json_literal(e.value, e)],
    ast.Name: lambda e: ["name", e.name],
    ast.Attr: lambda e: ["attr", lower_expr(e.obj), e.attr],
    ast.Index: lambda e: ["index", lower_expr(e.obj), lower_expr(e.index)],
    ast.Slice: lambda e: [
        "slice",
        lower_expr(e.obj),
        lower_expr(e.lower) if e.lower is not None else None,
        lower_expr(e.upper) if e.upper is not None else None,
    ],
    ast.Call: lambda e: ["call", e.func, [lower_expr(a) for a in e.args]],
    ast.BinOp: lambda e: (
        [e.op, lower_expr(e.left), lower_expr(e.right)]
        if e.op in ("and", "or")
        else ["op", e.op, lower_expr(e.left), lower_expr(e.right)]
    ),
    ast.UnaryOp: lambda e: ["not" if e.op == "not" else "neg", lower_expr(e.operand)],
    ast.CondExpr: lambda e: ["if", lower_expr(e.test), lower_expr(e.body), lower_expr(e.orelse)],
    ast.ListExpr: lambda e: ["list", [lower_expr(i) for i in e.items]],
    ast.DictExpr: lambda e: [
        "dict",
        [[lower_expr(k), lower_expr(v)] for k, v in zip(e.keys, e.values, strict=True)],
    ],
}


def lower_value(value: ast.Value | None, *, template: bool = False) -> Any:
    """A value as JSON: literals stay literal; dynamic parts are ``{"$expr": …}``,
    ``{"$concat": […]}`` or ``{"$template": …}``."""
    if value is None:
        return None
    if isinstance(value, ast.Scalar):
        if (
            template
            and isinstance(value.value, str)
            and ("{{" in value.value or "{%" in value.value)
        ):
            return {"$template": value.value}
        return _json_literal(value.value, value)
    if isinstance(value, ast.ExprValue):
        return {
            "$expr": lower_expr(value.expr) if value.expr else ["lit", None],
            "src": value.source,
        }
    if isinstance(value, ast.Interpolated):
        parts: list[Any] = []
        for part in value.parts:
            if isinstance(part, ast.TextPart):
                parts.append(part.text)
            else:
                parts.append(lower_value(part))
        return {"$concat": parts}
    if isinstance(value, ast.ListValue):
        return [lower_value(item) for item in value.items]
    if isinstance(value, ast.MapValue):
        data = {entry.key: lower_value(entry.value) for entry in value.entries}
        if any(k.startswith("$") for k in data):
            return {"$object": [[k, v] for k, v in data.items()]}
        return data
    return None


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------


class _Lowerer:
    def __init__(self, ctx: CompileContext) -> None:
        self.ctx = ctx
        self.nodes: dict[str, dict[str, Any]] = {}
        self.argument_kinds: dict[tuple[str, int], tuple[frozenset[str], frozenset[str]]] = {}
        defaults = ctx.flow.defaults
        self.default_timeout = defaults.timeout.ms if defaults and defaults.timeout else None
        self.default_retry = defaults.retry if defaults else None

    def sequence(
        self, node_id: str, steps: list[ast.Step], parent: str | None, pointer: str
    ) -> str:
        children = [self.step(step, node_id, f"{pointer}/{i}") for i, step in enumerate(steps)]
        self.nodes[node_id] = {
            "id": node_id,
            "kind": "sequence",
            "parent": parent,
            "pointer": pointer,
            "children": children,
        }
        return node_id

    def step(self, step: ast.Step, parent: str, pointer: str) -> str:
        node: dict[str, Any] = {
            "id": step.id,
            "step": step.id,
            "kind": step.kind if step.kind != "steps" else "group",
            "parent": parent,
            "pointer": pointer,
            "span": step.span.to_json(),
            "if": lower_value(step.if_),
            "continue_on_error": bool(step.continue_on_error),
            "timeout_ms": step.timeout.ms if step.timeout else None,
        }
        if step.name:
            node["name"] = step.name
        if step.mock is not None:
            node["mock"] = lower_value(step.mock)
        if step.retry is not None:
            node["retry"] = _retry(step.retry, self.default_retry)
        _LOWER_STEPS[step.__class__](self, step, node, pointer)
        self.nodes[step.id] = node
        return step.id

    def _UsesStep(self, step: ast.UsesStep, node: dict[str, Any], pointer: str) -> None:
        info = self.ctx.steps.get(step.id)
        node_type = info.node_type if info else None
        templates, lazy_keys = self._argument_kinds(node_type)
        args = {}
        lazy = []
        if step.args is not None:
            for entry in step.args.entries:
                key = entry.key
                text = template_text(entry.value) if key in templates else None
                if text is not None and ("{{" in text or "{%" in text):
                    args[key] = {"$template": text}
                else:
                    args[key] = lower_value(entry.value)
                if key in lazy_keys:
                    lazy.append(key)
        node["node_type"] = node_type.name if node_type else step.uses
        node["node_version"] = node_type.version if node_type else None
        node["args"] = args
        node["lazy_args"] = lazy  # evaluated per element (with `item`/`index`) by the node
        node["side_effects"] = bool(node_type and node_type.side_effects)
        node["inline"] = bool(node_type and node_type.pure)
        node["credential"] = node_type.credential if node_type else None
        if node["timeout_ms"] is None:
            node["timeout_ms"] = self.default_timeout
        if "retry" not in node:
            node["retry"] = _retry(self.default_retry, None) if self.default_retry else NO_RETRY

    def _argument_kinds(self, node_type: NodeType | None) -> tuple[frozenset[str], frozenset[str]]:
        """(template arguments, lazy arguments) of a node type, worked out once per lowering."""
        if node_type is None:
            return _NO_KINDS
        key = (node_type.name, node_type.version)
        found = self.argument_kinds.get(key)
        if found is None:
            props = node_type.arguments
            found = self.argument_kinds[key] = (
                frozenset(
                    k for k, p in props.items() if isinstance(p, dict) and p.get("x-template")
                ),
                frozenset(k for k, p in props.items() if isinstance(p, dict) and p.get("x-lazy")),
            )
        return found

    def _GroupStep(self, step: ast.GroupStep, node: dict[str, Any], pointer: str) -> None:
        node["body"] = self.sequence(f"{step.id}/body", step.steps, step.id, f"{pointer}/steps")

    def _ParallelStep(self, step: ast.ParallelStep, node: dict[str, Any], pointer: str) -> None:
        node["branches"] = [
            self.step(b, step.id, f"{pointer}/parallel/{i}") for i, b in enumerate(step.branches)
        ]
        node["fail_fast"] = True if step.fail_fast is None else step.fail_fast
        node["max_concurrency"] = step.max_concurrency

    def _SwitchStep(self, step: ast.SwitchStep, node: dict[str, Any], pointer: str) -> None:
        cases = []
        for i, case in enumerate(step.cases):
            body = self.sequence(
                f"{step.id}/case/{i}", case.steps, step.id, f"{pointer}/switch/{i}/steps"
            )
            cases.append({"when": lower_value(case.when), "body": body})
        node["cases"] = cases
        node["default"] = None
        if step.default is not None:
            index = len(step.cases)
            node["default"] = self.sequence(
                f"{step.id}/default", step.default, step.id, f"{pointer}/switch/{index}/default"
            )

    def _ForeachStep(self, step: ast.ForeachStep, node: dict[str, Any], pointer: str) -> None:
        node["items"] = lower_value(step.items)
        node["as"] = step.as_
        node["concurrency"] = step.concurrency or 1
        node["collect"] = lower_value(step.collect)
        node["body"] = self.sequence(f"{step.id}/body", step.steps, step.id, f"{pointer}/steps")

    def _RepeatStep(self, step: ast.RepeatStep, node: dict[str, Any], pointer: str) -> None:
        node["until"] = lower_value(step.until)
        node["max_iterations"] = step.max_iterations
        node["delay_ms"] = step.delay.ms if step.delay else None
        node["body"] = self.sequence(f"{step.id}/body", step.steps, step.id, f"{pointer}/steps")

    def _TryStep(self, step: ast.TryStep, node: dict[str, Any], pointer: str) -> None:
        node["body"] = self.sequence(f"{step.id}/try", step.try_, step.id, f"{pointer}/try")
        node["catch"] = (
            self.sequence(f"{step.id}/catch", step.catch, step.id, f"{pointer}/catch")
            if step.catch is not None
            else None
        )
        node["finally"] = (
            self.sequence(f"{step.id}/finally", step.finally_, step.id, f"{pointer}/finally")
            if step.finally_ is not None
            else None
        )

    def _WaitStep(self, step: ast.WaitStep, node: dict[str, Any], pointer: str) -> None:
        node["duration_ms"] = step.duration.ms if step.duration else None
        node["until"] = lower_value(step.until)

    def _CallStep(self, step: ast.CallStep, node: dict[str, Any], pointer: str) -> None:
        node["flow"] = step.flow
        node["args"] = lower_value(step.args) or {}

    def _SetStep(self, step: ast.SetStep, node: dict[str, Any], pointer: str) -> None:
        node["values"] = lower_value(step.values) or {}

    def _FailStep(self, step: ast.FailStep, node: dict[str, Any], pointer: str) -> None:
        node["message"] = lower_value(step.message)
        node["error_type"] = lower_value(step.type)

    def _ReturnStep(self, step: ast.ReturnStep, node: dict[str, Any], pointer: str) -> None:
        node["values"] = lower_value(step.values) or {}


_NO_KINDS: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
_LOWER_STEPS = {cls: getattr(_Lowerer, "_" + cls.__name__) for cls in ast.STEP_KINDS.values()}


def _retry(retry: ast.Retry | None, defaults: ast.Retry | None) -> dict[str, Any]:
    """A step's effective retry policy: its own fields, then the flow defaults, then ours."""
    out = dict(DEFAULT_RETRY)
    for source in (defaults, retry):
        if source is None:
            continue
        for key in ("max_attempts", "backoff", "factor", "jitter", "retry_on"):
            value = getattr(source, key)
            if value is not None:
                out[key] = value
        if source.delay is not None:
            out["delay_ms"] = source.delay.ms
        if source.max_delay is not None:
            out["max_delay_ms"] = source.max_delay.ms
    return out


def _input(decl: ast.InputDecl) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": decl.type, **decl.options}
    if decl.description:
        schema["description"] = decl.description
    return {
        "schema": schema,
        "required": decl.required and decl.default is None,
        "default": lower_value(decl.default),
    }


def lower_flow(ctx: CompileContext) -> dict[str, Any]:
    """The execution plan of a flow that checked without errors."""
    flow = ctx.flow
    lowerer = _Lowerer(ctx)
    main = lowerer.sequence("$main", flow.steps, None, "/steps")
    catch = (
        lowerer.sequence("$catch", flow.catch, None, "/catch") if flow.catch is not None else None
    )
    final = (
        lowerer.sequence("$finally", flow.finally_, None, "/finally")
        if flow.finally_ is not None
        else None
    )
    secrets = sorted(ctx.used_secrets)
    return {
        "ir_version": IR_VERSION,
        "flow": {
            "id": flow.id,
            "name": flow.name,
            "description": flow.description,
            "labels": dict(sorted(flow.labels.items())),
            "dsl": flow.dsl,
        },
        "source": {
            "file": ctx.file,
            "syntax": flow.syntax,
            "sha256": hashlib.sha256(ctx.source.encode()).hexdigest(),
        },
        "inputs": {d.name: _input(d) for d in flow.inputs},
        "vars": [{"name": v.name, "value": lower_value(v.value)} for v in flow.vars],
        "triggers": [
            {
                "id": t.id,
                "type": t.type,
                "config": lower_value(t.config) or {},
                "inputs": lower_value(t.inputs) or {},
            }
            for t in flow.triggers
        ],
        "timeout_ms": flow.timeout.ms if flow.timeout else None,
        "concurrency": (
            {"limit": flow.concurrency.limit, "on_limit": flow.concurrency.on_limit}
            if flow.concurrency
            else None
        ),
        "entry": main,
        "catch": catch,
        "finally": final,
        "nodes": lowerer.nodes,
        "outputs": {o.name: lower_value(o.value) for o in flow.outputs},
        "secrets": secrets,
    }
