"""Office-suite integrations: ``google_sheets.*``, ``google_drive.*``, ``notion.*``."""

from __future__ import annotations

from flowpilot.stdlib.catalog._schemas import (
    array,
    boolean,
    connection,
    date_time,
    enum,
    file,
    integer,
    node_type,
    obj,
    open_object,
    string,
    template,
    uri,
)
from flowpilot.stdlib.registry import Category, NodeType

_SPREADSHEET = string(
    "Spreadsheet id (from its URL: `/spreadsheets/d/<id>/`).",
    pattern="^[A-Za-z0-9_-]{20,}$",
)
_SHEET = string("Sheet (tab) name; the first sheet when omitted.", examples=["Sheet1", "Orders"])

SHEETS_APPEND = node_type(
    "google_sheets.append_rows",
    category=Category.INTEGRATION,
    summary="Append rows to a Google Sheet",
    description="""
Appends `rows` after the last row of the sheet's table. Object rows are matched to the header
row by column name (unknown keys are an error unless `ignore_unknown_columns`); array rows are
written as-is. With `value_input: user_entered`, values are parsed as if typed (formulas,
dates, numbers).

Output: `{updated_range, row_count}`.
""",
    inputs={
        "spreadsheet_id": _SPREADSHEET,
        "sheet": _SHEET,
        "rows": array(
            "Rows: objects keyed by header, or arrays of cells.",
            {"type": ["object", "array"]},
            minItems=1,
        ),
        "value_input": enum(
            "How values are interpreted.", ["user_entered", "raw"], default="user_entered"
        ),
        "ignore_unknown_columns": boolean(
            "Drop object keys with no matching header.", default=False
        ),
        "connection": connection("google"),
    },
    required=["spreadsheet_id", "rows"],
    output=obj(
        "What was written.",
        {
            "updated_range": string("A1 range written, e.g. `Orders!A12:F14`."),
            "row_count": integer("Rows appended.", minimum=0),
        },
        ["updated_range", "row_count"],
    ),
    side_effects=True,
    credential="google",
    example="""
- id: log_row
  uses: google_sheets.append_rows
  with:
    spreadsheet_id: 1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789
    sheet: Invoices
    rows:
      - vendor: ${{ steps.fields.output.vendor }}
        total: ${{ steps.fields.output.total }}
        received: ${{ now() }}
""",
)

SHEETS_READ = node_type(
    "google_sheets.read_rows",
    category=Category.INTEGRATION,
    summary="Read rows from a Google Sheet",
    description="""
Reads `range` (or the whole sheet) as rows — objects keyed by the header row, or arrays of
cells with `header: false`. Empty trailing rows are skipped.

Output: `{rows, columns, row_count}`.
""",
    inputs={
        "spreadsheet_id": _SPREADSHEET,
        "sheet": _SHEET,
        "range": string(
            "A1 range within the sheet, e.g. `A1:F500`.", pattern="^[A-Z]+[0-9]*(:[A-Z]+[0-9]*)?$"
        ),
        "header": boolean("The first row holds column names.", default=True),
        "value_render": enum(
            "How cells are returned: as displayed, as raw values, or formulas.",
            ["formatted", "unformatted", "formula"],
            default="unformatted",
        ),
        "connection": connection("google"),
    },
    required=["spreadsheet_id"],
    output=obj(
        "The rows.",
        {
            "rows": array("Rows: objects keyed by header, or arrays of cells.", {}),
            "columns": array("Column names (with `header`).", {"type": "string"}),
            "row_count": integer("Rows returned.", minimum=0),
        },
        ["rows", "columns", "row_count"],
    ),
    credential="google",
    example="""
- id: prices
  uses: google_sheets.read_rows
  with: { spreadsheet_id: 1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789, sheet: Prices }
""",
)

DRIVE_UPLOAD = node_type(
    "google_drive.upload",
    category=Category.INTEGRATION,
    summary="Upload a file to Google Drive",
    description="""
Uploads `file` into `folder_id` (My Drive root when omitted; shared drives are supported). With
`convert`, Office files become Google Docs/Sheets/Slides.

Output: `{id, name, url, mime_type}`.
""",
    inputs={
        "file": file("The file to upload."),
        "folder_id": string("Id of the destination folder."),
        "name": string("Name in Drive; the file's name when omitted."),
        "convert": boolean("Convert Office files to the Google format.", default=False),
        "replace_existing": boolean(
            "Upload as a new version of a file with the same name in the folder.", default=False
        ),
        "share_with": array(
            "Email addresses that get reader access.", {"type": "string", "format": "email"}
        ),
        "connection": connection("google"),
    },
    required=["file"],
    output=obj(
        "The Drive file.",
        {
            "id": string("Drive file id."),
            "name": string("Name in Drive."),
            "url": uri("Link to open the file."),
            "mime_type": string("Media type in Drive."),
        },
        ["id", "name", "url", "mime_type"],
    ),
    side_effects=True,
    credential="google",
    example="""
- id: to_drive
  uses: google_drive.upload
  with:
    file: ${{ steps.export.output.file }}
    folder_id: 0B1x2y3z4FolderId
""",
)

NOTION_CREATE_PAGE = node_type(
    "notion.create_page",
    category=Category.INTEGRATION,
    summary="Create a Notion page or database entry",
    description="""
Creates a page under `parent_page_id`, or an entry in `database_id` (give one). `properties`
uses the Notion API format; for a database entry, `title` fills its title property. `content`
(Markdown, a template) becomes the page's blocks.

Output: `{id, url, created_time}`.
""",
    inputs={
        "database_id": string("Database to add an entry to.", pattern="^[0-9a-fA-F-]{32,36}$"),
        "parent_page_id": string(
            "Page to create a sub-page under.", pattern="^[0-9a-fA-F-]{32,36}$"
        ),
        "title": template("Page title; a template.", minLength=1),
        "properties": open_object(
            'Database properties in Notion API format, e.g. `{Status: {select: {name: "Open"}}}`.'
        ),
        "content": template("Page body (Markdown); a template."),
        "icon": string("An emoji used as the page icon.", maxLength=8),
        "connection": connection("notion"),
    },
    required=["title"],
    output=obj(
        "The new page.",
        {
            "id": string("Page id."),
            "url": uri("Link to the page."),
            "created_time": date_time("Creation time."),
        },
        ["id", "url", "created_time"],
    ),
    side_effects=True,
    credential="notion",
    example="""
- id: notes
  uses: notion.create_page
  with:
    database_id: 9f2b1c3d4e5f60718293a4b5c6d7e8f9
    title: "Call with {{ inputs.customer }}"
    properties: { Status: { select: { name: Open } } }
    content: "{{ steps.tldr.output.summary }}"
""",
)

NODE_TYPES: list[NodeType] = [SHEETS_APPEND, SHEETS_READ, DRIVE_UPLOAD, NOTION_CREATE_PAGE]
