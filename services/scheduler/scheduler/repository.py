"""Queries over the scheduler's tables; the only module here that builds SQL.

It turns rows into the calendar engine's dataclasses (`CalendarSetup`, `Occupancy`) and back.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from scheduler.domain import calendar_setup as engine
from scheduler.domain.occupancy import Appointment as Held
from scheduler.domain.occupancy import Occupancy
from scheduler.tables import (
    Appointment,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Counsellor,
    CounsellorLocation,
    Location,
)

KINDS_OF_EXCEPTION = ("absence", "extra_hours", "closure")


@dataclass(frozen=True)
class StoredCalendar:
    """The engine's model of the calendar, and the rows behind it for describing slots to people."""

    setup: engine.CalendarSetup
    locations: dict[int, Location]
    counsellors: dict[int, Counsellor]


def load_calendar(session: Session, today: date | None = None) -> StoredCalendar:
    """Everything staff set up, as the engine's model. Exceptions that ended before `today` are left out."""
    served: dict[int, set[int]] = defaultdict(set)
    for link in session.exec(select(CounsellorLocation)):
        served[link.counsellor_id].add(link.location_id)
    place_rows = {row.id: row for row in session.exec(select(Location).order_by(col(Location.id)))
                  if row.id is not None}
    people_rows = {row.id: row for row in session.exec(select(Counsellor).order_by(col(Counsellor.id)))
                   if row.id is not None}
    locations = tuple(
        engine.Location(id=lid, town=row.town, kind=row.kind, active=row.active)  # type: ignore[arg-type]
        for lid, row in place_rows.items()
    )
    counsellors = tuple(
        engine.Counsellor(id=cid, alias=row.alias, languages=row.language_set, topics=row.topic_set,
                          location_ids=frozenset(served[cid]), active=row.active, daily_cap=row.daily_cap)
        for cid, row in people_rows.items()
    )
    types = tuple(
        engine.AppointmentType(
            id=row.id, topic=row.topic, duration_minutes=row.duration_minutes,
            modes=row.mode_set,  # type: ignore[arg-type]
            buffer_before_minutes=row.buffer_before_minutes, buffer_after_minutes=row.buffer_after_minutes,
            min_notice_minutes=row.min_notice_minutes, horizon_days=row.horizon_days)
        for row in session.exec(select(AppointmentType).where(col(AppointmentType.active))
                                .order_by(col(AppointmentType.id)))
        if row.id is not None
    )
    # Rules are the many rows of a setup: plain tuples, not ORM objects (a search loads them every time).
    rule_columns = select_columns(*(col(c) for c in (
        AvailabilityRule.counsellor_id, AvailabilityRule.location_id, AvailabilityRule.weekday, AvailabilityRule.starts,
        AvailabilityRule.ends, AvailabilityRule.valid_from, AvailabilityRule.valid_until, AvailabilityRule.on_holidays,
    ))).order_by(col(AvailabilityRule.id))
    rules = tuple(
        engine.WeeklyRule(counsellor_id=cid, location_id=lid, weekday=weekday, start=starts, end=ends,
                          valid_from=valid_from, valid_until=valid_until, on_holidays=on_holidays)
        for cid, lid, weekday, starts, ends, valid_from, valid_until, on_holidays in session.execute(rule_columns)
    )
    exceptions = select(AvailabilityException).order_by(col(AvailabilityException.id))
    if today is not None:
        exceptions = exceptions.where(col(AvailabilityException.last_day) >= today)
    absences: list[engine.Absence] = []
    extra: list[engine.ExtraHours] = []
    closures: list[engine.LocationClosure] = []
    for row in session.exec(exceptions):
        if row.kind == "absence" and row.counsellor_id is not None:
            absences.append(absence_of(row))
        elif row.kind == "extra_hours" and row.counsellor_id is not None and row.location_id is not None \
                and row.starts is not None and row.ends is not None:
            extra.append(engine.ExtraHours(counsellor_id=row.counsellor_id, location_id=row.location_id,
                                           day=row.first_day, start=row.starts, end=row.ends))
        elif row.kind == "closure" and row.location_id is not None:
            closures.append(engine.LocationClosure(location_id=row.location_id, first_day=row.first_day,
                                                   last_day=row.last_day))
    topics = frozenset(t.topic for t in types) | engine.DEFAULT_TOPICS
    setup = engine.CalendarSetup(locations=locations, counsellors=counsellors, types=types, rules=rules,
                                 absences=tuple(absences), extra_hours=tuple(extra), closures=tuple(closures),
                                 topics=topics)
    return StoredCalendar(setup, place_rows, people_rows)


def absence_of(row: AvailabilityException) -> engine.Absence:
    assert row.counsellor_id is not None
    return engine.Absence(counsellor_id=row.counsellor_id, first_day=row.first_day, last_day=row.last_day,
                          start=row.starts, end=row.ends, reason=row.reason or "leave")


def day_bounds(first_day: date, last_day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants from local midnight of first_day to local midnight after last_day."""
    return (datetime.combine(first_day, time(), zone), datetime.combine(last_day + timedelta(days=1), time(), zone))


def confirmed_between(
    session: Session, start: datetime, end: datetime, counsellor_id: int | None = None,
    exclude_booking: str | None = None,
) -> list[Held]:
    query = select_columns(*(col(c) for c in (
        Appointment.booking_id, Appointment.counsellor_id, Appointment.location_id, Appointment.starts_at,
        Appointment.ends_at, Appointment.type_id,
    ))).where(
        col(Appointment.status) == "confirmed",
        col(Appointment.starts_at) < end,
        col(Appointment.ends_at) > start,
    )
    if counsellor_id is not None:
        query = query.where(col(Appointment.counsellor_id) == counsellor_id)
    if exclude_booking is not None:
        query = query.where(col(Appointment.booking_id) != exclude_booking)
    return [Held(*row) for row in session.execute(query)]


def held(row: Appointment) -> Held:
    return Held(ref=row.booking_id, counsellor_id=row.counsellor_id, location_id=row.location_id,
                start=row.starts_at, end=row.ends_at, type_id=row.type_id)


def load_occupancy(
    session: Session, setup: engine.CalendarSetup, zone: ZoneInfo, first_day: date, last_day: date,
    exclude_booking: str | None = None,
) -> Occupancy:
    """Confirmed appointments of the whole ISO weeks around the days (the fairness rule counts per week), plus a
    day either side for buffers and travel."""
    first = first_day - timedelta(days=first_day.weekday() + 1)
    last = last_day + timedelta(days=7 - last_day.weekday())
    start, end = day_bounds(first, last, zone)
    return Occupancy(confirmed_between(session, start, end, exclude_booking=exclude_booking), setup, zone)


def counsellor_by_alias(session: Session, alias: str) -> Counsellor | None:
    return session.exec(select(Counsellor).where(Counsellor.alias == alias)).first()


def lock_counsellor(session: Session, counsellor_id: int) -> None:
    """Serialise decisions per counsellor on PostgreSQL (SQLite transactions are already BEGIN IMMEDIATE)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.exec(select(Counsellor.id).where(Counsellor.id == counsellor_id).with_for_update())


def appointment_for_booking(session: Session, booking_id: str) -> Appointment | None:
    return session.exec(select(Appointment).where(Appointment.booking_id == booking_id)).first()


def confirmed_of_counsellor(session: Session, counsellor_id: int, start: datetime, end: datetime
                            ) -> list[Appointment]:
    return list(session.exec(select(Appointment).where(
        Appointment.counsellor_id == counsellor_id, Appointment.status == "confirmed",
        col(Appointment.starts_at) < end, col(Appointment.ends_at) > start,
    ).order_by(col(Appointment.starts_at))))


def needing_attention(session: Session) -> list[Appointment]:
    return list(session.exec(select(Appointment).where(
        col(Appointment.needs_attention), Appointment.status == "confirmed",
    ).order_by(col(Appointment.starts_at))))
