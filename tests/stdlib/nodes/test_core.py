"""``core.*`` nodes: what a flow author sees in the step output (checked against its schema)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime

import pytest

from flowpilot.stdlib.errors import InvalidNodeInput, NodeError
from flowpilot.stdlib.registry import default_registry

from .conftest import Recorder, run_node


def expr(fn):
    """A lazy ``${{ … }}`` argument, as the test evaluator understands it."""
    return {"$py": fn}


def test_log_writes_the_line_with_level_and_data(recorder: Recorder) -> None:
    out = run_node(
        "core.log",
        {"message": "Invoice 7 has no PO", "level": "warning", "data": {"vendor": "ACME"}},
        recorder.context(),
    )
    assert out == {"logged": True}
    assert recorder.logs == [("warning", "Invoice 7 has no PO", {"vendor": "ACME"})]


def test_log_defaults_to_info_and_keeps_data_named_like_the_line(recorder: Recorder) -> None:
    run_node("core.log", {"message": "hi", "data": {"level": 3}}, recorder.context())
    assert recorder.logs == [("info", "hi", {"data": {"level": 3}})]


def test_noop_passes_value_through() -> None:
    assert run_node("core.noop", {"value": {"a": [1]}}) == {"a": [1]}
    assert run_node("core.noop", {}) is None


ORDERS = [
    {"id": 1, "customer": "a", "total": 1500, "note": "x"},
    {"id": 2, "customer": "b", "total": 200, "note": "y"},
    {"id": 3, "customer": "c", "total": 3000, "note": "z"},
    {"id": 4, "customer": "d", "total": 1200, "note": "w"},
]


def test_transform_filters_picks_sorts_and_limits_like_the_catalogue_example() -> None:
    out = run_node(
        "core.transform",
        {
            "items": ORDERS,
            "filter": expr(lambda item, index: item["total"] > 1000),
            "pick": ["id", "customer", "total"],
            "sort_by": "total",
            "descending": True,
            "limit": 2,
        },
    )
    assert out == [
        {"id": 3, "customer": "c", "total": 3000},
        {"id": 1, "customer": "a", "total": 1500},
    ]


def test_transform_evaluates_filter_and_map_per_element_with_item_and_index() -> None:
    seen = []

    def mapper(item, index):
        seen.append(index)
        return f"{index}:{item}"

    out = run_node(
        "core.transform",
        {"items": ["a", "b", "c", "d"], "filter": expr(lambda item, index: index % 2 == 0),
         "map": expr(mapper)},
    )  # fmt: skip
    # map sees the indices of the filtered list
    assert out == ["0:a", "1:c"] and seen == [0, 1]


def test_transform_filter_uses_flow_truthiness() -> None:
    items = [0, 1, "", "x", [], [0], None, {}]
    out = run_node("core.transform", {"items": items, "filter": expr(lambda item, index: item)})
    assert out == [1, "x", [0]]


def test_transform_unique_after_map_and_sort_by_dotted_path_puts_missing_last() -> None:
    items = [{"c": {"n": 2}}, {"c": {"n": 1}}, {"c": {}}, {"c": {"n": 1}}]
    out = run_node("core.transform", {"items": items, "unique": True, "sort_by": "c.n"})
    assert out == [{"c": {"n": 1}}, {"c": {"n": 2}}, {"c": {}}]
    out = run_node(
        "core.transform", {"items": items, "sort_by": "c.n", "descending": True, "limit": 3}
    )
    assert out == [{"c": {"n": 2}}, {"c": {"n": 1}}, {"c": {"n": 1}}]


def test_transform_sorting_mixed_types_is_a_clear_non_retryable_error() -> None:
    with pytest.raises(NodeError, match=r"cannot be ordered \(int, str\)") as info:
        run_node("core.transform", {"items": [{"k": 1}, {"k": "a"}], "sort_by": "k"})
    assert not info.value.retryable


def test_merge_shallow_deep_and_skip_nulls() -> None:
    objects = [{"a": {"x": 1, "y": 1}, "b": 1}, {"a": {"y": 2}, "b": None}]
    assert run_node("core.merge", {"objects": objects}) == {"a": {"y": 2}, "b": None}
    assert run_node("core.merge", {"objects": objects, "deep": True, "skip_nulls": True}) == {
        "a": {"x": 1, "y": 2},
        "b": 1,
    }
    assert objects[0] == {"a": {"x": 1, "y": 1}, "b": 1}  # inputs are not mutated


def test_json_parse_and_schema_validation() -> None:
    schema = {
        "type": "object",
        "properties": {"enabled": {"type": "boolean"}},
        "required": ["enabled"],
    }
    assert run_node("core.json_parse", {"text": '{"enabled": true}', "schema": schema}) == {
        "enabled": True
    }
    with pytest.raises(NodeError) as info:
        run_node("core.json_parse", {"text": '{"enabled": "yes"}', "schema": schema})
    assert info.value.type == "validation" and not info.value.retryable
    assert "value.enabled" in info.value.message
    with pytest.raises(NodeError) as info:
        run_node("core.json_parse", {"text": "{oops"})
    assert info.value.type == "invalid_json"
    with pytest.raises(NodeError, match="NaN"):
        run_node("core.json_parse", {"text": "[NaN]"})


def test_hash_plain_canonical_json_and_hmac() -> None:
    out = run_node("core.hash", {"value": "abc"})
    assert out == {"hash": hashlib.sha256(b"abc").hexdigest(), "algorithm": "sha256"}
    # Key order does not change the hash of a JSON value.
    assert run_node("core.hash", {"value": {"b": 1, "a": [1, "é"]}}) == run_node(
        "core.hash", {"value": {"a": [1, "é"], "b": 1}}
    )
    expected = hmac.new(b"k3y", b"payload", "sha512").digest()
    out = run_node(
        "core.hash",
        {"value": "payload", "algorithm": "sha512", "hmac_key": "k3y", "encoding": "base64"},
    )
    assert out == {"hash": base64.b64encode(expected).decode(), "algorithm": "hmac-sha512"}
    for algorithm in ("md5", "sha1", "blake2b"):
        assert run_node("core.hash", {"value": "x", "algorithm": algorithm})["hash"] == (
            hashlib.new(algorithm, b"x").hexdigest()
        )


def test_uuid_v4_and_time_ordered_v7() -> None:
    out = run_node("core.uuid", {"count": 3})
    assert len(set(out["uuids"])) == 3 and out["uuid"] == out["uuids"][0]
    assert all(uuid.UUID(u).version == 4 for u in out["uuids"])
    out = run_node("core.uuid", {"version": 7, "count": 50})
    parsed = [uuid.UUID(u) for u in out["uuids"]]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert out["uuids"] == sorted(out["uuids"])
    millis = parsed[0].int >> 80
    assert abs(millis / 1000 - datetime.now(UTC).timestamp()) < 60


def test_datetime_add_calendar_units_in_a_time_zone() -> None:
    out = run_node(
        "core.datetime",
        {"operation": "add", "value": "2025-01-31T10:00:00", "add": {"months": 1, "days": 30},
         "format": "%d %B %Y", "timezone": "Europe/Berlin"},
    )  # fmt: skip
    assert out["iso"] == "2025-03-30T10:00:00+02:00"  # DST began that night: still 10:00 local
    assert out["formatted"] == "30 March 2025"
    assert out["date"] == "2025-03-30" and out["weekday"] == "sunday"
    assert out["timezone"] == "Europe/Berlin" and out["seconds"] is None


def test_datetime_duration_strings_and_negative_amounts() -> None:
    base = {"operation": "add", "value": "2025-06-01T00:00:00Z"}
    assert run_node("core.datetime", {**base, "add": "-2h"})["iso"] == "2025-05-31T22:00:00+00:00"
    assert run_node("core.datetime", {**base, "add": "PT30M"})["iso"] == "2025-06-01T00:30:00+00:00"
    assert run_node("core.datetime", {**base, "add": "P1M"})["iso"] == "2025-07-01T00:00:00+00:00"
    assert run_node("core.datetime", {**base, "add": "3d"})["date"] == "2025-06-04"


def test_datetime_parse_formats_and_diff() -> None:
    out = run_node(
        "core.datetime", {"operation": "parse", "value": "Tue, 01 Jul 2025 10:00:00 +0200"}
    )
    assert out["iso"] == "2025-07-01T08:00:00+00:00"
    out = run_node(
        "core.datetime",
        {"operation": "parse", "value": "01/07/2025 10:00", "input_format": "%d/%m/%Y %H:%M",
         "timezone": "America/New_York"},
    )  # fmt: skip
    assert out["iso"] == "2025-07-01T10:00:00-04:00"
    out = run_node("core.datetime", {"operation": "format", "value": 0, "format": "%Y"})
    assert out["formatted"] == "1970" and out["timestamp"] == 0
    out = run_node(
        "core.datetime",
        {"operation": "diff", "value": "2025-01-01T00:00:00Z", "other": "2025-01-02T01:00:00Z"},
    )
    assert out["seconds"] == 90000


def test_datetime_now_and_bad_input() -> None:
    out = run_node("core.datetime", {})
    assert abs(out["timestamp"] - datetime.now(UTC).timestamp()) < 5
    with pytest.raises(InvalidNodeInput, match="time zone"):
        run_node("core.datetime", {"timezone": "Mars/Olympus"})
    with pytest.raises(NodeError, match="cannot read 'next tuesday'") as info:
        run_node("core.datetime", {"operation": "parse", "value": "next tuesday"})
    assert not info.value.retryable


def test_regex_match_find_all_and_replace() -> None:
    text = "PO-123456 and PO 654321"
    out = run_node("core.regex", {"text": text, "pattern": r"PO[- ]?(?P<number>\d{6})"})
    assert out == {
        "matched": True,
        "match": "PO-123456",
        "groups": {"number": "123456"},
        "matches": ["PO-123456", "PO 654321"],
        "text": text,
    }
    out = run_node(
        "core.regex",
        {"text": text, "pattern": r"po[- ]?(\d+)", "operation": "replace",
         "replacement": r"#\1", "ignore_case": True},
    )  # fmt: skip
    assert out["text"] == "#123456 and #654321"
    out = run_node("core.regex", {"text": "abc", "pattern": "x"})
    assert out == {"matched": False, "match": None, "groups": {}, "matches": [], "text": "abc"}
    with pytest.raises(InvalidNodeInput, match="invalid pattern"):
        run_node("core.regex", {"text": "abc", "pattern": "("})


def test_csv_parse_text_with_header_and_inferred_types() -> None:
    text = "\ufeffid;name;amount;zip;active\n1;Ann;12.5;01234;true\n2;Bob;;99999;FALSE\n\n3;Cy\n"
    out = run_node("core.csv_parse", {"text": text, "infer_types": True})
    assert out["columns"] == ["id", "name", "amount", "zip", "active"]
    assert out["rows"] == [
        {"id": 1, "name": "Ann", "amount": 12.5, "zip": "01234", "active": True},
        {"id": 2, "name": "Bob", "amount": None, "zip": 99999, "active": False},
        {"id": 3, "name": "Cy", "amount": None, "zip": None, "active": None},
    ]
    assert out["row_count"] == 3


def test_csv_parse_file_without_header_and_max_rows(recorder: Recorder) -> None:
    recorder.files["f1"] = 'a,b\nc,"d,e"\nf,g\n'.encode("latin-1")
    ref = {"id": "f1", "name": "x.csv", "mime_type": "text/csv", "size": 14}
    out = run_node(
        "core.csv_parse",
        {"file": ref, "header": False, "max_rows": 2, "encoding": "latin-1"},
        recorder.context(),
    )
    assert out == {"rows": [["a", "b"], ["c", "d,e"]], "columns": [], "row_count": 2}


def test_csv_parse_keeps_every_cell_of_a_ragged_file() -> None:
    out = run_node("core.csv_parse", {"text": "name,amount,amount,\nAnn,1,2,x,,extra\nBob,3,4,\n"})
    assert out["columns"] == ["name", "amount", "amount_2", "column_4"]
    assert out["rows"] == [
        {"name": "Ann", "amount": "1", "amount_2": "2", "column_4": "x", "column_6": "extra"},
        {"name": "Bob", "amount": "3", "amount_2": "4", "column_4": ""},
    ]


def test_csv_parse_needs_exactly_one_source() -> None:
    with pytest.raises(InvalidNodeInput, match="exactly one"):
        run_node("core.csv_parse", {})


def test_core_template_stays_planned() -> None:
    # Its template arrives rendered; `data` and `autoescape` need the runtime's renderer.
    assert not default_registry().get("core.template").implemented
