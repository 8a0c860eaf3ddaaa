"""The scheduler's own tables. No phone number, no contact detail: the scheduler never holds one."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Index, Table, text
from sqlmodel import Field, SQLModel

from shared.db import instant_column
from shared.inbox import ProcessedMessage
from shared.outbox import OutboxMessage


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Location(SQLModel, table=True):
    __tablename__ = "locations"
    id: int | None = Field(default=None, primary_key=True)
    town: str = Field(max_length=80)
    kind: str = Field(max_length=16)  # office, outreach, phone, video
    alias: str = Field(max_length=40)  # what SMS and pages show
    address: str = Field(default="", max_length=200)  # shown only to someone holding a booking
    active: bool = True


class Counsellor(SQLModel, table=True):
    __tablename__ = "counsellors"
    id: int | None = Field(default=None, primary_key=True)
    alias: str = Field(max_length=40, unique=True)
    languages: str = Field(max_length=80)  # comma-separated codes
    topics: str = Field(max_length=120)  # comma-separated topic codes
    active: bool = True

    @property
    def language_set(self) -> set[str]:
        return set(filter(None, self.languages.split(",")))

    @property
    def topic_set(self) -> set[str]:
        return set(filter(None, self.topics.split(",")))


class OpeningRule(SQLModel, table=True):
    __tablename__ = "opening_rules"
    id: int | None = Field(default=None, primary_key=True)
    counsellor_id: int = Field(foreign_key="counsellors.id", index=True)
    location_id: int = Field(foreign_key="locations.id")
    weekday: int  # Monday = 0
    opens: str = Field(max_length=5)  # local wall-clock "HH:MM"
    closes: str = Field(max_length=5)
    slot_minutes: int = 60
    duration_minutes: int = 50


class Appointment(SQLModel, table=True):
    __tablename__ = "appointments"
    __table_args__ = (
        # The database, not Python, forbids giving one counsellor's slot twice: at most one confirmed
        # appointment per counsellor and start instant, on PostgreSQL and SQLite alike.
        Index(
            "one_confirmed_appointment_per_slot",
            "counsellor_id",
            "starts_at",
            unique=True,
            postgresql_where=text("status = 'confirmed'"),
            sqlite_where=text("status = 'confirmed'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    booking_id: str = Field(max_length=36, unique=True)
    counsellor_id: int = Field(foreign_key="counsellors.id")
    location_id: int = Field(foreign_key="locations.id")
    starts_at: datetime = Field(sa_column=instant_column())
    ends_at: datetime = Field(sa_column=instant_column())
    status: str = Field(max_length=16)  # confirmed, cancelled
    topic: str | None = Field(default=None, max_length=16)
    language: str = Field(max_length=2)
    channel: str = Field(max_length=8)
    created_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())
    updated_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())


TABLES: list[Table] = [
    t.__table__  # type: ignore[union-attr]
    for t in (Location, Counsellor, OpeningRule, Appointment, OutboxMessage, ProcessedMessage)
]
