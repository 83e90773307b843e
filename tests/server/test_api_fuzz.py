"""schemathesis against the live OpenAPI document: for every operation, generated requests
(bounded, so CI stays fast) never get a 5xx, and every response matches the document — its
status is documented, its content type and body fit the declared schema.

A caller with the owner role in its own organization sends them, so the generated requests
reach the handlers rather than stopping at authentication. (schemathesis's pytest plugin does
not support pytest 9 yet, so the operations are driven here, each with its own hypothesis run,
and every failure is reported at the end.)
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.server.conftest import LiveServer, create_member

EXAMPLES = int(os.environ.get("FLOWPILOT_FUZZ_EXAMPLES", "10"))


def test_generated_requests_conform_to_the_document(live: LiveServer) -> None:
    token = create_member(live, "owner").token
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(f"{live.url}/api/schema/openapi.json")
    failures: list[str] = []
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:  # type: ignore[no-untyped-def]
            # Schema-valid input may still break a business rule (a password too short, an
            # email that does not exist): a 4xx for it is right, so that check is left out.
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # report every failing operation
            failures.append(f"{operation.label}: {str(exc).strip()[:1500]}")
        checked += 1
    assert checked > 50
    assert not failures, "\n\n".join(failures)
