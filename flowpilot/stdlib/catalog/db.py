"""``db.*``: SQL against the organization's PostgreSQL or MySQL databases.

Values always travel as bound parameters, never spliced into the SQL text, so flows cannot build
injectable statements. A node's ``credential`` lists both kinds (``postgres|mysql``); the
``connection`` argument picks the database.
"""

from __future__ import annotations

from flowpilot.stdlib.catalog._schemas import (
    array,
    boolean,
    connection,
    enum,
    integer,
    node_type,
    obj,
    one_of_types,
    string,
    timeout_arg,
)
from flowpilot.stdlib.registry import Category, NodeType

_KINDS = "postgres|mysql"
_SQL = string(
    "SQL statement. Use placeholders for values: `:name` with an object of `params`, or `%s` "
    "with a list.",
    minLength=1,
)
_PARAMS = one_of_types(
    "Values bound to the placeholders: a list (positional) or an object (named).",
    {"type": "array"},
    {"type": "object"},
)
_COLUMN = obj(
    "A result column.",
    {"name": string("Column name."), "type": string("Database type name, e.g. `numeric`.")},
    ["name", "type"],
)

QUERY = node_type(
    "db.query",
    category=Category.ACTION,
    summary="Run a read-only SQL query and return its rows",
    description="""
Runs `sql` in a read-only transaction and returns the rows as objects keyed by column name.
Numeric and decimal values become numbers, timestamps ISO-8601 strings, JSON columns values.
Statements that write are rejected — use `db.execute` for those.

Output: `{rows, row_count, columns, truncated}` — `truncated` is true when more than
`max_rows` rows matched.
""",
    inputs={
        "sql": _SQL,
        "params": _PARAMS,
        "max_rows": integer(
            "Return at most this many rows.", minimum=1, maximum=1_000_000, default=10000
        ),
        "connection": connection(_KINDS),
        "timeout": timeout_arg("60s", "statement"),
    },
    required=["sql"],
    output=obj(
        "The result set.",
        {
            "rows": array("Rows as objects keyed by column name.", {"type": "object"}),
            "row_count": integer("Number of rows returned.", minimum=0),
            "columns": array("Columns in select order.", _COLUMN),
            "truncated": boolean("More rows matched than `max_rows`."),
        },
        ["rows", "row_count", "columns", "truncated"],
    ),
    credential=_KINDS,
    example="""
- id: overdue
  uses: db.query
  with:
    connection: erp
    sql: >
      select id, customer, total from invoices
      where due_date < now() - make_interval(days => :days) and paid = false
    params: { days: 30 }
""",
)

EXECUTE = node_type(
    "db.execute",
    category=Category.ACTION,
    summary="Run a SQL statement that changes data",
    description="""
Runs `sql` (INSERT, UPDATE, DELETE, DDL, a procedure call …) in its own transaction, once, or
once per parameter set in `batch` (all in the same transaction). `returning` rows (PostgreSQL
`RETURNING`) are collected.

Output: `{row_count, rows}`.
""",
    inputs={
        "sql": _SQL,
        "params": _PARAMS,
        "batch": array(
            "Run the statement once per parameter set, in one transaction.", _PARAMS, minItems=1
        ),
        "connection": connection(_KINDS),
        "timeout": timeout_arg("60s", "statement"),
    },
    required=["sql"],
    output=obj(
        "What changed.",
        {
            "row_count": integer("Rows affected (summed over `batch`).", minimum=0),
            "rows": array("Rows returned by a `RETURNING` clause.", {"type": "object"}),
        },
        ["row_count", "rows"],
    ),
    side_effects=True,
    credential=_KINDS,
    example="""
- id: mark_paid
  uses: db.execute
  with:
    connection: erp
    sql: update invoices set paid = true, paid_at = now() where id = :id
    params: { id: "${{ inputs.invoice_id }}" }
""",
)

INSERT = node_type(
    "db.insert",
    category=Category.ACTION,
    summary="Insert rows into a table (with upsert)",
    description="""
Inserts `rows` (objects keyed by column name) into `table` in batches, in one transaction.
`on_conflict` decides what happens when a row collides with `conflict_columns` (a unique key):
fail, skip it, or update it (an upsert).

Output: `{row_count, inserted, updated}`.
""",
    inputs={
        "table": string(
            "Table name, optionally schema-qualified.",
            pattern=r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$",
        ),
        "rows": array(
            "Rows to insert: objects keyed by column name.", {"type": "object"}, minItems=1
        ),
        "on_conflict": enum(
            "What to do with a row that violates `conflict_columns`.",
            ["error", "skip", "update"],
            default="error",
        ),
        "conflict_columns": array(
            "Columns of the unique key checked by `on_conflict` (PostgreSQL); MySQL uses every "
            "unique key.",
            {"type": "string"},
            minItems=1,
        ),
        "update_columns": array(
            "With `update`: columns to overwrite; every inserted column except the key by default.",
            {"type": "string"},
        ),
        "batch_size": integer("Rows per INSERT statement.", minimum=1, maximum=10000, default=500),
        "connection": connection(_KINDS),
        "timeout": timeout_arg("5m", "insert"),
    },
    required=["table", "rows"],
    output=obj(
        "What changed.",
        {
            "row_count": integer("Rows inserted or updated.", minimum=0),
            "inserted": integer("Rows inserted.", minimum=0),
            "updated": integer("Rows updated by `on_conflict: update`.", minimum=0),
        },
        ["row_count", "inserted", "updated"],
    ),
    side_effects=True,
    credential=_KINDS,
    example="""
- id: load
  uses: db.insert
  with:
    connection: warehouse
    table: staging.orders
    rows: ${{ steps.rows.output.rows }}
    on_conflict: update
    conflict_columns: [order_id]
""",
)

NODE_TYPES: list[NodeType] = [QUERY, EXECUTE, INSERT]
