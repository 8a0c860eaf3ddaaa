"""Queries over the scheduler's tables; the only module here that builds SQL.

It turns rows into the calendar engine's dataclasses (`CalendarSetup`, `Occupancy`) and back.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Select, bindparam, case, delete, func, literal, text
from sqlalchemy import select as select_columns
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.exc import IntegrityError
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
    parse_offsets,
)
from shared.contracts import Envelope
from shared.contracts.bookings import DEFAULT_REMINDER_OFFSETS
from shared.outbox import add_to_outbox

KINDS_OF_EXCEPTION = ("absence", "extra_hours", "closure")


@dataclass(frozen=True)
class StoredLocation:
    """A location's row as slots are described with it (plain data: a cached setup outlives its session)."""

    id: int
    town: str
    kind: str
    alias: str
    address: str
    active: bool
    directions: str = ""


@dataclass(frozen=True)
class StoredCounsellor:
    id: int
    alias: str
    active: bool


@dataclass(frozen=True)
class StoredCalendar:
    """The engine's model of the calendar, and the rows behind it for describing slots to people. Immutable: one
    instance is shared by the requests and threads of a process while the calendar version stays the same."""

    setup: engine.CalendarSetup
    locations: dict[int, StoredLocation]
    counsellors: dict[int, StoredCounsellor]
    # Each active type's reminder policy (minutes before the start, largest first): what a booking is announced with.
    reminders: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def reminder_offsets(self, type_id: int) -> tuple[int, ...]:
        return self.reminders.get(type_id, DEFAULT_REMINDER_OFFSETS)


def _codes(text: str) -> frozenset[str]:
    return frozenset(filter(None, (part.strip() for part in text.split(","))))


def load_calendar(session: Session, today: date | None = None) -> StoredCalendar:
    """Everything staff set up, as the engine's model. Exceptions that ended before `today` are left out.

    Plain rows (Core selects), not ORM objects: the result is cached across sessions (`SetupCache`)."""
    served: dict[int, set[int]] = defaultdict(set)
    for cid, lid in session.execute(select_columns(col(CounsellorLocation.counsellor_id),
                                                   col(CounsellorLocation.location_id))):
        served[cid].add(lid)
    place_rows = {
        lid: StoredLocation(lid, town, kind, alias, address, active, directions)
        for lid, town, kind, alias, address, active, directions in session.execute(select_columns(*(col(c) for c in (
            Location.id, Location.town, Location.kind, Location.alias, Location.address, Location.active,
            Location.directions,
        ))).order_by(col(Location.id)))
    }
    people = [tuple(row) for row in session.execute(select_columns(*(col(c) for c in (
        Counsellor.id, Counsellor.alias, Counsellor.languages, Counsellor.topics, Counsellor.daily_cap,
        Counsellor.active,
    ))).order_by(col(Counsellor.id)))]
    people_rows = {cid: StoredCounsellor(cid, alias, active) for cid, alias, _, _, _, active in people}
    locations = tuple(
        engine.Location(id=row.id, town=row.town, kind=row.kind, active=row.active)  # type: ignore[arg-type]
        for row in place_rows.values()
    )
    type_rows = [tuple(row) for row in session.execute(select_columns(*(col(c) for c in (
        AppointmentType.id, AppointmentType.topic, AppointmentType.duration_minutes, AppointmentType.modes,
        AppointmentType.buffer_before_minutes, AppointmentType.buffer_after_minutes,
        AppointmentType.min_notice_minutes, AppointmentType.horizon_days, AppointmentType.reminder_offsets_minutes,
    ))).where(col(AppointmentType.active)).order_by(col(AppointmentType.id)))]
    types = tuple(
        engine.AppointmentType(
            id=tid, topic=topic, duration_minutes=duration, modes=_codes(modes),  # type: ignore[arg-type]
            buffer_before_minutes=before, buffer_after_minutes=after, min_notice_minutes=notice,
            horizon_days=horizon)
        for tid, topic, duration, modes, before, after, notice, horizon, _ in type_rows
    )
    reminders = {row[0]: parse_offsets(row[-1]) for row in type_rows}
    # The neutral general type is every counsellor's: a client who leaves the topic open may meet anyone.
    everyone = frozenset({engine.GENERAL_TOPIC}) if any(t.topic == engine.GENERAL_TOPIC for t in types) else frozenset()
    counsellors = tuple(
        engine.Counsellor(id=cid, alias=alias, languages=_codes(languages), topics=_codes(topics) | everyone,
                          location_ids=frozenset(served[cid]), active=active, daily_cap=daily_cap)
        for cid, alias, languages, topics, daily_cap, active in people
    )
    rule_columns = select_columns(*(col(c) for c in (
        AvailabilityRule.counsellor_id, AvailabilityRule.location_id, AvailabilityRule.weekday, AvailabilityRule.starts,
        AvailabilityRule.ends, AvailabilityRule.valid_from, AvailabilityRule.valid_until, AvailabilityRule.on_holidays,
    ))).order_by(col(AvailabilityRule.id))
    rules = tuple(
        engine.WeeklyRule(counsellor_id=cid, location_id=lid, weekday=weekday, start=starts, end=ends,
                          valid_from=valid_from, valid_until=valid_until, on_holidays=on_holidays)
        for cid, lid, weekday, starts, ends, valid_from, valid_until, on_holidays in session.execute(rule_columns)
    )
    exceptions = select_columns(*(col(c) for c in (
        AvailabilityException.kind, AvailabilityException.counsellor_id, AvailabilityException.location_id,
        AvailabilityException.first_day, AvailabilityException.last_day, AvailabilityException.starts,
        AvailabilityException.ends, AvailabilityException.reason,
    ))).order_by(col(AvailabilityException.id))
    if today is not None:
        exceptions = exceptions.where(col(AvailabilityException.last_day) >= today)
    absences: list[engine.Absence] = []
    extra: list[engine.ExtraHours] = []
    closures: list[engine.LocationClosure] = []
    for kind, cid, lid, first_day, last_day, starts, ends, reason in session.execute(exceptions):
        if kind == "absence" and cid is not None:
            absences.append(engine.Absence(counsellor_id=cid, first_day=first_day, last_day=last_day, start=starts,
                                           end=ends, reason=reason or "leave"))
        elif kind == "extra_hours" and cid is not None and lid is not None and starts is not None \
                and ends is not None:
            extra.append(engine.ExtraHours(counsellor_id=cid, location_id=lid, day=first_day, start=starts, end=ends))
        elif kind == "closure" and lid is not None:
            closures.append(engine.LocationClosure(location_id=lid, first_day=first_day, last_day=last_day))
    topics = frozenset(t.topic for t in types) | engine.DEFAULT_TOPICS
    setup = engine.CalendarSetup(locations=locations, counsellors=counsellors, types=types, rules=rules,
                                 absences=tuple(absences), extra_hours=tuple(extra), closures=tuple(closures),
                                 topics=topics)
    return StoredCalendar(setup, place_rows, people_rows, reminders)


_VERSION = text("SELECT version FROM calendar_version WHERE id = 1")


def calendar_version(session: Session) -> int:
    """The number the database changes with every change to a calendar table (migration 0002): one cheap query."""
    return int(session.connection().execute(_VERSION).scalar_one())


def _database_of(session: Session) -> str:
    bind = session.get_bind()
    url = bind.engine.url if isinstance(bind, Connection) else bind.url
    # An in-memory SQLite database is private to its engine; any other URL names a database shared by processes.
    return f"{url}#{id(bind)}" if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:") \
        else str(url)


class SetupCache:
    """The last StoredCalendar a process loaded, kept while the database's calendar version stays the same.

    Every `get` reads the version (one query) in the caller's transaction and reloads on any difference, so a
    change committed by anyone anywhere is seen by the next request. A StoredCalendar is immutable (its setup's
    index included), so threads share it; two threads missing at once both load, the later one is kept. The
    version is read before the setup: if a change commits in between, the setup loaded is newer than the version
    it is stored under, and the next request, reading the new version, loads it again (never the other way)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.loads = 0  # how often the setup was read from the tables (tests, bench)
        self._entry: tuple[tuple[str, int, date | None], StoredCalendar] | None = None
        self._lock = threading.Lock()

    def get(self, session: Session, today: date | None, version: int | None = None) -> StoredCalendar:
        """`version`: the calendar version the caller already read in this transaction (saves the query)."""
        if not self.enabled:
            key = None
        else:
            key = (_database_of(session), calendar_version(session) if version is None else version, today)
        entry = self._entry
        if key is not None and entry is not None and entry[0] == key:
            return entry[1]
        stored = load_calendar(session, today)
        with self._lock:
            self.loads += 1
            if key is not None:
                # The index is built here, once per version, not by the first search that needs it.
                stored.setup.index  # noqa: B018
                self._entry = (key, stored)
        return stored


def day_bounds(first_day: date, last_day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants from local midnight of first_day to local midnight after last_day."""
    return (datetime.combine(first_day, time(), zone), datetime.combine(last_day + timedelta(days=1), time(), zone))


# A slot lies inside one day's opening window, so no appointment lasts two days: one starting more than that
# before a range cannot reach into it. The bound lets the (status, starts_at) index limit the scan.
_LONGEST_APPOINTMENT = timedelta(days=2)


def confirmed_between(
    session: Session, start: datetime, end: datetime, counsellor_id: int | None = None,
    exclude_booking: str | None = None,
) -> list[Held]:
    """Confirmed appointments overlapping [start, end), as plain rows."""
    query = _confirmed_between_query(counsellor_id is not None, exclude_booking is not None)
    values = {"earliest": start - _LONGEST_APPOINTMENT, "start": start, "end": end, "counsellor_id": counsellor_id,
              "exclude_booking": exclude_booking}
    return [Held(*row) for row in session.connection().execute(query, values)]


@cache
def _confirmed_between_query(by_counsellor: bool, excluding: bool) -> Select[Any]:
    """Built once per shape, with the values as parameters: every booking decision runs it, and building the
    statement and its cache key each time cost as much as running it. Core columns, no ORM execution."""
    table = Appointment.__table__  # type: ignore[attr-defined]
    query = select_columns(table.c.booking_id, table.c.counsellor_id, table.c.location_id, table.c.starts_at,
                           table.c.ends_at, table.c.type_id).where(
        table.c.status == "confirmed",
        table.c.starts_at >= bindparam("earliest"),
        table.c.starts_at < bindparam("end"),
        table.c.ends_at > bindparam("start"),
    )
    if by_counsellor:
        query = query.where(table.c.counsellor_id == bindparam("counsellor_id"))
    if excluding:
        query = query.where(table.c.booking_id != bindparam("exclude_booking"))
    return query


def week_counts(
    session: Session, zone: ZoneInfo, first_day: date, last_day: date, counsellor_id: int | None = None,
    exclude_booking: str | None = None,
) -> dict[tuple[int, int, int], int]:
    """Confirmed appointments per (counsellor, ISO year, ISO week) of the local weeks that hold first..last_day,
    counted by the database (GROUP BY): what the fairness rule compares, without loading the weeks' rows.

    A week is the appointments starting from one local Monday midnight to the next, the way the engine's
    Occupancy counts them; the boundaries are computed here, so the database needs no time zone data."""
    monday = first_day - timedelta(days=first_day.weekday())
    mondays = [monday + timedelta(weeks=k) for k in range((last_day - monday).days // 7 + 1)]
    bounds = [datetime.combine(day, time(), zone) for day in (*mondays, mondays[-1] + timedelta(weeks=1))]
    starts_at = col(Appointment.starts_at)
    week = case(*((starts_at < bound, k) for k, bound in enumerate(bounds[1:-1])), else_=len(mondays) - 1) \
        if len(mondays) > 1 else literal(0)
    inner = select_columns(col(Appointment.counsellor_id).label("counsellor_id"), week.label("week")).where(
        col(Appointment.status) == "confirmed", starts_at >= bounds[0], starts_at < bounds[-1])
    if counsellor_id is not None:
        inner = inner.where(col(Appointment.counsellor_id) == counsellor_id)
    if exclude_booking is not None:
        inner = inner.where(col(Appointment.booking_id) != exclude_booking)
    weeks = inner.subquery()  # grouped outside: PostgreSQL does not match a CASE with parameters in GROUP BY
    iso = [day.isocalendar() for day in mondays]
    query = select_columns(weeks.c.counsellor_id, weeks.c.week, func.count()).group_by(
        weeks.c.counsellor_id, weeks.c.week)
    return {(cid, iso[k].year, iso[k].week): n for cid, k, n in session.execute(query)}


def held(row: Appointment) -> Held:
    return Held(ref=row.booking_id, counsellor_id=row.counsellor_id, location_id=row.location_id,
                start=row.starts_at, end=row.ends_at, type_id=row.type_id)


def load_occupancy(
    session: Session, setup: engine.CalendarSetup, zone: ZoneInfo, first_day: date, last_day: date,
    exclude_booking: str | None = None, counsellor_id: int | None = None, weeks: bool = True,
) -> Occupancy:
    """What the engine needs to know of existing appointments for slots on first..last_day: the confirmed ones
    from a day before to a day after (buffers, travel, daily caps) as rows, and for the fairness rule the counts
    per counsellor of the whole ISO weeks around the days (`weeks=False`: not counted, every week counts 0; a
    booking check needs none). `counsellor_id`: only that counsellor's."""
    start, end = day_bounds(first_day - timedelta(days=1), last_day + timedelta(days=1), zone)
    rows = confirmed_between(session, start, end, counsellor_id, exclude_booking)
    counts = week_counts(session, zone, first_day, last_day, counsellor_id, exclude_booking) if weeks else {}
    return Occupancy(rows, setup, zone, week_counts=counts)


# A Core statement built once (not an ORM select per call): it runs on every booking decision. It also reads the
# calendar version, which the decision needs next (one round trip instead of two).
_LOCK_COUNSELLOR = text("SELECT v.version FROM counsellors c, calendar_version v WHERE c.id = :id AND v.id = 1 "
                        "FOR UPDATE OF c")


def lock_counsellor(session: Session, counsellor_id: int) -> int | None:
    """Serialise decisions per counsellor on PostgreSQL (SQLite transactions are already BEGIN IMMEDIATE).

    Returns the calendar version read with the lock (PostgreSQL, a known counsellor), else None. If the lock had
    to wait, the version may be the one from before a calendar change committed meanwhile: the decision then
    goes by the calendar as it was a moment earlier, as if it had come first; appointments are read afresh."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    version = session.connection().execute(_LOCK_COUNSELLOR, {"id": counsellor_id}).scalar()
    return None if version is None else int(version)


_APPOINTMENTS = Appointment.__table__  # type: ignore[attr-defined]
_HELD_COLUMNS = [column for column in _APPOINTMENTS.columns if column.key != "id"]
# Built once (the values go as parameters, so SQLAlchemy's compiled-statement cache serves every decision).
_HOLD_PG = (postgresql_insert(_APPOINTMENTS)
            .values({column.key: bindparam(column.key, type_=column.type) for column in _HELD_COLUMNS})
            .on_conflict_do_nothing()
            .returning(_APPOINTMENTS.c.id))


def insert_held(session: Session, appointment: Appointment, announce: Envelope) -> bool:
    """Writes a new appointment at once, and the message `announce` with it; False (and no message) when the
    database refuses it: its time overlaps a confirmed one of the counsellor (a double booking), or this booking
    already has an appointment.

    PostgreSQL: INSERT ... ON CONFLICT DO NOTHING covers the exclusion constraint and the unique booking id
    (instead of a savepoint, the insert and its release). SQLite refuses an overlap with a trigger that aborts,
    which ON CONFLICT does not cover: a savepoint there."""
    values = {column.key: getattr(appointment, column.key) for column in _HELD_COLUMNS}
    connection = session.connection()
    if session.get_bind().dialect.name == "postgresql":
        if connection.execute(_HOLD_PG, values).first() is None:
            return False
    else:
        try:
            with session.begin_nested():
                connection.execute(_APPOINTMENTS.insert(), values)
        except IntegrityError:
            return False
    add_to_outbox(session, announce)
    return True


def appointment_for_booking(session: Session, booking_id: str) -> Appointment | None:
    return session.exec(select(Appointment).where(Appointment.booking_id == booking_id)).first()


def confirmed_of_counsellor(session: Session, counsellor_id: int, start: datetime, end: datetime
                            ) -> list[Appointment]:
    return list(session.exec(select(Appointment).where(
        Appointment.counsellor_id == counsellor_id, Appointment.status == "confirmed",
        col(Appointment.starts_at) < end, col(Appointment.ends_at) > start,
    ).order_by(col(Appointment.starts_at))))


def saved(session: Session, appointment: Appointment) -> bool:
    """Writes a changed appointment in a savepoint; False when the database refused it as a double booking."""
    try:
        with session.begin_nested():
            session.add(appointment)
            session.flush()
    except IntegrityError:
        return False
    return True


def appointments_between(session: Session, counsellor_id: int, start: datetime, end: datetime,
                         status: str | None = None) -> list[Appointment]:
    """The counsellor's appointments of any status (or one) that start in [start, end), by start."""
    query = select(Appointment).where(Appointment.counsellor_id == counsellor_id,
                                      col(Appointment.starts_at) >= start, col(Appointment.starts_at) < end)
    if status is not None:
        query = query.where(Appointment.status == status)
    return list(session.exec(query.order_by(col(Appointment.starts_at))))


# --- what staff see and change -----------------------------------------------------------------------------------


def any_counsellor(session: Session) -> bool:
    return session.exec(select(Counsellor.id).limit(1)).first() is not None


def locations(session: Session) -> dict[int, Location]:
    return {row.id: row for row in session.exec(select(Location)) if row.id is not None}


def exceptions_overlapping(session: Session, counsellor_id: int, first_day: date, last_day: date
                           ) -> list[AvailabilityException]:
    """The counsellor's absences and extra hours that touch first_day..last_day, by first day."""
    return list(session.exec(select(AvailabilityException).where(
        AvailabilityException.counsellor_id == counsellor_id,
        col(AvailabilityException.first_day) <= last_day,
        col(AvailabilityException.last_day) >= first_day,
    ).order_by(col(AvailabilityException.first_day))))


def newest_absence(session: Session, counsellor_id: int) -> AvailabilityException | None:
    return session.exec(select(AvailabilityException).where(
        AvailabilityException.counsellor_id == counsellor_id, AvailabilityException.kind == "absence",
    ).order_by(col(AvailabilityException.id).desc())).first()


def rules_of(session: Session, counsellor_id: int) -> list[AvailabilityRule]:
    """The counsellor's weekly rules, by weekday and start."""
    return list(session.exec(select(AvailabilityRule).where(AvailabilityRule.counsellor_id == counsellor_id)
                             .order_by(col(AvailabilityRule.weekday), col(AvailabilityRule.starts),
                                       col(AvailabilityRule.id))))


def replace_rules(session: Session, counsellor_id: int, rows: list[AvailabilityRule]) -> None:
    """The counsellor's weekly rules become `rows` (flushed: they have their ids afterwards)."""
    session.execute(delete(AvailabilityRule).where(col(AvailabilityRule.counsellor_id) == counsellor_id))
    session.add_all(rows)
    session.flush()


def appointment_types(session: Session) -> list[AppointmentType]:
    return list(session.exec(select(AppointmentType).order_by(col(AppointmentType.id))))


def newest_type_id(session: Session) -> int:
    """The highest appointment type id, 0 when there is none."""
    return session.exec(select(AppointmentType.id).order_by(col(AppointmentType.id).desc())).first() or 0


def served_locations(session: Session, counsellor_id: int) -> list[int]:
    return sorted(session.exec(select(CounsellorLocation.location_id).where(
        CounsellorLocation.counsellor_id == counsellor_id)))


def replace_served_locations(session: Session, counsellor_id: int, location_ids: frozenset[int]) -> None:
    session.execute(delete(CounsellorLocation).where(col(CounsellorLocation.counsellor_id) == counsellor_id))
    session.add_all(CounsellorLocation(counsellor_id=counsellor_id, location_id=location_id)
                    for location_id in sorted(location_ids))


def counsellors(session: Session) -> list[Counsellor]:
    return list(session.exec(select(Counsellor).order_by(col(Counsellor.id))))


def served_by_counsellor(session: Session) -> dict[int, list[int]]:
    """Every counsellor's served locations, in one query (a list page would otherwise ask once per person)."""
    served: dict[int, list[int]] = defaultdict(list)
    for link in session.exec(select(CounsellorLocation).order_by(col(CounsellorLocation.location_id))):
        served[link.counsellor_id].append(link.location_id)
    return served


def newest_counsellor_id(session: Session) -> int:
    """The highest counsellor id, 0 when there is none."""
    return session.exec(select(Counsellor.id).order_by(col(Counsellor.id).desc())).first() or 0
