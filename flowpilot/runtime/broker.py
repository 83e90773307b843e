"""Dramatiq: the brokers, the actors (thin wrappers around :mod:`flowpilot.runtime.worker`)
and the dispatcher the service sends work through.

``FLOWPILOT_BROKER_URL`` chooses the broker: unset or ``memory://`` for the in-process broker
(the embedded default and tests), ``redis://…`` or ``amqp://…``. Steps go to one queue per
priority (``flowpilot.high``, ``flowpilot.default``, ``flowpilot.low``); workers consume the
high queue first. A message whose delivery keeps raising (an infrastructure fault, never a
step failure — those are the engine's business) is retried a few times by Dramatiq and then
lands in the dead-letter table (``flowpilot dlq``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, TimeLimit

from flowpilot.runtime.service import Dispatcher, Runtime

log = logging.getLogger("flowpilot.broker")

BROKER_URL_ENV = "FLOWPILOT_BROKER_URL"
PRIORITIES = ("high", "default", "low")
STEP_QUEUES = {p: f"flowpilot.{p}" for p in PRIORITIES}
# Timers and dead letters share one queue: every queue costs each idle worker a poll loop.
CONTROL_QUEUE = "flowpilot.control"
DEAD_LETTER_ACTOR = "flowpilot_dead_letter"
MAX_DELIVERIES = int(os.environ.get("FLOWPILOT_MAX_DELIVERIES", "5"))

_runtime: Runtime | None = None


def broker_url() -> str:
    return os.environ.get(BROKER_URL_ENV) or "memory://"


def _middleware() -> list[Any]:
    # No Prometheus, no results backend: the database is the source of truth. Step time limits
    # are the engine's timers, not thread interrupts (a node can hold sockets and files).
    return [
        AgeLimit(),
        TimeLimit(time_limit=24 * 3600 * 1000),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=MAX_DELIVERIES - 1, min_backoff=100, max_backoff=10_000),
    ]


def make_broker(url: str | None = None) -> dramatiq.Broker:
    url = url or broker_url()
    if url.startswith("memory:") or url == "stub":
        broker: dramatiq.Broker = StubBroker(middleware=_middleware())
    elif url.startswith(("redis://", "rediss://", "unix://")):
        from flowpilot.runtime.redis_broker import WakingRedisBroker

        namespace = os.environ.get("FLOWPILOT_BROKER_NAMESPACE") or "flowpilot"
        broker = WakingRedisBroker(url=url, middleware=_middleware(), namespace=namespace)
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url, middleware=_middleware(), confirm_delivery=True)
    else:
        raise ValueError(
            f"{BROKER_URL_ENV} must be memory://, redis://… or amqp://…, not {url.split(':')[0]}"
        )
    _declare_actors(broker)
    return broker


def install(runtime: Runtime) -> None:
    """Make ``runtime`` the one the actors of this process use."""
    global _runtime
    _runtime = runtime


def _current() -> Runtime:
    if _runtime is None:
        raise RuntimeError("no FlowPilot runtime installed in this worker process")
    return _runtime


def _run_step(execution_id: str, step_key: str, attempt: int) -> None:
    from flowpilot.runtime.worker import execute_step

    execute_step(_current(), execution_id, step_key, attempt)


def _fire_timer(timer_id: str) -> None:
    _current().fire_timer(timer_id)


def _start_execution(org_id: str, flow_id: str, count: int = 1) -> None:
    _current().start_accepted(org_id, flow_id, count)


def _dead_letter(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    from flowpilot.runtime.worker import dead_letter

    dead_letter(_current(), message, retry_info)


def _declare_actors(broker: dramatiq.Broker) -> None:
    for priority, queue in STEP_QUEUES.items():
        dramatiq.actor(
            _run_step,
            broker=broker,
            actor_name=f"flowpilot_run_step_{priority}",
            queue_name=queue,
            priority={"high": 0, "default": 10, "low": 20}[priority],
            on_retry_exhausted=DEAD_LETTER_ACTOR,
        )
    dramatiq.actor(
        _fire_timer,
        broker=broker,
        actor_name="flowpilot_fire_timer",
        queue_name=CONTROL_QUEUE,
        priority=0,
        on_retry_exhausted=DEAD_LETTER_ACTOR,
    )
    # No dead letter: an accepted execution the messages fail to start is started by the
    # scheduler's sweep of pending executions.
    dramatiq.actor(
        _start_execution,
        broker=broker,
        actor_name="flowpilot_start_execution",
        queue_name=CONTROL_QUEUE,
        priority=0,
        max_retries=3,
    )
    dramatiq.actor(
        _dead_letter,
        broker=broker,
        actor_name=DEAD_LETTER_ACTOR,
        queue_name=CONTROL_QUEUE,
        max_retries=3,
    )


class DramatiqDispatcher(Dispatcher):
    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broker = broker

    def send_step(self, execution_id: str, step_key: str, attempt: int, priority: str) -> None:
        actor = self.broker.get_actor(f"flowpilot_run_step_{priority}")
        actor.send(execution_id, step_key, attempt)

    def send_timer(self, timer_id: str, delay_ms: int) -> None:
        actor = self.broker.get_actor("flowpilot_fire_timer")
        actor.send_with_options(args=(timer_id,), delay=delay_ms or None)

    def send_start(self, org_id: str, flow_id: str, count: int = 1) -> None:
        self.broker.get_actor("flowpilot_start_execution").send(org_id, flow_id, count)

    def requeue(self, message: dict[str, Any]) -> None:
        """Send a dead-lettered message again, with a fresh delivery count."""
        actor = self.broker.get_actor(message["actor_name"])
        options = {k: v for k, v in message.get("options", {}).items() if k == "eta"}
        actor.send_with_options(args=tuple(message["args"]), kwargs=message["kwargs"], **options)


def start_worker(
    broker: dramatiq.Broker, *, threads: int = 8, idle_wait_ms: int | None = None
) -> dramatiq.Worker:
    """Start consuming in this process.

    ``idle_wait_ms`` (``FLOWPILOT_WORKER_IDLE_WAIT_MS``) is the longest an idle consumer waits
    before it looks at its queue again. Redis consumers are woken the moment work is queued
    and when a delayed message falls due (:mod:`flowpilot.runtime.redis_broker`), so for them
    it only bounds how soon a stopping worker notices and how old its broker heartbeat gets
    (default 1000). The in-memory and RabbitMQ consumers block on their queue too, but check
    the delayed messages they hold (timers, retries) only between waits (default 20).
    """
    wait = idle_wait_ms
    if wait is None:
        configured = os.environ.get("FLOWPILOT_WORKER_IDLE_WAIT_MS")
        from flowpilot.runtime.redis_broker import WakingRedisBroker

        default = 1000 if isinstance(broker, WakingRedisBroker) else 20
        wait = int(configured) if configured else default
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=max(1, wait))
    worker.start()
    return worker
