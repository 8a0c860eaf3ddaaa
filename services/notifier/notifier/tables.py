"""The notifier's own tables: contacts (phone encrypted, looked up by keyed hash), what the scheduler announced
about each booking, messages due (rows a dispatcher claims, never broker timers), deliveries, opt-outs.

The schema is made by the alembic history in notifier/migrations; these classes are how the code reads it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Index, Table, text
from sqlmodel import Field, SQLModel

from shared.db import database_default, instant_column
from shared.inbox import ProcessedMessage
from shared.outbox import OutboxMessage


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Contact(SQLModel, table=True):
    """How to reach the client of one booking, and what they decided is safe. Deleted after retention."""

    __tablename__ = "contacts"
    booking_id: str = Field(primary_key=True, max_length=36)
    phone_ciphertext: str  # AES-GCM, bound to the booking id
    phone_hash: str = Field(max_length=64, index=True)  # HMAC of the E.164 number, for opt-outs and look-ups
    manage_token_ciphertext: str
    language: str = Field(max_length=2)
    reminders: bool = database_default(True)
    safe_window: str | None = None  # shared.contracts.SafeWindow as JSON, or none
    unreachable: str | None = Field(default=None, max_length=24)  # invalid_number, unreachable, opted_out
    created_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())
    purge_after: datetime = Field(sa_column=instant_column(index=True))


class BookingFacts(SQLModel, table=True):
    """What the scheduler announced about a booking, as far as the notifier needs it."""

    __tablename__ = "booking_facts"
    booking_id: str = Field(primary_key=True, max_length=36)
    starts_at: datetime = Field(sa_column=instant_column())
    place_alias: str = Field(max_length=40)
    language: str = Field(max_length=2)
    status: str = Field(max_length=16)  # confirmed, cancelled, no_show, attended
    reminder_offsets: str = database_default("[]", max_length=64)  # the appointment type's policy, JSON minutes
    # Bumped by each reschedule: the messages planned for the old time keep their keys, the new ones get new keys.
    generation: int = database_default(0)


class Reminder(SQLModel, table=True):
    """One message due at a time (confirmation, reminder, notice of a change, opt-out answer).

    `status`: pending (waits for due_at) → sending (claimed; a delivery row exists) → sent | failed | unknown;
    pending → cancelled (booking changed) or skipped (not_after passed, client opted out, texts turned off).
    A transient provider error puts it back to pending with a later due_at and one more attempt.
    """

    __tablename__ = "reminders"
    __table_args__ = (Index("reminders_due", "status", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)  # stable per booking and plan: a second plan upserts, never adds
    booking_id: str | None = Field(default=None, max_length=36, index=True)
    kind: str = Field(max_length=24)  # confirmation, reminder, rescheduled, cancelled, opted_out, opted_in, reply_*
    language: str = Field(max_length=2)
    due_at: datetime = Field(sa_column=instant_column())
    not_after: datetime = Field(sa_column=instant_column())
    status: str = database_default("pending", max_length=16)
    attempts: int = database_default(0)
    outcome: str | None = Field(default=None, max_length=32)  # why skipped/failed, for admins
    # Messages not tied to a booking (the answer to STOP/START) carry their own sealed number and its context.
    phone_ciphertext: str | None = None
    phone_context: str | None = Field(default=None, max_length=80)
    created_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())
    # A reply of an SMS conversation (kind reply_*): what it shows, as JSON ({"times": [[start, place], ...],
    # "appointment": [start, place], "link_booking": id, "also": language}); never words the client wrote.
    params: str | None = None


class Delivery(SQLModel, table=True):
    """One hand-over of a message to the SMS provider, and what became of it on the way to the handset.

    `status` only moves forward: queued (claimed; provider asked once requested_at is set) → sending (provider
    accepted, SID known)
    → sent (reached the carrier) → delivered | undelivered | failed (final). A delivery left `queued` by a crash has
    an unknown outcome; it is reconciled with the provider, never resent blindly.
    """

    __tablename__ = "deliveries"
    # The delivery dashboard's queries (notifier.delivery_stats): a period's rows read from the index alone, and
    # its failed texts newest first without a sort.
    __table_args__ = (
        Index("deliveries_report", "created_at", "status", "language", "error_code", "delivered_at"),
        Index("deliveries_failed", "created_at", "id",
              postgresql_where=text("status IN ('failed', 'undelivered')"),
              sqlite_where=text("status IN ('failed', 'undelivered')")),
    )
    id: int | None = Field(default=None, primary_key=True)
    reminder_id: int = Field(foreign_key="reminders.id", index=True)
    attempt: int = database_default(1)
    booking_id: str | None = Field(default=None, max_length=36, index=True)
    ref: str = Field(max_length=32, unique=True)  # in the StatusCallback URL: matches a callback without a SID
    provider: str = Field(max_length=16)
    status: str = Field(max_length=16)
    provider_sid: str | None = Field(default=None, max_length=64, index=True)
    error_code: str | None = Field(default=None, max_length=16)
    to_masked: str = database_default("", max_length=24)
    segments: int = database_default(0)
    # Indexed: the daily text budget counts the deliveries made since the business day began.
    created_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column(index=True))
    updated_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())
    # Committed just before the provider is called. A queued delivery without it never left this process: after a
    # crash its message is safely released to be sent again; with it, the outcome is unknown and never resent.
    requested_at: datetime | None = Field(default=None, sa_column=instant_column(nullable=True))
    language: str = database_default("", max_length=2)  # the message's, for the dashboard without a join
    delivered_at: datetime | None = Field(default=None, sa_column=instant_column(nullable=True))
    # Set when staff had this failed text sent once more (a new delivery); a delivery is retried at most once.
    retried_at: datetime | None = Field(default=None, sa_column=instant_column(nullable=True))


class DeliveryDay(SQLModel, table=True):
    """A settled business day (Europe/Berlin) whose deliveries are counted in delivery_day_counts and
    delivery_day_seconds, so that a report over a year reads a few thousand counts instead of a million rows. A
    status change of one of its deliveries deletes this row, and the day is counted again when next asked."""

    __tablename__ = "delivery_days"
    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD
    starts_at: datetime = Field(sa_column=instant_column(index=True))
    ends_at: datetime = Field(sa_column=instant_column())
    counted_at: datetime = Field(sa_column=instant_column())


class DeliveryDayCount(SQLModel, table=True):
    """How many deliveries of a settled day had each status, each language, and (failed or undelivered) each error
    code ('' for none): `dimension` says which, about 30 rows a day."""

    __tablename__ = "delivery_day_counts"
    day: str = Field(primary_key=True, max_length=10)
    dimension: str = Field(primary_key=True, max_length=8)  # status, language, error
    value: str = Field(primary_key=True, max_length=16)
    count: int


class DeliveryDaySeconds(SQLModel, table=True):
    """How many deliveries of a settled day took `seconds` from created to delivered (notifier.delivery_stats
    rounds long times to coarser steps)."""

    __tablename__ = "delivery_day_seconds"
    day: str = Field(primary_key=True, max_length=10)
    seconds: int = Field(primary_key=True)
    count: int


class OptOut(SQLModel, table=True):
    """A number that sent STOP (or START again). Only the keyed hash is kept, never the number."""

    __tablename__ = "opt_outs"
    phone_hash: str = Field(primary_key=True, max_length=64)
    opted_out: bool
    changed_at: datetime = Field(sa_column=instant_column())
    last_message_sid: str = Field(max_length=34)


class SmsBudgetDay(SQLModel, table=True):
    """A day (Europe/Berlin) on which SMS_DAILY_BUDGET was reached and sending stopped: for admins to see. The texts
    it held back stay pending and go out the next day, or at once when the budget is raised."""

    __tablename__ = "sms_budget_days"
    day: str = Field(primary_key=True, max_length=10)  # the business day, YYYY-MM-DD
    budget: int
    reached_at: datetime = Field(sa_column=instant_column())


TABLES: list[Table] = [
    t.__table__  # type: ignore[union-attr]
    for t in (Contact, BookingFacts, Reminder, Delivery, OptOut, SmsBudgetDay, DeliveryDay, DeliveryDayCount,
              DeliveryDaySeconds, OutboxMessage, ProcessedMessage)
]
