"""Dramatiq's Redis broker with wake-ups instead of polling.

Dramatiq's Redis consumers poll: an idle consumer runs the broker's Lua ``fetch`` script, finds
nothing, sleeps with a back-off up to the worker timeout, and polls again. A short timeout
makes the next step start quickly but keeps every idle consumer thread (one per queue and one
per delay queue, in every worker process) running Lua scripts hundreds of times a second; a
long one leaves a queued step waiting up to a second.

Here every enqueue also publishes on the queue's wake channel (in the same round trip), and a
consumer whose last fetch emptied its queue waits on that channel before fetching again: it
wakes within a fraction of a millisecond of new work and costs nothing while there is none. A
consumer whose prefetch is full waits for one of its messages to be acknowledged instead, and a
delay-queue consumer wakes in time for the earliest delayed message it holds. Each wait is
capped by the worker timeout, so the consumer still heartbeats (Dramatiq requeues the messages
of a worker whose heartbeat stops) and notices a shutdown.

A lost notification (Redis pub/sub is at-most-once) costs at most that cap: the consumer
fetches again when its wait ends.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import current_millis
from dramatiq.errors import ConnectionClosed
from dramatiq.message import Message

#: Longest a consumer waits without fetching (ms): the heartbeat and shutdown bound.
DEFAULT_IDLE_WAIT_MS = 1000


class WakingRedisBroker(RedisBroker):
    """A :class:`~dramatiq.brokers.redis.RedisBroker` whose consumers block until woken."""

    def wake_channel(self, queue_name: str) -> str:
        return f"{self.namespace}:__wake__:{queue_name}"

    @property
    def consumer_class(self) -> type[_RedisConsumer]:
        return _WakingConsumer

    def do_enqueue(self, queue_name: str, message_id: str, data: bytes) -> Any:
        """Dramatiq's enqueue script and the wake-up, pipelined in one round trip."""
        args = [
            "enqueue",
            current_millis(),
            queue_name,
            self.broker_id,
            self.heartbeat_timeout,
            self.dead_message_ttl,
            self._should_do_maintenance("enqueue"),
            self._max_unpack_size(),
            message_id,
            data,
        ]
        script = self.scripts["dispatch"]
        channel = self.wake_channel(queue_name)
        # EVALSHA straight into the pipeline: handing redis-py's Script to a pipeline makes
        # every execute() ask SCRIPT EXISTS first.
        pipe = self.client.pipeline(transaction=False)
        pipe.evalsha(script.sha, 1, self.namespace, *args)
        pipe.publish(channel, b"1")
        try:
            return pipe.execute()[0]
        except redis.exceptions.NoScriptError:  # Redis restarted or flushed its scripts
            result = script(keys=[self.namespace], args=args)
            self.client.publish(channel, b"1")
            return result


class _WakingConsumer(_RedisConsumer):
    def __init__(self, broker: WakingRedisBroker, queue_name: str, prefetch: int, timeout: int):
        super().__init__(broker, queue_name, prefetch, timeout)
        # Created by the ConsumerThread it serves: its delay heap tells when to wake up for
        # the earliest delayed message.
        self.thread = threading.current_thread()
        self.acked = threading.Event()
        #: Whether the last fetch found fewer messages than it asked for.
        self.drained = False
        self.pubsub = broker.client.pubsub()
        channel = broker.wake_channel(queue_name)
        try:
            self.pubsub.subscribe(channel)
            # Only fetch once the subscription is live, or a publish between the fetch and
            # the subscription would be missed.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                reply = self.pubsub.get_message(timeout=0.5)
                if reply and reply["type"] == "subscribe":
                    break
        except redis.ConnectionError as exc:
            self.close()
            raise ConnectionClosed(exc) from None

    def ack(self, message: MessageProxy) -> None:
        try:
            super().ack(message)
        finally:
            self.acked.set()

    def nack(self, message: MessageProxy) -> None:
        try:
            super().nack(message)
        finally:
            self.acked.set()

    def __next__(self) -> MessageProxy | None:
        try:
            while True:
                if self.message_cache:
                    data = self.message_cache.pop(0)
                    if data is None:  # see Dramatiq #266
                        continue
                    message = Message.decode(data)
                    self.queued_message_ids.add(message.message_id)
                    return MessageProxy(message)
                if self.outstanding_message_count >= self.prefetch:
                    self.acked.wait(self._wait_seconds())
                    self.acked.clear()
                    return None
                if self.drained:
                    # The last fetch emptied the queue: anything queued since published a
                    # wake-up, so there is nothing to fetch until one arrives.
                    self.drained = False
                    if not self._wait_for_wake(self._wait_seconds()):
                        return None
                wanted = self.prefetch - self.outstanding_message_count
                self.message_cache = self.broker.do_fetch(self.queue_name, wanted)
                self.drained = len(self.message_cache) < wanted
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None

    def _wait_seconds(self) -> float:
        wait_ms = float(self.timeout)
        delayed = getattr(self.thread, "delay_queue", None)
        heap = getattr(delayed, "queue", None)
        if heap:
            wait_ms = min(wait_ms, max(0.0, heap[0].priority - current_millis()))
        return wait_ms / 1000

    def _wait_for_wake(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for an enqueue's wake-up; whether one came."""
        if seconds <= 0:
            return False
        woken = self.pubsub.get_message(ignore_subscribe_messages=True, timeout=seconds)
        if woken is None:
            return False
        # Several enqueues may have published meanwhile: one fetch serves them all.
        while woken is not None:
            woken = self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0)
        return True

    def close(self) -> None:
        try:
            self.pubsub.close()
        finally:
            super().close()
