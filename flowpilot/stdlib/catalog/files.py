"""``files.*``: the organization's file store, downloads, and S3-compatible object storage.

Paths address FlowPilot's file store (``invoices/2025/acme.pdf``); they are relative, use ``/``
and cannot climb out of the organization's space with ``..``.
"""

from __future__ import annotations

from flowpilot.stdlib.catalog._schemas import (
    HEADERS,
    HTTP_AUTH,
    any_value,
    boolean,
    connection,
    date_time,
    enum,
    file,
    file_list,
    integer,
    node_type,
    nullable,
    obj,
    string,
    string_map,
    timeout_arg,
    uri,
)
from flowpilot.stdlib.registry import Category, NodeType

_PATH_PATTERN = r"^(?!/)(?!.*(^|/)\.\.(/|$))[^\x00]+$"


def _path(description: str, **extra: object) -> dict[str, object]:
    return string(description, pattern=_PATH_PATTERN, minLength=1, **extra)


READ = node_type(
    "files.read",
    category=Category.ACTION,
    summary="Read a file's content as text, JSON or base64",
    description="""
Reads a file — a file value (`file`) or a path in the file store (`path`); give one — and
returns its content decoded `as` text, parsed JSON or base64.

Output: `{file, text, json, base64}`; the fields not asked for are null.
""",
    inputs={
        "file": file("The file to read."),
        "path": _path("Path of the file in the file store."),
        "as": enum("How to decode the content.", ["text", "json", "base64"], default="text"),
        "encoding": string("Text encoding for `text` and `json`.", default="utf-8"),
        "max_bytes": integer(
            "Fail when the file is larger than this.", minimum=1, default=10 * 1024 * 1024
        ),
    },
    output=obj(
        "The content.",
        {
            "file": file("The file that was read."),
            "text": nullable(string("Content as text (`as: text`).")),
            "json": any_value("Parsed content (`as: json`), else null."),
            "base64": nullable(string("Content as base64 (`as: base64`).")),
        },
        ["file", "text", "json", "base64"],
    ),
    example="""
- id: mapping
  uses: files.read
  with: { path: config/vendor-mapping.json, as: json }
""",
)

WRITE = node_type(
    "files.write",
    category=Category.ACTION,
    summary="Write text, JSON or bytes to a file in the file store",
    description="""
Creates (or, with `overwrite`, replaces) the file at `path` with one of `text`, `json`
(serialized, pretty-printed) or `base64` (decoded bytes) — or copies an existing `file` there.

Output: the stored file.
""",
    inputs={
        "path": _path("Destination path in the file store."),
        "text": string("Text content."),
        "json": any_value("A value stored as JSON."),
        "base64": string("Binary content, base64-encoded.", contentEncoding="base64"),
        "file": file("An existing file to copy to `path`."),
        "mime_type": string("Media type; guessed from the extension when omitted."),
        "overwrite": boolean("Replace an existing file at `path`.", default=False),
    },
    required=["path"],
    output=file("The stored file."),
    side_effects=True,
    example="""
- id: archive
  uses: files.write
  with:
    path: "exports/${{ execution.id }}.json"
    json: ${{ steps.rows.output.rows }}
""",
)

LIST = node_type(
    "files.list",
    category=Category.ACTION,
    summary="List files in the file store",
    description="""
Lists the files under `prefix` whose name matches `pattern` (a glob), newest first.

Output: `{files, count, truncated}`.
""",
    inputs={
        "prefix": string("Folder (path prefix) to list; the whole store when omitted.", default=""),
        "pattern": string("Glob on the file name, e.g. `*.pdf`.", default="*"),
        "recursive": boolean("Include sub-folders.", default=False),
        "modified_after": date_time("Only files modified after this instant."),
        "limit": integer("Maximum files returned.", minimum=1, maximum=10000, default=1000),
    },
    output=obj(
        "The files.",
        {
            "files": file_list("Matching files, newest first."),
            "count": integer("Number of files returned.", minimum=0),
            "truncated": boolean("More files matched than `limit`."),
        },
        ["files", "count", "truncated"],
    ),
    example="""
- id: inbox
  uses: files.list
  with: { prefix: inbox/, pattern: "*.pdf" }
""",
)

DELETE = node_type(
    "files.delete",
    category=Category.ACTION,
    summary="Delete a file from the file store",
    description="""
Deletes a file (`file` or `path`; give one). A missing file is not an error unless
`missing_ok` is false.

Output: `{deleted}` — false when there was nothing to delete.
""",
    inputs={
        "file": file("The file to delete."),
        "path": _path("Path of the file to delete."),
        "missing_ok": boolean("Succeed when the file does not exist.", default=True),
    },
    output=obj(
        "The result.",
        {"deleted": boolean("Whether a file was deleted.")},
        ["deleted"],
    ),
    side_effects=True,
    example="""
- id: cleanup
  uses: files.delete
  with: { file: "${{ steps.download.output }}" }
""",
)

DOWNLOAD = node_type(
    "files.download",
    category=Category.ACTION,
    summary="Download a URL into a file",
    description="""
Fetches `url` with GET and stores the body as a file of the execution, named from `name`, the
`Content-Disposition` header, or the URL.

Output: the downloaded file.
""",
    inputs={
        "url": uri("What to download."),
        "headers": HEADERS,
        "auth": HTTP_AUTH,
        "connection": connection("http"),
        "name": string("File name to store it under."),
        "max_bytes": integer(
            "Fail when the download is larger than this.", minimum=1, default=100 * 1024 * 1024
        ),
        "timeout": timeout_arg("2m", "download"),
        "verify_tls": boolean("Verify the server's TLS certificate.", default=True),
    },
    required=["url"],
    output=file("The downloaded file."),
    credential="http",
    example="""
- id: download
  uses: files.download
  with: { url: "${{ trigger.body.attachment_url }}", name: invoice.pdf }
""",
)

UPLOAD = node_type(
    "files.upload",
    category=Category.ACTION,
    summary="Upload a file to S3-compatible object storage",
    description="""
Uploads `file` to `bucket`/`key` on Amazon S3 or any S3-compatible store (MinIO, Cloudflare R2,
Google Cloud Storage interoperability, Wasabi …) using the `s3` credential; `endpoint_url`
overrides the endpoint. Large files are sent as multipart uploads.

Output: `{bucket, key, url, etag, version_id, size, presigned_url}`.
""",
    inputs={
        "file": file("The file to upload."),
        "bucket": string("Bucket name.", minLength=3, maxLength=63),
        "key": string("Object key; the file name when omitted.", minLength=1, maxLength=1024),
        "content_type": string("Content-Type; the file's media type when omitted."),
        "acl": enum(
            "Canned ACL.",
            ["private", "public-read", "authenticated-read", "bucket-owner-full-control"],
            default="private",
        ),
        "storage_class": enum(
            "Storage class (S3).",
            ["STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR"],
            default="STANDARD",
        ),
        "metadata": string_map("User metadata (`x-amz-meta-*`)."),
        "presign_expires_in": integer(
            "Also return a pre-signed GET URL valid this many seconds.",
            minimum=1,
            maximum=604800,
        ),
        "endpoint_url": uri("S3 endpoint, overriding the credential's."),
        "region": string("Region, overriding the credential's.", examples=["eu-central-1"]),
        "connection": connection("s3"),
    },
    required=["file", "bucket"],
    output=obj(
        "The stored object.",
        {
            "bucket": string("Bucket."),
            "key": string("Object key."),
            "url": uri("Object URL (not necessarily public)."),
            "etag": string("Entity tag of the object."),
            "version_id": nullable(string("Version id, when the bucket is versioned.")),
            "size": integer("Size in bytes.", minimum=0),
            "presigned_url": nullable(uri("Pre-signed GET URL (with `presign_expires_in`).")),
        },
        ["bucket", "key", "url", "etag", "version_id", "size", "presigned_url"],
    ),
    side_effects=True,
    credential="s3",
    example="""
- id: archive
  uses: files.upload
  with:
    file: ${{ inputs.document }}
    bucket: acme-invoices
    key: "${{ steps.fields.output.vendor }}/${{ inputs.document.name }}"
""",
)

NODE_TYPES: list[NodeType] = [READ, WRITE, LIST, DELETE, DOWNLOAD, UPLOAD]
