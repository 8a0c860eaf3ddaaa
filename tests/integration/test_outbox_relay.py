"""The outbox relay publishes rows in the order they were written, deletes what reached the broker, and leaves
what did not for the next attempt, on PostgreSQL (claim-and-delete in one statement) and SQLite."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from shared.contracts import BookingCancellationRequested, wrap
from shared.db import make_engine
from shared.messaging import OutgoingMessage
from shared.outbox import OutboxMessage, Relay, insert_outbox
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
    with engine.begin() as connection:
        insert_outbox(connection, envelopes)
    return [str(envelope.message_id) for envelope in envelopes]


def _waiting(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [row.message_id for row in session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))]


class BrokerGoesAway(Exception):
    pass


def test_rows_are_published_in_the_order_written_and_then_deleted(engine: Engine) -> None:
    written = _write(engine, 7)
    published: list[str] = []
    relay = Relay(engine, lambda wire, _key: published.append(wire["message_id"]), "test", batch_size=3)

    assert relay.publish_pending() == 7

    assert published == written
    assert _waiting(engine) == []


def test_a_broker_failure_mid_batch_keeps_the_rows_not_yet_published(engine: Engine) -> None:
    written = _write(engine, 5)
    published: list[str] = []

    def publish(wire: dict[str, Any], _key: str) -> None:
        if len(published) == 2:
            raise BrokerGoesAway()
        published.append(wire["message_id"])

    relay = Relay(engine, publish, "test", batch_size=10)
    with pytest.raises(BrokerGoesAway):
        relay.publish_pending()

    assert published == written[:2]
    assert _waiting(engine) == written[2:]
    # The next attempt (broker back) sends the rest, once each.
    relay.publish = lambda wire, _key: published.append(wire["message_id"])
    assert relay.publish_pending() == 3
    assert published == written


def test_a_batch_the_broker_did_not_confirm_stays_whole_for_the_next_attempt(engine: Engine) -> None:
    written = _write(engine, 4)
    batches: list[list[str]] = []

    def refuse(messages: Sequence[OutgoingMessage]) -> None:
        raise BrokerGoesAway()

    relay = Relay(engine, lambda wire, _key: batches.append([wire["message_id"]]), "test", publish_batch=refuse)
    if engine.dialect.name == "postgresql":
        with pytest.raises(BrokerGoesAway):
            relay.publish_pending()
        assert _waiting(engine) == written

    relay.publish_batch = lambda messages: batches.append([m.message_id for m in messages])
    assert relay.publish_pending() == 4
    # PostgreSQL hands the batch over at once; SQLite (the embedded set-up) publishes row by row.
    assert [m for batch in batches for m in batch] == written
    assert _waiting(engine) == []
