"""Every service's consumer handles a message delivered twice once: the inbox, not the handler, makes a redelivery
harmless. The handler here is registered by the test and is not idempotent by itself (each call writes a new
outbox row), so a consumer that lost its inbox check would write two."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from gateway.app import build as build_gateway
from gateway.settings import GatewaySettings
from notifier.app import build as build_notifier
from notifier.settings import NotifierSettings
from scheduler.app import build as build_scheduler
from scheduler.settings import SchedulerSettings
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from shared.consumer import Consumer
from shared.contracts import BookingCancellationRequested, BookingRejected, Envelope, wrap
from shared.outbox import OutboxMessage, add_to_outbox
from shared.settings import load_settings

# Each service built from its own settings class, as its composition root does.
BUILDERS: dict[str, Callable[[dict[str, object]], Any]] = {
    "gateway": lambda env: build_gateway(load_settings(GatewaySettings, **env)),
    "scheduler": lambda env: build_scheduler(load_settings(SchedulerSettings, **env)),
    "notifier": lambda env: build_notifier(load_settings(NotifierSettings, **env)),
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.infra)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    """The variables every service is built with (each reads the ones it knows)."""
    if request.param == "sqlite":
        return {"var_dir": tmp_path}
    env = request.getfixturevalue("real_env")
    return {"var_dir": tmp_path, "gateway_database_url": env["GATEWAY_DATABASE_URL"],
            "scheduler_database_url": env["SCHEDULER_DATABASE_URL"],
            "notifier_database_url": env["NOTIFIER_DATABASE_URL"], "broker_url": env["BROKER_URL"],
            "data_key": env["DATA_KEY"]}


def _rejected() -> Envelope:
    booking_id = uuid4()
    return wrap(BookingRejected(booking_id=booking_id, reason="slot_taken"), booking_id)


def _cancellation_requested() -> Envelope:
    booking_id = uuid4()
    return wrap(BookingCancellationRequested(booking_id=booking_id, by="client"), booking_id)


# A message each service's consumer takes as a command from its own queue.
MESSAGES: dict[str, Callable[[], Envelope]] = {
    "gateway": _rejected, "scheduler": _cancellation_requested, "notifier": _rejected}


@pytest.fixture(params=sorted(BUILDERS))
def service(request: pytest.FixtureRequest, settings: dict[str, object]) -> Iterator[tuple[Consumer, Engine, Envelope]]:
    built = BUILDERS[request.param](settings)
    yield built.consumer, built.engine, MESSAGES[request.param]()
    built.engine.dispose()


def _outbox_rows(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(OutboxMessage)).one())


def _counting_handler(calls: list[str]) -> Callable[[Envelope, Session], None]:
    def handle(envelope: Envelope, session: Session) -> None:
        calls.append(str(envelope.message_id))
        add_to_outbox(session, _cancellation_requested())
    return handle


def test_a_message_delivered_twice_is_handled_once(service: tuple[Consumer, Engine, Envelope]) -> None:
    consumer, engine, message = service
    calls: list[str] = []
    # The test's handler stands in for the service's own.
    consumer.commands[message.type] = _counting_handler(calls)
    before = _outbox_rows(engine)
    raw = message.to_wire()

    consumer.handle(raw)
    consumer.handle(raw)  # the broker delivers it again (a lost acknowledgement, a restarted worker)

    assert calls == [raw["message_id"]]
    assert _outbox_rows(engine) == before + 1
    # Another message of the same type and content is handled: the inbox goes by message id.
    consumer.handle({**raw, "message_id": str(uuid4())})
    assert len(calls) == 2
    assert _outbox_rows(engine) == before + 2
