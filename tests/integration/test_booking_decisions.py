"""The booking operations return what they decided and send nothing themselves (only a confirmation is written
with the appointment it announces); the message handlers and the staff answers map the decision."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from scheduler import bookings
from scheduler.app import Scheduler
from scheduler.app import build as build_scheduler
from scheduler.demo import seed
from scheduler.domain.availability import make_slot_id
from scheduler.domain.decisions import Changed, Confirmed, Refused, Unchanged
from scheduler.settings import SchedulerSettings
from sqlmodel import Session, func, select

from shared.contracts import BookingCancelled, BookingNoShow, BookingRequested, BookingRescheduled
from shared.outbox import OutboxMessage
from shared.settings import load_settings
from shared.unit_of_work import transaction

BERLIN = ZoneInfo("Europe/Berlin")
ANNA, ROSTOCK, CAREER = 1, 1, 1
MONDAY = date(2026, 6, 8)  # Anna is in Rostock on Mondays 09:00-16:00 (demo data)
NOW = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)


def berlin(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(MONDAY, time(hour, minute), BERLIN).astimezone(UTC)


def slot(hour: int, minute: int = 0) -> str:
    return make_slot_id(ANNA, ROSTOCK, CAREER, berlin(hour, minute))


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[Scheduler]:
    built = build_scheduler(load_settings(SchedulerSettings, var_dir=tmp_path), lambda: NOW)
    seed(built.engine)
    yield built
    built.engine.dispose()


def book(scheduler: Scheduler, slot_id: str, booking_id: UUID | None = None) -> tuple[UUID, object]:
    booking_id = booking_id or uuid4()
    request = BookingRequested(booking_id=booking_id, slot_id=slot_id, language="de", channel="web")
    with transaction(scheduler.engine) as session:
        return booking_id, bookings.book(session, request, str(booking_id), scheduler.deps)


def outbox_size(scheduler: Scheduler) -> int:
    with Session(scheduler.engine) as session:
        return int(session.exec(select(func.count()).select_from(OutboxMessage)).one())


def test_a_booking_is_confirmed_once_and_a_taken_slot_is_refused_with_alternatives(scheduler: Scheduler) -> None:
    booking_id, first = book(scheduler, slot(11))
    _, again = book(scheduler, slot(11), booking_id)
    _, other = book(scheduler, slot(11))

    assert isinstance(first, Confirmed) and first.slot.slot_id == slot(11)
    assert isinstance(again, Unchanged)
    assert isinstance(other, Refused) and other.reason == "slot_taken" and 1 <= len(other.alternatives) <= 3
    assert outbox_size(scheduler) == 1  # the confirmation, written with the appointment


def test_a_move_is_decided_and_announced_by_its_caller(scheduler: Scheduler) -> None:
    booking_id, _ = book(scheduler, slot(11))
    book(scheduler, slot(14))
    before = outbox_size(scheduler)
    with transaction(scheduler.engine) as session:
        moved = bookings.move(session, booking_id, slot(11, 30), "Raum belegt", scheduler.deps)
        onto_taken = bookings.move(session, booking_id, slot(14), None, scheduler.deps)
        unknown = bookings.move(session, uuid4(), slot(9), None, scheduler.deps)

    assert isinstance(moved, Changed) and isinstance(moved.event, BookingRescheduled)
    assert (moved.event.previous.slot_id, moved.event.slot.slot_id) == (slot(11), slot(11, 30))
    assert isinstance(onto_taken, Refused) and onto_taken.reason == "slot_taken" and onto_taken.alternatives
    assert isinstance(unknown, Refused) and unknown.reason == "unknown_booking"
    assert outbox_size(scheduler) == before


def test_an_outcome_only_once_the_appointment_has_begun_and_only_once(scheduler: Scheduler) -> None:
    booking_id, _ = book(scheduler, slot(11))
    with transaction(scheduler.engine) as session:
        early = bookings.record_outcome(session, booking_id, "no_show", None, NOW)
        recorded = bookings.record_outcome(session, booking_id, "no_show", "nicht da", berlin(11, 5))
        twice = bookings.record_outcome(session, booking_id, "no_show", None, berlin(11, 10))
        other = bookings.record_outcome(session, booking_id, "attended", None, berlin(11, 10))

    assert isinstance(early, Refused) and early.reason == "not_started"
    assert isinstance(recorded, Changed) and recorded.event == BookingNoShow(
        booking_id=booking_id, starts_at=berlin(11), reason="nicht da")
    assert isinstance(twice, Unchanged)
    assert isinstance(other, Refused) and other.reason == "not_confirmed"


def test_a_cancelled_booking_is_cancelled_once(scheduler: Scheduler) -> None:
    booking_id, _ = book(scheduler, slot(11))
    with transaction(scheduler.engine) as session:
        first = bookings.cancel(session, booking_id, "client", None, NOW)
        again = bookings.cancel(session, booking_id, "client", None, NOW)

    assert isinstance(first, Changed) and first.event == BookingCancelled(booking_id=booking_id, by="client",
                                                                          starts_at=berlin(11))
    assert isinstance(again, Unchanged)
