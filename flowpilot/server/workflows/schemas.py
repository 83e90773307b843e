"""Request and response bodies of the workflows API (workflows, versions, tags, templates)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from flowpilot.dsl.schema_keys import FLOW_ID_PATTERN
from flowpilot.server.schemas import Input, Output

Format = Literal["yaml", "text"]
#: No NUL (PostgreSQL refuses it in text); newlines and tabs are fine in sources and messages.
NO_NUL = r"^[^\x00]*$"
#: Text that is shown and looked up: no control characters at all.
PLAIN_TEXT = r"^[^\x00-\x1f\x7f]*$"
Source = Annotated[str, msgspec.Meta(pattern=NO_NUL, description="The flow's source text.")]
Message = Annotated[
    str, msgspec.Meta(max_length=2000, pattern=NO_NUL, description="What changed and why.")
]
Ref = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=100,
        pattern=PLAIN_TEXT,
        description=(
            "A version: its number (`3` or `v3`), id, tag, hash prefix (7+ hex digits), "
            "`head` or `published`."
        ),
    ),
]
SourcePath = Annotated[
    str,
    msgspec.Meta(
        max_length=500,
        pattern=PLAIN_TEXT,
        description="The file name diagnostics mention (default workflow.flow.yaml / .flow).",
    ),
]

# ---------------------------------------------------------------------------- requests


class WorkflowCreate(Input):
    """A new workflow from source. ``format`` defaults to what ``path`` says, else to the form
    the source is written in."""

    source: Source
    format: Format | None = None
    message: Message = ""
    path: SourcePath | None = None


class WorkflowUpdate(Input):
    """A new version. ``parent_version_id`` is the version the change was made on: when it is
    not the head any more the save is refused (409 ``stale_parent``)."""

    source: Source
    format: Format | None = None
    message: Message = ""
    path: SourcePath | None = None
    parent_version_id: uuid.UUID | None = None


class SourceCheck(Input):
    """Source to validate; nothing is saved."""

    source: Source
    format: Format | None = None
    path: SourcePath | None = None


class RollbackRequest(Input):
    to: Ref
    message: Message | None = None


class TagSet(Input):
    version: Ref


class PublishRequest(Input):
    version: Ref = "head"


class TemplateInstantiate(Input):
    """A workflow from a template, optionally under another flow id and name, in either form."""

    flow_id: Annotated[str, msgspec.Meta(pattern=FLOW_ID_PATTERN)] | None = None
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=PLAIN_TEXT)] | None = (
        None
    )
    format: Format = "yaml"
    message: Message | None = None


# ---------------------------------------------------------------------------- responses


class Diagnostic(Output):
    """A compiler finding; lines and columns are 1-based, ``end_column`` exclusive."""

    code: str
    severity: Literal["error", "warning", "info"]
    message: str
    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    hint: str | None = None


class VersionSummary(Output):
    id: uuid.UUID
    number: int
    hash: str
    plan_hash: str
    format: Format
    message: str
    author_id: uuid.UUID | None
    created_at: datetime


class Workflow(Output):
    id: uuid.UUID
    flow_id: str
    name: str
    description: str
    labels: dict[str, str]
    head: VersionSummary
    published: VersionSummary | None
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    source: str | None = None


class WorkflowSaved(Workflow, kw_only=True):
    """A save: ``created`` is false when the source equalled the head's and nothing was
    written; ``version`` is the version the source is now in."""

    created: bool
    version: VersionSummary
    warnings: list[Diagnostic]


class WorkflowList(Output):
    items: list[Workflow]
    next_cursor: str | None


class Validation(Output):
    ok: bool
    diagnostics: list[Diagnostic]
    flow_id: str | None
    plan_hash: str | None


class CompiledPlan(Output):
    version: VersionSummary
    plan_hash: str
    plan: dict[str, Any]
    warnings: list[Diagnostic]


class WorkflowGraph(Output):
    """The graph view the editor draws (the same JSON ``flowpilot graph`` prints)."""

    version: VersionSummary
    graph: dict[str, Any]


class VersionInfo(VersionSummary, kw_only=True):
    parent_id: uuid.UUID | None
    author_name: str | None
    origin: dict[str, Any]
    tags: list[str]
    head: bool
    published: bool


class VersionDetail(VersionInfo, kw_only=True):
    source: str


class VersionList(Output):
    items: list[VersionInfo]
    next_cursor: str | None


class StepChange(Output):
    """A step present in both versions whose definition differs; ``fields`` are dotted paths
    into its plan node (``args.message``, ``retry.max_attempts``, ``parent``…)."""

    id: str
    kind: str
    fields: list[str]
    before: dict[str, Any]
    after: dict[str, Any]


class StepRef(Output):
    id: str
    kind: str
    parent: str | None


class StepsDiff(Output):
    added: list[StepRef]
    removed: list[StepRef]
    changed: list[StepChange]


class KeyedDiff(Output):
    """Changes to named declarations (inputs, vars, outputs, triggers)."""

    added: list[str]
    removed: list[str]
    changed: list[str]


class VersionDiff(Output):
    from_version: VersionSummary
    to_version: VersionSummary
    identical: bool
    unified: str
    steps: StepsDiff
    inputs: KeyedDiff
    vars: KeyedDiff
    outputs: KeyedDiff
    triggers: KeyedDiff
    settings: list[str]


class Tag(Output):
    name: str
    version: VersionSummary
    created_by: uuid.UUID | None
    created_at: datetime


class TagList(Output):
    items: list[Tag]


class PublishedTrigger(Output):
    id: str
    type: Literal["webhook", "cron", "event"]
    route: str | None
    url_path: str | None
    next_fire_at: datetime | None


class Publication(Output):
    workflow: Workflow
    triggers: list[PublishedTrigger]


class Template(Output):
    id: str
    flow_id: str
    name: str
    description: str
    labels: dict[str, str]
    formats: list[Format]
    node_types: list[str]
    trigger_types: list[str]


class TemplateDetail(Template, kw_only=True):
    sources: dict[str, str]


class TemplateList(Output):
    items: list[Template]
