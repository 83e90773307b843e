"""Differences between two versions of a workflow: a unified diff of the source text and a
structural diff of their plans, by step id.

Plans rather than ASTs are compared because they are what runs: defaults are already applied
(a changed ``defaults.retry`` shows on every step it reaches) and both forms of the DSL lower to
the same plan. A step is identified by its id wherever it sits, so nested steps (in parallel
branches, foreach and repeat bodies, switch cases, try sections) are compared like top-level
ones, and moving a step into another container is a change of its ``parent``. Positions
(``span``, ``pointer``) and the source text of expressions are not compared: reformatting a
flow changes no step.
"""

from __future__ import annotations

import difflib
from typing import Any

from flowpilot.server.workflows.schemas import (
    KeyedDiff,
    StepChange,
    StepRef,
    StepsDiff,
)

#: Node keys that say where a step is written, not what it does.
_POSITION_KEYS = frozenset({"id", "step", "span", "pointer"})
#: Node keys that hold the id of a synthetic sequence node (a container's body).
_SEQUENCE_KEYS = ("body", "catch", "finally", "default")
#: Top-level plan keys reported by name when they differ (the rest have their own section).
_SETTINGS = ("flow", "timeout_ms", "concurrency", "secrets")
_MISSING = object()


def unified_diff(before: str, after: str, before_name: str, after_name: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=before_name,
        tofile=after_name,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _is_value_form(value: Any) -> bool:
    """``{"$expr": …}``, ``{"$template": …}`` and the other lowered value forms are leaves."""
    return isinstance(value, dict) and any(isinstance(k, str) and k[:1] == "$" for k in value)


def _normal(value: Any) -> Any:
    """``value`` without the source text of expressions, which formatting alone changes."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if not (k == "src" and "$expr" in value)}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _display(value: Any) -> Any:
    """How a changed value is shown: expressions as the ``${{ }}`` a user wrote."""
    if isinstance(value, dict):
        if "$expr" in value and isinstance(value.get("src"), str):
            return "${{ " + value["src"] + " }}"
        return {k: _display(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_display(v) for v in value]
    return value


def _children(nodes: dict[str, Any], ref: Any) -> Any:
    node = nodes.get(ref) if isinstance(ref, str) else None
    if node is not None and node.get("kind") == "sequence":
        return list(node.get("children") or [])
    return ref


def step_nodes(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The plan's steps by id, each with its bodies as the ids of the steps they hold (the
    synthetic sequence nodes are folded into their containers)."""
    nodes: dict[str, Any] = plan.get("nodes") or {}
    steps: dict[str, dict[str, Any]] = {}
    for node in nodes.values():
        if "step" not in node:
            continue
        view = {k: v for k, v in node.items() if k not in _POSITION_KEYS}
        for key in _SEQUENCE_KEYS:
            if key in view:
                view[key] = _children(nodes, view[key])
        if isinstance(view.get("cases"), list):
            view["cases"] = [
                {**case, "body": _children(nodes, case.get("body"))} for case in view["cases"]
            ]
        steps[node["step"]] = view
    return steps


def changed_fields(before: Any, after: Any, prefix: str = "", depth: int = 1) -> list[str]:
    """Dotted paths where ``before`` and ``after`` differ: the keys of two mappings, and
    ``depth`` more levels of the mappings inside them (``args`` → ``args.message``), never
    descending into a value form."""
    if _normal(before) == _normal(after):
        return []
    nested = (
        depth >= 0
        and isinstance(before, dict)
        and isinstance(after, dict)
        and not _is_value_form(before)
        and not _is_value_form(after)
    )
    if not nested:
        return [prefix.rstrip(".")]
    paths: list[str] = []
    for key in sorted(set(before) | set(after), key=str):
        paths += changed_fields(
            before.get(key, _MISSING), after.get(key, _MISSING), f"{prefix}{key}.", depth - 1
        )
    return paths


def _at(value: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return _display(value)


def diff_steps(before: dict[str, Any], after: dict[str, Any]) -> StepsDiff:
    old, new = step_nodes(before), step_nodes(after)

    def ref(step_id: str, node: dict[str, Any]) -> StepRef:
        return StepRef(id=step_id, kind=str(node.get("kind")), parent=node.get("parent"))

    changed: list[StepChange] = []
    for step_id in (s for s in new if s in old):
        fields = changed_fields(old[step_id], new[step_id])
        if fields:
            changed.append(
                StepChange(
                    id=step_id,
                    kind=str(new[step_id].get("kind")),
                    fields=fields,
                    before={f: _at(old[step_id], f) for f in fields},
                    after={f: _at(new[step_id], f) for f in fields},
                )
            )
    return StepsDiff(
        added=[ref(s, node) for s, node in new.items() if s not in old],
        removed=[ref(s, node) for s, node in old.items() if s not in new],
        changed=changed,
    )


def _keyed(value: Any, key: str = "id") -> dict[str, Any]:
    """Declarations by name: mappings as they are, lists of objects by ``key``."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(item.get(key)): item for item in value if isinstance(item, dict)}
    return {}


def diff_keyed(before: Any, after: Any, key: str = "id") -> KeyedDiff:
    old, new = _keyed(before, key), _keyed(after, key)
    return KeyedDiff(
        added=[k for k in new if k not in old],
        removed=[k for k in old if k not in new],
        changed=[k for k in new if k in old and _normal(old[k]) != _normal(new[k])],
    )


def diff_settings(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Top-level settings that differ (``flow.name``, ``timeout_ms``…), plus ``steps`` when the
    top-level steps are the same ones in another order."""
    settings = [
        path
        for key in _SETTINGS
        for path in changed_fields(before.get(key), after.get(key), f"{key}.", 0)
    ]
    for section in ("entry", "catch", "finally"):
        old = _children(before.get("nodes") or {}, before.get(section))
        new = _children(after.get("nodes") or {}, after.get(section))
        if (old is None) != (new is None):
            settings.append(section)
        elif _reordered(old, new):
            settings.append("steps" if section == "entry" else section)
    return settings


def _reordered(old: Any, new: Any) -> bool:
    """The same steps in another order (added or removed ones show in the step diff)."""
    return (
        isinstance(old, list)
        and isinstance(new, list)
        and old != new
        and (sorted(old) == sorted(new))
    )
