"""Prometheus metrics of the notifier: texts by status and provider error code, the dispatcher's lag, the beat's
ticks. Labels hold statuses and error codes from a known list (anything else is "other"), never a number or a SID.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from celery.signals import after_task_publish
from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlmodel import col

from notifier.domain.provider_errors import metric_code
from notifier.tables import Reminder
from shared.metrics import scrape_query

TEXTS = Counter("lotse_notifier_texts_total",
                "Texts by the status they reached (sending, sent, delivered, undelivered, failed) and error code",
                ["status", "error_code"])
# Set by the worker when a beat tick reaches it, and by beat when it sends one (time(): seconds since the epoch).
# Registered by the one process each belongs to (notifier/__main__.py): a 0 from the other would look like a
# beat silent since 1970.
TICK_RECEIVED = Gauge("lotse_notifier_last_tick_timestamp_seconds", "When the worker last received a beat tick",
                      registry=None)
BEAT_TICK = Gauge("lotse_beat_last_tick_timestamp_seconds", "When beat last sent the dispatcher's tick",
                  registry=None)
DISPATCH_LAG = "lotse_notifier_dispatch_lag_seconds"


def count_text(status: str, error_code: str | None) -> None:
    TEXTS.labels(status, metric_code(error_code)).inc()


class DispatchLag(Collector):
    """`lotse_notifier_dispatch_lag_seconds`: how long the oldest message that is due has waited unclaimed (0 when
    none waits). One indexed query (reminders_due: status, due_at) per scrape."""

    def __init__(self, engine: Engine, now: Callable[[], datetime]) -> None:
        self.engine = engine
        self.now = now

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [self._family()]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = self._family()
        lag = scrape_query(self._lag, "dispatch lag")
        if lag is not None:
            family.add_metric([], lag)
        return [family]

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(DISPATCH_LAG, "Age of the oldest due message not yet claimed by the dispatcher")

    def _lag(self) -> float:
        return dispatch_lag(self.engine, self.now())


def dispatch_lag(engine: Engine, now: datetime) -> float:
    """Seconds the oldest message due by `now` has waited unclaimed; 0 when none waits (also the worker's
    heartbeat, notifier.status)."""
    oldest = (select(func.min(col(Reminder.due_at)))
              .where(col(Reminder.status) == "pending", col(Reminder.due_at) <= now))
    with engine.connect() as connection:
        due_at = connection.execute(oldest).scalar_one()
    # min() has the column's type: an aware UTC instant on both dialects.
    return 0.0 if due_at is None else max(0.0, (now - due_at).total_seconds())


def record_beat_ticks(task_name: str) -> Callable[..., None]:
    """In beat: every time it publishes `task_name` (the dispatcher's tick), BEAT_TICK is now. Returns the receiver
    (connected strongly, for the life of the process)."""

    def ticked(**_kwargs: Any) -> None:
        BEAT_TICK.set(time.time())

    after_task_publish.connect(ticked, sender=task_name, weak=False)
    return ticked


def tick_received() -> None:
    TICK_RECEIVED.set(time.time())
