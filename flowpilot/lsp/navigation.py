"""Go to definition, find references and rename (step ids), from :mod:`occurrences`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams

from flowpilot.compiler.pipeline import CompileResult
from flowpilot.dsl.schema_keys import ID_PATTERN
from flowpilot.lsp.occurrences import (
    FLOW,
    INPUT,
    STEP,
    Occurrence,
    Symbol,
    collect_occurrences,
    occurrence_at,
)

if TYPE_CHECKING:
    from flowpilot.lsp.server import FlowServer
    from flowpilot.lsp.workspace import FlowFile

_STEP_ID = re.compile(ID_PATTERN)
_CACHE: dict[str, tuple[CompileResult, list[Occurrence]]] = {}


def occurrences_of(server: FlowServer, file: FlowFile) -> list[Occurrence]:
    """The occurrences of the file's latest check (cached per check)."""
    result = file.result
    if result is None or result.flow is None:
        return []
    cached = _CACHE.get(file.uri)
    if cached is not None and cached[0] is result:
        return cached[1]
    found = collect_occurrences(result.flow, file.name, result.source, server.flows.registry)
    _CACHE[file.uri] = (result, found)
    return found


def _at(server: FlowServer, uri: str, position: lsp.Position) -> tuple[FlowFile, Occurrence] | None:
    file = server.current(uri)
    if file is None or file.positions is None:
        return None
    hit = occurrence_at(occurrences_of(server, file), file.positions.offset(position))
    return (file, hit) if hit is not None else None


def _location(file: FlowFile, occurrence: Occurrence) -> lsp.Location:
    assert file.positions is not None
    return lsp.Location(
        uri=file.uri, range=file.positions.offsets_range(occurrence.start, occurrence.end)
    )


def _files_for(server: FlowServer, file: FlowFile, symbol: Symbol) -> list[FlowFile]:
    """Files where ``symbol`` may occur. Steps and vars belong to one file. A flow and its
    inputs belong to the file that defines the flow, and are used by ``call:`` steps of the
    other files (a second file declaring the same flow id is a duplicate, not a user)."""
    if symbol.kind not in (FLOW, INPUT):
        return [file]
    home = file if file.flow is not None and file.flow.id == symbol.scope else None
    home = home or server.flows.flow_file(symbol.scope)
    users = [f for f in server.flows.checked() if f.flow is not None and f.flow.id != symbol.scope]
    return [home, *users] if home is not None else users


def find_occurrences(
    server: FlowServer, file: FlowFile, symbol: Symbol
) -> list[tuple[FlowFile, Occurrence]]:
    return [
        (f, o)
        for f in _files_for(server, file, symbol)
        for o in occurrences_of(server, f)
        if o.symbol == symbol
    ]


def definitions(server: FlowServer, uri: str, position: lsp.Position) -> list[lsp.Location]:
    found = _at(server, uri, position)
    if found is None:
        return []
    file, hit = found
    return [
        _location(f, o) for f, o in find_occurrences(server, file, hit.symbol) if o.is_definition
    ]


def references(
    server: FlowServer, uri: str, position: lsp.Position, include_declaration: bool
) -> list[lsp.Location]:
    found = _at(server, uri, position)
    if found is None:
        return []
    file, hit = found
    return [
        _location(f, o)
        for f, o in find_occurrences(server, file, hit.symbol)
        if include_declaration or not o.is_definition
    ]


def prepare_rename(server: FlowServer, uri: str, position: lsp.Position) -> lsp.Range | None:
    found = _at(server, uri, position)
    if found is None or found[1].symbol.kind != STEP:
        return None
    return _location(*found).range


def rename(
    server: FlowServer, uri: str, position: lsp.Position, new_name: str
) -> lsp.WorkspaceEdit | None:
    found = _at(server, uri, position)
    if found is None:
        return None
    file, hit = found
    if hit.symbol.kind != STEP:
        raise JsonRpcInvalidParams("only step ids can be renamed")
    if not _STEP_ID.match(new_name):
        raise JsonRpcInvalidParams(
            f"'{new_name}' is not a valid step id: use lower-case letters, digits and '_', "
            "starting with a letter or '_'"
        )
    flow = file.flow
    if (
        new_name != hit.symbol.name
        and flow is not None
        and any(step.id == new_name for step in flow.all_steps())
    ):
        raise JsonRpcInvalidParams(f"this flow already has a step '{new_name}'")
    edits = [
        lsp.TextEdit(range=_location(f, o).range, new_text=new_name)
        for f, o in find_occurrences(server, file, hit.symbol)
    ]
    return lsp.WorkspaceEdit(changes={file.uri: edits})


def register(server: FlowServer) -> None:
    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: FlowServer, params: lsp.DefinitionParams) -> list[lsp.Location]:
        return definitions(ls, params.text_document.uri, params.position)

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    def find_references(ls: FlowServer, params: lsp.ReferenceParams) -> list[lsp.Location]:
        return references(
            ls, params.text_document.uri, params.position, params.context.include_declaration
        )

    @server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
    def prepare(ls: FlowServer, params: lsp.PrepareRenameParams) -> lsp.Range | None:
        return prepare_rename(ls, params.text_document.uri, params.position)

    @server.feature(lsp.TEXT_DOCUMENT_RENAME)
    def do_rename(ls: FlowServer, params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
        return rename(ls, params.text_document.uri, params.position, params.new_name)
