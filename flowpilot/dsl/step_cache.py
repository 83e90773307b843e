"""Reusing the YAML front end's work on steps whose text did not change.

An editor re-checks a file on every keystroke, and a keystroke changes one step. The YAML
builder can be given a :class:`StepCache` (the compiler's ``CompileSession`` keeps one per
file): each top-level step it builds without a diagnostic is stored under the exact text it
was built from, and a later build of the same text — at the same place or moved by lines
added or removed above it — gets a copy of the stored step with its spans moved instead of
being built again.

What a step's AST depends on is all in its key: the text of the step, the blank and comment
lines above it back to the previous line of content (they give the step its leading comments
and blank-line marker), whether the file has any comment or blank line at all (comment
bookkeeping is skipped otherwise) and the file name (it is in every span). The key starts at
the beginning of a line, so columns never change and a move is a number of lines and a number
of characters. Steps that produced diagnostics are never stored: messages may name lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from flowpilot.dsl import ast
from flowpilot.dsl.span import NO_SPAN, Span

_SPAN_FIELDS = frozenset({"span", "id_span", "uses_span", "flow_span", "attr_span", "name_span"})


def _clone_source(cls: type) -> str:
    """Python source of a function copying one ``cls`` node with its spans moved.

    Generated once per node class, like the dataclass methods themselves: a copy field by
    field through ``getattr``/``setattr`` cost as much as building the step from YAML again.
    """
    annotations = {f.name: str(f.type) for f in fields(cls)}
    children = set(cls._children)  # type: ignore[attr-defined]
    lines = [
        f"def clone_{cls.__name__}(n, dl, dc):",
        "    c = new(cls)",
        "    c.parent = None",
        "    same = not dl and not dc",  # spans are immutable: unmoved ones are shared
    ]
    for name, annotation in annotations.items():
        if name == "parent":
            continue
        if name in _SPAN_FIELDS:
            lines += [
                f"    v = n.{name}",
                f"    c.{name} = v if same or v is NO_SPAN else tnew(Span, "
                "(v[0], v[1] + dl, v[2], v[3] + dl, v[4], v[5] + dc, v[6] + dc))",
            ]
        elif name == "field_spans":
            lines += [
                "    v = n.field_spans",
                "    c.field_spans = None if v is None else dict(v) if same else "
                "{k: shift(s, dl, dc) for k, s in v.items()}",
            ]
        elif name == "yaml_comments":
            lines += [
                "    v = n.yaml_comments",
                "    c.yaml_comments = None if v is None else {k: list(x) for k, x in v.items()}",
            ]
        elif name in children:
            lines += [
                f"    v = n.{name}",
                f"    c.{name} = None if v is None else [CLONE[i.__class__](i, dl, dc) for i in v] "
                "if v.__class__ is list else CLONE[v.__class__](v, dl, dc)",
            ]
        elif "list" in annotation or "dict" in annotation or "Sequence" in annotation:
            lines += [  # comment lines, retry_on, options: copied, never shared
                f"    v = n.{name}",
                f"    c.{name} = list(v) if v.__class__ is list else "
                "dict(v) if v.__class__ is dict else v",
            ]
        else:  # text, numbers, flags: immutable
            lines.append(f"    c.{name} = n.{name}")
    lines.append("    return c")
    return "\n".join(lines)


def _shift(span: Span, lines: int, chars: int) -> Span:
    if span is NO_SPAN:
        return span
    file, line, column, end_line, end_column, start, end = span
    return _new(
        Span, (file, line + lines, column, end_line + lines, end_column, start + chars, end + chars)
    )


_new = tuple.__new__
_CLONE: dict[type, Callable[[Any, int, int], Any]] = {}


def _node_classes(root: type) -> list[type]:
    found = [root]
    for sub in root.__subclasses__():
        found += _node_classes(sub)
    return found


for _cls in _node_classes(ast.Node):
    _namespace = {
        "new": object.__new__,
        "tnew": tuple.__new__,
        "cls": _cls,
        "shift": _shift,
        "CLONE": _CLONE,
        "NO_SPAN": NO_SPAN,
        "Span": Span,
    }
    exec(_clone_source(_cls), _namespace)
    _CLONE[_cls] = _namespace[f"clone_{_cls.__name__}"]


def moved(node: ast.Node, lines: int, chars: int) -> Any:
    """A deep copy of ``node`` whose spans are ``lines`` lines and ``chars`` characters later
    (``parent`` is left unset; ``link_parents`` sets it)."""
    return _CLONE[node.__class__](node, lines, chars)


class StepCache:
    """Steps built from YAML, by the text they were built from (see the module docstring)."""

    __slots__ = ("_entries", "_next", "hits", "misses")

    def __init__(self) -> None:
        # key -> (step, first line of the key's text, offset where that text starts)
        self._entries: dict[tuple[object, ...], tuple[ast.Step, int, int]] = {}
        self._next: dict[tuple[object, ...], tuple[ast.Step, int, int]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[object, ...], line: int, offset: int) -> ast.Step | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        self._next[key] = found
        step, old_line, old_offset = found
        return moved(step, line - old_line, offset - old_offset)  # type: ignore[no-any-return]

    def put(self, key: tuple[object, ...], step: ast.Step, line: int, offset: int) -> None:
        # The stored copy is private: the caller's step gets parents and may be kept by them.
        self._next[key] = (moved(step, 0, 0), line, offset)

    def end_build(self) -> None:
        """Keep only what the last build used or made, so the cache follows the file."""
        self._entries = self._next
        self._next = {}
