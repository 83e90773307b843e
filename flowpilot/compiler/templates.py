"""Template fields: sandboxed Jinja2 templates, checked like ``${{ }}`` expressions (DSL.md §2).

A node input whose schema says ``"x-template": true`` is a Jinja2 template rendered with the
flow's names. :func:`check_template` parses it (E501 on a syntax error), converts every Jinja
expression into the flowpilot expression AST and type-checks it with :func:`infer`; an unknown
name is E502 instead of E204. :func:`render_template` renders with the same sandboxed
environment and the same built-in functions, for the runtime.

Jinja only records line numbers, so columns are found by locating each name in its line: the
template is first reduced to a *code mask* (text outside ``{{ }}``/``{% %}`` and the inside of
string literals blanked), and names are searched left to right in it.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, KeysView, ValuesView
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined, nodes
from jinja2.sandbox import SandboxedEnvironment

from flowpilot.compiler.functions import FUNCTIONS, FunctionSpec, Param, item_type, to_text
from flowpilot.compiler.infer import ExprEnv, has_secret, infer
from flowpilot.compiler.types import (
    ANY,
    BOOL,
    INT,
    SECRET,
    STRING,
    ArrayType,
    ObjectType,
    Type,
)
from flowpilot.dsl import ast
from flowpilot.dsl.diagnostics import DiagnosticSink, did_you_mean
from flowpilot.dsl.expressions import parse_expression
from flowpilot.dsl.span import LineIndex, Origin, Span

# --------------------------------------------------------------------------------------------
# The sandboxed environment
# --------------------------------------------------------------------------------------------

_SEQUENCES = (tuple, range, types.GeneratorType, KeysView, ValuesView)


def _plain(value: Any) -> Any:
    # Jinja hands filters undefined values and lazy sequences; the built-ins take JSON values.
    if isinstance(value, Undefined):
        return None
    if isinstance(value, _SEQUENCES):
        return list(value)
    return value


def _adapt(spec: FunctionSpec) -> Callable[..., Any]:
    names = [p.name for p in spec.params]
    impl = spec.impl

    def call(*args: Any, **kwargs: Any) -> Any:
        values = [_plain(a) for a in args]
        for key, value in kwargs.items():  # Jinja style `round(x, digits=2)`
            if key not in names:
                raise TypeError(f"{spec.name}() has no parameter {key!r}")
            position = names.index(key)
            values.extend([None] * (position + 1 - len(values)))
            values[position] = _plain(value)
        return impl(*values)

    call.__name__ = spec.name
    return call


def _finalize(value: Any) -> Any:
    # `{{ x }}` renders like `${{ x }}` interpolation: null is empty, true is `true`.
    return value if isinstance(value, Undefined) else to_text(value)


_KEPT_GLOBALS = ("range", "dict", "namespace")


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        finalize=_finalize,
        keep_trailing_newline=True,
    )
    env.globals = {k: v for k, v in env.globals.items() if k in _KEPT_GLOBALS}
    for name, spec in FUNCTIONS.items():
        env.filters[name] = env.globals[name] = _adapt(spec)
    return env


ENVIRONMENT = _environment()
"""The one sandboxed Jinja environment used to check and render template fields."""


@lru_cache(maxsize=256)
def _compiled(text: str) -> Template:
    return ENVIRONMENT.from_string(text)


@lru_cache(maxsize=512)
def _parsed(text: str) -> nodes.Template:
    # The editor re-checks the same templates on every keystroke; checking never mutates the tree.
    return ENVIRONMENT.parse(text)


def render_template(text: str, context: dict[str, Any]) -> str:
    """Render template ``text`` with ``context`` (the flow's names) in the sandbox.

    Undefined names raise :class:`jinja2.UndefinedError`, unsafe attribute access
    :class:`jinja2.sandbox.SecurityError`; both are :class:`jinja2.TemplateError`.
    """
    return _compiled(text).render(context)


# --------------------------------------------------------------------------------------------
# What templates may call beyond the built-ins
# --------------------------------------------------------------------------------------------

_ANY_PARAMS = (Param("value", ANY, "any"), Param("args", ANY, "any", variadic=True))
_JINJA_RESULTS: dict[str, Type] = {
    "length": INT,
    "count": INT,
    "wordcount": INT,
    "list": ArrayType(ANY),
    "batch": ArrayType(ArrayType(ANY)),
    "slice": ArrayType(ArrayType(ANY)),
    "dictsort": ArrayType(ANY),
    "groupby": ArrayType(ANY),
    "map": ArrayType(ANY),
    "select": ArrayType(ANY),
    "reject": ArrayType(ANY),
    "selectattr": ArrayType(ANY),
    "rejectattr": ArrayType(ANY),
    "reverse": ANY,
    "attr": ANY,
    "random": ANY,
}
_JINJA_ONLY = sorted(set(ENVIRONMENT.filters) - set(FUNCTIONS))


def _jinja_spec(name: str) -> FunctionSpec:
    result = _JINJA_RESULTS.get(name, STRING)
    return FunctionSpec(
        name, _ANY_PARAMS, lambda _a: result, result.describe(), f"Jinja's `{name}` filter.",
        ENVIRONMENT.filters[name], taints=result == STRING,
    )  # fmt: skip


TEMPLATE_FILTERS: dict[str, FunctionSpec] = {
    **FUNCTIONS,
    **{name: _jinja_spec(name) for name in _JINJA_ONLY},
}
"""Every filter a template may use: the built-ins and Jinja's own remaining filters."""

TEMPLATE_CALLS: dict[str, FunctionSpec] = {
    **FUNCTIONS,
    "range": FunctionSpec(
        "range", (Param("start", INT, "integer"), Param("stop", INT, "integer", optional=True),
                  Param("step", INT, "integer", optional=True)),
        lambda _a: ArrayType(INT), "integer[]", "Integers from start to stop.", range,
    ),
    "dict": FunctionSpec("dict", (), lambda _a: ObjectType(), "object", "An object.", dict),
    "namespace": FunctionSpec(
        "namespace", (), lambda _a: ObjectType(name="namespace"), "namespace",
        "A mutable object for `{% set ns.x = … %}`.", dict,
    ),
}  # fmt: skip
"""Every function a template may call by name."""

# What infer resolves calls against; the converter already told filters from calls apart.
_INFER_TABLE: dict[str, FunctionSpec] = {**TEMPLATE_FILTERS, **TEMPLATE_CALLS}

LOOP = ObjectType(
    properties=(
        *((k, INT) for k in ("index", "index0", "revindex", "revindex0", "length", "depth")),
        ("depth0", INT),
        ("first", BOOL),
        ("last", BOOL),
        ("previtem", ANY),
        ("nextitem", ANY),
        ("cycle", ANY),
        ("changed", ANY),
    ),
    extra=None,
    name="loop",
)

# --------------------------------------------------------------------------------------------
# Locating names: Jinja gives line numbers only
# --------------------------------------------------------------------------------------------

_OPENERS = re.compile(r"\{([{%#])")
_RAW = re.compile(r"[-+]?\s*raw\s*[-+]?\s*")
_ENDRAW = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")


def code_mask(text: str) -> str:
    """``text`` with everything but template code blanked (newlines kept, same length).

    Text outside tags, comments and the contents of string literals become spaces, so a search
    for a name finds it only where it is code.
    """
    out = [" "] * len(text)
    for i, ch in enumerate(text):
        if ch == "\n":
            out[i] = "\n"
    pos, n = 0, len(text)
    while (m := _OPENERS.search(text, pos)) is not None:
        kind, start = m.group(1), m.end()
        if kind == "#":
            end = text.find("#}", start)
            pos = n if end == -1 else end + 2
            continue
        close = "}}" if kind == "{" else "%}"
        k = start
        while k < n and not text.startswith(close, k):
            ch = text[k]
            if ch in "'\"":
                out[k] = ch
                k += 1
                while k < n and text[k] != ch:
                    k += 2 if text[k] == "\\" else 1
                if k < n:
                    out[k] = ch
            elif ch != "\n":
                out[k] = ch
            k += 1
        pos = k + 2
        if kind == "%" and _RAW.fullmatch(text, start, k):
            end = _ENDRAW.search(text, pos)
            pos = n if end is None else end.end()
    return "".join(out)


class _Locator:
    """Finds the file span of names and literals, left to right within each line."""

    __slots__ = ("code", "cursor", "index", "origin", "text")

    def __init__(self, text: str, origin: Origin) -> None:
        self.text = text
        self.origin = origin
        self.code = code_mask(text)
        self.index = LineIndex(text)
        self.cursor: dict[int, int] = {}

    def _bounds(self, line: int) -> tuple[int, int]:
        starts = self.index._starts
        line = max(1, min(line, len(starts)))
        start = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return start, end

    def find(self, line: int, pattern: str) -> Span:
        """The span of the next match of regex ``pattern`` in code on ``line`` (or the line)."""
        start, end = self._bounds(line)
        regex = re.compile(pattern)
        m = regex.search(self.code, max(start, self.cursor.get(line, start)), end)
        if m is None:
            m = regex.search(self.code, start, end)
        if m is None:
            return self.line_span(line)
        self.cursor[line] = m.end()
        return self.span(m.start(), m.end())

    def word(self, line: int, word: str) -> Span:
        return self.find(line, rf"(?<![\w]){re.escape(word)}(?!\w)")

    def const(self, line: int, value: Any) -> Span:
        if isinstance(value, str):
            return self.find(line, r"'[ ]*'|\"[ ]*\"")
        if isinstance(value, bool) or value is None:
            words = {True: "true|True", False: "false|False", None: "none|None|null"}[value]
            return self.find(line, rf"(?<!\w)(?:{words})(?!\w)")
        return self.find(line, rf"(?<![\w.]){re.escape(repr(value))}(?![\w.])")

    def line_span(self, line: int) -> Span:
        start, end = self._bounds(line)
        segment = self.code[start:end]
        stripped = segment.strip()
        if stripped:
            first = start + segment.index(stripped[0])
            return self.span(first, start + len(segment.rstrip()))
        return self.span(start, max(start, end))

    def span(self, start: int, end: int) -> Span:
        return self.origin.span_of(self.text, start, end)


# --------------------------------------------------------------------------------------------
# Checking
# --------------------------------------------------------------------------------------------


def check_template(
    text: str,
    origin: Origin,
    env: ExprEnv,
    sink: DiagnosticSink,
    *,
    secret_spans: list[Span] | None = None,
) -> Type:
    """Check template ``text`` (a field starting at ``origin``) against the names of ``env``.

    Reports E501 for syntax errors and E502 for unknown names, and every expression diagnostic
    ``infer`` reports. Returns ``secret`` when a secret is rendered into the text, else
    ``string``; ``secret_spans``, when given, receives the span of each ``{{ }}`` expression
    that renders a secret (where E601 should point).
    """
    if "{" not in text:
        return STRING
    simple = _check_simple(text, origin, env, sink)
    if simple is not None:
        found_type, found_secrets = simple
        if secret_spans is not None:
            secret_spans.extend(found_secrets)
        return found_type
    try:
        tree = _parsed(text)
    except TemplateSyntaxError as exc:
        _report_syntax_error(exc, text, origin, sink)
        return STRING
    checker = _TemplateChecker(text, origin, env, sink)
    checker.body(tree.body)
    if secret_spans is not None:
        secret_spans.extend(checker.secrets)
    return SECRET if checker.secrets else STRING


_CALLABLE = frozenset(FUNCTIONS) | frozenset(TEMPLATE_CALLS)
_OUTPUT = re.compile(r"\{\{(.*?)\}\}", re.S)


def _check_simple(
    text: str, origin: Origin, env: ExprEnv, sink: DiagnosticSink
) -> tuple[Type, list[Span]] | None:
    """Check a template made only of text and ``{{ expr }}`` outputs without Jinja.

    Most prompts and messages are like that. Their expressions are in the language's own
    expression syntax (a subset of Jinja's), so the expression parser checks them with exact
    positions at a fraction of Jinja's parsing cost. Anything else — statements, comments,
    syntax only Jinja knows, errors to report — returns None and goes through Jinja.
    """
    if "{%" in text or "{#" in text:
        return None
    scratch = DiagnosticSink()
    outputs: list[tuple[re.Match[str], ast.Expr]] = []
    for match in _OUTPUT.finditer(text):
        expr = parse_expression(match.group(1), origin.shifted(text, match.start(1)), scratch)
        if expr is None or scratch.items:
            return None
        if "(" in match.group(1):  # a call; filters without arguments are always known
            for node in expr.walk():
                if isinstance(node, ast.Call) and not node.filter and node.func not in _CALLABLE:
                    return None  # Jinja decides what a bare call of a filter name means
        outputs.append((match, expr))
    rest = _OUTPUT.sub("", text)
    if "{{" in rest or "}}" in rest:
        return None
    template_env = _TemplateEnv(env, sink)
    secrets: list[Span] = []
    for _match, expr in outputs:
        ast.link_parents(expr)
        if has_secret(infer(expr, template_env, sink, _INFER_TABLE)):
            secrets.append(expr.span)
    return (SECRET if secrets else STRING), secrets


def _report_syntax_error(
    exc: TemplateSyntaxError, text: str, origin: Origin, sink: DiagnosticSink
) -> None:
    message = (exc.message or "template syntax error").split("\n")[0]
    locator = _Locator(text, origin)
    line = exc.lineno or 1
    span = None
    block = re.search(r"innermost block that needs to be closed is '(\w+)'", exc.message or "")
    if block:
        openers = list(re.finditer(rf"\{{%[-+]?\s*{block.group(1)}\b", text))
        if openers:
            opener = openers[-1]
            span = locator.span(opener.start(), opener.end())
    if span is None:
        for token in reversed(re.findall(r"'([^']+)'", message)):
            start, end = locator._bounds(line)
            pos = text.find(token, start, end)
            if pos != -1:
                span = locator.span(pos, pos + len(token))
                break
    if span is None:
        span = locator.line_span(line)
    sink.error("E501", f"template syntax error: {message}", span)


class _TemplateEnv:
    """The template's names: locals of ``for``/``set``/``macro`` first, then the flow's."""

    __slots__ = ("inner", "opaque", "scopes", "sink")

    def __init__(self, inner: ExprEnv, sink: DiagnosticSink) -> None:
        self.inner = inner
        self.sink = sink
        self.scopes: list[dict[str, Type]] = [{}]
        self.opaque: dict[str, Type] = {}

    def local(self, name: str) -> Type | None:
        for scope in reversed(self.scopes):
            t = scope.get(name)
            if t is not None:
                return t
        return None

    def root(self, name: str, node: ast.Name) -> Type | None:
        if name in self.opaque:
            return self.opaque[name]
        t = self.local(name)
        if t is not None:
            return t
        t = self.inner.root(name, node)
        if t is None:
            hint = did_you_mean(name, self.root_names())
            self.sink.error("E502", f"unknown name '{name}' in template", node.span, hint)
            return ANY
        return t

    def root_names(self) -> list[str]:
        names = list(self.inner.root_names())
        for scope in self.scopes:
            names.extend(scope)
        return names

    def step(self, step_id: str, node: ast.Expr) -> Type:
        return self.inner.step(step_id, node)


_COMPARE_OPS = {
    "eq": "==", "ne": "!=", "lt": "<", "lteq": "<=", "gt": ">", "gteq": ">=",
    "in": "in", "notin": "not in",
}  # fmt: skip
_BINARY = {
    nodes.Add: "+", nodes.Sub: "-", nodes.Mul: "*", nodes.Div: "/", nodes.FloorDiv: "//",
    nodes.Mod: "%", nodes.Pow: "**", nodes.And: "and", nodes.Or: "or",
}  # fmt: skip


class _TemplateChecker:
    """Walks a Jinja AST, converting expressions to flowpilot's and inferring their types."""

    def __init__(self, text: str, origin: Origin, env: ExprEnv, sink: DiagnosticSink) -> None:
        self.sink = sink
        self.env = _TemplateEnv(env, sink)
        self.at = _Locator(text, origin)
        self.secrets: list[Span] = []  # rendered expressions that show a secret

    # -- statements -------------------------------------------------------------------------

    def body(self, statements: list[nodes.Node]) -> None:
        for node in statements:
            rule = _STATEMENTS.get(type(node))
            if rule is not None:
                rule(self, node)
            else:
                self.generic(node)

    def generic(self, node: nodes.Node) -> None:
        for child in node.iter_child_nodes():
            if isinstance(child, nodes.Expr):
                self.check(child)
            else:
                self.body([child])

    def output(self, node: nodes.Output) -> None:
        for part in node.nodes:
            if not isinstance(part, nodes.TemplateData):
                expr = self.expr(part)
                ast.link_parents(expr)
                if has_secret(infer(expr, self.env, self.sink, _INFER_TABLE)):
                    self.secrets.append(expr.span)

    def for_(self, node: nodes.For) -> None:
        self.advance(node.target)
        item = item_type(self.check(node.iter))
        self.env.scopes.append({"loop": LOOP})
        self.bind(node.target, item)
        if node.test is not None:
            self.check(node.test)
        self.body(node.body)
        self.env.scopes.pop()
        self.body(node.else_)

    def assign(self, node: nodes.Assign) -> None:
        self.advance(node.target)
        self.bind(node.target, self.check(node.node))

    def assign_block(self, node: nodes.AssignBlock) -> None:
        self.advance(node.target)
        rendered = len(self.secrets)
        self.body(node.body)  # captured into the variable, not rendered here
        inner = len(self.secrets) > rendered
        del self.secrets[rendered:]
        self.bind(node.target, SECRET if inner else STRING)

    def macro(self, node: nodes.Macro | nodes.CallBlock) -> None:
        if isinstance(node, nodes.CallBlock):
            self.check(node.call)
        else:
            self.at.word(node.lineno, node.name)
            self.env.scopes[-1][node.name] = ANY
        scope: dict[str, Type] = {"varargs": ArrayType(ANY), "kwargs": ObjectType(), "caller": ANY}
        for arg in node.args:
            self.advance(arg)
            scope[arg.name] = ANY
        for default in node.defaults:
            self.check(default)
        self.env.scopes.append(scope)
        self.body(node.body)
        self.env.scopes.pop()

    def with_(self, node: nodes.With) -> None:
        scope: dict[str, Type] = {}
        for target, value in zip(node.targets, node.values):
            self.advance(target)
            if isinstance(target, nodes.Name):
                scope[target.name] = self.check(value)
        self.env.scopes.append(scope)
        self.body(node.body)
        self.env.scopes.pop()

    def filter_block(self, node: nodes.FilterBlock) -> None:
        self.body(node.body)
        flt = node.filter
        span = self.at.word(flt.lineno, flt.name)
        if flt.name not in TEMPLATE_FILTERS:
            hint = did_you_mean(flt.name, TEMPLATE_FILTERS)
            self.sink.error("E302", f"unknown filter '{flt.name}'", span, hint)
        for arg in flt.args:
            self.check(arg)

    def unsupported(self, node: nodes.Node) -> None:
        tag = type(node).__name__.lower()
        self.sink.error(
            "E501",
            f"template fields cannot load other templates ({tag})",
            self.at.line_span(node.lineno),
        )

    def advance(self, target: nodes.Node) -> None:
        """Move past the names of an assignment target so later searches start after them."""
        for name in target.find_all(nodes.Name):
            self.at.word(name.lineno, name.name)
        if isinstance(target, nodes.Name):
            self.at.word(target.lineno, target.name)

    def bind(self, target: nodes.Node, t: Type) -> None:
        scope = self.env.scopes[-1]
        if isinstance(target, nodes.Name):
            scope[target.name] = t
        elif isinstance(target, nodes.Tuple):
            inner = item_type(t) if isinstance(t, ArrayType) else ANY
            for item in target.items:
                self.bind(item, inner)

    # -- expressions ------------------------------------------------------------------------

    def check(self, node: nodes.Expr) -> Type:
        """Convert one Jinja expression and infer its type."""
        expr = self.expr(node)
        ast.link_parents(expr)
        return infer(expr, self.env, self.sink, _INFER_TABLE)

    def expr(self, node: nodes.Expr) -> ast.Expr:
        rule = _EXPRESSIONS.get(type(node))
        if rule is None:
            for child in node.iter_child_nodes():
                if isinstance(child, nodes.Expr):
                    self.check(child)
            return self.opaque(ANY, node.lineno)
        return rule(self, node)

    def opaque(self, t: Type, line: int) -> ast.Expr:
        """A stand-in name of type ``t`` for what the flowpilot AST cannot express."""
        key = f"\x00{len(self.env.opaque)}"
        self.env.opaque[key] = t
        return ast.Name(name=key, span=self.at.line_span(line))

    def name(self, node: nodes.Name) -> ast.Expr:
        span = self.at.word(node.lineno, node.name)
        if node.name in ("null", "none", "None") and self.env.local(node.name) is None:
            return ast.Const(value=None, span=span)
        return ast.Name(name=node.name, span=span)

    def const(self, node: nodes.Const) -> ast.Expr:
        value = node.value
        if not isinstance(value, str | int | float | bool | type(None)):
            return self.opaque(ANY, node.lineno)
        return ast.Const(value=value, span=self.at.const(node.lineno, value))

    def getattr(self, node: nodes.Getattr) -> ast.Expr:
        obj = self.expr(node.node)
        attr_span = self.at.word(node.lineno, node.attr)
        span = obj.span.cover(attr_span)
        return ast.Attr(obj=obj, attr=node.attr, attr_span=attr_span, span=span)

    def getitem(self, node: nodes.Getitem) -> ast.Expr:
        obj = self.expr(node.node)
        arg = node.arg
        if isinstance(arg, nodes.Slice):
            lower = None if arg.start is None else self.expr(arg.start)
            upper = None if arg.stop is None else self.expr(arg.stop)
            if arg.step is not None:
                self.check(arg.step)
            end = upper or lower or obj
            return ast.Slice(obj=obj, lower=lower, upper=upper, span=obj.span.cover(end.span))
        index = self.expr(arg)
        return ast.Index(obj=obj, index=index, span=obj.span.cover(index.span))

    def call(self, node: nodes.Call) -> ast.Expr:
        callee = node.node
        if not isinstance(callee, nodes.Name) or self.env.local(callee.name) is not None:
            # A method (`name.upper()`), macro or `loop(…)` call: check the parts only.
            parts = [self.check(callee)] + [self.check(a) for a in node.args]
            parts += [self.check(k.value) for k in node.kwargs]
            secret = any(has_secret(t) for t in parts)
            return self.opaque(SECRET if secret else ANY, node.lineno)
        name_span = self.at.word(callee.lineno, callee.name)
        if callee.name in _JINJA_ONLY:
            message = f"'{callee.name}' is a filter: write `x | {callee.name}`"
            self.sink.error("E302", message, name_span)
        args = self.arguments(callee.name, TEMPLATE_CALLS, [self.expr(a) for a in node.args], node)
        span = _cover(name_span, args)
        return ast.Call(func=callee.name, args=args, name_span=name_span, span=span)

    def filter(self, node: nodes.Filter) -> ast.Expr:
        value = self.expr(node.node) if node.node is not None else self.opaque(STRING, node.lineno)
        name_span = self.at.word(node.lineno, node.name)
        if node.name not in TEMPLATE_FILTERS:
            hint = did_you_mean(node.name, TEMPLATE_FILTERS)
            self.sink.error("E302", f"unknown filter '{node.name}'", name_span, hint)
            for arg in node.args:
                self.check(arg)
            return self.opaque(ANY, node.lineno)
        positional = [value] + [self.expr(a) for a in node.args]
        args = self.arguments(node.name, TEMPLATE_FILTERS, positional, node)
        span = value.span.cover(_cover(name_span, args))
        return ast.Call(func=node.name, args=args, filter=True, name_span=name_span, span=span)

    def arguments(
        self, func: str, table: dict[str, FunctionSpec], args: list[ast.Expr], node: nodes.Node
    ) -> list[ast.Expr]:
        """Positional arguments with Jinja keyword arguments (``round(x, digits=2)``) placed."""
        kwargs = getattr(node, "kwargs", [])
        spec = table.get(func)
        if not kwargs or spec is None:
            return args
        names = [p.name for p in spec.params]
        placed: dict[int, ast.Expr] = {}
        for kw in kwargs:
            value = self.expr(kw.value)
            position = names.index(kw.key) if kw.key in names else -1
            if position >= len(args) and not spec.params[position].variadic:
                placed[position] = value
            elif spec.params is _ANY_PARAMS:
                args.append(value)
            elif func in ("dict", "namespace"):  # any keyword becomes a field
                infer(value, self.env, self.sink, _INFER_TABLE)
            else:
                hint = f"parameters: {', '.join(names)}"
                self.sink.error("E302", f"{func}() has no parameter '{kw.key}'", value.span, hint)
        for position in range(len(args), max(placed, default=-1) + 1):
            # A skipped optional parameter is passed as null, which means "not given".
            args.append(placed.get(position) or self.opaque(ANY, node.lineno))
        return args

    def test(self, node: nodes.Test) -> ast.Expr:
        if node.name in ("defined", "undefined"):
            # The point of `x is defined` is that x may not exist: check nothing.
            self.at.word(node.lineno, node.name)
            return ast.Const(value=True, span=self.at.line_span(node.lineno))
        self.check(node.node)
        span = self.at.word(node.lineno, node.name)
        if node.name not in ENVIRONMENT.tests:
            hint = did_you_mean(node.name, ENVIRONMENT.tests)
            self.sink.error("E302", f"unknown test '{node.name}'", span, hint)
        for arg in node.args:
            self.check(arg)
        return self.opaque(BOOL, node.lineno)

    def sequence(self, node: nodes.List | nodes.Tuple) -> ast.Expr:
        items = [self.expr(item) for item in node.items]
        span = _cover(items[0].span, items) if items else self.at.line_span(node.lineno)
        return ast.ListExpr(items=items, span=span)

    def dict_(self, node: nodes.Dict) -> ast.Expr:
        keys, values = [], []
        for pair in node.items:
            keys.append(self.expr(pair.key))
            values.append(self.expr(pair.value))
        span = _cover(keys[0].span, values) if keys else self.at.line_span(node.lineno)
        return ast.DictExpr(keys=keys, values=values, span=span)

    def compare(self, node: nodes.Compare) -> ast.Expr:
        left = self.expr(node.expr)
        result: ast.Expr | None = None
        for operand in node.ops:
            right = self.expr(operand.expr)
            op = _COMPARE_OPS.get(operand.op, "==")
            pair = ast.BinOp(op=op, left=left, right=right, span=left.span.cover(right.span))
            result = (
                pair
                if result is None
                else ast.BinOp(op="and", left=result, right=pair, span=result.span.cover(pair.span))
            )
            left = right
        return result if result is not None else left

    def concat(self, node: nodes.Concat) -> ast.Expr:
        parts = [self.expr(n) for n in node.nodes]
        result = parts[0]
        for part in parts[1:]:
            result = ast.BinOp(op="~", left=result, right=part, span=result.span.cover(part.span))
        return result

    def binary(self, node: nodes.BinExpr) -> ast.Expr:
        left = self.expr(node.left)
        right = self.expr(node.right)
        op = _BINARY[type(node)]
        return ast.BinOp(op=op, left=left, right=right, span=left.span.cover(right.span))

    def unary(self, node: nodes.UnaryExpr) -> ast.Expr:
        operand = self.expr(node.node)
        if isinstance(node, nodes.Pos):
            return operand
        op = "not" if isinstance(node, nodes.Not) else "-"
        return ast.UnaryOp(op=op, operand=operand, span=operand.span)

    def cond(self, node: nodes.CondExpr) -> ast.Expr:
        body = self.expr(node.expr1)
        test = self.expr(node.test)
        if node.expr2 is None:
            orelse: ast.Expr = ast.Const(value=None, span=test.span)
        else:
            orelse = self.expr(node.expr2)
        return ast.CondExpr(test=test, body=body, orelse=orelse, span=body.span.cover(orelse.span))

    def mark_safe(self, node: nodes.MarkSafe) -> ast.Expr:
        return self.expr(node.expr)


def _cover(first: Span, exprs: list[ast.Expr]) -> Span:
    return first.cover(exprs[-1].span) if exprs else first


_STATEMENTS: dict[type, Callable[[_TemplateChecker, Any], None]] = {
    nodes.Output: _TemplateChecker.output,
    nodes.For: _TemplateChecker.for_,
    nodes.Assign: _TemplateChecker.assign,
    nodes.AssignBlock: _TemplateChecker.assign_block,
    nodes.Macro: _TemplateChecker.macro,
    nodes.CallBlock: _TemplateChecker.macro,
    nodes.With: _TemplateChecker.with_,
    nodes.FilterBlock: _TemplateChecker.filter_block,
    nodes.Include: _TemplateChecker.unsupported,
    nodes.Import: _TemplateChecker.unsupported,
    nodes.FromImport: _TemplateChecker.unsupported,
    nodes.Extends: _TemplateChecker.unsupported,
}

_EXPRESSIONS: dict[type, Callable[[_TemplateChecker, Any], ast.Expr]] = {
    nodes.Name: _TemplateChecker.name,
    nodes.Const: _TemplateChecker.const,
    nodes.Getattr: _TemplateChecker.getattr,
    nodes.Getitem: _TemplateChecker.getitem,
    nodes.Call: _TemplateChecker.call,
    nodes.Filter: _TemplateChecker.filter,
    nodes.Test: _TemplateChecker.test,
    nodes.List: _TemplateChecker.sequence,
    nodes.Tuple: _TemplateChecker.sequence,
    nodes.Dict: _TemplateChecker.dict_,
    nodes.Compare: _TemplateChecker.compare,
    nodes.Concat: _TemplateChecker.concat,
    nodes.CondExpr: _TemplateChecker.cond,
    nodes.Not: _TemplateChecker.unary,
    nodes.Neg: _TemplateChecker.unary,
    nodes.Pos: _TemplateChecker.unary,
    nodes.MarkSafe: _TemplateChecker.mark_safe,
    **dict.fromkeys(_BINARY, _TemplateChecker.binary),
}

__all__ = [
    "ENVIRONMENT",
    "LOOP",
    "TEMPLATE_CALLS",
    "TEMPLATE_FILTERS",
    "check_template",
    "code_mask",
    "render_template",
]
