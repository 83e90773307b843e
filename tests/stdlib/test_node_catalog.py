"""The built-in node catalogue: every signature is a valid, documented, checkable schema."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
import pytest

from flowpilot.stdlib.registry import BUILTIN_MODULES, Category, NodeType, builtin_node_types

NODE_TYPES = builtin_node_types()
IDS = [t.name for t in NODE_TYPES]
NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


def _properties(schema: Any, path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every property schema, however deeply nested (objects, items, variants)."""
    if not isinstance(schema, Mapping):
        return
    for name, prop in (schema.get("properties") or {}).items():
        yield f"{path}{name}", prop
        yield from _properties(prop, f"{path}{name}.")
    for key in ("items", "additionalProperties"):
        yield from _properties(schema.get(key), f"{path}[{key}].")
    for key in ("anyOf", "oneOf"):
        for i, variant in enumerate(schema.get(key) or []):
            yield from _properties(variant, f"{path}[{key}{i}].")


def _contains_expression(value: Any) -> bool:
    if isinstance(value, str):
        return "${{" in value
    if isinstance(value, list):
        return any(_contains_expression(v) for v in value)
    if isinstance(value, dict):
        return any(_contains_expression(v) for v in value.values())
    return False


def test_catalogue_is_large_and_names_are_unique() -> None:
    assert len(NODE_TYPES) >= 60
    assert len(set(IDS)) == len(IDS)
    assert {"core", "http", "email", "chat", "ai", "documents", "db", "files", "human"} <= {
        t.namespace for t in NODE_TYPES
    }


@pytest.mark.parametrize("module", BUILTIN_MODULES)
def test_every_builtin_module_contributes(module: str) -> None:
    node_types = importlib.import_module(module).NODE_TYPES
    assert node_types
    assert all(isinstance(t, NodeType) for t in node_types)


@pytest.mark.parametrize("node_type", NODE_TYPES, ids=IDS)
def test_schemas_are_valid_draft_2020_12(node_type: NodeType) -> None:
    jsonschema.Draft202012Validator.check_schema(node_type.inputs)
    jsonschema.Draft202012Validator.check_schema(node_type.output)


@pytest.mark.parametrize("node_type", NODE_TYPES, ids=IDS)
def test_node_type_is_documented(node_type: NodeType) -> None:
    assert NAME.match(node_type.name)
    assert node_type.version == 1
    assert isinstance(node_type.category, Category)
    assert node_type.summary and "\n" not in node_type.summary
    assert len(node_type.description) > 80
    assert f"uses: {node_type.name}" in node_type.description  # the YAML example


@pytest.mark.parametrize("node_type", NODE_TYPES, ids=IDS)
def test_every_property_has_a_description(node_type: NodeType) -> None:
    for side, schema in (("inputs", node_type.inputs), ("output", node_type.output)):
        for path, prop in _properties(schema):
            assert prop.get("description"), f"{node_type.name} {side}: {path} has no description"


@pytest.mark.parametrize("node_type", NODE_TYPES, ids=IDS)
def test_inputs_are_closed_objects(node_type: NodeType) -> None:
    """A typo in `with:` must be an error, so no input object accepts unknown keys."""
    inputs = node_type.inputs
    assert inputs["type"] == "object"
    assert inputs["additionalProperties"] is False
    # A top-level anyOf/oneOf would turn the compiler's view of the arguments into a union.
    assert "anyOf" not in inputs and "oneOf" not in inputs
    assert set(node_type.required_arguments) <= set(node_type.arguments)
    for path, prop in _properties(inputs):
        if prop.get("type") == "object" and "properties" in prop and prop["properties"]:
            assert prop.get("additionalProperties") is False, f"{node_type.name}: {path}"


@pytest.mark.parametrize("node_type", NODE_TYPES, ids=IDS)
def test_defaults_are_valid(node_type: NodeType) -> None:
    for path, prop in _properties(node_type.inputs):
        if "default" in prop:
            errors = list(jsonschema.Draft202012Validator(prop).iter_errors(prop["default"]))
            assert not errors, f"{node_type.name}: default of {path} is invalid"


@pytest.mark.parametrize("node_type", NODE_TYPES, ids=IDS)
def test_example_matches_the_signature(node_type: NodeType) -> None:
    """The documented example uses only declared arguments, all required ones, valid values."""
    assert node_type.examples
    for step in node_type.examples:
        assert step["uses"] == node_type.name
        args = step.get("with", {})
        assert set(args) <= set(node_type.arguments), (
            f"unknown: {set(args) - set(node_type.arguments)}"
        )
        assert set(node_type.required_arguments) <= set(args)
        # Expressions are checked by the compiler; validate the literal arguments here.
        literal = {k: v for k, v in args.items() if not _contains_expression(v)}
        schema = {**node_type.inputs, "required": []}
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        errors = [e.message for e in validator.iter_errors(literal)]
        assert not errors, errors


@pytest.mark.parametrize("node_type", NODE_TYPES, ids=IDS)
def test_flags_are_consistent(node_type: NodeType) -> None:
    assert not (node_type.pure and node_type.side_effects)
    assert not (node_type.pure and node_type.credential)
    if node_type.credential:
        assert all(re.fullmatch(r"[a-z][a-z0-9_]*", k) for k in node_type.credential_kinds)
        assert "connection" in node_type.arguments, "credentialed nodes name their connection"
    if node_type.output_from:
        assert node_type.output_from in node_type.arguments


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("email.send", "smtp"),
        ("chat.slack", "slack"),
        ("slack.post_message", "slack"),
        ("chat.teams", "teams"),
        ("chat.discord", "discord"),
        ("ai.generate", "gemini"),
        ("salesforce.create_record", "salesforce"),
        ("github.create_issue", "github"),
        ("files.upload", "s3"),
    ],
)
def test_credential_kinds(name: str, credential: str) -> None:
    assert {t.name: t for t in NODE_TYPES}[name].credential == credential


def test_db_nodes_accept_postgres_and_mysql() -> None:
    query = {t.name: t for t in NODE_TYPES}["db.query"]
    assert query.credential_kinds == ("postgres", "mysql")


def test_side_effects_are_flagged_for_senders_and_writers() -> None:
    by_name = {t.name: t for t in NODE_TYPES}
    for name in (
        "http.request",
        "email.send",
        "chat.slack",
        "db.execute",
        "db.insert",
        "files.write",
        "files.upload",
        "documents.index",
        "jira.create_issue",
    ):
        assert by_name[name].side_effects, name
    for name in ("db.query", "ai.summarize", "documents.extract_text", "core.transform"):
        assert not by_name[name].side_effects, name


def test_pure_nodes_are_cheap_core_logic() -> None:
    pure = {t.name for t in NODE_TYPES if t.pure}
    assert {"core.transform", "core.merge", "core.json_parse", "core.template"} <= pure
    assert all(name.startswith("core.") for name in pure)
    assert "core.uuid" not in pure and "core.datetime" not in pure  # not deterministic


def test_schema_driven_outputs() -> None:
    by_name = {t.name: t for t in NODE_TYPES}
    assert by_name["ai.extract"].output_from == "schema"
    assert by_name["ai.extract"].output == {
        "type": "object",
        "additionalProperties": True,
        "description": "Data matching the `schema` argument.",
    }
    assert by_name["human.form"].output_from == "schema"


def test_template_and_secret_markers() -> None:
    by_name = {t.name: t for t in NODE_TYPES}
    assert by_name["core.log"].arguments["message"]["x-template"] is True
    assert by_name["email.send"].arguments["subject"]["x-template"] is True
    assert by_name["ai.generate"].arguments["prompt"]["x-template"] is True
    assert by_name["http.request"].arguments["headers"]["additionalProperties"]["x-secret"] is True
    bearer = by_name["http.request"].arguments["auth"]["oneOf"][0]
    assert bearer["properties"]["token"]["x-secret"] is True
    # A log message must never accept a secret.
    assert "x-secret" not in by_name["core.log"].arguments["message"]


def test_file_arguments_use_the_file_extension() -> None:
    by_name = {t.name: t for t in NODE_TYPES}
    assert by_name["documents.extract_text"].arguments["file"]["x-type"] == "file"
    attachments = by_name["email.send"].arguments["attachments"]
    assert attachments["items"]["x-type"] == "file"
    assert by_name["files.download"].output["x-type"] == "file"


def test_email_recipients_take_one_or_many_addresses() -> None:
    to = {t.name: t for t in NODE_TYPES}["email.send"].arguments["to"]
    validator = jsonschema.Draft202012Validator(
        to, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert validator.is_valid("a@example.com")
    assert validator.is_valid(["a@example.com", "b@example.com"])
    assert not validator.is_valid("not an address")
    assert not validator.is_valid([])


def test_unknown_argument_is_rejected_at_run_time() -> None:
    log = {t.name: t for t in NODE_TYPES}["core.log"]
    validator = jsonschema.Draft202012Validator(log.inputs)
    assert validator.is_valid({"message": "hi", "level": "info"})
    assert not validator.is_valid({"message": "hi", "levle": "info"})
    assert not validator.is_valid({"message": "hi", "level": "verbose"})
