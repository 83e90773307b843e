"""The canonical YAML printer: AST → ``*.flow.yaml`` text.

``flowpilot fmt`` prints through here, so the output is stable (printing a printed flow gives
the same text) and lossless (parsing it gives an AST whose ``dump`` equals the original's,
comments above steps included). The AST is first turned into a small tree of dicts, lists and
pre-rendered scalars; one generic emitter writes that tree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from flowpilot.dsl import ast

_RESOLVER = yaml.resolver.Resolver()
_PLAIN_SAFE = re.compile(r"^[^\s\-?:,\[\]{}#&*!|>'\"%@`][^\n]*$")
_FLOW_SAFE = re.compile(r"^[A-Za-z0-9_./@+$~^()=<>-][A-Za-z0-9_./@+$~^()=<> -]*$")
_WIDTH = 100


@dataclass(frozen=True, slots=True)
class _Raw:
    """An already-rendered scalar (durations, expressions), printed as is."""

    text: str


@dataclass(frozen=True, slots=True)
class _Flow:
    """A mapping printed in flow style: ``{ a: 1, b: 2 }``."""

    items: dict[str, Any]


@dataclass(slots=True)
class _Commented:
    """A list item (a step, a trigger, a case) with comment lines printed above it and, when
    the source had one, a blank line before those."""

    comments: list[str]
    items: dict[str, Any]
    blank: bool = False


class _Map(dict):  # type: ignore[type-arg]
    """A mapping whose keys may carry comment lines to print above them."""

    __slots__ = ("notes",)

    def __init__(self, *args: Any, notes: dict[str, list[str]] | None = None) -> None:
        super().__init__(*args)
        self.notes = notes or {}


def _notes(node: ast.Node) -> dict[str, list[str]]:
    return {k: v for k, v in (node.yaml_comments or {}).items() if k not in ("", "\n", "~", "$end")}


def _above(node: ast.Node) -> list[str]:
    return list((node.yaml_comments or {}).get("", []))


# Top-level sections that get a blank line before them.
_SECTIONS = frozenset(
    {"inputs", "vars", "triggers", "defaults", "steps", "catch", "finally", "outputs"}
)


def print_yaml(flow: ast.Flow) -> str:
    """The canonical YAML form of ``flow``."""
    lines: list[str] = [_comment("", c) for c in flow.comments]
    _emit_mapping(_flow_tree(flow), 0, lines, top=True)
    end = (flow.yaml_comments or {}).get("$end")
    if end:
        lines.append("")
        lines.extend(_comment("", c) for c in end)
    return "\n".join(lines) + "\n"


def _comment(pad: str, text: str) -> str:
    return f"{pad}# {text}" if text else f"{pad}#"


# --------------------------------------------------------------------------------------------
# AST → tree
# --------------------------------------------------------------------------------------------


def _flow_tree(flow: ast.Flow) -> dict[str, Any]:
    tree: dict[str, Any] = _Map({"flow": flow.id}, notes=_notes(flow))
    if flow.dsl != 1:
        tree["dsl"] = flow.dsl
    if flow.name is not None:
        tree["name"] = flow.name
    if flow.description is not None:
        tree["description"] = flow.description
    if flow.labels:
        extra = flow.yaml_comments or {}
        tree["labels"] = _Map(
            dict(flow.labels),
            notes={k: extra[f"labels.{k}"] for k in flow.labels if f"labels.{k}" in extra},
        )
    if flow.inputs:
        tree["inputs"] = _decls(flow.inputs, _input_tree)
    if flow.vars:
        tree["vars"] = _decls(flow.vars, lambda v: _value(v.value))
    if flow.triggers:
        tree["triggers"] = [
            _Commented(_above(t), _trigger_tree(t), "\n" in (t.yaml_comments or {}))
            for t in flow.triggers
        ]
    if flow.defaults is not None:
        defaults: dict[str, Any] = _Map(notes=_notes(flow.defaults))
        if flow.defaults.timeout is not None:
            defaults["timeout"] = _Raw(flow.defaults.timeout.text)
        if flow.defaults.retry is not None:
            defaults["retry"] = _retry_tree(flow.defaults.retry)
            _lift_comments(defaults, "retry", flow.defaults.retry)
        tree["defaults"] = defaults
    if flow.timeout is not None:
        tree["timeout"] = _Raw(flow.timeout.text)
    if flow.concurrency is not None:
        tree["concurrency"] = _Flow(
            {"limit": flow.concurrency.limit, "on_limit": flow.concurrency.on_limit}
        )
        inner = [
            c
            for k, v in (flow.yaml_comments or {}).items()
            if k.startswith("concurrency.")
            for c in v
        ]
        if inner:
            tree.notes["concurrency"] = [*tree.notes.get("concurrency", []), *inner]
    tree["steps"] = [_step_tree(s) for s in flow.steps]
    if flow.catch is not None:
        tree["catch"] = [_step_tree(s) for s in flow.catch]
    if flow.finally_ is not None:
        tree["finally"] = [_step_tree(s) for s in flow.finally_]
    if flow.outputs:
        tree["outputs"] = _decls(flow.outputs, lambda o: _value(o.value))
    return tree


def _decls(decls: list[Any], render: Any) -> _Map:
    return _Map(
        {d.name: render(d) for d in decls},
        notes={d.name: _above(d) for d in decls if _above(d)},
    )


def _input_tree(decl: ast.InputDecl) -> Any:
    simple_item = (
        decl.type == "array"
        and set(decl.options) == {"items"}
        and isinstance(decl.options["items"], dict)
        and set(decl.options["items"]) == {"type"}
        and isinstance(decl.options["items"]["type"], str)
    )
    if decl.default is None and decl.description is None:
        suffix = "" if decl.required else "?"
        if not decl.options:
            return _Raw(decl.type + suffix)
        if simple_item:
            return _Raw(decl.options["items"]["type"] + "[]" + suffix)
    spec: dict[str, Any] = {"type": decl.type}
    if not decl.required:
        spec["required"] = False
    if decl.default is not None:
        spec["default"] = _value(decl.default)
    if decl.description is not None:
        spec["description"] = decl.description
    spec.update(decl.options)
    return spec


def _trigger_tree(trigger: ast.Trigger) -> dict[str, Any]:
    tree: dict[str, Any] = _Map({"id": trigger.id, "type": trigger.type}, notes=_notes(trigger))
    for entry in trigger.config.entries:
        tree[entry.key] = _value(entry.value)
    if trigger.inputs is not None:
        tree["inputs"] = _value(trigger.inputs)
    return tree


def _retry_tree(retry: ast.Retry) -> _Flow:
    items: dict[str, Any] = {}
    for key in ("max_attempts", "backoff"):
        if getattr(retry, key) is not None:
            items[key] = getattr(retry, key)
    if retry.delay is not None:
        items["delay"] = _Raw(retry.delay.text)
    if retry.factor is not None:
        items["factor"] = retry.factor
    if retry.max_delay is not None:
        items["max_delay"] = _Raw(retry.max_delay.text)
    if retry.jitter is not None:
        items["jitter"] = retry.jitter
    if retry.retry_on is not None:
        items["retry_on"] = list(retry.retry_on)
    return _Flow(items)


def _steps(steps: list[ast.Step]) -> list[Any]:
    return [_step_tree(s) for s in steps]


def _step_tree(step: ast.Step) -> _Commented:
    tree: dict[str, Any] = _Map({"id": step.id}, notes=_notes(step))
    if step.name is not None:
        tree["name"] = step.name
    if step.description is not None:
        tree["description"] = step.description
    if step.if_ is not None:
        tree["if"] = _value(step.if_)
    _KIND_TREES[type(step)](step, tree)
    if step.timeout is not None:
        tree["timeout"] = _Raw(step.timeout.text)
    if step.retry is not None:
        tree["retry"] = _retry_tree(step.retry)
        _lift_comments(tree, "retry", step.retry)
    if step.continue_on_error is not None:
        tree["continue_on_error"] = step.continue_on_error
    if step.mock is not None:
        tree["mock"] = _value(step.mock)
    extra = step.yaml_comments or {}
    return _Commented([*extra.get("~", []), *step.comments], tree, "\n" in extra)


def _lift_comments(tree: dict[str, Any], key: str, node: ast.Node) -> None:
    """Comments inside a mapping printed in flow style go above its key."""
    inner = [c for notes in _notes(node).values() for c in notes]
    if inner and isinstance(tree, _Map):
        tree.notes[key] = [*tree.notes.get(key, []), *inner]


def _uses(step: ast.UsesStep, tree: dict[str, Any]) -> None:
    tree["uses"] = step.uses
    if step.args is not None:
        tree["with"] = _value(step.args)


def _group(step: ast.GroupStep, tree: dict[str, Any]) -> None:
    tree["steps"] = _steps(step.steps)


def _parallel(step: ast.ParallelStep, tree: dict[str, Any]) -> None:
    tree["parallel"] = _steps(step.branches)
    if step.fail_fast is not None:
        tree["fail_fast"] = step.fail_fast
    if step.max_concurrency is not None:
        tree["max_concurrency"] = step.max_concurrency


def _switch(step: ast.SwitchStep, tree: dict[str, Any]) -> None:
    cases: list[Any] = [
        _Commented(_above(c), {"when": _value(c.when), "steps": _steps(c.steps)})
        for c in step.cases
    ]
    if step.default is not None:
        cases.append({"default": _steps(step.default)})
    tree["switch"] = cases


def _foreach(step: ast.ForeachStep, tree: dict[str, Any]) -> None:
    tree["foreach"] = _value(step.items)
    if step.as_ != "item":
        tree["as"] = step.as_
    if step.concurrency is not None:
        tree["concurrency"] = step.concurrency
    if step.collect is not None:
        tree["collect"] = _value(step.collect)
    tree["steps"] = _steps(step.steps)


def _repeat(step: ast.RepeatStep, tree: dict[str, Any]) -> None:
    spec: dict[str, Any] = {"until": _value(step.until), "max_iterations": step.max_iterations}
    if step.delay is not None:
        spec["delay"] = _Raw(step.delay.text)
    tree["repeat"] = spec
    tree["steps"] = _steps(step.steps)


def _try(step: ast.TryStep, tree: dict[str, Any]) -> None:
    tree["try"] = _steps(step.try_)
    if step.catch is not None:
        tree["catch"] = _steps(step.catch)
    if step.finally_ is not None:
        tree["finally"] = _steps(step.finally_)


def _wait(step: ast.WaitStep, tree: dict[str, Any]) -> None:
    if step.duration is not None:
        tree["wait"] = _Raw(step.duration.text)
    else:
        tree["wait"] = {"until": _value(step.until)}


def _call(step: ast.CallStep, tree: dict[str, Any]) -> None:
    tree["call"] = step.flow
    if step.args is not None:
        tree["with"] = _value(step.args)


def _set(step: ast.SetStep, tree: dict[str, Any]) -> None:
    tree["set"] = _value(step.values)


def _fail(step: ast.FailStep, tree: dict[str, Any]) -> None:
    spec = {"message": _value(step.message)}
    if step.type is not None:
        spec["type"] = _value(step.type)
    tree["fail"] = spec


def _return(step: ast.ReturnStep, tree: dict[str, Any]) -> None:
    tree["return"] = _value(step.values)


_KIND_TREES = {
    ast.UsesStep: _uses,
    ast.GroupStep: _group,
    ast.ParallelStep: _parallel,
    ast.SwitchStep: _switch,
    ast.ForeachStep: _foreach,
    ast.RepeatStep: _repeat,
    ast.TryStep: _try,
    ast.WaitStep: _wait,
    ast.CallStep: _call,
    ast.SetStep: _set,
    ast.FailStep: _fail,
    ast.ReturnStep: _return,
}


def _value(value: ast.Value | None) -> Any:
    if value is None:
        return None
    if isinstance(value, ast.Scalar):
        return value.value
    if isinstance(value, ast.ExprValue):
        return _Expr("${{ " + value.source + " }}")
    if isinstance(value, ast.Interpolated):
        text = "".join(
            p.text if isinstance(p, ast.TextPart) else "${{ " + p.source + " }}"
            for p in value.parts
        )
        return _Expr(text)
    if isinstance(value, ast.ListValue):
        return [_value(i) for i in value.items]
    if isinstance(value, ast.MapValue):
        return _Map({e.key: _value(e.value) for e in value.entries}, notes=_notes(value))
    return None


class _Expr(str):
    """A string holding ``${{ }}``; printed like any string but never flow-style."""

    __slots__ = ()


# --------------------------------------------------------------------------------------------
# Tree → text
# --------------------------------------------------------------------------------------------


def _scalar(value: Any, *, flow: bool = False) -> str:
    if isinstance(value, _Raw):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if text in ("inf", "-inf"):
            return ".inf" if value > 0 else "-.inf"
        return text
    return _string(str(value), flow=flow)


def _string(text: str, *, flow: bool) -> str:
    if _is_plain_safe(text, flow=flow):
        return text
    return json.dumps(text, ensure_ascii=False)


def _is_plain_safe(text: str, *, flow: bool) -> bool:
    if not text or text != text.strip() or "\n" in text or "\t" in text:
        return False
    if flow and not _FLOW_SAFE.match(text):
        return False
    if not _PLAIN_SAFE.match(text) or ": " in text or " #" in text or text.endswith(":"):
        return False
    if any(ord(c) < 32 or ord(c) in (0x85, 0x2028, 0x2029, 0xFEFF) for c in text):
        return False
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    return tag == "tag:yaml.org,2002:str"


def _block_string(text: str, indent: int) -> list[str] | None:
    """A literal block (``|``) for a multi-line string, or None when it cannot be one."""
    if "\n" not in text or "\r" in text or "\t" in text:
        return None
    body = text[:-1] if text.endswith("\n") else text
    if body.endswith("\n") or body.startswith((" ", "\n")):
        return None
    lines = body.split("\n")
    if any(line != line.rstrip() for line in lines):
        return None
    if any(ord(c) < 32 and c != "\n" for c in text):
        return None
    header = "|" if text.endswith("\n") else "|-"
    pad = " " * indent
    return [header, *[pad + line if line else "" for line in lines]]


def _inline(value: Any) -> str | None:
    """The one-line rendering of ``value``, or None when it needs block style."""
    if isinstance(value, _Flow):
        inner = ", ".join(f"{k}: {_inline_flow(v)}" for k, v in value.items.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, dict):
        return "{}" if not value else None
    if isinstance(value, list):
        if not value:
            return "[]"
        if all(_flow_scalar_ok(v) for v in value):
            text = "[" + ", ".join(_scalar(v, flow=True) for v in value) + "]"
            return text if len(text) <= 60 else None
        return None
    if isinstance(value, str) and not isinstance(value, _Raw) and "\n" in value:
        return None
    return _scalar(value)


def _inline_flow(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v, flow=True) for v in value) + "]"
    return _scalar(value, flow=True)


def _flow_scalar_ok(value: Any) -> bool:
    if isinstance(value, _Expr):
        return False
    if isinstance(value, str):
        return bool(_FLOW_SAFE.match(value)) and _is_plain_safe(value, flow=True)
    return value is None or isinstance(value, bool | int | float)


def _emit_mapping(
    tree: dict[str, Any], indent: int, lines: list[str], first: str = "", top: bool = False
) -> None:
    pad = " " * indent
    notes = getattr(tree, "notes", None) or {}
    for i, (key, value) in enumerate(tree.items()):
        if top and key in _SECTIONS and _inline(value) is None:
            lines.append("")
        if i > 0 or not first:  # a list item's first-key comments go above its dash
            lines.extend(_comment(pad, c) for c in notes.get(key, ()))
        lead = first if i == 0 and first else pad
        _emit_entry(lead + _key(str(key)) + ":", value, indent, lines)


def _key(text: str) -> str:
    # Keys are read as text whatever they look like (`on:` stays the string "on").
    plain = (
        text
        and _PLAIN_SAFE.match(text)
        and ": " not in text
        and " #" not in text
        and text == text.strip()
        and not text.endswith(":")
        and text not in ("~", "null", "Null", "NULL")
    )
    return text if plain else json.dumps(text, ensure_ascii=False)


def _emit_entry(prefix: str, value: Any, indent: int, lines: list[str]) -> None:
    if isinstance(value, str) and not isinstance(value, _Raw) and "\n" in value:
        block = _block_string(value, indent + 2)
        if block is not None:
            lines.append(f"{prefix} {block[0]}")
            lines.extend(block[1:])
            return
    inline = _inline(value)
    if inline is not None:
        lines.append(f"{prefix} {inline}")
        return
    lines.append(prefix)
    if isinstance(value, dict):
        _emit_mapping(value, indent + 2, lines)
    else:
        _emit_list(value, indent + 2, lines)


def _emit_list(items: list[Any], indent: int, lines: list[str]) -> None:
    pad = " " * indent
    for item in items:
        if isinstance(item, _Commented):
            if item.blank:
                lines.append("")
            lines.extend(_comment(pad, c) for c in item.comments)
            item = item.items
        notes = getattr(item, "notes", None)
        if notes and item:
            lines.extend(_comment(pad, c) for c in notes.get(next(iter(item)), ()))
        if isinstance(item, dict) and item:
            _emit_mapping(item, indent + 2, lines, first=pad + "- ")
        elif isinstance(item, list) and item and _inline(item) is None:
            lines.append(pad + "-")
            _emit_list(item, indent + 2, lines)
        else:
            if isinstance(item, str) and "\n" in item:
                block = _block_string(item, indent + 2)
                if block is not None:
                    lines.append(f"{pad}- {block[0]}")
                    lines.extend(block[1:])
                    continue
            lines.append(f"{pad}- {_inline(item) if _inline(item) is not None else _scalar(item)}")
