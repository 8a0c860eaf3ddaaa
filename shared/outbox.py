"""Transactional outbox: a message is written in the same transaction as the state it announces, then relayed.

The relay claims unsent rows (SKIP LOCKED on PostgreSQL, so several relays never publish the same row at once),
publishes each with a broker confirm, and deletes it. A crash between publish and delete sends a row twice;
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

from sqlalchemy import Connection, Engine, TextClause, bindparam, delete, func, select, text
from sqlmodel import Field, Session, SQLModel

from shared.contracts import Envelope
from shared.db import instant_column, is_postgres
from shared.messaging import OutgoingMessage

log = logging.getLogger(__name__)

PublishFn = Callable[[dict[str, Any], str], None]
# Publishes serialised envelopes and returns once the broker confirmed all of them (raises otherwise).
PublishBatchFn = Callable[[Sequence[OutgoingMessage]], None]

# Claims the oldest unsent rows (SKIP LOCKED: a row another relay holds is left to it) and deletes them in one
# statement. set_config(..., true) is SET LOCAL: deleting sent rows need not wait for the disk, as a delete lost
# in a crash only sends those rows again, which consumers already tolerate (at-least-once, idempotent by message
# id); it sits in the WHERE clause to save a round trip.
_CLAIM_BATCH = text(
    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED)"
    " AND set_config('synchronous_commit', 'off', true) = 'off'"
    " RETURNING id, message_id, routing_key, body"
)


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


def outbox_values(envelope: Envelope) -> dict[str, Any]:
    """One outbox row as plain values, for a Core insert in the caller's transaction."""
    return {
        "message_id": str(envelope.message_id),
        "routing_key": envelope.type,
        "correlation_id": envelope.correlation_id,
        "body": json.dumps(envelope.to_wire()),
        "created_at": datetime.now(UTC),
    }


def insert_outbox(connection: Connection, envelopes: list[Envelope]) -> None:
    """Writes outbox rows with one Core statement on the caller's connection (and so in its transaction): no ORM
    unit of work, for hot paths that write their state with Core too. The rows keep their order (ids ascend)."""
    values = {f"{key}_{i}": value for i, envelope in enumerate(envelopes)
              for key, value in outbox_values(envelope).items()}
    connection.execute(_multi_row_insert(len(envelopes)), values)


OUTBOX_COLUMNS = ("message_id", "routing_key", "correlation_id", "body", "created_at")


@cache
def _multi_row_insert(rows: int) -> TextClause:
    """One INSERT ... VALUES (...), (...) per number of rows, built once: a list of parameter sets would be an
    executemany, which psycopg runs as a pipeline, and SQLAlchemy does not cache a multi-row insert() (it compiles
    it on every call); a text statement is compiled once."""
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    groups = ", ".join("(" + ", ".join(f":{column}_{i}" for column in OUTBOX_COLUMNS) + ")" for i in range(rows))
    # Names come from this module, values only as parameters.
    statement = text(f"INSERT INTO {table.name} ({', '.join(OUTBOX_COLUMNS)}) VALUES {groups}")  # noqa: S608
    # The instants go through the column's type (UTC; naive on SQLite), as with insert().
    return statement.bindparams(*(bindparam(f"created_at_{i}", type_=table.c.created_at.type) for i in range(rows)))


def pending_count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(OutboxMessage)).one()[0])  # type: ignore[call-overload]


class Relay:
    """Moves outbox rows to the broker. `wake()` after a commit makes it run at once instead of at the next tick."""

    def __init__(self, engine: Engine, publish: PublishFn, name: str, batch_size: int = 100,
                 publish_batch: PublishBatchFn | None = None) -> None:
        self.engine = engine
        self.publish = publish
        # On PostgreSQL a batch goes to `publish_batch` when given (its confirms awaited together), else row by row.
        self.publish_batch = publish_batch
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
        if is_postgres(self.engine):
            return self._publish_claimed_batch()
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        # Core statements, not ORM objects: the relay runs after every commit, so its overhead counts.
        with self.engine.connect() as connection:
            query = select(table.c.id, table.c.routing_key, table.c.body).order_by(table.c.id).limit(self.batch_size)
            rows = connection.execute(query).all()
            if not rows:
                connection.rollback()
                return 0
            sent: list[int] = []
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

    def _publish_claimed_batch(self) -> int:
        """PostgreSQL: one statement claims and deletes a batch (three round trips with BEGIN and COMMIT instead
        of five); the delete commits only after every row of the batch was published and confirmed."""
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        with self.engine.connect() as connection:
            rows = sorted(connection.execute(_CLAIM_BATCH, {"limit": self.batch_size}).all())
            if not rows:
                connection.rollback()
                return 0
            if self.publish_batch is not None:
                try:
                    self.publish_batch([OutgoingMessage(message_id, routing_key, body)
                                        for _, message_id, routing_key, body in rows])
                except BaseException:
                    connection.rollback()  # the whole batch stays; what did arrive is sent again (at-least-once)
                    raise
                connection.commit()
                return len(rows)
            sent: list[int] = []
            try:
                for row_id, _, routing_key, body in rows:
                    self.publish(json.loads(body), routing_key)
                    sent.append(row_id)
            except BaseException:
                # The claim is undone, so the rows not published stay; those published reached the broker and
                # go now (if this fails too, they are sent again later, which consumers tolerate).
                connection.rollback()
                if sent:
                    connection.execute(delete(table).where(table.c.id.in_(sent)))
                    connection.commit()
                raise
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
