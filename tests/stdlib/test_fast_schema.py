"""The compiled schema checks give jsonschema's verdict, on every node input schema and beyond."""

from __future__ import annotations

from functools import cache
from types import MappingProxyType
from typing import Any

import jsonschema
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from flowpilot.stdlib.fast_schema import SchemaCheck, compile_schema
from flowpilot.stdlib.registry import NodeType, default_registry
from tests.stdlib.json_strategies import JSON_VALUES, instances_for

NODE_TYPES = list(default_registry())


def jsonschema_verdict(schema: Any, instance: Any) -> bool:
    """What the runtime's fallback decides: draft 2020-12, formats not checked."""
    return jsonschema.Draft202012Validator(schema, format_checker=None).is_valid(instance)


def compiled(schema: Any) -> SchemaCheck:
    check = compile_schema(schema)
    assert check is not None, schema
    return check


# --------------------------------------------------------------------------------------------
# Every registered node type's input schema
# --------------------------------------------------------------------------------------------


@cache
def _node_schema_case(
    name: str, version: int
) -> tuple[SchemaCheck | None, jsonschema.protocols.Validator, st.SearchStrategy[Any]]:
    node_type = default_registry().get(f"{name}@{version}")
    assert node_type is not None
    schema = dict(node_type.inputs)
    validator = jsonschema.Draft202012Validator(schema, format_checker=None)
    return compile_schema(schema), validator, instances_for(schema)


@pytest.mark.parametrize("node_type", NODE_TYPES, ids=lambda t: f"{t.name}@{t.version}")
@given(data=st.data())
def test_fast_verdict_is_jsonschemas_for_every_node_input_schema(
    node_type: NodeType, data: st.DataObject
) -> None:
    check, validator, instances = _node_schema_case(node_type.name, node_type.version)
    if check is None:
        pytest.skip("schema beyond the fast checker; jsonschema validates it")
    instance = data.draw(instances, label="instance")
    expected = validator.is_valid(instance)
    event("valid" if expected else "invalid")
    assert check(instance) == expected


def test_every_builtin_node_input_schema_compiles() -> None:
    # A node type whose schema does not compile is still validated, only ~30x slower per step:
    # extend flowpilot.stdlib.fast_schema rather than let one slip in unnoticed.
    slow = [f"{t.name}@{t.version}" for t in NODE_TYPES if compile_schema(dict(t.inputs)) is None]
    assert slow == []


# --------------------------------------------------------------------------------------------
# Arbitrary schemas made of the supported keywords
# --------------------------------------------------------------------------------------------

_NAMES = st.sampled_from(["a", "b", "ca"])
_PATTERNS = st.sampled_from(["^a", "a", "b$", "^[0-9]+$", "^$", "c"])
_TYPES = st.sampled_from(["null", "boolean", "integer", "number", "string", "array", "object"])
_NUMBERS = st.sampled_from([-1, 0, 1, 2, 0.5, 1.0, 2.5])
_SMALL_VALUES = st.recursive(
    st.sampled_from([None, True, False, 0, 1, 1.0, -1, 2, 2.5, "", "a", "ab", "b", "1", "🚀"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "ca", "x", "1"]), children, max_size=3)
    ),
    max_leaves=6,
)
_ASSERTIONS = {
    "type": _TYPES | st.lists(_TYPES, max_size=3),
    "enum": st.lists(_SMALL_VALUES, max_size=4),
    "const": _SMALL_VALUES,
    "minimum": _NUMBERS,
    "maximum": _NUMBERS,
    "exclusiveMinimum": _NUMBERS,
    "exclusiveMaximum": _NUMBERS,
    "minLength": st.integers(0, 3),
    "maxLength": st.integers(0, 3),
    "pattern": _PATTERNS,
    "minItems": st.integers(0, 3),
    "maxItems": st.integers(0, 3),
    "uniqueItems": st.booleans(),
    "required": st.lists(_NAMES, max_size=3),
    "description": st.just("annotations never change a verdict"),
    "format": st.sampled_from(["email", "date-time", "uri"]),
    "x-secret": st.booleans(),
}


def _with_subschemas(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {},
        optional={
            **_ASSERTIONS,
            "properties": st.dictionaries(_NAMES, children, max_size=3),
            "patternProperties": st.dictionaries(_PATTERNS, children, max_size=2),
            "additionalProperties": children,
            "items": children,
            "prefixItems": st.lists(children, max_size=2),
            "allOf": st.lists(children, max_size=2),
            "anyOf": st.lists(children, max_size=3),
            "oneOf": st.lists(children, max_size=3),
            "not": children,
        },
    )


SCHEMAS = st.recursive(
    st.booleans() | st.fixed_dictionaries({}, optional=_ASSERTIONS),
    _with_subschemas,
    max_leaves=6,
)


@given(
    schema=SCHEMAS,
    instances=st.lists(_SMALL_VALUES | JSON_VALUES, min_size=1, max_size=8),
)
def test_fast_verdict_is_jsonschemas_for_any_schema_of_supported_keywords(
    schema: Any, instances: list[Any]
) -> None:
    check = compiled(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=None)
    for instance in instances:
        assert check(instance) == validator.is_valid(instance), instance


# --------------------------------------------------------------------------------------------
# JSON Schema's subtleties, one by one
# --------------------------------------------------------------------------------------------

SUBTLETIES = [
    # booleans are neither integers nor numbers; an integral float is an integer
    ({"type": "integer"}, True, False),
    ({"type": "number"}, False, False),
    ({"type": "integer"}, 1.0, True),
    ({"type": "integer"}, 1.5, False),
    ({"type": "integer"}, 2**70, True),
    ({"type": "boolean"}, 1, False),
    ({"type": ["string", "null"]}, None, True),
    ({"type": ["string", "null"]}, 0, False),
    ({"type": "array"}, (1, 2), False),
    # numeric bounds ignore other types, and bools
    ({"minimum": 5}, "3", True),
    ({"minimum": 5}, True, True),
    ({"minimum": 1}, 1, True),
    ({"exclusiveMinimum": 1}, 1.0, False),
    ({"exclusiveMaximum": 1}, 0.999, True),
    # enum and const compare with JSON equality: 1 == 1.0 but True != 1, recursively
    ({"enum": [1, 2]}, 1.0, True),
    ({"enum": [1, 2]}, True, False),
    ({"enum": [True]}, 1, False),
    ({"enum": [0]}, False, False),
    ({"enum": ["a", "b"]}, "a", True),
    ({"enum": ["1"]}, 1, False),
    ({"enum": []}, None, False),
    ({"const": [1, {"a": 2}]}, [1.0, {"a": 2.0}], True),
    ({"const": [1]}, [True], False),
    ({"const": {"a": 1}}, {"a": True}, False),
    ({"const": {"a": 1}}, {"a": 1, "b": 1}, False),
    ({"const": None}, None, True),
    ({"const": None}, False, False),
    # pattern is an unanchored search
    ({"pattern": "b"}, "abc", True),
    ({"pattern": "^b"}, "abc", False),
    ({"pattern": "^a"}, 12, True),
    # string length counts code points, not UTF-16 units or bytes
    ({"maxLength": 1}, "🚀", True),
    ({"maxLength": 1}, "e\u0301", False),
    ({"minLength": 2}, "é", False),
    # uniqueItems uses JSON equality too
    ({"uniqueItems": True}, [1, 1.0], False),
    ({"uniqueItems": True}, [1, True], True),
    ({"uniqueItems": True}, [0, False], True),
    ({"uniqueItems": True}, [{"a": 1}, {"a": 1.0}], False),
    ({"uniqueItems": True}, [[1, "a"], [1, "a"]], False),
    ({"uniqueItems": True}, ["a", "b", "a"], False),
    ({"uniqueItems": False}, ["a", "a"], True),
    # objects: properties, patternProperties and additionalProperties work together
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"a": "x"}, True),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"b": 1}, False),
    (
        {"patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": False},
        {"x-a": "1"},
        True,
    ),
    (
        {"patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": False},
        {"x-a": 1},
        False,
    ),
    (
        {"patternProperties": {"^x-": {}}, "additionalProperties": {"type": "integer"}},
        {"y": "1"},
        False,
    ),
    ({"additionalProperties": {"type": "integer"}}, {"a": 1, "b": 2.0}, True),
    ({"required": ["a"]}, {"b": 1}, False),
    ({"required": ["a"]}, ["a"], True),
    ({"properties": {"a": False}}, {"a": None}, False),
    ({"properties": {"a": False}}, {"b": None}, True),
    # arrays: prefixItems then items
    ({"prefixItems": [{"type": "string"}], "items": {"type": "integer"}}, ["a", 1, 2], True),
    ({"prefixItems": [{"type": "string"}], "items": {"type": "integer"}}, [1, 1], False),
    ({"prefixItems": [{"type": "string"}], "items": False}, ["a"], True),
    ({"prefixItems": [{"type": "string"}], "items": False}, ["a", "b"], False),
    ({"minItems": 1, "maxItems": 1}, [], False),
    # combinators
    ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1, False),
    ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1.5, True),
    ({"anyOf": []}, 1, False),
    ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, None, False),
    ({"allOf": [{"minimum": 0}, {"maximum": 1}]}, 2, False),
    ({"not": {"type": "string"}}, "a", False),
    ({"not": {"type": "string"}}, 1, True),
    # annotations: format is not checked; x-* extensions and descriptions are ignored
    ({"type": "string", "format": "email"}, "not an email", True),
    ({"type": "string", "format": "date-time", "x-template": True, "title": "T"}, "x", True),
    (True, {"anything": [1]}, True),
    (False, None, False),
    ({}, None, True),
]


@pytest.mark.parametrize(("schema", "instance", "valid"), SUBTLETIES)
def test_fast_verdict_on_json_schema_subtleties(schema: Any, instance: Any, valid: bool) -> None:
    assert jsonschema_verdict(schema, instance) is valid  # the expectation itself is right
    assert compiled(schema)(instance) is valid


def test_unique_items_keeps_jsonschemas_verdict_where_it_misses_a_duplicate() -> None:
    # jsonschema sorts, then compares neighbours; [1] and [True] sort equal but are not JSON-equal,
    # so the two [1] never meet. The fast check must say the same, not the "right" thing.
    schema, instance = {"uniqueItems": True}, [[1], [True], [1]]
    assert compiled(schema)(instance) is jsonschema_verdict(schema, instance)


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/name", "$defs": {"name": {"type": "string"}}},
        {"type": "integer", "multipleOf": 2},
        {"if": {"type": "string"}, "then": {"minLength": 1}},
        {"properties": {"tags": {"type": "array", "contains": {"const": "a"}}}},
        {"unevaluatedProperties": False},
        {"dependentRequired": {"a": ["b"]}},
        {"some_typo": 1},
        {"$schema": "http://json-schema.org/draft-07/schema#", "type": "string"},
        {"items": [{"type": "string"}]},
        {"type": "int"},
        {"pattern": "("},
        {"minLength": "3"},
        {"required": "a"},
        {"uniqueItems": 1},
        {"properties": MappingProxyType({"a": {}})},
        {"properties": {"a": 1}},
    ],
    ids=repr,
)
def test_schemas_beyond_the_fast_checker_compile_to_none(schema: dict[str, Any]) -> None:
    assert compile_schema(schema) is None


def test_schema_of_draft_2020_12_declared_explicitly_compiles() -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string"}
    check = compiled(schema)
    assert check("a") and not check(1)


def test_schema_nested_deeper_than_python_allows_compiles_to_none() -> None:
    schema: dict[str, Any] = {"type": "integer"}
    for _ in range(40):
        schema = {"type": "array", "items": schema}
    assert compile_schema(schema) is None
