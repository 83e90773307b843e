"""``flowpilot serve --demo``: the demo organization and user, the examples imported as
workflows, and the README's first steps (trigger a run with curl, log in, read the result)
working against it."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from flowpilot.server.demo import DEMO_EMAIL, DEMO_ORG, DEMO_PASSWORD, seed_demo
from tests.server.conftest import LiveServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: One workflow per example flow, whichever forms it is written in.
EXAMPLE_FLOWS = {path.name.split(".flow")[0] for path in EXAMPLES.glob("*.flow*")}


def test_the_readme_first_steps_work_on_the_demo(live: LiveServer) -> None:
    seed = seed_demo(live.db, live.runtime, EXAMPLES)
    assert seed.skipped == []
    with live.client() as anonymous:
        run = anonymous.post(
            f"/hooks/{DEMO_ORG}/getting-started/hello", params={"wait": 10}, json={"who": "Ada"}
        )
        login = anonymous.post(
            "/api/v1/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
        )
    assert run.status_code == 200, run.text
    assert run.json()["status"] == "succeeded"
    assert run.json()["outputs"] == {"total": 14, "squares": [9, 1, 16, 1, 25]}
    assert login.status_code == 200 and login.json()["organization"]["slug"] == DEMO_ORG

    with live.client(login.json()["access_token"]) as demo:
        workflows = demo.get("/api/v1/workflows", params={"limit": 200}).json()["items"]
        recent = demo.get("/api/v1/executions", params={"limit": 5}).json()["items"]
        detail = demo.get(f"/api/v1/executions/{run.json()['execution_id']}").json()
        schedules = demo.get("/api/v1/triggers", params={"type": "cron"}).json()["items"]
    assert len(workflows) == len(EXAMPLE_FLOWS)
    assert {w["flow_id"] for w in workflows if w["published"]} == set(seed.published)
    assert recent[0]["id"] == run.json()["execution_id"]
    assert detail["inputs"]["who"] == "Ada" and detail["status"] == "succeeded"
    # Scheduled examples are imported but not published: the demo runs nothing by itself.
    assert schedules == []


def test_starting_the_demo_again_changes_nothing(live: LiveServer) -> None:
    seed_demo(live.db, live.runtime, EXAMPLES)
    again = seed_demo(live.db, live.runtime, EXAMPLES)
    assert not again.user_created and again.imported == [] and again.skipped == []
    with live.db.connect() as conn:
        counts = conn.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM users WHERE email = :e), "
                "(SELECT count(*) FROM workflows w JOIN organizations o ON o.id = w.org_id "
                "WHERE o.slug = :s)"
            ),
            {"e": DEMO_EMAIL, "s": DEMO_ORG},
        ).one()
    assert tuple(counts) == (1, len(EXAMPLE_FLOWS))
