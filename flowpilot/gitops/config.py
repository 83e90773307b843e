"""The repository convention: flows live under ``flows/`` (any depth), and an optional
``flowpilot.yaml`` beside that directory says which of them to sync and how::

    include: ["**"]            # globs relative to flows/ (default: every flow file)
    exclude: ["drafts/**"]     # applied after include
    prune: true                # delete workflows this repository synced whose file is gone
    drift: overwrite           # or keep: what to do with workflows edited after a sync

A key the file does not set leaves the decision to the repository's settings on the server
(or the command line). Problems are diagnostics (``G001``) with the line and column at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import yaml

from flowpilot.dsl.diagnostics import Diagnostic, Severity, did_you_mean
from flowpilot.dsl.span import Span

FLOWS_DIR = "flows"
CONFIG_FILE = "flowpilot.yaml"
DriftPolicy = Literal["keep", "overwrite"]
DRIFT_POLICIES: tuple[DriftPolicy, ...] = ("keep", "overwrite")
#: The code of every problem with ``flowpilot.yaml``.
CONFIG_ERROR = "G001"

_KEYS = ("version", "include", "exclude", "prune", "drift")


@dataclass(frozen=True)
class RepoConfig:
    """What ``flowpilot.yaml`` says; None where it says nothing."""

    include: tuple[str, ...] = ("**",)
    exclude: tuple[str, ...] = ()
    prune: bool | None = None
    drift: DriftPolicy | None = None

    def selects(self, relative: str) -> bool:
        """Whether the flow file at ``relative`` (a path under ``flows/``) is synced."""
        return any(glob_matches(g, relative) for g in self.include) and not any(
            glob_matches(g, relative) for g in self.exclude
        )


def join(*parts: str) -> str:
    """A repository path from parts, any of which may be empty."""
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


@lru_cache(maxsize=256)
def _glob_regex(glob: str) -> re.Pattern[str]:
    """``**`` spans directories (``**/`` also none), ``*`` and ``?`` stay in one, ``[...]`` is a
    character class; a glob naming a directory (``drafts`` or ``drafts/``) covers its files."""
    out: list[str] = []
    i = 0
    glob = glob.strip()
    if glob.startswith("./"):
        glob = glob[2:]
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = glob.find("]", i + 2)
            if end == -1:
                out.append(re.escape(c))
                i += 1
            else:
                body = glob[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    pattern = "".join(out).rstrip("/")
    return re.compile(f"{pattern}(?:/.*)?" if pattern else ".*")


def glob_matches(glob: str, relative: str) -> bool:
    return _glob_regex(glob).fullmatch(relative) is not None


# ---------------------------------------------------------------------------- loading


def _span(file: str, node: yaml.Node | None) -> Span:
    if node is None:
        return Span(file, 1, 1, 1, 2, 0, 1)
    start, end = node.start_mark, node.end_mark
    end_column = end.column + 1  # marks are 0-based, the end exclusive
    if end.line == start.line and end.column <= start.column:
        end_column = start.column + 2
    return Span(
        file, start.line + 1, start.column + 1, end.line + 1, end_column, start.index, end.index
    )


def _error(file: str, node: yaml.Node | None, message: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(CONFIG_ERROR, Severity.ERROR, message, _span(file, node), hint)


def _globs(file: str, key: str, node: yaml.Node, problems: list[Diagnostic]) -> tuple[str, ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    globs: list[str] = []
    for item in items:
        if not isinstance(item, yaml.ScalarNode) or item.tag != "tag:yaml.org,2002:str":
            problems.append(_error(file, item, f"'{key}' holds glob strings, like \"**/*.flow\""))
            continue
        if not item.value.strip() or item.value.startswith("/") or ".." in item.value.split("/"):
            problems.append(
                _error(
                    file,
                    item,
                    f"'{key}' glob {item.value!r} must be relative to {FLOWS_DIR}/",
                    'write it like "billing/**" or "**/*.flow.yaml"',
                )
            )
            continue
        globs.append(item.value)
    return tuple(globs)


def load_config(text: str | None, file: str = CONFIG_FILE) -> tuple[RepoConfig, list[Diagnostic]]:
    """The configuration ``text`` holds (defaults when None) and its problems, each naming the
    line and column at fault."""
    if text is None or not text.strip():
        return RepoConfig(), []
    try:
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        span = Span(file, line, column, line, column + 1, 0, 0)
        return RepoConfig(), [
            Diagnostic(CONFIG_ERROR, Severity.ERROR, f"{file} is not valid YAML: {problem}", span)
        ]
    if root is None:
        return RepoConfig(), []
    if not isinstance(root, yaml.MappingNode):
        return RepoConfig(), [_error(file, root, f"{file} must be a mapping of settings")]
    problems: list[Diagnostic] = []
    values: dict[str, Any] = {}
    for key_node, value_node in root.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key not in _KEYS:
            hint = did_you_mean(str(key), _KEYS)
            problems.append(
                _error(
                    file,
                    key_node,
                    f"unknown setting {key!r} in {file} (settings: {', '.join(_KEYS)})",
                    hint,
                )
            )
            continue
        if key in values:
            problems.append(_error(file, key_node, f"'{key}' is set twice"))
            continue
        if key in ("include", "exclude"):
            values[key] = _globs(file, key, value_node, problems)
        elif key == "prune":
            if value_node.tag != "tag:yaml.org,2002:bool":
                problems.append(_error(file, value_node, "'prune' is true or false"))
            else:
                values[key] = value_node.value.lower() in ("true", "yes", "on")
        elif key == "drift":
            if value_node.tag != "tag:yaml.org,2002:str" or value_node.value not in DRIFT_POLICIES:
                shown = getattr(value_node, "value", None)
                problems.append(
                    _error(
                        file,
                        value_node,
                        f"'drift' is keep or overwrite, not {shown!r}",
                        did_you_mean(str(shown), DRIFT_POLICIES),
                    )
                )
            else:
                values[key] = value_node.value
        elif key == "version" and not (
            isinstance(value_node, yaml.ScalarNode) and value_node.value == "1"
        ):
            problems.append(_error(file, value_node, "'version' is 1 (the only version so far)"))
    if problems:
        return RepoConfig(), problems
    values.pop("version", None)
    return RepoConfig(**values), []
