"""The scheduler's booking decision writes the appointment with one statement and looks nothing up first: a
booking announced again (a new message id, so the inbox lets it through) must still end with one appointment
and one announcement, and a slot another booking holds is refused with a reason. PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from scheduler import repository
from scheduler.app import Scheduler
from scheduler.app import build as build_scheduler
from scheduler.demo import seed
from scheduler.domain.availability import make_slot_id
from scheduler.settings import SchedulerSettings
from scheduler.tables import Appointment
from sqlmodel import Session, col, select

from shared.contracts import BookingConfirmed, BookingRequested, Mode, PublicLocation, Slot, wrap
from shared.outbox import OutboxMessage
from shared.settings import load_settings

# The scheduler's clock is pinned, so no test depends on today's date (a Monday that happens to be a public holiday
# in Mecklenburg-Vorpommern offers no slots): the Wednesday before an ordinary Monday.
NOW = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)
MONDAY = date(2026, 6, 8)


def _monday_at(hour: int) -> datetime:
    """Anna (counsellor 1) is in Rostock (location 1) on Mondays 09:00-16:00 Europe/Berlin in the demo data."""
    return datetime.combine(MONDAY, time(hour), tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


@pytest.fixture(params=["postgresql", "sqlite"])
def scheduler(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scheduler]:
    if request.param == "postgresql":
        env: dict[str, str] = request.getfixturevalue("real_env")
        settings = load_settings(SchedulerSettings, var_dir=tmp_path,
                                 scheduler_database_url=env["SCHEDULER_DATABASE_URL"], broker_url=env["BROKER_URL"])
    else:
        settings = load_settings(SchedulerSettings, var_dir=tmp_path)
    built = build_scheduler(settings, clock=lambda: NOW)
    seed(built.engine)
    yield built
    built.engine.dispose()


def _request(booking_id: UUID, hour: int = 11) -> dict[str, Any]:
    requested = BookingRequested(booking_id=booking_id, slot_id=make_slot_id(1, 1, 1, _monday_at(hour)),
                                 language="de", channel="web")
    return wrap(requested, booking_id).to_wire()  # a new message id each time


def _announced(scheduler: Scheduler) -> list[tuple[str, str]]:
    with Session(scheduler.engine) as session:
        rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
    return [(row.routing_key, row.correlation_id) for row in rows]


def _appointments(scheduler: Scheduler) -> list[tuple[str, str]]:
    with Session(scheduler.engine) as session:
        return [(row.booking_id, row.status) for row in session.exec(select(Appointment)).all()]


def test_a_booking_announced_again_keeps_its_one_appointment_and_is_confirmed_once(scheduler: Scheduler) -> None:
    booking_id = uuid4()
    scheduler.consumer.handle(_request(booking_id))
    scheduler.consumer.handle(_request(booking_id))

    assert _appointments(scheduler) == [(str(booking_id), "confirmed")]
    assert _announced(scheduler) == [("booking.confirmed", str(booking_id))]


def test_a_booking_announced_again_for_another_free_slot_keeps_its_first_slot(scheduler: Scheduler) -> None:
    booking_id = uuid4()
    scheduler.consumer.handle(_request(booking_id, hour=11))
    scheduler.consumer.handle(_request(booking_id, hour=13))

    with Session(scheduler.engine) as session:
        held = session.exec(select(Appointment)).one()
    assert held.starts_at == _monday_at(11)
    assert _announced(scheduler) == [("booking.confirmed", str(booking_id))]


def test_a_slot_held_by_another_booking_is_refused_as_taken(scheduler: Scheduler) -> None:
    first, second = uuid4(), uuid4()
    scheduler.consumer.handle(_request(first))
    scheduler.consumer.handle(_request(second))

    assert _appointments(scheduler) == [(str(first), "confirmed")]
    assert _announced(scheduler) == [("booking.confirmed", str(first)), ("booking.rejected", str(second))]
    with Session(scheduler.engine) as session:
        rejection = session.exec(select(OutboxMessage).where(OutboxMessage.routing_key == "booking.rejected")).one()
    assert '"reason":"slot_taken"' in rejection.body.replace(" ", "")


def test_an_appointment_the_database_refuses_is_announced_by_no_message(scheduler: Scheduler) -> None:
    # The race the calendar check cannot see: two decisions both found the slot free; the database keeps one.
    start = _monday_at(11)

    def held(booking_id: UUID) -> Appointment:
        now = NOW
        return Appointment(booking_id=str(booking_id), status="confirmed", topic="career", language="de",
                           channel="web", created_at=now, updated_at=now, counsellor_id=1, location_id=1,
                           type_id=1, starts_at=start, ends_at=start + timedelta(minutes=50), blocked_from=start,
                           blocked_until=start + timedelta(minutes=50))

    first, second = uuid4(), uuid4()
    with Session(scheduler.engine) as session:
        assert repository.insert_held(session, held(first), announce=wrap(_message(first), first))
        assert not repository.insert_held(session, held(second), announce=wrap(_message(second), second))
        assert not repository.insert_held(session, held(first), announce=wrap(_message(first), first))
        session.commit()

    assert _appointments(scheduler) == [(str(first), "confirmed")]
    assert _announced(scheduler) == [("booking.confirmed", str(first))]


def _message(booking_id: UUID) -> BookingConfirmed:
    start = _monday_at(11)
    slot = Slot(slot_id=make_slot_id(1, 1, 1, start), start=start, end=start + timedelta(minutes=50),
                location=PublicLocation(location_id=1, town="Rostock", kind=Mode.office, alias="Rostock 1"),
                mode=Mode.office, counsellor="Anna")
    return BookingConfirmed(booking_id=booking_id, slot=slot, language="de")
