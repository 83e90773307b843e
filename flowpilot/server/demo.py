"""``flowpilot serve --demo``: a demo organization and user, with the examples imported as
workflows, so that a newcomer's first look at the API shows something real."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from flowpilot.runtime.service import Runtime
from flowpilot.server.errors import Conflict, Invalid
from flowpilot.server.security import hash_password
from flowpilot.server.workflows.history import publish
from flowpilot.server.workflows.versions import create_workflow
from flowpilot.store.ids import uuid7

DEMO_EMAIL = "demo@flowpilot.local"
DEMO_PASSWORD = "flowpilot-demo"
DEMO_ORG = "demo"
#: Serialises concurrent seeds. Its own key: the migrations (7134001) and the scheduler's
#: leadership (7134002, held for as long as a scheduler leads) have theirs, and sharing the
#: latter made a seed wait forever whenever a scheduler was running on the database.
DEMO_SEED_LOCK = 7134003


@dataclass
class DemoSeed:
    org_id: str
    user_created: bool
    imported: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _example_files(examples: Path) -> list[Path]:
    """One file per flow: the YAML form, or the text form when there is no YAML twin."""
    yaml_files = sorted(examples.glob("*.flow.yaml"))
    stems = {p.name.removesuffix(".flow.yaml") for p in yaml_files}
    text_only = [p for p in sorted(examples.glob("*.flow")) if p.stem not in stems]
    return yaml_files + text_only


def seed_demo(db: sa.Engine, runtime: Runtime, examples: Path | None) -> DemoSeed:
    """Create (once) the demo user and organization and import every example not imported yet.
    Examples without a cron trigger are published (their webhooks answer at once); scheduled
    ones are left unpublished so the demo does not run them every night. Idempotent."""
    with db.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": DEMO_SEED_LOCK})
        user_id = conn.execute(
            sa.text("SELECT id FROM users WHERE lower(email) = :e"), {"e": DEMO_EMAIL}
        ).scalar()
        created = user_id is None
        if user_id is None:
            user_id = uuid7()
            conn.execute(
                sa.text(
                    "INSERT INTO users (id, email, name, password_hash) "
                    "VALUES (:id, :e, 'Demo User', :p)"
                ),
                {"id": user_id, "e": DEMO_EMAIL, "p": hash_password(DEMO_PASSWORD)},
            )
        org_id = conn.execute(
            sa.text("SELECT id FROM organizations WHERE slug = :s"), {"s": DEMO_ORG}
        ).scalar()
        if org_id is None:
            org_id = uuid7()
            conn.execute(
                sa.text(
                    "INSERT INTO organizations (id, slug, name, created_by) "
                    "VALUES (:id, :s, 'Demo', :u)"
                ),
                {"id": org_id, "s": DEMO_ORG, "u": user_id},
            )
        conn.execute(
            sa.text(
                "INSERT INTO org_members (org_id, user_id, role) VALUES (:o, :u, 'owner') "
                "ON CONFLICT DO NOTHING"
            ),
            {"o": org_id, "u": user_id},
        )
        seed = DemoSeed(org_id=str(org_id), user_created=created)
        for path in _example_files(examples) if examples else []:
            fmt = "text" if path.name.endswith(".flow") else "yaml"
            try:
                with conn.begin_nested():  # a failed import leaves nothing behind
                    saved = create_workflow(
                        conn,
                        runtime,
                        org_id,
                        path.read_text(),
                        fmt,
                        author_id=user_id,
                        message=f"imported from examples/{path.name}",
                        path=path.name,
                    )
            except Conflict:  # imported on an earlier start
                continue
            except Invalid as exc:  # an example that does not compile is reported, not fatal
                seed.skipped.append(f"{path.name}: {exc.detail}")
                continue
            plan = saved.result.plan or {}
            flow_id = plan["flow"]["id"]
            seed.imported.append(flow_id)
            if any(t["type"] == "cron" for t in plan.get("triggers") or []):
                continue
            publish(conn, runtime, org_id, saved.workflow_id, str(saved.version_id))
            seed.published.append(flow_id)
    return seed
