"""The OpenAPI document is a contract: a change to it must be deliberate.

The document is compared with ``tests/golden/openapi.json``; after an intended API change,
regenerate it with ``pytest tests/server/test_openapi.py --update-golden`` and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from flowpilot.server.app import create_app
from flowpilot.server.config import Settings

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "openapi.json"


def _document() -> dict:
    app = create_app(Settings(secret_key="snapshot-" + "k" * 32))
    # Through msgspec, as the server encodes it (examples may hold structs).
    return msgspec.json.decode(msgspec.json.encode(app.openapi_schema.to_schema()))


def test_openapi_document_matches_the_snapshot(update_golden: bool) -> None:
    document = json.dumps(_document(), indent=1, sort_keys=True) + "\n"
    if update_golden or not GOLDEN.exists():
        GOLDEN.write_text(document)
    assert document == GOLDEN.read_text(), (
        "the API changed: if that is intended, run "
        "`pytest tests/server/test_openapi.py --update-golden` and review the diff"
    )


def test_every_operation_is_documented_with_its_errors() -> None:
    document = _document()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            where = f"{method.upper()} {path}"
            assert operation.get("summary") or operation.get("description"), where
            assert operation.get("tags"), where
            if path.startswith("/api/v1") and not path.startswith("/api/v1/auth"):
                problem = operation["responses"]["404"]["content"]["application/problem+json"]
                assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}, where
