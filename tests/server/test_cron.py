"""Cron triggers: time zones and daylight saving time, the missed-run policy, and firing each
occurrence exactly once when schedulers race.

Tests that fire on purpose schedule their triggers in 2031 and pass that ``now``: the live
server's own scheduler (which fires what is due in real time) leaves them alone.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from flowpilot.runtime.scheduler import Scheduler
from flowpilot.server.config import ConfigError
from flowpilot.server.triggers.cron import CatchUp, CronPolicy, due_occurrences, fire_cron
from flowpilot.server.triggers.sync import next_occurrence, sync_triggers
from flowpilot.server.workflows.versions import save_version
from tests.server.conftest import LiveServer, Member, assert_problem
from tests.server.triggers_support import eventually, executions_of, publish

FUTURE = datetime(2031, 1, 15, 12, 0, tzinfo=UTC)

REPORT = """
flow: report
inputs:
  day: { type: string }
triggers:
  - id: nightly
    type: cron
    cron: "CRON"
    timezone: ZONE
    inputs: { day: "${{ trigger.scheduled_at }}" }
steps:
  - id: note
    set: { seen: "${{ inputs.day }}" }
outputs:
  day: ${{ vars.seen }}
"""


def report(cron: str = "0 2 * * *", zone: str = "UTC") -> str:
    return REPORT.replace("CRON", cron).replace("ZONE", zone)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def trigger_row(live: LiveServer, workflow_id: uuid.UUID) -> sa.Row:
    with live.db.connect() as conn:
        return conn.execute(
            sa.text("SELECT id, next_fire_at, last_fired_at FROM triggers WHERE workflow_id = :w"),
            {"w": workflow_id},
        ).one()


def set_next_fire(live: LiveServer, trigger_id: uuid.UUID, moment: datetime) -> None:
    with live.db.begin() as conn:
        conn.execute(
            sa.text("UPDATE triggers SET next_fire_at = :t WHERE id = :id"),
            {"t": moment, "id": trigger_id},
        )


# ---------------------------------------------------------------------------- time zones, DST


def test_occurrences_follow_the_time_zone_across_daylight_saving() -> None:
    nine_berlin = "0 9 * * *"
    assert next_occurrence(nine_berlin, "Europe/Berlin", utc(2031, 1, 15, 12)) == utc(
        2031, 1, 16, 8
    )
    assert next_occurrence(nine_berlin, "Europe/Berlin", utc(2031, 7, 15, 12)) == utc(
        2031, 7, 16, 7
    )
    assert next_occurrence(nine_berlin, "America/New_York", utc(2031, 1, 15, 12)) == utc(
        2031, 1, 15, 14
    )


def test_a_time_skipped_by_spring_forward_fires_once_when_the_clock_jumps() -> None:
    # 2026-03-29 in Berlin: 02:00 CET becomes 03:00 CEST; 02:30 does not exist that day.
    first = next_occurrence("30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12))
    second = next_occurrence("30 2 * * *", "Europe/Berlin", first)
    assert first == utc(2026, 3, 29, 1)  # 03:00 CEST
    assert second == utc(2026, 3, 30, 0, 30)  # 02:30 CEST


def test_a_time_repeated_by_fall_back_fires_once_but_frequent_schedules_keep_going() -> None:
    # 2026-10-25 in Berlin: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    daily = [utc(2026, 10, 24, 12)]
    for _ in range(2):
        daily.append(next_occurrence("30 2 * * *", "Europe/Berlin", daily[-1]))
    assert daily[1:] == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    half_hourly = [utc(2026, 10, 24, 23, 50)]
    for _ in range(5):
        half_hourly.append(next_occurrence("*/30 * * * *", "Europe/Berlin", half_hourly[-1]))
    # Every 30 minutes of real time, through both passes of 02:00-03:00.
    assert half_hourly[1:] == [utc(2026, 10, 25, 0) + timedelta(minutes=30 * i) for i in range(5)]


# ---------------------------------------------------------------------------- missed runs


@pytest.mark.parametrize(
    ("policy", "expected_hours"),
    [
        (CronPolicy(CatchUp.latest), [5]),
        (CronPolicy(CatchUp.all, max_catchup=3), [3, 4, 5]),
        (CronPolicy(CatchUp.all, max_catchup=10), [0, 1, 2, 3, 4, 5]),
        (CronPolicy(CatchUp.none), []),
    ],
)
def test_missed_occurrences_fire_by_policy(policy: CronPolicy, expected_hours: list[int]) -> None:
    fired = due_occurrences(
        "0 * * * *", "UTC", first_due=utc(2031, 1, 1, 0), now=utc(2031, 1, 1, 5, 30), policy=policy
    )
    assert fired == [utc(2031, 1, 1, h) for h in expected_hours]


def test_with_no_catch_up_an_occurrence_on_time_still_fires() -> None:
    on_time = due_occurrences(
        "0 * * * *",
        "UTC",
        first_due=utc(2031, 1, 1, 0),
        now=utc(2031, 1, 1, 5, 0, 20),
        policy=CronPolicy(CatchUp.none, grace_seconds=60),
    )
    assert on_time == [utc(2031, 1, 1, 5)]


def test_the_catch_up_policy_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWPILOT_CRON_CATCHUP", "all")
    monkeypatch.setenv("FLOWPILOT_CRON_CATCHUP_MAX", "4")
    assert CronPolicy.from_env() == CronPolicy(CatchUp.all, max_catchup=4)
    monkeypatch.setenv("FLOWPILOT_CRON_CATCHUP", "everything")
    with pytest.raises(ConfigError, match="latest, none, all"):
        CronPolicy.from_env()


# ---------------------------------------------------------------------------- firing


def test_a_published_schedule_is_listed_with_its_next_occurrence(
    live: LiveServer, owner: Member
) -> None:
    workflow_id = publish(live, owner.org_id, report("0 9 * * *", "Europe/Berlin"), now=FUTURE)
    response = owner.client.get("/api/v1/triggers", params={"type": "cron"})
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    assert item["workflow_id"] == str(workflow_id) and item["flow_id"] == "report"
    assert item["cron"] == "0 9 * * *" and item["timezone"] == "Europe/Berlin"
    assert datetime.fromisoformat(item["next_fire_at"]) == utc(2031, 1, 16, 8)
    assert item["last_fired_at"] is None and item["url_path"] is None


def test_a_due_occurrence_fires_once_with_its_scheduled_time(
    live: LiveServer, owner: Member
) -> None:
    workflow_id = publish(live, owner.org_id, report("0 2 * * *", "Europe/Berlin"), now=FUTURE)
    trigger = trigger_row(live, workflow_id)
    assert trigger.next_fire_at == utc(2031, 1, 16, 1)  # 02:00 CET
    now = utc(2031, 1, 16, 1, 0, 5)
    assert fire_cron(live.runtime, trigger.id, now=now, policy=CronPolicy()) == 1
    assert fire_cron(live.runtime, trigger.id, now=now, policy=CronPolicy()) == 0
    (execution,) = executions_of(live, workflow_id)
    assert execution.trigger["type"] == "cron" and execution.trigger["id"] == "nightly"
    assert execution.trigger["scheduled_at"] == "2031-01-16T01:00:00Z"
    assert execution.inputs == {"day": "2031-01-16T01:00:00Z"}
    after = trigger_row(live, workflow_id)
    assert after.last_fired_at == utc(2031, 1, 16, 1)
    assert after.next_fire_at == utc(2031, 1, 17, 1)


def test_after_downtime_only_the_latest_missed_occurrence_fires(
    live: LiveServer, owner: Member
) -> None:
    workflow_id = publish(live, owner.org_id, report("0 */2 * * *"), now=FUTURE)
    trigger = trigger_row(live, workflow_id)
    set_next_fire(live, trigger.id, utc(2031, 2, 1, 0))
    now = utc(2031, 2, 1, 9, 15)  # down since before midnight: 00, 02, 04, 06, 08 missed
    assert fire_cron(live.runtime, trigger.id, now=now, policy=CronPolicy()) == 1
    (execution,) = executions_of(live, workflow_id)
    assert execution.trigger["scheduled_at"] == "2031-02-01T08:00:00Z"
    assert trigger_row(live, workflow_id).next_fire_at == utc(2031, 2, 1, 10)


def test_catch_up_all_fires_the_missed_occurrences_in_order(
    live: LiveServer, owner: Member
) -> None:
    workflow_id = publish(live, owner.org_id, report("0 */2 * * *"), now=FUTURE)
    trigger = trigger_row(live, workflow_id)
    set_next_fire(live, trigger.id, utc(2031, 2, 1, 0))
    policy = CronPolicy(CatchUp.all, max_catchup=3)
    assert fire_cron(live.runtime, trigger.id, now=utc(2031, 2, 1, 9, 15), policy=policy) == 3
    scheduled = [e.trigger["scheduled_at"] for e in executions_of(live, workflow_id)]
    assert scheduled == ["2031-02-01T04:00:00Z", "2031-02-01T06:00:00Z", "2031-02-01T08:00:00Z"]


def test_racing_schedulers_fire_an_occurrence_exactly_once(live: LiveServer, owner: Member) -> None:
    workflow_id = publish(live, owner.org_id, report("0 2 * * *"), now=FUTURE)
    trigger = trigger_row(live, workflow_id)
    now = utc(2031, 1, 16, 2, 0, 1)
    start = threading.Barrier(4)
    results: list[int] = []

    def scheduler() -> None:
        start.wait()
        results.append(fire_cron(live.runtime, trigger.id, now=now, policy=CronPolicy()))

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 0, 0, 1]
    # A scheduler that read the trigger before it moved on still cannot fire it again.
    set_next_fire(live, trigger.id, utc(2031, 1, 16, 2))
    assert fire_cron(live.runtime, trigger.id, now=now, policy=CronPolicy()) == 0
    assert len(executions_of(live, workflow_id)) == 1
    assert trigger_row(live, workflow_id).next_fire_at == utc(2031, 1, 17, 2)


def test_two_scheduler_processes_fire_a_due_trigger_once(live: LiveServer, owner: Member) -> None:
    workflow_id = publish(live, owner.org_id, report("*/5 * * * *"))
    trigger = trigger_row(live, workflow_id)
    due = next_occurrence("*/5 * * * *", None, datetime.now(UTC) - timedelta(minutes=5))
    set_next_fire(live, trigger.id, due)
    # Two more schedulers on the same database, besides the server's own, run a round at once.
    schedulers = [Scheduler(live.runtime), Scheduler(live.runtime)]
    start = threading.Barrier(2)

    def round_of(scheduler: Scheduler) -> None:
        start.wait()
        scheduler.run_once()

    threads = [threading.Thread(target=round_of, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (execution,) = eventually(lambda: executions_of(live, workflow_id))
    assert execution.trigger["scheduled_at"].startswith(due.strftime("%Y-%m-%dT%H:%M"))
    assert trigger_row(live, workflow_id).next_fire_at > due


def test_a_schedule_whose_inputs_do_not_fit_skips_the_occurrence_and_goes_on(
    live: LiveServer, owner: Member
) -> None:
    source = report().replace("trigger.scheduled_at", "trigger.nope.missing")
    workflow_id = publish(live, owner.org_id, source, now=FUTURE)
    trigger = trigger_row(live, workflow_id)
    now = utc(2031, 1, 16, 2, 0, 1)
    assert fire_cron(live.runtime, trigger.id, now=now, policy=CronPolicy()) == 0
    assert executions_of(live, workflow_id) == []
    assert trigger_row(live, workflow_id).next_fire_at == utc(2031, 1, 17, 2)


def test_republishing_the_same_schedule_neither_refires_nor_loses_an_occurrence(
    live: LiveServer, owner: Member
) -> None:
    workflow_id = publish(live, owner.org_id, report("0 2 * * *"), now=FUTURE)
    trigger = trigger_row(live, workflow_id)
    fired_at = utc(2031, 1, 16, 2, 0, 1)
    assert fire_cron(live.runtime, trigger.id, now=fired_at, policy=CronPolicy()) == 1

    def republish(source: str, at: datetime) -> sa.Row:
        with live.db.begin() as conn:
            saved = save_version(conn, live.runtime, owner.org_id, workflow_id, source, "yaml")
            assert saved.result.plan is not None
            sync_triggers(
                conn,
                org_id=owner.org_id,
                workflow_id=workflow_id,
                version_id=saved.version_id,
                plan=saved.result.plan,
                now=at,
            )
        return trigger_row(live, workflow_id)

    # The next occurrence (01-17 02:00) is due but not fired yet when a new version goes out.
    after = republish(report("0 2 * * *") + "description: v2\n", utc(2031, 1, 17, 2, 0, 30))
    assert after.next_fire_at == utc(2031, 1, 17, 2) and after.last_fired_at == utc(2031, 1, 16, 2)
    assert fire_cron(live.runtime, after.id, now=utc(2031, 1, 17, 2, 1), policy=CronPolicy()) == 1
    assert len(executions_of(live, workflow_id)) == 2
    # A changed schedule starts afresh from the time of publishing.
    changed = republish(report("0 5 * * *"), utc(2031, 1, 17, 3))
    assert changed.next_fire_at == utc(2031, 1, 17, 5) and changed.last_fired_at is None


# ---------------------------------------------------------------------------- the listing


def test_the_trigger_list_is_per_organization_and_readable_by_viewers(
    live: LiveServer, owner: Member, make_member: Callable[..., Member]
) -> None:
    publish(live, owner.org_id, report(), now=FUTURE)
    viewer = make_member("viewer", org_id=owner.org_id)
    stranger = make_member("owner")
    assert len(viewer.client.get("/api/v1/triggers").json()["items"]) == 1
    assert stranger.client.get("/api/v1/triggers").json()["items"] == []
    with live.client() as anonymous:
        assert_problem(anonymous.get("/api/v1/triggers"), 401)
    assert_problem(owner.client.get("/api/v1/triggers", params={"type": "nope"}), 400)
