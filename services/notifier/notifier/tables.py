"""The notifier's own tables: contacts (phone encrypted, looked up by keyed hash), reminders, deliveries."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Table, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db import instant_column
from shared.inbox import ProcessedMessage
from shared.outbox import OutboxMessage


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Contact(SQLModel, table=True):
    __tablename__ = "contacts"
    booking_id: str = Field(primary_key=True, max_length=36)
    phone_ciphertext: str  # AES-GCM, bound to the booking id
    phone_hash: str = Field(max_length=64, index=True)  # HMAC of the E.164 number, for opt-outs and look-ups
    manage_token_ciphertext: str
    language: str = Field(max_length=2)
    created_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())
    purge_after: datetime = Field(sa_column=instant_column(index=True))


class BookingFacts(SQLModel, table=True):
    """What the scheduler announced about a booking, as far as the notifier needs it."""

    __tablename__ = "booking_facts"
    booking_id: str = Field(primary_key=True, max_length=36)
    starts_at: datetime = Field(sa_column=instant_column())
    place_alias: str = Field(max_length=40)
    language: str = Field(max_length=2)
    status: str = Field(max_length=16)  # confirmed, cancelled


class Reminder(SQLModel, table=True):
    """A message due at a time. Rows, not broker timers: the dispatcher claims what is due."""

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("booking_id", "kind", name="one_reminder_per_kind"),)
    id: int | None = Field(default=None, primary_key=True)
    booking_id: str = Field(max_length=36, index=True)
    kind: str = Field(max_length=24)  # confirmation
    due_at: datetime = Field(sa_column=instant_column(index=True))
    status: str = Field(default="pending", max_length=16)  # pending, sending, sent, failed, cancelled


class Delivery(SQLModel, table=True):
    """One attempt to hand a message to the SMS provider, and what became of it."""

    __tablename__ = "deliveries"
    id: int | None = Field(default=None, primary_key=True)
    reminder_id: int = Field(foreign_key="reminders.id", unique=True)
    booking_id: str = Field(max_length=36, index=True)
    provider: str = Field(max_length=16)
    status: str = Field(max_length=16)  # sending, sent, failed
    provider_sid: str | None = Field(default=None, max_length=64, index=True)
    error_code: str | None = Field(default=None, max_length=16)
    to_masked: str = Field(max_length=24)
    created_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())
    updated_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())


TABLES: list[Table] = [
    t.__table__  # type: ignore[union-attr]
    for t in (Contact, BookingFacts, Reminder, Delivery, OutboxMessage, ProcessedMessage)
]
