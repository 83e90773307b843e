"""The repository's example flows, offered as templates to start a workflow from.

A template is one flow of the examples directory (``<id>.flow.yaml`` and/or its text twin
``<id>.flow``). The directory is ``$FLOWPILOT_TEMPLATES_DIR`` when set, else ``examples/``
beside the ``flowpilot`` package (a source checkout or an editable install). Templates are
compiled once per change of the directory's files, not per request.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import flowpilot
from flowpilot.compiler.pipeline import compile_source, parse_source
from flowpilot.server.errors import FieldError, Invalid, NotFound, Unavailable
from flowpilot.server.workflows.schemas import Template, TemplateDetail

log = logging.getLogger(__name__)

TEMPLATES_ENV = "FLOWPILOT_TEMPLATES_DIR"
_SUFFIXES = {".flow.yaml": "yaml", ".flow.yml": "yaml", ".flow": "text"}


@dataclass(frozen=True)
class LoadedTemplate:
    info: Template
    sources: dict[str, str]


def templates_dir() -> Path:
    """Where the templates are; 503 naming the places looked at when there are none."""
    configured = os.environ.get(TEMPLATES_ENV)
    candidates = (
        [Path(configured)]
        if configured
        else [Path(flowpilot.__file__).resolve().parent.parent / "examples"]
    )
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise Unavailable(
        f"no workflow templates are installed (looked in {looked}); set {TEMPLATES_ENV} to "
        "a directory of .flow.yaml / .flow files",
        code="templates_unavailable",
    )


def _template_id(name: str) -> tuple[str, str] | None:
    for suffix, fmt in _SUFFIXES.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], fmt
    return None


def load_templates() -> dict[str, LoadedTemplate]:
    """Every valid template of :func:`templates_dir`, by id, in id order."""
    directory = templates_dir()
    stamp = tuple(
        sorted(
            (p.name, p.stat().st_mtime_ns, p.stat().st_size)
            for p in directory.iterdir()
            if p.is_file() and _template_id(p.name)
        )
    )
    return _load(str(directory), stamp)


@functools.lru_cache(maxsize=4)
def _load(directory: str, stamp: tuple[tuple[str, int, int], ...]) -> dict[str, LoadedTemplate]:
    sources: dict[str, dict[str, str]] = {}
    for name, _, _ in stamp:
        template_id, fmt = _template_id(name)  # type: ignore[misc]
        text = (Path(directory) / name).read_text(encoding="utf-8")
        sources.setdefault(template_id, {}).setdefault(fmt, text)
    loaded: dict[str, LoadedTemplate] = {}
    for template_id, forms in sorted(sources.items()):
        fmt = "yaml" if "yaml" in forms else "text"
        result = compile_source(forms[fmt], template_id, syntax=fmt)
        if not result.ok or result.plan is None:
            log.warning("template %s does not compile; it is not offered", template_id)
            continue
        plan = result.plan
        flow = plan["flow"]
        nodes = plan.get("nodes", {}).values()
        info = Template(
            id=template_id,
            flow_id=flow["id"],
            name=flow.get("name") or flow["id"],
            description=flow.get("description") or "",
            labels=dict(flow.get("labels") or {}),
            formats=sorted(forms, key=lambda f: f != "yaml"),  # type: ignore[arg-type]
            node_types=sorted({n["node_type"] for n in nodes if n.get("kind") == "uses"}),
            trigger_types=sorted({t["type"] for t in plan.get("triggers") or []}),
        )
        loaded[template_id] = LoadedTemplate(info, forms)
    return loaded


def get_template(template_id: str) -> LoadedTemplate:
    found = load_templates().get(template_id)
    if found is None:
        raise NotFound(f"no template {template_id!r}", code="template_not_found")
    return found


def template_detail(template: LoadedTemplate) -> TemplateDetail:
    fields = {name: getattr(template.info, name) for name in Template.__struct_fields__}
    return TemplateDetail(**fields, sources=dict(template.sources))


def template_source(
    template: LoadedTemplate, fmt: str, flow_id: str | None = None, name: str | None = None
) -> str:
    """The template's source in ``fmt``, under another flow id and name when given.

    Written as it is when nothing changes; otherwise re-printed from its AST by the canonical
    printer (the examples are in canonical form, so only the changed lines differ)."""
    if fmt in template.sources and flow_id is None and name is None:
        return template.sources[fmt]
    original = fmt if fmt in template.sources else next(iter(template.sources))
    flow, diagnostics = parse_source(template.sources[original], template.info.id, original)
    if flow is None:  # cannot happen for a template that compiled; say so if it does
        raise Invalid(
            f"template {template.info.id!r} cannot be read",
            errors=[FieldError("template", diagnostics[0].message if diagnostics else "?")],
        )
    if flow_id is not None:
        flow.id = flow_id
    if name is not None:
        flow.name = name
    if fmt == "text":
        from flowpilot.dsl.text_printer import print_text

        return print_text(flow)
    from flowpilot.dsl.yaml_printer import print_yaml

    return print_yaml(flow)
