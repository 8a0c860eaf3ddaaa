"""The gateway follows the scheduler's decisions: each event is applied once, understood or dead-lettered, and
acknowledged, also when many wait in the queue or the same one arrives twice."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from gateway.app import Gateway, build
from gateway.bookings import NewBooking
from gateway.settings import GatewaySettings
from scheduler.domain.availability import make_slot_id

from shared.contracts import BookingConfirmed, BookingRejected, Mode, Payload, PublicLocation, Slot, wrap
from shared.messaging import broker_connection, queues_for
from shared.settings import load_settings
from tests.support.dead_letters import take_dead_letters
from tests.support.system import ROOMY_LIMITS

START = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def settings(tmp_path: Path, real_env: dict[str, str]) -> GatewaySettings:
    # Limits out of reach: _book books one number many times (test_abuse_limits.py checks the limits).
    roomy = {name.lower(): value for name, value in ROOMY_LIMITS.items() if name != "SMS_DAILY_BUDGET"}
    return load_settings(GatewaySettings, var_dir=tmp_path, gateway_database_url=real_env["GATEWAY_DATABASE_URL"],
                         broker_url=real_env["BROKER_URL"], data_key=real_env["DATA_KEY"], **roomy)


@pytest.fixture
def gateway(settings: GatewaySettings) -> Iterator[Gateway]:
    built = build(settings)
    yield built
    built.listener.stop()
    built.engine.dispose()


def _book(gateway: Gateway, n: int) -> list[tuple[UUID, str]]:
    """n pending bookings: (booking id, manage token)."""
    booked = []
    for i in range(n):
        accepted = gateway.bookings.request(NewBooking(slot_id=make_slot_id(1, 1, 1, START + timedelta(hours=i)),
                                                       phone="+4915112345678", language="de", channel="web"), None)
        booked.append((UUID(str(accepted.booking_id)), accepted.manage_token))
    return booked


def _slot(i: int) -> Slot:
    start = START + timedelta(hours=i)
    return Slot(slot_id=make_slot_id(1, 1, 1, start), start=start, end=start + timedelta(minutes=50),
                location=PublicLocation(location_id=1, town="Rostock", kind=Mode.office, alias="Rostock 1"),
                mode=Mode.office, counsellor="Anna")


def _publish(gateway: Gateway, payload: Payload) -> dict[str, Any]:
    wire = wrap(payload, uuid4()).to_wire()
    gateway.publisher.publish(wire, str(wire["type"]))
    return wire


def _record_events(gateway: Gateway) -> list[Any]:
    received: list[Any] = []
    apply: Callable[[Any], None] = gateway.listener.on_event

    def recording(raw: Any) -> None:
        received.append(raw)
        apply(raw)

    gateway.listener.on_event = recording
    return received


def _wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _messages_left(settings: GatewaySettings) -> int:
    """Ready and unacknowledged messages in the gateway's event queue (after its listener closed its channel)."""
    with broker_connection(settings) as connection:
        queue = queues_for("gateway", settings)[0](connection.default_channel)
        return int(queue.queue_declare(passive=True).message_count)


@pytest.mark.infra
def test_decisions_queued_before_the_listener_started_are_each_applied_once_and_all_acknowledged(
        gateway: Gateway, settings: GatewaySettings) -> None:
    booked = _book(gateway, 60)
    for i, (booking_id, _) in enumerate(booked):
        _publish(gateway, BookingConfirmed(booking_id=booking_id, slot=_slot(i), language="de"))
    received = _record_events(gateway)

    gateway.listener.start()
    _wait_for(lambda: all(gateway.bookings.view(token).status == "confirmed" for _, token in booked))
    gateway.listener.stop()

    assert len(received) == 60
    assert _messages_left(settings) == 0
    assert gateway.bookings.view(booked[7][1]).slot == _slot(7).model_dump(mode="json")


@pytest.mark.infra
def test_a_replayed_a_repeated_and_an_unknown_message_leave_each_understood_decision_applied_once(
        gateway: Gateway, settings: GatewaySettings, caplog: pytest.LogCaptureFixture) -> None:
    booked = _book(gateway, 4)
    first = _publish(gateway, BookingConfirmed(booking_id=booked[0][0], slot=_slot(0), language="de"))
    gateway.listener.start()
    _wait_for(lambda: gateway.bookings.view(booked[0][1]).status == "confirmed")
    gateway.listener.stop()

    received = _record_events(gateway)
    # The first decision again (a redelivery: same message id), a message of a version nobody knows, the
    # rejection of booking 1 twice (same message id), the confirmation of booking 2.
    gateway.publisher.publish(first, "booking.confirmed")
    gateway.publisher.publish({**first, "message_id": str(uuid4()), "version": 99}, "booking.confirmed")
    rejected = _publish(gateway, BookingRejected(booking_id=booked[1][0], reason="slot_taken"))
    gateway.publisher.publish(rejected, "booking.rejected")
    _publish(gateway, BookingConfirmed(booking_id=booked[2][0], slot=_slot(2), language="de"))
    # booking 0 is cancelled by its client meanwhile: the replayed confirmation must not bring it back.
    gateway.bookings.cancel(booked[0][1])

    gateway.listener.start()
    _wait_for(lambda: gateway.bookings.view(booked[2][1]).status == "confirmed")
    gateway.listener.stop()

    assert len(received) == 5
    assert [gateway.bookings.view(token).status for _, token in booked] == [
        "cancelled", "rejected", "confirmed", "pending"]
    assert _messages_left(settings) == 0
    dead = take_dead_letters(settings)
    assert len(dead) == 1 and dead[0]["message"]["version"] == 99
    assert dead[0]["queue"] == "gateway.events" and "v99" in dead[0]["reason"]
