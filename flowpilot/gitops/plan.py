"""What a sync changes: each flow of the repository against the workflow of the same flow id,
by content hash.

- ``create``: no live workflow has the flow id.
- ``update``: the head's content differs and the head is what this repository last synced
  (or the repository has never synced the workflow: the sync takes it over).
- ``unchanged``: the head has the file's exact content.
- ``drifted``: the head differs and was saved *after* the last version this repository
  synced, with other content than that version's (an edit in the editor or over the API, a
  rollback to another version…; a head that went back to the synced content has not
  drifted). The drift policy decides: ``overwrite`` writes the repository's content over it,
  ``keep`` leaves it.
- ``delete`` (pruning only): a workflow this repository synced whose flow is gone from it. A
  deleted flow that drifted follows the drift policy too.

Pure functions of their inputs, so the server plans and applies with the same decisions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from flowpilot.gitops.config import DriftPolicy, RepoConfig
from flowpilot.gitops.prepare import FlowFile

Action = Literal["create", "update", "unchanged", "drifted", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "unchanged", "drifted", "delete")


@dataclass(frozen=True)
class WorkflowState:
    """A live workflow as the server has it, seen from one repository."""

    workflow_id: Any
    flow_id: str
    head_number: int
    head_hash: str
    head_origin: Mapping[str, Any] = field(default_factory=dict)
    #: The newest version synced from this repository, None when it never synced one.
    synced_number: int | None = None
    synced_commit: str | None = None
    #: The content hash of that version.
    synced_hash: str | None = None
    #: Whether the head is the published version.
    head_published: bool = False

    @property
    def drifted(self) -> bool:
        """Saved after the last sync from this repository, with other content."""
        return (
            self.synced_number is not None
            and self.head_number != self.synced_number
            and self.head_hash != self.synced_hash
        )


@dataclass(frozen=True)
class SyncOptions:
    prune: bool = False
    drift: DriftPolicy = "keep"


def resolve_options(
    config: RepoConfig,
    *,
    prune: bool | None = None,
    drift: DriftPolicy | None = None,
    default_prune: bool = False,
    default_drift: DriftPolicy = "keep",
) -> SyncOptions:
    """The request's choice, else ``flowpilot.yaml``'s, else the repository's setting."""
    return SyncOptions(
        prune=next(v for v in (prune, config.prune, default_prune) if v is not None),
        drift=next(v for v in (drift, config.drift, default_drift) if v is not None),
    )


@dataclass(frozen=True)
class PlanItem:
    action: Action
    flow_id: str
    #: Whether applying writes something (a drifted flow under ``keep`` is left alone).
    writes: bool
    detail: str
    #: The file in the repository (None for a deletion).
    flow: FlowFile | None = None
    state: WorkflowState | None = None

    @property
    def path(self) -> str | None:
        return self.flow.path if self.flow else None


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "an unknown commit"


def _other_repository(state: WorkflowState) -> str | None:
    origin = state.head_origin or {}
    if origin.get("type") == "git":
        return str(origin.get("repository") or "") or None
    return None


def _against(flow: FlowFile, state: WorkflowState, options: SyncOptions) -> PlanItem:
    if flow.hash == state.head_hash:
        return PlanItem(
            "unchanged",
            flow.flow_id,
            False,
            f"version {state.head_number} has this content",
            flow,
            state,
        )
    if state.drifted:
        overwrite = options.drift == "overwrite"
        return PlanItem(
            "drifted",
            flow.flow_id,
            overwrite,
            f"version {state.head_number} was saved after version {state.synced_number}, "
            f"synced from commit {_short(state.synced_commit)}; drift policy "
            f"'{options.drift}': " + ("the repository overwrites it" if overwrite else "kept"),
            flow,
            state,
        )
    if state.synced_number is None:
        other = _other_repository(state)
        detail = (
            f"version {state.head_number} was last synced from {other}; this repository "
            "takes the workflow over"
            if other
            else f"version {state.head_number} was not synced from this repository; the "
            "sync takes the workflow over"
        )
        return PlanItem("update", flow.flow_id, True, detail, flow, state)
    return PlanItem(
        "update",
        flow.flow_id,
        True,
        f"{flow.path} differs from version {state.head_number} "
        f"(synced from commit {_short(state.synced_commit)})",
        flow,
        state,
    )


def _gone(state: WorkflowState, options: SyncOptions) -> PlanItem:
    if state.drifted and options.drift == "keep":
        return PlanItem(
            "drifted",
            state.flow_id,
            False,
            f"gone from the repository, but version {state.head_number} was saved after the "
            "sync; drift policy 'keep': kept",
            None,
            state,
        )
    return PlanItem(
        "delete",
        state.flow_id,
        True,
        f"gone from the repository (last synced as version {state.synced_number} from commit "
        f"{_short(state.synced_commit)}); moved to the trash",
        None,
        state,
    )


def compute_plan(
    flows: Iterable[FlowFile], states: Iterable[WorkflowState], options: SyncOptions
) -> list[PlanItem]:
    """One item per flow of the repository, plus (when pruning) one per workflow this
    repository synced that it no longer has; ordered by flow id."""
    by_flow = {s.flow_id: s for s in states}
    items: list[PlanItem] = []
    present: set[str] = set()
    for flow in flows:
        present.add(flow.flow_id)
        state = by_flow.get(flow.flow_id)
        if state is None:
            items.append(
                PlanItem("create", flow.flow_id, True, f"a new workflow from {flow.path}", flow)
            )
        else:
            items.append(_against(flow, state, options))
    if options.prune:
        for state in by_flow.values():
            if state.flow_id not in present and state.synced_number is not None:
                items.append(_gone(state, options))
    items.sort(key=lambda i: i.flow_id)
    return items


def count(items: Iterable[PlanItem]) -> dict[str, int]:
    """How many items of each action (every action present, zero or more)."""
    counts = dict.fromkeys(ACTIONS, 0)
    for item in items:
        counts[item.action] += 1
    return counts
