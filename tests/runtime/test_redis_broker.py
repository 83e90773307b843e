"""Redis consumers sleep until work arrives, and wake for it (and for delayed messages) at once.

Each test runs a Dramatiq worker whose idle wait is far longer than the test allows, so only a
wake-up can explain the message being handled in time.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import dramatiq
import pytest
import redis

from flowpilot.runtime.broker import start_worker
from flowpilot.runtime.redis_broker import WakingRedisBroker
from tests.pg import service_url

LONG_IDLE_WAIT_MS = 30_000


@pytest.fixture
def broker() -> Iterator[WakingRedisBroker]:
    url = service_url("FLOWPILOT_TEST_REDIS_URL")
    namespace = f"fp-wake-{uuid.uuid4().hex[:8]}"
    made = WakingRedisBroker(url=url, namespace=namespace)
    yield made
    made.close()
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{namespace}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def handled(broker: WakingRedisBroker) -> Iterator[dict[str, threading.Event]]:
    events: dict[str, threading.Event] = {}

    @dramatiq.actor(broker=broker, actor_name="wake_probe", queue_name="probe")
    def probe(key: str) -> None:
        events.setdefault(key, threading.Event()).set()

    worker = start_worker(broker, threads=2, idle_wait_ms=LONG_IDLE_WAIT_MS)
    time.sleep(0.3)  # let every consumer find its queue empty and go to sleep
    yield events
    worker.stop(timeout=5_000)


def _send(broker: WakingRedisBroker, key: str, delay: int | None = None) -> None:
    broker.get_actor("wake_probe").send_with_options(args=(key,), delay=delay)


def _wait(events: dict[str, threading.Event], key: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if key in events and events[key].is_set():
            return True
        time.sleep(0.005)
    return False


def test_an_idle_consumer_is_woken_by_new_work(
    broker: WakingRedisBroker, handled: dict[str, threading.Event]
) -> None:
    for round_ in range(3):
        key = f"now-{round_}"
        _send(broker, key)
        # Far sooner than the 30 s idle wait: the enqueue woke the consumer.
        assert _wait(handled, key, 5), f"message {key} was not handled"
        time.sleep(0.2)  # back to sleep before the next one


def test_a_delayed_message_is_handled_when_due_not_at_the_next_idle_wakeup(
    broker: WakingRedisBroker, handled: dict[str, threading.Event]
) -> None:
    sent = time.monotonic()
    _send(broker, "later", delay=400)
    assert _wait(handled, "later", 10)
    assert time.monotonic() - sent >= 0.4  # not before it was due


def test_idle_consumers_do_not_poll(
    broker: WakingRedisBroker, handled: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    script = broker.scripts["dispatch"]

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(str(kwargs.get("args", [""])[0]))  # type: ignore[index]
        return script(*args, **kwargs)

    monkeypatch.setitem(broker.scripts, "dispatch", counted)
    time.sleep(1.5)
    # Each of the worker's four consumers (probe, its delay queue, and their dead-letter
    # counterparts are not consumed) looks at its queue at most once per idle wait; a
    # polling consumer would have run its fetch script hundreds of times.
    assert calls.count("fetch") <= 4
