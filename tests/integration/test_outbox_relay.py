"""The outbox relay publishes rows in the order they were written, deletes what the broker confirmed, and leaves a
batch it did not confirm whole for the next attempt, on PostgreSQL and SQLite (the same claim-and-delete
statement on both); two relays never publish the same row."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from shared.contracts import BookingCancellationRequested, wrap
from shared.db import make_engine
from shared.messaging import OutgoingMessage
from shared.outbox import OutboxMessage, Relay, add_to_outbox
from tests.support import infra


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        request.getfixturevalue("infrastructure")
        databases = infra.create_databases("lotse_relay")
        built = make_engine(databases.gateway)
    else:
        built = make_engine(f"sqlite:///{tmp_path / 'outbox.sqlite'}")
    OutboxMessage.__table__.create(built)  # type: ignore[attr-defined]
    yield built
    built.dispose()
    if request.param == "postgresql":
        infra.drop_databases(databases)


def _write(engine: Engine, count: int) -> list[str]:
    envelopes = []
    for _ in range(count):
        booking_id = uuid4()
        envelopes.append(wrap(BookingCancellationRequested(booking_id=booking_id, by="client"), booking_id))
    with Session(engine) as session:
        add_to_outbox(session, *envelopes)
        session.commit()
    return [str(envelope.message_id) for envelope in envelopes]


def _waiting(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [row.message_id for row in session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))]


class BrokerGoesAway(Exception):
    pass


class Recorder:
    """A broker that confirms everything (or refuses while `refusing`)."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.refusing = False

    def __call__(self, messages: Sequence[OutgoingMessage]) -> None:
        if self.refusing:
            raise BrokerGoesAway()
        self.batches.append([m.message_id for m in messages])

    @property
    def published(self) -> list[str]:
        return [message_id for batch in self.batches for message_id in batch]


def test_rows_are_published_in_the_order_written_and_then_deleted(engine: Engine) -> None:
    written = _write(engine, 7)
    broker = Recorder()
    relay = Relay(engine, broker, "test", batch_size=3)

    assert relay.publish_pending() == 7

    assert broker.published == written
    assert [len(batch) for batch in broker.batches] == [3, 3, 1]
    assert _waiting(engine) == []


def test_a_batch_the_broker_did_not_confirm_stays_whole_for_the_next_attempt(engine: Engine) -> None:
    written = _write(engine, 4)
    broker = Recorder()
    broker.refusing = True
    relay = Relay(engine, broker, "test")

    with pytest.raises(BrokerGoesAway):
        relay.publish_pending()
    assert _waiting(engine) == written

    broker.refusing = False
    assert relay.publish_pending() == 4
    assert broker.published == written
    assert _waiting(engine) == []


def test_two_relays_at_once_publish_every_row_once(engine: Engine) -> None:
    written = _write(engine, 60)
    broker = Recorder()
    relays = [Relay(engine, broker, f"test-{i}", batch_size=5) for i in range(2)]
    threads = [threading.Thread(target=relay.publish_pending) for relay in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(broker.published) == sorted(written)
    assert _waiting(engine) == []
