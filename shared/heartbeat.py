"""Every role's heartbeat: a `role.heartbeat` message every HEARTBEAT_SECONDS, published like any other message,
which the gateway keeps (the latest per process) for the admins' health view. The gateway never reads another
service's tables: what a role knows of its own backlog travels in its heartbeat.

A heartbeat is sent straight, not through the outbox: one that cannot be sent (the broker away) is simply missed,
and its absence is what the health view shows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import Engine

from shared.clock import Clock, system_clock
from shared.contracts import RoleHeartbeat, wrap
from shared.contracts.health import Role
from shared.outbox import unsent

log = logging.getLogger(__name__)

# Publishes one envelope on the events exchange, routed by its type (shared.messaging.Publisher.publish).
PublishFn = Callable[[dict[str, Any], str], None]


@dataclass(frozen=True)
class Status:
    """What a role reports besides being alive; None for what it does not know."""

    outbox_backlog: int | None = None
    oldest_unsent_seconds: float | None = None
    dispatcher_lag_seconds: float | None = None
    last_beat_tick_at: datetime | None = None


def outbox_status(engine: Engine, now: datetime) -> Status:
    count, oldest = unsent(engine)
    return Status(outbox_backlog=count,
                  oldest_unsent_seconds=None if oldest is None else max(0.0, (now - oldest).total_seconds()))


def new_instance_id() -> str:
    return uuid4().hex[:12]


class Heartbeat:
    """A daemon thread that sends `role.heartbeat` now and then every `interval` seconds until stopped."""

    def __init__(self, role: Role, publish: PublishFn, status: Callable[[datetime], Status], interval: float,
                 clock: Clock = system_clock) -> None:
        self.role = role
        self.instance = new_instance_id()
        self.publish = publish
        self.status = status
        self.interval = interval
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def message(self) -> RoleHeartbeat:
        now = self.clock()
        status = self.status(now)
        return RoleHeartbeat(role=self.role, instance=self.instance, interval_seconds=self.interval,
                             outbox_backlog=status.outbox_backlog, oldest_unsent_seconds=status.oldest_unsent_seconds,
                             dispatcher_lag_seconds=status.dispatcher_lag_seconds,
                             last_beat_tick_at=status.last_beat_tick_at)

    def beat(self) -> bool:
        """Sends one heartbeat; False (and a warning the first time) when it could not be made or sent."""
        try:
            envelope = wrap(self.message(), self.instance, self.clock())
            self.publish(envelope.to_wire(), envelope.type)
        except Exception as exc:  # noqa: BLE001 - a missed heartbeat is what the health view is there to show
            if not self._failing:
                log.warning("%s: heartbeat not sent (%s); trying again every %.0f s", self.role, type(exc).__name__,
                            self.interval)
            self._failing = True
            return False
        if self._failing:
            log.info("%s: heartbeat sent again", self.role)
        self._failing = False
        return True

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"{self.role}-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        while True:
            self.beat()
            if self._stop.wait(self.interval):
                return
