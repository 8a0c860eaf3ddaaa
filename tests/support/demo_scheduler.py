"""The scheduler over its own embedded database with the demo calendar and a set clock, for tests that drive its
real handlers with messages and read what it announced (its outbox)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from scheduler.app import Scheduler
from scheduler.app import build as build_scheduler
from scheduler.demo import seed
from scheduler.settings import SchedulerSettings
from sqlmodel import Session, select

from shared.contracts import Payload, wrap
from shared.outbox import OutboxMessage
from shared.settings import load_settings

BERLIN = ZoneInfo("Europe/Berlin")
# A Wednesday morning before the demo week the tests book in (Monday 8 June 2026).
START = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    """A Berlin wall time, as the UTC instant the scheduler stores."""
    return datetime.combine(day, time(hour, minute), BERLIN).astimezone(UTC)


class Clock:
    """A clock a test sets."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@contextmanager
def demo_scheduler(var_dir: Path, clock: Callable[[], datetime]) -> Iterator[Scheduler]:
    built = build_scheduler(load_settings(SchedulerSettings, var_dir=var_dir), clock)
    seed(built.engine)
    try:
        yield built
    finally:
        built.engine.dispose()


def send(scheduler: Scheduler, payload: Payload) -> dict[str, Any]:
    """Hand the scheduler one message as its consumer receives it; returns the message (to send it again)."""
    wire = wrap(payload, uuid4()).to_wire()
    scheduler.consumer.handle(wire)
    return wire


def announced(scheduler: Scheduler, message_type: str) -> list[dict[str, Any]]:
    """The payloads of the messages of `message_type` the scheduler wrote to its outbox, oldest first."""
    with Session(scheduler.engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.routing_key == message_type)
                            .order_by(OutboxMessage.id))  # type: ignore[arg-type]
        return [json.loads(row.body)["payload"] for row in rows]
