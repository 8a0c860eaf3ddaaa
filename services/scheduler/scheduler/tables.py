"""The scheduler's own tables. No phone number, no contact detail: the scheduler never holds one.

Their history lives in `scheduler/migrations` (alembic); these classes are what the code reads and writes. The
database itself refuses two confirmed appointments of one counsellor whose blocked times overlap (an exclusion
constraint on PostgreSQL, triggers on SQLite; see migration 0001).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time

from sqlalchemy import BigInteger, CheckConstraint, Column, Date, Index, Table, Time
from sqlmodel import Field, SQLModel

from shared.contracts.bookings import DEFAULT_REMINDER_OFFSETS
from shared.db import database_default, instant_column
from shared.inbox import ProcessedMessage
from shared.outbox import OutboxMessage


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _codes(text: str) -> frozenset[str]:
    return frozenset(filter(None, (part.strip() for part in text.split(","))))


def format_offsets(offsets: Iterable[int]) -> str:
    """A reminder policy as stored: distinct minutes, largest (earliest reminder) first."""
    return ",".join(str(minutes) for minutes in sorted(set(offsets), reverse=True))


def parse_offsets(text: str) -> tuple[int, ...]:
    return tuple(sorted({int(part) for part in text.split(",") if part.strip()}, reverse=True))


DEFAULT_REMINDER_POLICY = format_offsets(DEFAULT_REMINDER_OFFSETS)


class Location(SQLModel, table=True):
    __tablename__ = "locations"
    id: int | None = Field(default=None, primary_key=True)
    town: str = Field(max_length=80)
    kind: str = Field(max_length=16)  # office, outreach, phone, video
    alias: str = Field(max_length=40)  # what SMS and pages show
    address: str = database_default("", max_length=200)  # shown only to someone holding a booking
    # How to get in (office) or how the meeting place is agreed (outreach), as an admin writes it; shown only on a
    # confirmed booking's manage page, never in an SMS (migration 0004).
    directions: str = database_default("", max_length=500)
    active: bool = database_default(True)


class Counsellor(SQLModel, table=True):
    __tablename__ = "counsellors"
    id: int | None = Field(default=None, primary_key=True)
    alias: str = Field(max_length=40, unique=True)
    languages: str = Field(max_length=80)  # comma-separated codes
    topics: str = Field(max_length=200)  # comma-separated topic codes
    daily_cap: int | None = None  # most appointments in one local day; None for no limit
    active: bool = database_default(True)

    @property
    def language_set(self) -> frozenset[str]:
        return _codes(self.languages)

    @property
    def topic_set(self) -> frozenset[str]:
        return _codes(self.topics)


class CounsellorLocation(SQLModel, table=True):
    """The locations a counsellor serves."""

    __tablename__ = "counsellor_locations"
    counsellor_id: int = Field(foreign_key="counsellors.id", primary_key=True)
    location_id: int = Field(foreign_key="locations.id", primary_key=True)


class AppointmentType(SQLModel, table=True):
    __tablename__ = "appointment_types"
    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=40)  # career, health, safety, psychosocial; editable by staff
    duration_minutes: int
    modes: str = Field(max_length=80)  # comma-separated location kinds
    buffer_before_minutes: int = database_default(0)
    buffer_after_minutes: int = database_default(0)
    min_notice_minutes: int = database_default(60)
    horizon_days: int = database_default(90)
    active: bool = database_default(True)
    # Minutes before the start at which the client is reminded, comma-separated, largest first; "" for none.
    # Each booking is announced with the policy of its type at that moment (migration 0003).
    reminder_offsets_minutes: str = database_default(DEFAULT_REMINDER_POLICY, max_length=40)

    @property
    def mode_set(self) -> frozenset[str]:
        return _codes(self.modes)

    @property
    def reminder_offsets(self) -> tuple[int, ...]:
        return parse_offsets(self.reminder_offsets_minutes)


class AvailabilityRule(SQLModel, table=True):
    """Every `weekday` (Monday = 0) the counsellor is at the location from `starts` to `ends`, local wall time."""

    __tablename__ = "availability_rules"
    id: int | None = Field(default=None, primary_key=True)
    counsellor_id: int = Field(foreign_key="counsellors.id", index=True)
    location_id: int = Field(foreign_key="locations.id")
    weekday: int
    starts: time = Field(sa_column=Column(Time(), nullable=False))
    ends: time = Field(sa_column=Column(Time(), nullable=False))
    valid_from: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    valid_until: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))  # inclusive
    on_holidays: bool = database_default(False)  # True: stays open on public holidays of MV


class AvailabilityException(SQLModel, table=True):
    """A dated exception: `absence` (leave, sickness; a counsellor), `extra_hours` (a counsellor at a location
    on one day) or `closure` (a location closed on days first..last)."""

    __tablename__ = "availability_exceptions"
    __table_args__ = (Index("exceptions_by_last_day", "last_day"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # absence, extra_hours, closure
    counsellor_id: int | None = Field(default=None, foreign_key="counsellors.id")
    location_id: int | None = Field(default=None, foreign_key="locations.id")
    first_day: date = Field(sa_column=Column(Date(), nullable=False))
    last_day: date = Field(sa_column=Column(Date(), nullable=False))
    starts: time | None = Field(default=None, sa_column=Column(Time(), nullable=True))
    ends: time | None = Field(default=None, sa_column=Column(Time(), nullable=True))
    reason: str = database_default("", max_length=200)
    created_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())


class Appointment(SQLModel, table=True):
    """A booking's hold on a counsellor. `blocked_from`..`blocked_until` is the time including the type's buffers:
    the database refuses two confirmed appointments of one counsellor whose blocked times overlap."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("appointments_by_start", "starts_at"),
        # Searches read the confirmed appointments of a time range; decisions one counsellor's around a slot (0002).
        Index("appointments_by_status_start", "status", "starts_at", "counsellor_id"),
        Index("appointments_by_counsellor_start", "counsellor_id", "starts_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    booking_id: str = Field(max_length=36, unique=True)
    counsellor_id: int = Field(foreign_key="counsellors.id")
    location_id: int = Field(foreign_key="locations.id")
    type_id: int | None = Field(default=None, foreign_key="appointment_types.id")
    starts_at: datetime = Field(sa_column=instant_column())
    ends_at: datetime = Field(sa_column=instant_column())
    blocked_from: datetime = Field(sa_column=instant_column())
    blocked_until: datetime = Field(sa_column=instant_column())
    status: str = Field(max_length=16)  # confirmed, cancelled, no_show, attended
    status_reason: str | None = Field(default=None, max_length=200)
    needs_attention: bool = database_default(False)  # a leave was entered over it: staff must move it
    topic: str | None = Field(default=None, max_length=40)
    language: str = Field(max_length=2)
    channel: str = Field(max_length=8)
    created_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())
    updated_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())
    # Texts to the client cannot arrive (the notifier said so; never the number itself): staff call or write
    # another way. Reason invalid_number / unreachable / opted_out, Twilio's error code, first reported at.
    contact_problem: str | None = Field(default=None, max_length=16)
    contact_problem_code: str | None = Field(default=None, max_length=6)
    contact_problem_since: datetime | None = Field(default=None, sa_column=instant_column(nullable=True))
    # own_language: a counsellor who speaks the client's language; mediator: German or English with a language
    # mediator (migration 0004).
    conversation: str = database_default("own_language", max_length=16)
    # A video appointment's room name, random (CSPRNG), made once and kept across moves so the link stays the same;
    # nothing about topic or person is in it.
    video_room: str | None = Field(default=None, max_length=64)


class CalendarVersion(SQLModel, table=True):
    """One row whose number changes with every change to the calendar's tables, in the same transaction: the
    database's triggers write it (migration 0002), workers compare it to know their cached setup is current."""

    __tablename__ = "calendar_version"
    __table_args__ = (CheckConstraint("id = 1", name="calendar_version_one_row"),)
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    version: int = Field(sa_type=BigInteger)


TABLES: list[Table] = [
    t.__table__  # type: ignore[union-attr]
    for t in (Location, Counsellor, CounsellorLocation, AppointmentType, AvailabilityRule, AvailabilityException,
              Appointment, CalendarVersion, OutboxMessage, ProcessedMessage)
]
