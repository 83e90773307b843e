"""Composing the runtime in one process: database, broker, an in-process worker and the
scheduler — what ``flowpilot run`` and the embedded server use, and what tests start."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import dramatiq
import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker

from flowpilot.runtime.broker import (
    DramatiqDispatcher,
    broker_url,
    install,
    make_broker,
    start_worker,
)
from flowpilot.runtime.scheduler import Scheduler
from flowpilot.runtime.service import Runtime
from flowpilot.store import migrate
from flowpilot.store.db import DATABASE_URL_ENV, create_engine


def open_database(*, auto_migrate: bool | None = None, url: str | None = None) -> sa.Engine:
    """The configured database, migrated. The embedded database is migrated automatically (it
    is FlowPilot's own); an external one must be migrated with ``flowpilot db upgrade`` first."""
    engine = create_engine(url)
    if auto_migrate is None:
        auto_migrate = url is None and not os.environ.get(DATABASE_URL_ENV)
    if auto_migrate:
        migrate.upgrade(engine)
    else:
        migrate.require_migrated(engine)
    return engine


@dataclass
class LocalRuntime:
    """A runtime with an in-process worker (and scheduler) on the configured broker."""

    db: sa.Engine | None = None
    broker: dramatiq.Broker | None = None
    threads: int = 8
    scheduler: bool = True
    worker: bool = True
    runtime: Runtime = field(init=False)
    _worker: Any = field(init=False, default=None)
    _scheduler: Scheduler | None = field(init=False, default=None)

    def __enter__(self) -> Runtime:
        self.db = self.db or open_database()
        self.broker = self.broker or make_broker(broker_url())
        dramatiq.set_broker(self.broker)
        self.runtime = Runtime(self.db, dispatcher=DramatiqDispatcher(self.broker))
        install(self.runtime)
        if self.worker:
            self._worker = start_worker(self.broker, threads=self.threads)
        if self.scheduler:
            # With the in-process broker, work queued by another process (an approval given
            # with `flowpilot approve`) reaches this worker only through the sweep: keep it short.
            in_memory = isinstance(self.broker, StubBroker)
            self._scheduler = Scheduler(
                self.runtime, interval=0.2, requeue_after=5 if in_memory else None
            )
            self._scheduler.start_thread()
        return self.runtime

    def __exit__(self, *exc: object) -> None:
        if self._scheduler is not None:
            self._scheduler.stop()
        if self._worker is not None:
            self._worker.stop()
        if self.broker is not None:
            self.broker.close()
