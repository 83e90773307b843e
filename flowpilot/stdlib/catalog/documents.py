"""``documents.*``: reading, converting and generating documents, and searchable collections.

PDF work uses PyMuPDF; collections are chunked, embedded with Gemini and stored in PostgreSQL
with pgvector (full-text search for the keyword mode).
"""

from __future__ import annotations

from flowpilot.stdlib.catalog._schemas import (
    array,
    boolean,
    connection,
    enum,
    file,
    file_list,
    integer,
    node_type,
    nullable,
    number,
    obj,
    open_object,
    page_range,
    string,
    template,
)
from flowpilot.stdlib.registry import Category, NodeType

_LANGUAGES = array(
    "OCR languages as Tesseract codes; improves accuracy for non-English scans.",
    {"type": "string", "pattern": "^[a-z]{3}(_[a-z]+)?$"},
    default=["eng"],
    examples=[["eng", "deu"]],
)
_PAGES = page_range("Pages to process (1-based, e.g. `1-3,7`, `2-`); all when omitted.")
_COLLECTION = string("Collection name; created on first use.", pattern="^[a-z0-9][a-z0-9_-]{0,62}$")

EXTRACT_TEXT = node_type(
    "documents.extract_text",
    category=Category.DOCUMENT,
    summary="Extract the text of a PDF, Office document, image or web page",
    description="""
Returns the text of `file`. Digital PDFs and Office files are read directly; scanned pages are
run through OCR when `ocr` is `auto` (pages without a text layer) or `always`.

Output: `{text, pages, page_texts, mime_type, ocr_pages}` — `page_texts[i]` is page `i + 1`.
""",
    inputs={
        "file": file("The document (PDF, DOCX, XLSX, PPTX, HTML, TXT, PNG, JPEG, TIFF …)."),
        "ocr": enum("When to run OCR.", ["auto", "always", "never"], default="auto"),
        "pages": _PAGES,
        "languages": _LANGUAGES,
        "layout": enum(
            "Keep the visual layout (columns, tables aligned) or plain reading order.",
            ["reading_order", "layout"],
            default="reading_order",
        ),
    },
    required=["file"],
    output=obj(
        "The extracted text.",
        {
            "text": string("All extracted text, pages separated by form feeds."),
            "pages": integer("Number of pages in the document.", minimum=0),
            "page_texts": array("Text per processed page.", {"type": "string"}),
            "mime_type": string("Detected media type of the file."),
            "ocr_pages": array("Pages (1-based) that went through OCR.", {"type": "integer"}),
        },
        ["text", "pages", "page_texts", "mime_type", "ocr_pages"],
    ),
    example="""
- id: text
  uses: documents.extract_text
  with: { file: "${{ inputs.document }}", ocr: auto, languages: [eng, deu] }
""",
)

_BOX = array(
    "Bounding box `[x0, y0, x1, y1]` in points.", {"type": "number"}, minItems=4, maxItems=4
)

OCR = node_type(
    "documents.ocr",
    category=Category.DOCUMENT,
    summary="Recognize text in scans and images, with word positions",
    description="""
Runs OCR on every page of a scanned PDF or an image and returns the text with a confidence and
the position of each word — for redaction, checkbox detection or highlighting. To simply get
the text of any document, `documents.extract_text` is enough.

Output: `{text, pages, confidence}`.
""",
    inputs={
        "file": file("A scanned PDF or an image (PNG, JPEG, TIFF)."),
        "pages": _PAGES,
        "languages": _LANGUAGES,
        "dpi": integer("Rendering resolution for PDF pages.", minimum=72, maximum=600, default=300),
        "words": boolean("Include word boxes in the output.", default=False),
    },
    required=["file"],
    output=obj(
        "The recognized text.",
        {
            "text": string("All recognized text."),
            "confidence": number("Mean word confidence, 0..1.", minimum=0, maximum=1),
            "pages": array(
                "Per page.",
                obj(
                    "A page.",
                    {
                        "page": integer("Page number, 1-based.", minimum=1),
                        "text": string("Text of the page."),
                        "confidence": number("Mean word confidence, 0..1.", minimum=0, maximum=1),
                        "words": array(
                            "Recognized words (with `words: true`).",
                            obj(
                                "A word.",
                                {
                                    "text": string("The word."),
                                    "confidence": number("Confidence, 0..1.", minimum=0, maximum=1),
                                    "box": _BOX,
                                },
                                ["text", "confidence", "box"],
                            ),
                        ),
                    },
                    ["page", "text", "confidence", "words"],
                ),
            ),
        },
        ["text", "confidence", "pages"],
    ),
    example="""
- id: scan
  uses: documents.ocr
  with: { file: "${{ inputs.scan }}", languages: [deu], words: true }
""",
)

TO_PDF = node_type(
    "documents.to_pdf",
    category=Category.DOCUMENT,
    summary="Convert a document, image or HTML to PDF",
    description="""
Converts `file` (Office documents, images, HTML, Markdown, text) — or `html` given inline — to
PDF, e.g. to archive an email or attach a generated report.

Output: `{file, pages}`.
""",
    inputs={
        "file": file("The document to convert."),
        "html": template("HTML to render instead of `file`; a template."),
        "name": string(
            "File name of the PDF; derived from the input when omitted.", pattern=r"\.pdf$"
        ),
        "page_size": enum(
            "Paper size (HTML, text and images).", ["A4", "Letter", "Legal", "A3"], default="A4"
        ),
        "landscape": boolean("Landscape orientation.", default=False),
    },
    output=obj(
        "The PDF.",
        {"file": file("The generated PDF."), "pages": integer("Page count.", minimum=1)},
        ["file", "pages"],
    ),
    example="""
- id: pdf
  uses: documents.to_pdf
  with: { file: "${{ steps.report.output.file }}" }
""",
)

_SHEET_INFO = obj(
    "A worksheet.",
    {
        "name": string("Sheet name."),
        "rows": integer("Number of data rows.", minimum=0),
        "columns": integer("Number of columns.", minimum=0),
    },
    ["name", "rows", "columns"],
)

READ_XLSX = node_type(
    "documents.read_xlsx",
    category=Category.DOCUMENT,
    summary="Read rows from an Excel workbook (or CSV/ODS)",
    description="""
Reads one sheet of `file` into rows. With `header_row` each row is an object keyed by that row's
cells; set `header_row: 0` to get arrays of cells instead. Dates become ISO-8601 strings,
formulas their last computed value.

Output: `{rows, columns, row_count, sheet, sheets}`.
""",
    inputs={
        "file": file("The workbook (.xlsx, .xlsm, .xls, .ods, .csv)."),
        "sheet": string("Sheet name; the first sheet when omitted."),
        "header_row": integer(
            "Row (1-based) holding column names; 0 = no header.", minimum=0, default=1
        ),
        "range": string(
            "Cell range to read, e.g. `A1:F200`.", pattern="^[A-Z]+[0-9]+:[A-Z]+[0-9]*$"
        ),
        "skip_empty_rows": boolean("Leave out rows whose cells are all empty.", default=True),
        "max_rows": integer("Stop after this many rows.", minimum=1, default=100000),
    },
    required=["file"],
    output=obj(
        "The rows.",
        {
            "rows": array("Rows: objects keyed by header, or arrays of cells.", {}),
            "columns": array("Column names (from the header row).", {"type": "string"}),
            "row_count": integer("Number of rows returned.", minimum=0),
            "sheet": string("Name of the sheet read."),
            "sheets": array("All sheets of the workbook.", _SHEET_INFO),
        },
        ["rows", "columns", "row_count", "sheet", "sheets"],
    ),
    example="""
- id: rows
  uses: documents.read_xlsx
  with: { file: "${{ inputs.workbook }}", sheet: Orders }
""",
)

WRITE_XLSX = node_type(
    "documents.write_xlsx",
    category=Category.DOCUMENT,
    summary="Write rows to a new Excel workbook",
    description="""
Creates an .xlsx file from `rows` (objects — keys become the header — or arrays of cells). For
several sheets use `sheets` instead. Headers are bold and frozen, columns sized to fit.

Output: `{file, row_count}`.
""",
    inputs={
        "rows": array("Rows for a single sheet.", {"type": ["object", "array"]}),
        "columns": array(
            "Column order and header names for object rows; default: keys in first-seen order.",
            {"type": "string"},
        ),
        "sheet": string("Sheet name for `rows`.", default="Sheet1", maxLength=31),
        "sheets": array(
            "Several sheets.",
            obj(
                "A sheet.",
                {
                    "name": string("Sheet name.", maxLength=31),
                    "rows": array("Rows of the sheet.", {"type": ["object", "array"]}),
                    "columns": array("Column order and header names.", {"type": "string"}),
                },
                ["name", "rows"],
            ),
            minItems=1,
        ),
        "name": string("File name.", default="export.xlsx", pattern=r"\.xlsx$"),
    },
    output=obj(
        "The workbook.",
        {
            "file": file("The generated workbook."),
            "row_count": integer("Rows written, over all sheets.", minimum=0),
        },
        ["file", "row_count"],
    ),
    example="""
- id: export
  uses: documents.write_xlsx
  with:
    rows: ${{ steps.query.output.rows }}
    sheet: Overdue
    name: overdue-invoices.xlsx
""",
)

READ_DOCX = node_type(
    "documents.read_docx",
    category=Category.DOCUMENT,
    summary="Read the text, headings and tables of a Word document",
    description="""
Reads a .docx file into plain text, a list of paragraphs with their styles, and its tables
(each a list of rows of cell texts).

Output: `{text, paragraphs, tables, properties}`.
""",
    inputs={
        "file": file("The Word document (.docx)."),
        "include_headers": boolean("Include page headers and footers in `text`.", default=False),
    },
    required=["file"],
    output=obj(
        "The document's content.",
        {
            "text": string("All body text."),
            "paragraphs": array(
                "Paragraphs in order.",
                obj(
                    "A paragraph.",
                    {
                        "text": string("Paragraph text."),
                        "style": string("Style name, e.g. `Heading 1`."),
                    },
                    ["text", "style"],
                ),
            ),
            "tables": array(
                "Tables: rows of cell texts.",
                {"type": "array", "items": {"type": "array", "items": {"type": "string"}}},
            ),
            "properties": obj(
                "Core document properties.",
                {
                    "title": nullable(string("Title.")),
                    "author": nullable(string("Author.")),
                    "created": nullable(string("Creation time.", format="date-time")),
                    "modified": nullable(string("Last modification time.", format="date-time")),
                },
                ["title", "author", "created", "modified"],
            ),
        },
        ["text", "paragraphs", "tables", "properties"],
    ),
    example="""
- id: contract
  uses: documents.read_docx
  with: { file: "${{ inputs.contract }}" }
""",
)

RENDER = node_type(
    "documents.render",
    category=Category.DOCUMENT,
    summary="Fill a Word template with data (DOCX or PDF out)",
    description="""
Renders a .docx `template` that contains Jinja2 tags (`{{ customer.name }}`, `{% for line in
lines %}` table rows …) with `data`, and returns the document as DOCX or PDF — offer letters,
quotes, contracts.

Output: `{file}`.
""",
    inputs={
        "template": file("The .docx template."),
        "data": open_object("Values available in the template."),
        "format": enum("Output format.", ["docx", "pdf"], default="docx"),
        "name": string("File name of the result; derived from the template when omitted."),
    },
    required=["template", "data"],
    output=obj("The rendered document.", {"file": file("The rendered document.")}, ["file"]),
    example="""
- id: offer
  uses: documents.render
  with:
    template: ${{ inputs.offer_template }}
    data: { candidate: "${{ inputs.candidate }}", salary: "${{ inputs.salary }}" }
    format: pdf
""",
)

SPLIT_PDF = node_type(
    "documents.split_pdf",
    category=Category.DOCUMENT,
    summary="Split a PDF into several PDFs",
    description="""
Splits `file` into one PDF per page range in `ranges`, or into chunks of `every` pages
(`every: 1` gives one file per page).

Output: `{files, count}`.
""",
    inputs={
        "file": file("The PDF to split."),
        "ranges": array("Page ranges, one output file each.", _PAGES, minItems=1),
        "every": integer("Split into chunks of this many pages.", minimum=1),
    },
    required=["file"],
    output=obj(
        "The parts.",
        {
            "files": file_list("The resulting PDFs, in order."),
            "count": integer("Number of parts.", minimum=0),
        },
        ["files", "count"],
    ),
    example="""
- id: pages
  uses: documents.split_pdf
  with: { file: "${{ inputs.batch_scan }}", every: 1 }
""",
)

MERGE_PDF = node_type(
    "documents.merge_pdf",
    category=Category.DOCUMENT,
    summary="Merge PDFs into one",
    description="""
Concatenates `files` in order into one PDF (images are converted to pages), optionally with a
bookmark per input.

Output: `{file, pages}`.
""",
    inputs={
        "files": file_list("PDFs (or images) to merge, in order.", minItems=1),
        "name": string("File name of the result.", default="merged.pdf", pattern=r"\.pdf$"),
        "bookmarks": boolean("Add a bookmark per input file.", default=True),
    },
    required=["files"],
    output=obj(
        "The merged PDF.",
        {"file": file("The merged PDF."), "pages": integer("Page count.", minimum=0)},
        ["file", "pages"],
    ),
    example="""
- id: bundle
  uses: documents.merge_pdf
  with:
    files: ["${{ steps.cover.output.file }}", "${{ inputs.invoice }}"]
    name: invoice-bundle.pdf
""",
)

INDEX = node_type(
    "documents.index",
    category=Category.DOCUMENT,
    summary="Add a document to a searchable collection (pgvector)",
    description="""
Extracts the text of `file` (or takes `text`), splits it into overlapping chunks, embeds each
chunk with Gemini and stores it in `collection` with `metadata`. Re-indexing the same
`document_id` replaces its chunks. Search the collection with `documents.search` or answer
questions from it with `ai.answer`.

Output: `{document_id, chunks, collection}`.
""",
    inputs={
        "collection": _COLLECTION,
        "file": file("Document to index."),
        "text": string("Text to index instead of a file.", minLength=1),
        "document_id": string(
            "Stable id of the document; re-indexing it replaces it. Derived from the content "
            "when omitted.",
            minLength=1,
        ),
        "title": string("Title shown in search results and citations."),
        "metadata": open_object("Filterable metadata stored with every chunk (scalars)."),
        "chunk_size": integer(
            "Target chunk size in tokens.", minimum=64, maximum=4096, default=512
        ),
        "chunk_overlap": integer(
            "Tokens shared by consecutive chunks.", minimum=0, maximum=1024, default=64
        ),
        "connection": connection("gemini"),
    },
    required=["collection"],
    output=obj(
        "The indexed document.",
        {
            "document_id": string("Id of the indexed document."),
            "chunks": integer("Number of chunks stored.", minimum=0),
            "collection": string("The collection."),
        },
        ["document_id", "chunks", "collection"],
    ),
    side_effects=True,
    credential="gemini",
    example="""
- id: index
  uses: documents.index
  with:
    collection: hr-policies
    file: ${{ trigger.body.file }}
    metadata: { country: DE, department: hr }
""",
)

SEARCH = node_type(
    "documents.search",
    category=Category.DOCUMENT,
    summary="Search a document collection (semantic, keyword or hybrid)",
    description="""
Finds the chunks of `collection` most relevant to `query`: `semantic` compares embeddings,
`keyword` uses PostgreSQL full-text search, `hybrid` fuses both rankings. `filter` restricts the
search to chunks whose metadata has the given values.

Output: `{results}`, best first.
""",
    inputs={
        "collection": _COLLECTION,
        "query": string("What to look for.", minLength=1),
        "top_k": integer("Maximum number of results.", minimum=1, maximum=100, default=5),
        "mode": enum("Ranking method.", ["semantic", "keyword", "hybrid"], default="hybrid"),
        "filter": open_object(
            "Metadata filter: field → required value (or list of allowed values)."
        ),
        "min_score": number(
            "Leave out results scoring below this.", minimum=0, maximum=1, default=0
        ),
        "connection": connection("gemini"),
    },
    required=["collection", "query"],
    output=obj(
        "The matches.",
        {
            "results": array(
                "Matching chunks, best first.",
                obj(
                    "A match.",
                    {
                        "document_id": string("Id of the document."),
                        "chunk": integer("Index of the chunk in the document.", minimum=0),
                        "score": number("Relevance, 0..1.", minimum=0, maximum=1),
                        "text": string("Text of the chunk."),
                        "title": nullable(string("Title of the document.")),
                        "metadata": open_object("Metadata of the document."),
                    },
                    ["document_id", "chunk", "score", "text", "title", "metadata"],
                ),
            )
        },
        ["results"],
    ),
    credential="gemini",
    example="""
- id: similar
  uses: documents.search
  with:
    collection: support-tickets
    query: ${{ trigger.body.subject }}
    top_k: 3
""",
)

NODE_TYPES: list[NodeType] = [
    EXTRACT_TEXT,
    OCR,
    TO_PDF,
    READ_XLSX,
    WRITE_XLSX,
    READ_DOCX,
    RENDER,
    SPLIT_PDF,
    MERGE_PDF,
    INDEX,
    SEARCH,
]
