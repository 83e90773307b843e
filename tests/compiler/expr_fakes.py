"""A fake expression scope and a span-aware expression builder for the compiler tests.

Expressions are built by hand (independent of the parser): ``Src(text)`` gives spans of tokens
of ``text`` so that tests can assert exact diagnostic positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flowpilot.compiler import types as T
from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import DiagnosticSink
from flowpilot.dsl.span import Span

FILE_NAME = "flow.flow.yaml"

ORDER = T.ObjectType(
    properties=(
        ("id", T.STRING),
        ("total", T.NUMBER),
        ("count", T.INT),
        ("lines", T.ArrayType(T.ObjectType(properties=(("sku", T.STRING),), extra=None))),
        ("note", T.optional(T.STRING)),
    ),
    extra=None,
)

INPUTS = T.ObjectType(
    properties=(
        ("threshold", T.NUMBER),
        ("limit", T.optional(T.INT)),
        ("name", T.STRING),
        ("tags", T.ArrayType(T.STRING)),
        ("order", ORDER),
        ("document", T.FILE),
        ("payload", T.ANY),
        ("flag", T.BOOL),
    ),
    extra=None,
    name="inputs",
)


@dataclass
class FakeEnv:
    """Roots: inputs, vars (open), secrets, env, plus ``extra``; steps: ``known`` only."""

    extra: dict[str, T.Type] = field(default_factory=dict)
    known_steps: dict[str, T.Type] = field(default_factory=lambda: {"fetch": T.ANY})
    sink: DiagnosticSink | None = None
    step_calls: list[str] = field(default_factory=list)

    def roots(self) -> dict[str, T.Type]:
        return {
            "inputs": INPUTS,
            "vars": T.ObjectType(name="vars"),
            "secrets": T.ObjectType(extra=T.SECRET, name="secrets"),
            "env": T.ObjectType(extra=T.STRING, name="env"),
            **self.extra,
        }

    def root(self, name: str, node: ast.Name) -> T.Type | None:
        return self.roots().get(name)

    def root_names(self) -> list[str]:
        return [*self.roots(), "steps"]

    def step(self, step_id: str, node: ast.Expr) -> T.Type:
        self.step_calls.append(step_id)
        if step_id not in self.known_steps:
            if self.sink is not None:
                self.sink.error("E201", f"unknown step '{step_id}'", node.span)
            return T.ANY
        return T.ObjectType(
            properties=(("output", self.known_steps[step_id]), ("status", T.STRING)),
            extra=None,
            name="step",
        )


class Src:
    """Spans of the tokens of one line of source text (line 3, starting at column 5)."""

    LINE = 3
    COLUMN = 5

    def __init__(self, text: str) -> None:
        self.text = text

    def at(self, token: str, nth: int = 0) -> Span:
        start = -1
        for _ in range(nth + 1):
            start = self.text.index(token, start + 1)
        return self.range(start, start + len(token))

    def range(self, start: int, end: int) -> Span:
        col = self.COLUMN + start
        return Span(FILE_NAME, self.LINE, col, self.LINE, self.COLUMN + end, 100 + start, 100 + end)

    @property
    def all(self) -> Span:
        return self.range(0, len(self.text))

    # builders ---------------------------------------------------------------------------------

    def name(self, name: str, nth: int = 0) -> ast.Name:
        return ast.Name(name=name, span=self.at(name, nth))

    def attr_of(self, obj: ast.Expr, attr: str) -> ast.Attr:
        """``obj.attr`` where the attribute follows ``obj`` and a dot."""
        pos = obj.span.end - 100 + 1
        attr_span = self.range(pos, pos + len(attr))
        return ast.Attr(obj=obj, attr=attr, attr_span=attr_span, span=obj.span.cover(attr_span))

    def path(self, dotted: str, nth: int = 0) -> ast.Expr:
        """``a.b.c`` as nested Attr nodes (the ``nth`` occurrence of the whole path)."""
        base = self.at(dotted, nth).start - 100
        parts = dotted.split(".")
        node: ast.Expr = ast.Name(name=parts[0], span=self.range(base, base + len(parts[0])))
        pos = base + len(parts[0])
        for part in parts[1:]:
            attr_span = self.range(pos + 1, pos + 1 + len(part))
            node = ast.Attr(
                obj=node, attr=part, attr_span=attr_span, span=node.span.cover(attr_span)
            )
            pos += 1 + len(part)
        return node

    def const(self, value: object, token: str | None = None, nth: int = 0) -> ast.Const:
        return ast.Const(
            value=value, span=self.at(token if token is not None else repr(value), nth)
        )

    def index(self, obj: ast.Expr, index: ast.Expr) -> ast.Index:
        return ast.Index(obj=obj, index=index, span=obj.span.cover(index.span))

    def binop(self, op: str, left: ast.Expr, right: ast.Expr) -> ast.BinOp:
        return ast.BinOp(op=op, left=left, right=right, span=left.span.cover(right.span))

    def call(self, func: str, *args: ast.Expr, nth: int = 0) -> ast.Call:
        name_span = self.at(func, nth)
        span = name_span.cover(args[-1].span) if args else name_span
        return ast.Call(func=func, args=list(args), name_span=name_span, span=span)

    def filter(self, value: ast.Expr, func: str, *args: ast.Expr, nth: int = 0) -> ast.Call:
        name_span = self.at(func, nth)
        end = args[-1].span if args else name_span
        return ast.Call(
            func=func, args=[value, *args], filter=True, name_span=name_span,
            span=value.span.cover(end),
        )  # fmt: skip
