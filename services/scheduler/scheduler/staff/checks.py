"""Who may do what in a calendar, and what a staff change may not do: each refusal is `Refused` with its kind,
code and a sentence for the asker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time, timedelta
from uuid import UUID

from sqlalchemy import Engine
from sqlmodel import Session

from scheduler import repository
from scheduler.bookings import SchedulerDeps
from scheduler.domain import calendar_setup as engine
from scheduler.domain.calendar_setup import CalendarError, setup_problems
from scheduler.tables import Appointment, Counsellor
from shared.contracts import Slot
from shared.contracts.limits import HORIZON_DAYS
from shared.contracts.staff import Actor, RefusalKind

OWN_CALENDAR_ONLY = "You can only see and change your own calendar."
ADMIN_ONLY = "Only an admin can change appointment types, counsellors and locations."
ADMIN_READ_ONLY = "Only an admin can see every counsellor and location."


@dataclass
class StaffDeps:
    booking: SchedulerDeps  # calendar, clock and reply, shared with the booking handlers
    engine: Engine  # a write opens its own transaction on it
    after_commit: Callable[[], None] = lambda: None  # wakes the outbox relay


class Refused(Exception):
    """A request the scheduler will not carry out; the transaction is rolled back and this is the answer."""

    def __init__(self, kind: RefusalKind, code: str, message: str, alternatives: tuple[Slot, ...] = ()) -> None:
        super().__init__(message)
        self.kind, self.code, self.message, self.alternatives = kind, code, message, alternatives


def ensure_calendar(actor: Actor, counsellor_id: int) -> None:
    if actor.role != "admin" and actor.counsellor_id != counsellor_id:
        raise Refused(RefusalKind.FORBIDDEN, "forbidden",
                      f"{OWN_CALENDAR_ONLY} This one belongs to another counsellor.")


def ensure_admin(actor: Actor, sentence: str = ADMIN_ONLY) -> None:
    if actor.role != "admin":
        raise Refused(RefusalKind.FORBIDDEN, "forbidden", sentence)


def unknown_counsellor(counsellor_id: int) -> Refused:
    return Refused(RefusalKind.UNKNOWN, "unknown_counsellor", f"There is no counsellor with id {counsellor_id}.")


def counsellor_of(session: Session, actor: Actor, counsellor_id: int) -> Counsellor:
    """The calendar's counsellor, if the actor may see it."""
    ensure_calendar(actor, counsellor_id)
    row = session.get(Counsellor, counsellor_id)
    if row is None:
        raise unknown_counsellor(counsellor_id)
    return row


def appointment_of(session: Session, actor: Actor, booking_id: UUID) -> Appointment:
    """The booking's appointment, if it is in a calendar the actor may see."""
    row = repository.appointment_for_booking(session, str(booking_id))
    if row is None:
        raise Refused(RefusalKind.UNKNOWN, "unknown_booking", "There is no booking with this id.")
    ensure_calendar(actor, row.counsellor_id)
    return row


def today(deps: StaffDeps) -> date:
    return deps.booking.calendar.today(deps.booking.clock())


def within_horizon(last_day: date, deps: StaffDeps, what: str) -> None:
    limit = today(deps) + timedelta(days=HORIZON_DAYS)
    if last_day > limit:
        raise engine.InvalidDateRange(
            f"{what} may reach at most {HORIZON_DAYS} days ahead (until {limit}); it ends on {last_day}.",
            "beyond_horizon")


def wall(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def new_problems(before: engine.CalendarSetup, after: engine.CalendarSetup) -> list[CalendarError]:
    """Problems the change would bring; ones the calendar already had are not the asker's to fix here."""
    known = {(p.code, p.message) for p in setup_problems(before)}
    return [p for p in setup_problems(after) if (p.code, p.message) not in known]


def refuse_problems(before: engine.CalendarSetup, after: engine.CalendarSetup) -> None:
    problems = new_problems(before, after)
    if problems:
        raise problems[0]
