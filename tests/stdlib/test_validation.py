"""prepare_arguments: defaults, and the same verdicts, messages and fields with the fast check."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowpilot.stdlib import validation
from flowpilot.stdlib.errors import InvalidNodeInput
from flowpilot.stdlib.registry import Category, NodeType, default_registry
from flowpilot.stdlib.validation import prepare_arguments
from tests.stdlib.json_strategies import instances_for

NODE_TYPES = list(default_registry())
HTTP_REQUEST = default_registry().get("http.request")


def outcome(node_type: NodeType, args: dict[str, Any]) -> tuple[Any, ...]:
    try:
        return ("ok", prepare_arguments(node_type, args))
    except InvalidNodeInput as exc:
        return ("invalid", exc.message, exc.field, exc.type, exc.retryable, exc.data)


def outcome_by_jsonschema_alone(node_type: NodeType, args: dict[str, Any]) -> tuple[Any, ...]:
    with mock.patch.object(validation, "_passes", lambda check, instance: False):
        return outcome(node_type, args)


@pytest.mark.parametrize("node_type", NODE_TYPES, ids=lambda t: f"{t.name}@{t.version}")
@settings(max_examples=25)
@given(data=st.data())
def test_prepare_arguments_decides_as_jsonschema_alone_for_every_node_type(
    node_type: NodeType, data: st.DataObject
) -> None:
    args = data.draw(instances_for(dict(node_type.inputs)).filter(lambda a: isinstance(a, dict)))
    assert outcome(node_type, args) == outcome_by_jsonschema_alone(node_type, args)


@pytest.mark.parametrize(
    ("args", "message", "field"),
    [
        ({}, "http.request: missing required argument with.url", "with.url"),
        ({"url": "x", "bogus": 1}, "http.request: unknown argument with.bogus", "with.bogus"),
        (
            {"url": "x", "method": "FETCH"},
            "http.request: invalid with.method: 'FETCH' is not one of "
            "['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']",
            "with.method",
        ),
        (
            {"url": "x", "files": {"f": {"id": "1", "name": "a", "mime_type": "t", "size": -1}}},
            "http.request: invalid with.files.f.size: -1 is less than the minimum of 0",
            "with.files.f.size",
        ),
        (
            {"url": "x", "max_response_bytes": True},
            "http.request: invalid with.max_response_bytes: True is not of type 'integer'",
            "with.max_response_bytes",
        ),
        (
            {"url": "x", "auth": {"type": "bearer"}},
            "http.request: invalid with.auth: {'type': 'bearer'} is not valid under any of the "
            "given schemas",
            "with.auth",
        ),
        (
            {"url": "x", "expected_status": [99]},
            "http.request: invalid with.expected_status[0]: 99 is not valid under any of the "
            "given schemas",
            "with.expected_status[0]",
        ),
        (
            {"url": "x", "headers": {"A": 1}},
            "http.request: invalid with.headers.A: 1 is not of type 'string'",
            "with.headers.A",
        ),
    ],
)
def test_invalid_arguments_are_reported_as_before(
    args: dict[str, Any], message: str, field: str
) -> None:
    with pytest.raises(InvalidNodeInput) as info:
        prepare_arguments(HTTP_REQUEST, args)
    assert (info.value.message, info.value.field, info.value.retryable) == (message, field, False)


def test_valid_arguments_come_back_as_a_new_dict_with_top_level_defaults() -> None:
    args = {"url": "https://example.com/", "method": "POST"}
    prepared = prepare_arguments(HTTP_REQUEST, args)
    assert args == {"url": "https://example.com/", "method": "POST"}
    assert prepared["method"] == "POST"
    assert prepared["timeout"] == "30s"
    assert prepared["follow_redirects"] is True


def _node_type(name: str, inputs: dict[str, Any]) -> NodeType:
    return NodeType(name, 1, Category.LOGIC, "test node", inputs=inputs, output={})


def test_schema_beyond_the_fast_check_is_still_validated_by_jsonschema() -> None:
    node_type = _node_type(
        "test.uses_ref",
        {
            "type": "object",
            "properties": {"name": {"$ref": "#/$defs/name", "default": "anonymous"}},
            "$defs": {"name": {"type": "string", "minLength": 1}},
        },
    )
    assert validation._fast_inputs(node_type).check is None
    assert prepare_arguments(node_type, {}) == {"name": "anonymous"}
    with pytest.raises(InvalidNodeInput, match=r"test.uses_ref: invalid with.name: '' should"):
        prepare_arguments(node_type, {"name": ""})


def test_a_value_the_fast_check_cannot_judge_gets_jsonschemas_answer() -> None:
    # Not JSON, but an expression can produce it: jsonschema's own TypeError surfaces, as before.
    node_type = _node_type("test.odd_number", {"properties": {"n": {"minimum": 0}}})
    with pytest.raises(TypeError, match="'<' not supported"):
        prepare_arguments(node_type, {"n": 1j})
