"""``core.*``: logging and the cheap, deterministic data steps the engine runs inline."""

from __future__ import annotations

from flowpilot.stdlib.catalog._schemas import (
    any_value,
    array,
    boolean,
    date_time,
    enum,
    file,
    integer,
    json_schema_arg,
    node_type,
    nullable,
    number,
    obj,
    one_of_types,
    open_object,
    secret_string,
    string,
    template,
)
from flowpilot.stdlib.registry import Category, NodeType

LOG = node_type(
    "core.log",
    category=Category.ACTION,
    summary="Write a message to the execution log",
    description="""
Renders `message` (a template) and appends it to the execution's log at `level`, with optional
structured `data`. Secrets can never flow into a log message (the compiler reports E601).

Output: `{logged: true}`.
""",
    inputs={
        "message": template("The message; a Jinja2 template.", minLength=1),
        "level": enum("Log level.", ["debug", "info", "warning", "error"], default="info"),
        "data": open_object("Structured context stored with the log line."),
    },
    required=["message"],
    output=obj(
        "Confirmation that the line was written.",
        {"logged": boolean("Always true.", const=True)},
        ["logged"],
    ),
    example="""
- id: note
  uses: core.log
  with:
    level: warning
    message: "Invoice {{ inputs.number }} has no PO number"
    data: { vendor: "${{ steps.fields.output.vendor }}" }
""",
)

NOOP = node_type(
    "core.noop",
    category=Category.LOGIC,
    summary="Do nothing; pass `value` through",
    description="""
A placeholder step. Useful while sketching a flow, as a join point that other steps reference,
or to give an expression a step id (`steps.<id>.output`).

Output: the `value` argument unchanged, or null.
""",
    inputs={"value": any_value("Returned as the output, unchanged.", default=None)},
    output=any_value("The `value` argument, or null."),
    pure=True,
    example="""
- id: todo
  uses: core.noop
  with: { value: "${{ inputs.customer }}" }
""",
)

TRANSFORM = node_type(
    "core.transform",
    category=Category.LOGIC,
    summary="Filter, map, pick, sort and limit a list",
    description="""
Applies, in this order, to each element of `items`: `filter` (keep elements for which it is
true), `map` (replace the element by the expression's value), `pick` (keep only these keys of
object elements), then sorts by `sort_by` and keeps the first `limit` elements.

`filter` and `map` are expressions evaluated *per element* with `item` (the element) and `index`
in scope — they are not evaluated before the step runs (`"x-lazy": true`).

Output: the resulting array.
""",
    inputs={
        "items": array("The list to transform.", {}),
        "filter": any_value(
            "Boolean expression over `item`/`index`; elements where it is false are dropped.",
            **{"x-lazy": True},
        ),
        "map": any_value(
            "Expression over `item`/`index` whose value replaces each element.",
            **{"x-lazy": True},
        ),
        "pick": array("Keep only these keys of each (object) element.", {"type": "string"}),
        "sort_by": string("Sort by this key of each element (a dotted path is allowed)."),
        "descending": boolean("Sort in descending order.", default=False),
        "unique": boolean("Drop duplicate elements (after map and pick).", default=False),
        "limit": integer("Keep at most this many elements.", minimum=0),
    },
    required=["items"],
    output=array("The transformed list.", {}),
    pure=True,
    example="""
- id: big_orders
  uses: core.transform
  with:
    items: ${{ steps.fetch.output.json.orders }}
    filter: ${{ item.total > 1000 }}
    pick: [id, customer, total]
    sort_by: total
    descending: true
    limit: 10
""",
)

MERGE = node_type(
    "core.merge",
    category=Category.LOGIC,
    summary="Merge objects into one",
    description="""
Merges `objects` left to right: a key in a later object overrides the same key in an earlier
one. With `deep: true`, nested objects are merged recursively (arrays are still replaced).

Output: the merged object.
""",
    inputs={
        "objects": array(
            "Objects to merge, lowest priority first.", {"type": "object"}, minItems=1
        ),
        "deep": boolean(
            "Merge nested objects recursively instead of replacing them.", default=False
        ),
        "skip_nulls": boolean("Ignore keys whose value is null.", default=False),
    },
    required=["objects"],
    output=open_object("The merged object."),
    pure=True,
    example="""
- id: payload
  uses: core.merge
  with:
    objects: ["${{ vars.defaults }}", "${{ steps.fields.output }}", { source: flowpilot }]
""",
)

JSON_PARSE = node_type(
    "core.json_parse",
    category=Category.LOGIC,
    summary="Parse JSON text, optionally validating it against a schema",
    description="""
Parses `text` as JSON. When `schema` is given the value is validated against it (the step fails
with error type `validation` otherwise) and the compiler types the output with that schema.

Output: the parsed value.
""",
    inputs={
        "text": string("JSON text."),
        "schema": json_schema_arg("JSON Schema the parsed value must satisfy; types the output."),
    },
    required=["text"],
    output=any_value("The parsed JSON value."),
    output_from="schema",
    pure=True,
    example="""
- id: config
  uses: core.json_parse
  with:
    text: ${{ steps.download.output.text }}
    schema: { type: object, properties: { enabled: { type: boolean } }, required: [enabled] }
""",
)

TEMPLATE = node_type(
    "core.template",
    category=Category.LOGIC,
    summary="Render a Jinja2 template to text",
    description="""
Renders `template` with the flow's names (`inputs`, `vars`, `steps` …) and the extra `data`
(available as `data`). Use it to build a report once and reuse it in several messages.

Output: `{text}`.
""",
    inputs={
        "template": template("The Jinja2 template."),
        "data": open_object("Extra values available in the template as `data`."),
        "autoescape": boolean("HTML-escape interpolated values (for HTML output).", default=False),
        "trim": boolean("Strip leading and trailing whitespace from the result.", default=True),
    },
    required=["template"],
    output=obj("The rendered text.", {"text": string("The rendered text.")}, ["text"]),
    pure=True,
    example="""
- id: report
  uses: core.template
  with:
    template: |
      {% for row in steps.rows.output.rows %}
      - {{ row.name }}: {{ row.total }} EUR
      {% endfor %}
""",
)

HASH = node_type(
    "core.hash",
    category=Category.LOGIC,
    summary="Hash or HMAC-sign a value",
    description="""
Hashes `value` (a string as UTF-8; any other value as canonical JSON with sorted keys). With
`hmac_key`, computes an HMAC instead — e.g. to sign an outgoing webhook.

Output: `{hash, algorithm}`.
""",
    inputs={
        "value": any_value("What to hash: a string, or any JSON value (hashed as canonical JSON)."),
        "algorithm": enum(
            "Hash algorithm.", ["sha256", "sha512", "sha1", "md5", "blake2b"], default="sha256"
        ),
        "encoding": enum("Encoding of the digest.", ["hex", "base64"], default="hex"),
        "hmac_key": secret_string("Compute an HMAC with this key instead of a plain hash."),
    },
    required=["value"],
    output=obj(
        "The digest.",
        {
            "hash": string("The encoded digest."),
            "algorithm": string("The algorithm used (`hmac-sha256` for an HMAC)."),
        },
        ["hash", "algorithm"],
    ),
    pure=True,
    example="""
- id: dedupe_key
  uses: core.hash
  with: { value: "${{ trigger.body }}", algorithm: sha256 }
""",
)

UUID = node_type(
    "core.uuid",
    category=Category.LOGIC,
    summary="Generate UUIDs",
    description="""
Generates one or more random UUIDs. Version 7 UUIDs are time-ordered, which makes them good
database keys.

Output: `{uuid, uuids}` — `uuid` is the first of `uuids`.
""",
    inputs={
        "version": enum("UUID version.", [4, 7], default=4),
        "count": integer("How many UUIDs to generate.", minimum=1, maximum=1000, default=1),
    },
    output=obj(
        "The generated UUIDs.",
        {
            "uuid": string("The first generated UUID.", format="uuid"),
            "uuids": array("All generated UUIDs.", {"type": "string", "format": "uuid"}),
        },
        ["uuid", "uuids"],
    ),
    example="""
- id: request_id
  uses: core.uuid
  with: { version: 7 }
""",
)

_UNITS = ("years", "months", "weeks", "days", "hours", "minutes", "seconds")

DATETIME = node_type(
    "core.datetime",
    category=Category.LOGIC,
    summary="Get, parse, shift, format and compare dates and times",
    description="""
One step for common date arithmetic:

- `now` — the current time (the default);
- `parse` — read `value` (ISO-8601, RFC 2822, a Unix timestamp, or `input_format`);
- `add` — shift `value` (or now) by `add` (negative amounts go back in time);
- `format` — render `value` with `format`;
- `diff` — the time from `value` (or now) to `other`, in seconds.

Every operation returns the resulting instant in several shapes. Calendar arithmetic (months,
days across DST changes) happens in `timezone`.

Output: `{iso, date, timestamp, timezone, weekday, formatted, seconds}`.
""",
    inputs={
        "operation": enum("What to do.", ["now", "parse", "add", "format", "diff"], default="now"),
        "value": one_of_types(
            "The instant to work on: ISO-8601 text or a Unix timestamp. Defaults to now.",
            {"type": "string"},
            {"type": "number"},
        ),
        "input_format": string(
            "strftime pattern to parse `value` with, when it is not ISO-8601.",
            examples=["%d/%m/%Y %H:%M"],
        ),
        "add": one_of_types(
            "Amount to add: a duration (`3d`, `-2h`, `PT30M`) or calendar units.",
            {"type": "string", "pattern": r"^-?(?:\d+(?:\.\d+)?(?:ms|s|m|h|d)|P\S+)$"},
            obj(
                "Calendar units; negative values go back in time.",
                {u: integer(f"Number of {u}.") for u in _UNITS},
            ),
        ),
        "other": one_of_types(
            "Second instant for `diff` (ISO-8601 text or a Unix timestamp).",
            {"type": "string"},
            {"type": "number"},
        ),
        "format": string(
            "strftime pattern for `formatted`; `iso` gives ISO-8601.",
            default="iso",
            examples=["%Y-%m-%d", "%d %B %Y, %H:%M"],
        ),
        "timezone": string(
            "IANA time zone for calendar arithmetic and output.",
            default="UTC",
            examples=["Europe/Berlin", "America/New_York"],
        ),
    },
    output=obj(
        "The resulting instant.",
        {
            "iso": date_time("ISO-8601 timestamp with offset."),
            "date": string("Calendar date in `timezone`.", format="date"),
            "timestamp": number("Unix time in seconds."),
            "timezone": string("Time zone of `iso`, `date` and `formatted`."),
            "weekday": enum(
                "Day of the week in `timezone`.",
                ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
            ),
            "formatted": string("The instant rendered with `format`."),
            "seconds": nullable(number("For `diff`: seconds from `value` to `other`.")),
        },
        ["iso", "date", "timestamp", "timezone", "weekday", "formatted", "seconds"],
    ),
    pure=False,
    example="""
- id: due
  uses: core.datetime
  with:
    operation: add
    value: ${{ steps.fields.output.invoice_date }}
    add: { days: 30 }
    format: "%d %B %Y"
    timezone: Europe/Berlin
""",
)

REGEX = node_type(
    "core.regex",
    category=Category.LOGIC,
    summary="Match, extract or replace with a regular expression",
    description="""
Runs a Python regular expression over `text`. `match` reports whether and where it matches,
with named groups; `find_all` returns every match; `replace` substitutes `replacement`
(`\\1` or `\\g<name>` refer to groups).

Output: `{matched, match, groups, matches, text}`.
""",
    inputs={
        "text": string("Text to search."),
        "pattern": string("Regular expression (Python syntax).", minLength=1),
        "operation": enum("What to do.", ["match", "find_all", "replace"], default="match"),
        "replacement": string("Replacement for `replace`.", default=""),
        "ignore_case": boolean("Case-insensitive matching.", default=False),
        "multiline": boolean("`^` and `$` match at line boundaries.", default=False),
    },
    required=["text", "pattern"],
    output=obj(
        "The result.",
        {
            "matched": boolean("Whether the pattern matched at least once."),
            "match": nullable(string("The first match, or null.")),
            "groups": open_object("Named groups of the first match (unmatched groups are null)."),
            "matches": array("Every match (`find_all`).", {"type": "string"}),
            "text": string("The text after replacement (`replace`), else the input text."),
        },
        ["matched", "match", "groups", "matches", "text"],
    ),
    pure=True,
    example="""
- id: po
  uses: core.regex
  with:
    text: ${{ steps.text.output.text }}
    pattern: "PO[- ]?(?P<number>\\\\d{6})"
""",
)

CSV_PARSE = node_type(
    "core.csv_parse",
    category=Category.LOGIC,
    summary="Parse CSV text or a CSV file into rows",
    description="""
Parses CSV from `text` or `file` (give one). With `header: true` each row is an object keyed by
the header line; otherwise each row is an array of strings. Values stay strings unless
`infer_types` is set.

Output: `{rows, columns, row_count}`.
""",
    inputs={
        "text": string("CSV text."),
        "file": file("A CSV file."),
        "delimiter": string("Field delimiter; detected when omitted.", minLength=1, maxLength=1),
        "header": boolean("The first line holds column names.", default=True),
        "infer_types": boolean("Convert numbers, booleans and empty cells (null).", default=False),
        "encoding": string("Text encoding of `file`.", default="utf-8"),
        "max_rows": integer("Stop after this many rows.", minimum=1),
    },
    output=obj(
        "The parsed rows.",
        {
            "rows": array("Rows: objects with `header`, else arrays of cells.", {}),
            "columns": array("Column names (with `header`).", {"type": "string"}),
            "row_count": integer("Number of rows returned.", minimum=0),
        },
        ["rows", "columns", "row_count"],
    ),
    pure=True,
    example="""
- id: rows
  uses: core.csv_parse
  with: { file: "${{ inputs.upload }}", infer_types: true }
""",
)

NODE_TYPES: list[NodeType] = [
    LOG,
    NOOP,
    TRANSFORM,
    MERGE,
    JSON_PARSE,
    TEMPLATE,
    HASH,
    UUID,
    DATETIME,
    REGEX,
    CSV_PARSE,
]
