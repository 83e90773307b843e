"""Registering the triggers' periodic work with the runtime's scheduler.

Both places that run a scheduler call :func:`install_trigger_tasks`: the server in embedded
mode (its in-process scheduler) and ``flowpilot scheduler`` in distributed mode. Only the
scheduler that holds the leadership runs them; the fire records and the event cursor keep them
exact even if two ran at once.
"""

from __future__ import annotations

from flowpilot.runtime.service import Runtime
from flowpilot.server.triggers.cron import CronPolicy, fire_due_cron
from flowpilot.server.triggers.events import dispatch_execution_events

CRON_TASK = "cron_triggers"
EVENTS_TASK = "event_triggers"


def install_trigger_tasks(runtime: Runtime, policy: CronPolicy | None = None) -> None:
    """Fire due cron triggers and ``execution.*`` event triggers every scheduler round. The
    cron catch-up policy comes from the environment unless given (invalid settings raise
    :class:`~flowpilot.server.config.ConfigError` here, at startup)."""
    policy = policy or CronPolicy.from_env()
    runtime.periodic_tasks[CRON_TASK] = lambda: fire_due_cron(runtime, policy=policy)
    runtime.periodic_tasks[EVENTS_TASK] = lambda: dispatch_execution_events(runtime)
