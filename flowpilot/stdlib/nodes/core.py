"""``core.*``: logging and the cheap data steps (transform, merge, parse, hash, dates, regex, CSV).

``core.template`` is not here: its template reaches the node already rendered, so ``data`` and
``autoescape`` must be honoured by the renderer in the runtime, not by the node.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from flowpilot.stdlib.context import NodeContext
from flowpilot.stdlib.errors import InvalidNodeInput, NodeError
from flowpilot.stdlib.nodes._datetime import core_datetime


def core_log(ctx: NodeContext, args: dict[str, Any]) -> dict[str, Any]:
    data = args.get("data") or {}
    if "level" in data or "message" in data:
        ctx.log(args.get("level", "info"), args["message"], data=data)
    else:
        ctx.log(args.get("level", "info"), args["message"], **data)
    return {"logged": True}


def core_noop(ctx: NodeContext, args: dict[str, Any]) -> Any:
    return args.get("value")


# --------------------------------------------------------------------------------------------
# core.transform
# --------------------------------------------------------------------------------------------


def core_transform(ctx: NodeContext, args: dict[str, Any]) -> list[Any]:
    items = list(args["items"])
    if "filter" in args:
        condition = args["filter"]
        items = [
            el for i, el in enumerate(items) if ctx.evaluate(condition, {"item": el, "index": i})
        ]
    if "map" in args:
        expression = args["map"]
        items = [ctx.evaluate(expression, {"item": el, "index": i}) for i, el in enumerate(items)]
    if "pick" in args:
        keys = args["pick"]
        items = [
            {k: el[k] for k in keys if k in el} if isinstance(el, dict) else el for el in items
        ]
    if args.get("unique"):
        items = _unique(items)
    if args.get("sort_by"):
        items = _sorted(items, args["sort_by"], args.get("descending", False))
    if args.get("limit") is not None:
        items = items[: args["limit"]]
    return items


def _unique(items: list[Any]) -> list[Any]:
    seen: set[str] = set()
    kept = []
    for el in items:
        key = json.dumps(el, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            kept.append(el)
    return kept


_MISSING = object()


def _lookup(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif (
            isinstance(value, list)
            and part.lstrip("-").isdigit()
            and -len(value) <= int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _sorted(items: list[Any], path: str, descending: bool) -> list[Any]:
    """Sort by ``path``; elements without a value there (or null) go last either way."""
    keyed = [(_lookup(el, path), el) for el in items]
    present = [(k, el) for k, el in keyed if k is not _MISSING and k is not None]
    absent = [el for k, el in keyed if k is _MISSING or k is None]
    try:
        present.sort(key=lambda pair: pair[0], reverse=descending)
    except TypeError:
        kinds = sorted({type(k).__name__ for k, _ in present})
        raise NodeError(
            f"core.transform: cannot sort by {path!r}: its values cannot be ordered "
            f"({', '.join(kinds)}); sort by a key holding numbers, strings or booleans",
            type="invalid_input",
            retryable=False,
        ) from None
    return [el for _, el in present] + absent


# --------------------------------------------------------------------------------------------
# core.merge, core.json_parse
# --------------------------------------------------------------------------------------------


def core_merge(ctx: NodeContext, args: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for obj in args["objects"]:
        _merge_into(merged, obj, args.get("deep", False), args.get("skip_nulls", False))
    return merged


def _merge_into(
    target: dict[str, Any], source: Mapping[str, Any], deep: bool, skip_nulls: bool
) -> None:
    for key, value in source.items():
        if value is None and skip_nulls:
            continue
        if deep and isinstance(value, dict) and isinstance(target.get(key), dict):
            nested = dict(target[key])
            _merge_into(nested, value, deep, skip_nulls)
            target[key] = nested
        else:
            target[key] = value


def core_json_parse(ctx: NodeContext, args: dict[str, Any]) -> Any:
    import jsonschema

    try:
        value = json.loads(args["text"], parse_constant=_reject_constant)
    except ValueError as exc:
        raise NodeError(
            f"core.json_parse: the text is not valid JSON: {exc}",
            type="invalid_json",
            retryable=False,
        ) from None
    schema = args.get("schema")
    if schema:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise InvalidNodeInput(
                f"core.json_parse: `schema` is not a valid JSON Schema: {exc.message}",
                field="with.schema",
            ) from None
        error = jsonschema.exceptions.best_match(cls(schema).iter_errors(value))
        if error is not None:
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
            why = error.message if len(error.message) <= 300 else error.message[:300] + "…"
            raise NodeError(
                f"core.json_parse: the parsed value does not match `schema` at "
                f"{'value' + where}: {why}",
                type="validation",
                retryable=False,
                data={"path": "value" + where},
            )
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# --------------------------------------------------------------------------------------------
# core.hash, core.uuid
# --------------------------------------------------------------------------------------------


def core_hash(ctx: NodeContext, args: dict[str, Any]) -> dict[str, str]:
    import base64
    import hashlib
    import hmac

    value = args["value"]
    if isinstance(value, str):
        data = value.encode("utf-8")
    else:
        data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    algorithm = args.get("algorithm", "sha256")
    key = args.get("hmac_key")
    if key is not None:
        digest = hmac.new(key.encode("utf-8"), data, algorithm).digest()
        name = f"hmac-{algorithm}"
    else:
        digest = hashlib.new(algorithm, data, usedforsecurity=False).digest()
        name = algorithm
    if args.get("encoding", "hex") == "hex":
        encoded = digest.hex()
    else:
        encoded = base64.b64encode(digest).decode("ascii")
    return {"hash": encoded, "algorithm": name}


def core_uuid(ctx: NodeContext, args: dict[str, Any]) -> dict[str, Any]:
    import uuid

    count = args.get("count", 1)
    if args.get("version", 4) == 7:
        uuids = sorted(_uuid7() for _ in range(count))
    else:
        uuids = [uuid.uuid4() for _ in range(count)]
    texts = [str(u) for u in uuids]
    return {"uuid": texts[0], "uuids": texts}


def _uuid7() -> Any:
    """RFC 9562 UUIDv7: 48-bit Unix milliseconds, 12 bits of sub-millisecond time, 62 random."""
    import os
    import time
    import uuid

    ns = time.time_ns()
    ms, sub_ms = divmod(ns, 1_000_000)
    rand_a = sub_ms * 4096 // 1_000_000
    rand_b = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return uuid.UUID(int=value)


# --------------------------------------------------------------------------------------------
# core.regex
# --------------------------------------------------------------------------------------------


def core_regex(ctx: NodeContext, args: dict[str, Any]) -> dict[str, Any]:
    flags = (re.IGNORECASE if args.get("ignore_case") else 0) | (
        re.MULTILINE if args.get("multiline") else 0
    )
    try:
        pattern = re.compile(args["pattern"], flags)
    except re.error as exc:
        raise InvalidNodeInput(
            f"core.regex: invalid pattern: {exc}", field="with.pattern"
        ) from None
    text = args["text"]
    found = list(pattern.finditer(text))
    first = found[0] if found else None
    result_text = text
    if args.get("operation", "match") == "replace":
        try:
            result_text = pattern.sub(args.get("replacement", ""), text)
        except (re.error, IndexError) as exc:
            raise InvalidNodeInput(
                f"core.regex: invalid replacement: {exc}", field="with.replacement"
            ) from None
    return {
        "matched": first is not None,
        "match": first.group(0) if first else None,
        "groups": first.groupdict() if first else {},
        "matches": [m.group(0) for m in found],
        "text": result_text,
    }


# --------------------------------------------------------------------------------------------
# core.csv_parse
# --------------------------------------------------------------------------------------------

_INTEGER = re.compile(r"[-+]?(?:0|[1-9]\d*)")
_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+(?:\.\d*)?[eE][-+]?\d+)")


def core_csv_parse(ctx: NodeContext, args: dict[str, Any]) -> dict[str, Any]:
    import csv
    import io

    text = _csv_text(ctx, args)
    delimiter = args.get("delimiter") or _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    infer = args.get("infer_types", False)
    max_rows = args.get("max_rows")
    columns: list[str] = []
    rows: list[Any] = []
    try:
        for cells in reader:
            if not cells:
                continue  # blank line
            if args.get("header", True) and not columns:
                columns = _column_names(cells)
                continue
            values = [_infer(c) for c in cells] if infer else cells
            if columns:
                rows.append(_row_object(columns, values, None if infer else ""))
            else:
                rows.append(values)
            if max_rows is not None and len(rows) >= max_rows:
                break
    except csv.Error as exc:
        raise NodeError(
            f"core.csv_parse: malformed CSV at line {reader.line_num}: {exc}",
            type="invalid_csv",
            retryable=False,
        ) from None
    return {"rows": rows, "columns": columns, "row_count": len(rows)}


def _column_names(cells: list[str]) -> list[str]:
    """Header names, unique: blanks become ``column_N`` and repeats get ``_2``, ``_3`` …"""
    names: list[str] = []
    for i, cell in enumerate(cells, start=1):
        base = cell.strip() or f"column_{i}"
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}_{n}"
        names.append(name)
    return names


def _row_object(columns: list[str], values: list[Any], missing: Any) -> dict[str, Any]:
    """A row keyed by the header; short rows are padded, and cells past the header are kept
    as ``column_N`` (N counts from 1) rather than dropped."""
    row = {name: values[i] if i < len(values) else missing for i, name in enumerate(columns)}
    for i in range(len(columns), len(values)):
        if values[i] not in ("", None):
            row[f"column_{i + 1}"] = values[i]
    return row


def _csv_text(ctx: NodeContext, args: Mapping[str, Any]) -> str:
    if ("text" in args) == ("file" in args):
        raise InvalidNodeInput("core.csv_parse: give exactly one of `text` and `file`")
    if "text" in args:
        return args["text"].removeprefix("\ufeff")
    encoding = args.get("encoding", "utf-8")
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # spreadsheets often start UTF-8 CSV with a byte-order mark
    try:
        return ctx.read_file(args["file"]).decode(encoding)
    except LookupError:
        raise InvalidNodeInput(
            f"core.csv_parse: unknown encoding {encoding!r}", field="with.encoding"
        ) from None
    except UnicodeDecodeError as exc:
        raise NodeError(
            f"core.csv_parse: the file is not valid {args.get('encoding', 'utf-8')} text "
            f"(byte {exc.start}); set `encoding`",
            type="invalid_csv",
            retryable=False,
        ) from None


def _sniff_delimiter(text: str) -> str:
    """The Sniffer's guess; else the candidate most frequent in the first line; else a comma."""
    import csv

    candidates = ",;\t|"
    try:
        return csv.Sniffer().sniff(text[: 64 * 1024], delimiters=candidates).delimiter
    except csv.Error:
        pass
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {c: first.count(c) for c in candidates}
    best = max(counts, key=lambda c: counts[c])
    return best if counts[best] else ","


def _infer(cell: str) -> Any:
    stripped = cell.strip()
    if stripped == "":
        return None
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    # Leading zeros (ZIP codes, account numbers) stay text.
    if _INTEGER.fullmatch(stripped):
        return int(stripped)
    if _FLOAT.fullmatch(stripped) and not re.match(r"[-+]?0\d", stripped):
        number = float(stripped)
        if number not in (float("inf"), float("-inf")):
            return number
    return cell


IMPLEMENTATIONS = {
    "core.log": core_log,
    "core.noop": core_noop,
    "core.transform": core_transform,
    "core.merge": core_merge,
    "core.json_parse": core_json_parse,
    "core.hash": core_hash,
    "core.uuid": core_uuid,
    "core.datetime": core_datetime,
    "core.regex": core_regex,
    "core.csv_parse": core_csv_parse,
}
