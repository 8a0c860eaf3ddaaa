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
from functools import cache
from typing import Any

from sqlalchemy import Engine, TextClause, bindparam, delete, func, select, text
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
    """Rows for `envelopes`, in order, written at once on the session's connection: they commit or roll back with
    its transaction. One cached statement per number of rows (no ORM unit of work: every booking writes three)."""
    now = datetime.now(UTC)
    values = {f"{key}_{i}": value for i, envelope in enumerate(envelopes) for key, value in (
        ("message_id", str(envelope.message_id)), ("routing_key", envelope.type),
        ("correlation_id", envelope.correlation_id), ("body", json.dumps(envelope.to_wire())), ("created_at", now))}
    session.connection().execute(_multi_row_insert(len(envelopes)), values)


_COLUMNS = ("message_id", "routing_key", "correlation_id", "body", "created_at")


@cache
def _multi_row_insert(rows: int) -> TextClause:
    """INSERT ... VALUES (...), (...) built once per number of rows: a list of parameter sets would be an
    executemany (a psycopg pipeline), and SQLAlchemy compiles a multi-row insert() on every call."""
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    groups = ", ".join("(" + ", ".join(f":{column}_{i}" for column in _COLUMNS) + ")" for i in range(rows))
    # Names come from this module, values only as parameters.
    statement = text(f"INSERT INTO {table.name} ({', '.join(_COLUMNS)}) VALUES {groups}")  # noqa: S608
    # The instants go through the column's type (UTC; naive on SQLite), as with insert().
    return statement.bindparams(*(bindparam(f"created_at_{i}", type_=table.c.created_at.type) for i in range(rows)))


_TABLE = OutboxMessage.__table__  # type: ignore[attr-defined]


def _claim(limit: int) -> Any:
    """The oldest `limit` rows, deleted and returned by one statement (SQLite renders no FOR UPDATE)."""
    oldest = select(_TABLE.c.id).order_by(_TABLE.c.id).limit(limit).with_for_update(skip_locked=True)
    return (delete(_TABLE).where(_TABLE.c.id.in_(oldest))
            .returning(_TABLE.c.id, _TABLE.c.message_id, _TABLE.c.routing_key, _TABLE.c.body))


def unsent(engine: Engine) -> tuple[int, datetime | None]:
    """How many rows wait to be published, and when the oldest was written (None: none wait)."""
    with engine.connect() as connection:
        count, oldest = connection.execute(select(func.count(), func.min(_TABLE.c.created_at))).one()
    return int(count), oldest


# The relay is woken after every commit that writes to the outbox (where the service wires `wake`); its tick only
# catches what no wake announced (a row left by a process that stopped before publishing it, or a commit that does
# not wake it). Each tick is a query, also on an idle system.
SAFETY_TICK_SECONDS = 10.0


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

    def start(self, interval: float = SAFETY_TICK_SECONDS) -> None:
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
                    log.info("outbox relay %s: publishing again", self.name)
                self.last_error = None
                backoff = interval
            except Exception as exc:  # noqa: BLE001 - the relay must outlive any broker or database outage
                if self.last_error is None:
                    log.warning("outbox relay %s: cannot publish yet (%s); will retry", self.name, type(exc).__name__)
                self.last_error = type(exc).__name__
                backoff = min(backoff * 2, 5.0)
