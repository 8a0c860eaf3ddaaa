"""A batch of messages costs less and changes nothing: each is applied once, a failing one alone is dead-lettered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from shared.consumer import Consumer
from shared.contracts import BookingCancellationRequested, Envelope, wrap
from shared.db import make_engine
from shared.inbox import ProcessedMessage


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.infra)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'batch.sqlite'}"
    else:
        url = request.getfixturevalue("databases").gateway
    engine = make_engine(url)
    ProcessedMessage.__table__.create(engine)  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE applied (booking_id TEXT NOT NULL)"))
    yield engine
    engine.dispose()


class Recorder:
    def __init__(self, engine: Engine, refuse: str = "") -> None:
        self.dead: list[tuple[Any, str]] = []
        self.commits = 0
        self.refuse = refuse

        def apply(envelope: Envelope, session: Session) -> None:
            booking_id = str(envelope.payload.booking_id)  # type: ignore[attr-defined]
            if booking_id == self.refuse:
                raise ValueError("this one cannot be applied")
            session.connection().execute(text("INSERT INTO applied VALUES (:b)"), {"b": booking_id})

        def committed() -> None:
            self.commits += 1

        self.consumer = Consumer("test", engine, {"booking.cancellation_requested": apply},
                                 dead_letter=lambda raw, reason: self.dead.append((raw, reason)),
                                 after_commit=committed)


def _message() -> dict[str, Any]:
    return wrap(BookingCancellationRequested(booking_id=uuid4(), by="client"), uuid4()).to_wire()


def _applied(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return sorted(row[0] for row in connection.execute(text("SELECT booking_id FROM applied")))


def _ids(*messages: dict[str, Any]) -> list[str]:
    return sorted(str(m["payload"]["booking_id"]) for m in messages)


def test_a_batch_is_applied_in_one_commit_and_again_changes_nothing(engine: Engine) -> None:
    recorder = Recorder(engine)
    batch = [_message() for _ in range(5)]

    recorder.consumer.handle_batch([*batch, batch[2]])  # one of them twice in the same batch
    assert recorder.commits == 1
    recorder.consumer.handle_batch(batch)  # the whole batch redelivered
    recorder.consumer.handle(batch[0])

    assert _applied(engine) == _ids(*batch)
    assert recorder.dead == []


def test_a_message_that_fails_in_a_batch_is_dead_lettered_alone_and_the_others_are_applied(engine: Engine) -> None:
    batch = [_message() for _ in range(4)]
    recorder = Recorder(engine, refuse=str(batch[1]["payload"]["booking_id"]))

    recorder.consumer.handle_batch(batch)

    assert _applied(engine) == _ids(batch[0], batch[2], batch[3])
    assert [raw for raw, _ in recorder.dead] == [batch[1]]
    assert "ValueError" in recorder.dead[0][1]


def test_a_message_not_understood_in_a_batch_is_dead_lettered_and_the_others_are_applied(engine: Engine) -> None:
    recorder = Recorder(engine)
    good = [_message(), _message()]
    unknown = {**_message(), "version": 99}

    recorder.consumer.handle_batch([good[0], unknown, good[1], "not an envelope"])

    assert _applied(engine) == _ids(*good)
    assert [raw for raw, _ in recorder.dead] == [unknown, "not an envelope"]
