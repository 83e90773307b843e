"""The runtime's JSON text: compact UTF-8, jsonb-safe, and the same values back."""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from flowpilot.runtime.codec import dumps, loads

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_text_reads_back_as_the_same_value_as_the_json_module_reads_it(value: object) -> None:
    text = dumps(value)
    assert json.loads(text) == value
    assert loads(text) == json.loads(text)


def test_text_is_compact_and_keeps_non_ascii_characters() -> None:
    assert dumps({"name": "Zoë", "n": [1, 2.5]}) == '{"name":"Zoë","n":[1,2.5]}'


def test_floats_jsonb_refuses_become_null() -> None:
    assert dumps([math.nan, math.inf]) == "[null,null]"


def test_keys_msgspec_refuses_fall_back_to_the_json_module() -> None:
    assert json.loads(dumps({True: 1, None: 2})) == {"true": 1, "null": 2}
