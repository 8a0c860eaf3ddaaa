"""What the notifier worker says in its heartbeat (shared.heartbeat): its outbox, how long the oldest due text has
waited for the dispatcher, and when beat's dispatch tick last arrived here."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Engine

from notifier.metrics import dispatch_lag
from shared.heartbeat import Status, outbox_status


class WorkerStatus:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.last_tick: datetime | None = None

    def ticked(self, at: datetime) -> None:
        self.last_tick = at

    def __call__(self, now: datetime) -> Status:
        return replace(outbox_status(self.engine, now), dispatcher_lag_seconds=dispatch_lag(self.engine, now),
                       last_beat_tick_at=self.last_tick)
