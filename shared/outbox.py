"""Transactional outbox: a message is written in the same transaction as the state it announces, then relayed.

The relay claims unsent rows (SKIP LOCKED on PostgreSQL, so several relays never publish the same row at once),
publishes each with a broker confirm, and deletes it. A crash between publish and delete sends a row twice;
consumers are idempotent by message id, so that is safe. While the broker is down rows simply wait.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select, text
from sqlmodel import Field, Session, SQLModel

from shared.contracts import Envelope
from shared.db import instant_column, is_postgres

log = logging.getLogger(__name__)

PublishFn = Callable[[dict[str, Any], str], None]


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=36, unique=True)
    routing_key: str = Field(max_length=64)
    correlation_id: str = Field(max_length=64)
    body: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC), sa_column=instant_column())


def add_to_outbox(session: Session, envelope: Envelope) -> None:
    session.add(
        OutboxMessage(
            message_id=str(envelope.message_id),
            routing_key=envelope.type,
            correlation_id=envelope.correlation_id,
            body=json.dumps(envelope.to_wire()),
        )
    )


def pending_count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(OutboxMessage)).one()[0])  # type: ignore[call-overload]


class Relay:
    """Moves outbox rows to the broker. `wake()` after a commit makes it run at once instead of at the next tick."""

    def __init__(self, engine: Engine, publish: PublishFn, name: str, batch_size: int = 100) -> None:
        self.engine = engine
        self.publish = publish
        self.name = name
        self.batch_size = batch_size
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None

    def publish_pending(self) -> int:
        """Publish what is waiting; returns how many were sent. Raises if the broker refuses (rows stay)."""
        sent = 0
        with self._lock:
            while True:
                batch = self._publish_batch()
                sent += batch
                if batch < self.batch_size:
                    return sent

    def _publish_batch(self) -> int:
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        # Core statements, not ORM objects: the relay runs after every commit, so its overhead counts.
        with self.engine.connect() as connection:
            query = select(table.c.id, table.c.routing_key, table.c.body).order_by(table.c.id).limit(self.batch_size)
            if is_postgres(self.engine):
                query = query.with_for_update(skip_locked=True)
            rows = connection.execute(query).all()
            if not rows:
                connection.rollback()
                return 0
            sent: list[int] = []
            if is_postgres(self.engine):
                # Deleting sent rows need not wait for the disk: a delete lost in a crash only sends those
                # rows again, which consumers already tolerate (at-least-once, idempotent by message id).
                connection.execute(text("SET LOCAL synchronous_commit = off"))
            try:
                for row_id, routing_key, body in rows:
                    self.publish(json.loads(body), routing_key)
                    sent.append(row_id)
            finally:
                # Rows published before a failure are deleted too: they reached the broker.
                if sent:
                    connection.execute(delete(table).where(table.c.id.in_(sent)))
                connection.commit()
            return len(sent)

    def wake(self) -> None:
        self._wake.set()

    def start(self, interval: float = 1.0) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, args=(interval,), name=f"relay-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, interval: float) -> None:
        backoff = interval
        while not self._stop.is_set():
            self._wake.wait(backoff)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.publish_pending()
                if self.last_error:
                    log.info("outbox relay %s: broker reachable again", self.name)
                self.last_error = None
                backoff = interval
            except Exception as exc:  # noqa: BLE001 - the relay must outlive any broker or database outage
                if self.last_error is None:
                    log.warning("outbox relay %s: cannot publish yet (%s); will retry", self.name, type(exc).__name__)
                self.last_error = type(exc).__name__
                backoff = min(backoff * 2, 5.0)
