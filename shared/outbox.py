"""Transactional outbox: a message is written in the same transaction as the state it announces, then relayed.

`add_to_outbox` is the one way to write a row: it joins the caller's session, so the row commits with the state.
The relay claims the oldest rows and deletes them in one statement, publishes them, and commits the delete only
once the broker confirmed every one; a failure rolls the claim back and the rows wait for the next attempt. On
PostgreSQL the claim skips rows another relay holds (SKIP LOCKED), so two relays never publish the same row at
once; SQLite transactions are serialised already. A crash between publish and commit sends a row twice;
consumers are idempotent by message id, so that is safe. While the broker is down rows simply wait.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlmodel import Field, Session, SQLModel

from shared.contracts import Envelope
from shared.db import instant_column
from shared.messaging import OutgoingMessage

log = logging.getLogger(__name__)

# Publishes the rows in order and returns once the broker confirmed all of them (raises otherwise).
PublishFn = Callable[[Sequence[OutgoingMessage]], None]


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=36, unique=True)
    routing_key: str = Field(max_length=64)
    correlation_id: str = Field(max_length=64)
    body: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC), sa_column=instant_column())


def add_to_outbox(session: Session, *envelopes: Envelope) -> None:
    """Rows for `envelopes`, in order, in the session's transaction (they go out only if it commits)."""
    session.add_all([
        OutboxMessage(message_id=str(envelope.message_id), routing_key=envelope.type,
                      correlation_id=envelope.correlation_id, body=json.dumps(envelope.to_wire()))
        for envelope in envelopes])


_TABLE = OutboxMessage.__table__  # type: ignore[attr-defined]


def _claim(limit: int) -> Any:
    """The oldest `limit` rows, deleted and returned by one statement (SQLite renders no FOR UPDATE)."""
    oldest = select(_TABLE.c.id).order_by(_TABLE.c.id).limit(limit).with_for_update(skip_locked=True)
    return (delete(_TABLE).where(_TABLE.c.id.in_(oldest))
            .returning(_TABLE.c.id, _TABLE.c.message_id, _TABLE.c.routing_key, _TABLE.c.body))


class Relay:
    """Moves outbox rows to the broker. `wake()` after a commit makes it run at once instead of at the next tick."""

    def __init__(self, engine: Engine, publish: PublishFn, name: str, batch_size: int = 100) -> None:
        self.engine = engine
        self.publish = publish
        self.name = name
        self.batch_size = batch_size
        self._claim = _claim(batch_size)
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
        with self.engine.connect() as connection:
            rows = sorted(connection.execute(self._claim).all())
            if not rows:
                connection.rollback()
                return 0
            try:
                self.publish([OutgoingMessage(message_id, routing_key, body)
                              for _, message_id, routing_key, body in rows])
            except BaseException:
                connection.rollback()  # the whole batch stays; what did arrive is sent again (at-least-once)
                raise
            connection.commit()
            return len(rows)

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
