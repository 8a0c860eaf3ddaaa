"""What the notifier worker says in its heartbeat (shared.heartbeat): its outbox, how long the oldest due text has
waited for the dispatcher, and when beat's dispatch tick last arrived here."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Engine

from notifier.repository import NotifierRepository
from shared.heartbeat import Status, outbox_status
from shared.unit_of_work import UnitOfWork


class WorkerStatus:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.uow = UnitOfWork(engine, NotifierRepository)
        self.last_tick: datetime | None = None

    def ticked(self, at: datetime) -> None:
        self.last_tick = at

    def __call__(self, now: datetime) -> Status:
        with self.uow() as repo:
            oldest = repo.oldest_due(now)
        lag = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())  # 0: nothing due waits
        return replace(outbox_status(self.engine, now), dispatcher_lag_seconds=lag, last_beat_tick_at=self.last_tick)
