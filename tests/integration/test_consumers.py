"""Consumers are idempotent, and a message nobody understands is dead-lettered instead of crashing a worker."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from notifier.app import Notifier
from notifier.app import build as build_notifier
from notifier.settings import NotifierSettings
from notifier.tables import Delivery, Reminder
from scheduler.app import Scheduler
from scheduler.app import build as build_scheduler
from scheduler.demo import seed
from scheduler.domain.availability import make_slot_id
from scheduler.settings import SchedulerSettings
from scheduler.tables import Appointment
from sqlmodel import Session, func, select

from shared.cipher import load_cipher
from shared.contracts import (
    BookingConfirmed,
    BookingRequested,
    ContactRegistered,
    Mode,
    PublicLocation,
    Slot,
    wrap,
)
from shared.contracts.contacts import manage_token_context, phone_context
from shared.outbox import OutboxMessage
from shared.settings import CommonSettings, load_settings
from tests.support.dead_letters import take_dead_letters


def _count(session: Session, model: type, *where: object) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())  # type: ignore[arg-type]


# The services' clock is pinned, so no test depends on today's date (a Monday that happens to be a public holiday
# in Mecklenburg-Vorpommern offers no slots): the Wednesday before an ordinary Monday.
NOW = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)
MONDAY_AT_ELEVEN = datetime(2026, 6, 8, 11, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


def _clock() -> datetime:
    return NOW


@pytest.fixture
def real_settings(tmp_path: Path, real_env: dict[str, str]) -> NotifierSettings:
    return load_settings(
        NotifierSettings,
        var_dir=tmp_path,
        notifier_database_url=real_env["NOTIFIER_DATABASE_URL"],
        broker_url=real_env["BROKER_URL"],
        data_key=real_env["DATA_KEY"],
    )


@pytest.fixture
def scheduler(tmp_path: Path, real_env: dict[str, str]) -> Iterator[Scheduler]:
    settings = load_settings(SchedulerSettings, var_dir=tmp_path, broker_url=real_env["BROKER_URL"],
                             scheduler_database_url=real_env["SCHEDULER_DATABASE_URL"])
    built = build_scheduler(settings, clock=_clock)
    seed(built.engine)
    yield built
    built.engine.dispose()


@pytest.fixture
def notifier(real_settings: NotifierSettings) -> Iterator[Notifier]:
    built = build_notifier(real_settings, clock=_clock)
    yield built
    built.engine.dispose()


def _booking_request() -> dict[str, object]:
    envelope = wrap(BookingRequested(booking_id=uuid4(), slot_id=make_slot_id(1, 1, 1, MONDAY_AT_ELEVEN),
                                     language="de", channel="web"), uuid4())
    return envelope.to_wire()


@pytest.mark.infra
def test_booking_requested_twice_gives_one_appointment_and_one_announcement(scheduler: Scheduler) -> None:
    raw = _booking_request()
    scheduler.consumer.handle(raw)
    scheduler.consumer.handle(raw)
    with Session(scheduler.engine) as session:
        assert _count(session, Appointment) == 1
        assert _count(session, OutboxMessage) == 1


@pytest.mark.infra
def test_booking_requested_delivered_concurrently_is_decided_once(scheduler: Scheduler) -> None:
    raw = _booking_request()
    threads = [threading.Thread(target=scheduler.consumer.handle, args=(raw,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Session(scheduler.engine) as session:
        assert _count(session, Appointment) == 1
        assert _count(session, OutboxMessage) == 1


@pytest.mark.infra
def test_confirmation_redelivered_sends_no_second_sms(notifier: Notifier, real_settings: NotifierSettings) -> None:
    cipher = load_cipher(real_settings)
    booking_id = uuid4()
    contact = wrap(ContactRegistered(
        booking_id=booking_id,
        phone=cipher.encrypt("+4915112345678", phone_context(booking_id)),
        manage_token=cipher.encrypt("A" * 22, manage_token_context(booking_id)),
        language="en"), booking_id).to_wire()
    start = NOW + timedelta(days=2)
    confirmed = wrap(BookingConfirmed(
        booking_id=booking_id,
        slot=Slot(slot_id=make_slot_id(1, 1, 1, start), start=start, end=start + timedelta(minutes=50),
                  location=PublicLocation(location_id=1, town="Rostock", kind=Mode.office, alias="Rostock 1"),
                  mode=Mode.office, counsellor="Anna"),
        language="en"), booking_id).to_wire()
    for raw in (contact, confirmed, confirmed, contact, confirmed):
        notifier.consumer.handle(raw)
    notifier.dispatcher.dispatch_due()
    sink = (real_settings.var_dir / "sms-sink.jsonl").read_text().splitlines()
    assert len(sink) == 1
    assert json.loads(sink[0])["body"].startswith("Appointment confirmed")
    with Session(notifier.engine) as session:
        # The confirmation went out; the reminders (24 h and 2 h before, the default policy) wait for their time.
        assert _count(session, Reminder, Reminder.status == "sent") == 1
        assert _count(session, Reminder, Reminder.status == "pending") == 2
        assert _count(session, Delivery) == 1


def _dead_letters(settings: CommonSettings) -> list[dict[str, object]]:
    return take_dead_letters(settings)


@pytest.mark.infra
@pytest.mark.parametrize(
    "raw",
    [
        {"type": "booking.requested", "version": 99, "payload": {}},
        {"type": "booking.teleported", "version": 1, "payload": {}},
        {"type": "booking.requested", "version": 1, "message_id": str(uuid4()), "correlation_id": "x",
         "occurred_at": "2026-01-01T00:00:00Z", "payload": {"booking_id": "not-a-uuid"}},
        "not an envelope at all",
    ],
    ids=["unknown-version", "unknown-type", "invalid-payload", "not-json-object"],
)
def test_message_nobody_understands_goes_to_the_dead_letter_queue(
    scheduler: Scheduler, real_settings: NotifierSettings, raw: object
) -> None:
    scheduler.consumer.handle(raw)  # must not raise: a worker survives it
    letters = _dead_letters(real_settings)
    assert len(letters) == 1
    assert letters[0]["message"] == raw
    assert letters[0]["queue"] == "scheduler.bookings"
    assert letters[0]["reason"]
    # The worker goes on: a valid message right after is decided.
    scheduler.consumer.handle(_booking_request())
    with Session(scheduler.engine) as session:
        assert _count(session, Appointment) == 1


def test_dead_letter_queue_exists_on_the_embedded_broker_too(tmp_path: Path) -> None:
    settings = load_settings(SchedulerSettings, var_dir=tmp_path)
    built = build_scheduler(settings, clock=_clock)
    built.consumer.handle({"type": "slots.requested", "version": 7, "payload": {}})
    letters = _dead_letters(settings)
    assert [letter["message"] for letter in letters] == [{"type": "slots.requested", "version": 7, "payload": {}}]
    assert [letter["queue"] for letter in letters] == ["scheduler.queries"]
