"""Hypothesis strategies for JSON values, and for instances of a JSON Schema: built to fit the
schema, then now and then mutated at one spot, so that both verdicts come up often."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

from hypothesis import strategies as st

# Values where JSON Schema's rules are easy to get wrong: bools against numbers, integral
# floats, duplicates under JSON equality, empty containers, astral code points.
TRICKY = st.sampled_from(
    [
        *(True, False, 0, 1, 1.0, -1, 0.5, 3.0, 2**64, -1e300, "", "a", "1", "🚀", None),
        *([], {}, [1, True], ["a", "a"], [1, 1.0], [{"a": 1}, {"a": 1.0}], {"a": True}),
    ]
)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS | TRICKY,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=10,
)


def instances_for(schema: Any) -> st.SearchStrategy[Any]:
    """Instances built from ``schema`` (mostly valid), mutations of them, and arbitrary JSON."""
    built = _built(schema)
    return st.one_of(built, built.flatmap(_mutated), JSON_VALUES)


def _built(schema: Any) -> st.SearchStrategy[Any]:
    if not isinstance(schema, dict):
        return JSON_VALUES
    if "enum" in schema:
        return st.sampled_from(schema["enum"]) if schema["enum"] else JSON_VALUES
    if "const" in schema:
        return st.just(schema["const"])
    branches = schema.get("anyOf", []) + schema.get("oneOf", [])
    if branches:
        return st.one_of([_built(branch) for branch in branches])
    types = schema.get("type")
    if types is None:
        return JSON_VALUES
    examples = [copy.deepcopy(e) for e in schema.get("examples", [])]
    by_type = [_BY_TYPE[t](schema) for t in ([types] if isinstance(types, str) else types)]
    return st.one_of(*by_type, *([st.sampled_from(examples)] if examples else []))


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if "pattern" in schema:
        return st.from_regex(schema["pattern"])
    low = schema.get("minLength", 0)
    return st.text(min_size=low, max_size=schema.get("maxLength", low + 12))


def _integer(schema: dict[str, Any]) -> st.SearchStrategy[int | float]:
    ints = _integers_between(schema.get("minimum"), schema.get("maximum"))
    # 3.0 is an integer in draft 2020-12.
    return ints | ints.filter(lambda i: abs(i) < 2**53).map(float)


def _number(schema: dict[str, Any]) -> st.SearchStrategy[int | float]:
    low, high = schema.get("minimum"), schema.get("maximum")
    floats = st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)
    return floats | _integers_between(low, high)


def _integers_between(low: float | None, high: float | None) -> st.SearchStrategy[int]:
    return st.integers(
        min_value=None if low is None else math.ceil(low),
        max_value=None if high is None else math.floor(high),
    )


def _array(schema: dict[str, Any]) -> st.SearchStrategy[list[Any]]:
    low = schema.get("minItems", 0)
    return st.lists(
        _built(schema.get("items", True)),
        min_size=low,
        max_size=schema.get("maxItems", low + 3),
        unique_by=_json_key if schema.get("uniqueItems") else None,
    )


def _object(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    named = st.fixed_dictionaries(
        {name: _built(properties.get(name, True)) for name in required},
        optional={name: _built(sub) for name, sub in properties.items() if name not in required},
    )
    extra = schema.get("additionalProperties", True)
    if extra is False:
        return named
    others = st.dictionaries(
        st.text(max_size=8).filter(lambda k: k not in properties), _built(extra), max_size=3
    )
    return st.builds(lambda a, b: {**b, **a}, named, others)


_BY_TYPE = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": lambda schema: st.booleans(),
    "null": lambda schema: st.none(),
    "array": _array,
    "object": _object,
}


def _json_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@st.composite
def _mutated(draw: st.DrawFn, instance: Any) -> Any:
    """``instance`` with one spot replaced by an arbitrary value, deleted, or added to."""
    instance = copy.deepcopy(instance)
    spots = list(_spots(instance))
    container, key = draw(st.sampled_from(spots))
    value = draw(JSON_VALUES)
    if container is None:
        return value
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        container[key] = value
    elif action == "delete":
        del container[key]
    elif isinstance(container, dict):
        container[draw(st.text(max_size=8))] = value
    else:
        container.append(value)
    return instance


def _spots(value: Any, container: Any = None, key: Any = None) -> Any:
    yield container, key
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _spots(v, value, k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _spots(v, value, i)
