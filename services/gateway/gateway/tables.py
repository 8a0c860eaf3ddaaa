"""The gateway's own tables: booking requests with hashed manage tokens, the client's choices about texts and
counsellors' feed tokens (hashed). No phone number is kept here."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Index, Table
from sqlmodel import Field, SQLModel

from gateway.staff.tables import STAFF_TABLES
from gateway.system_health.tables import HEALTH_TABLES
from shared.db import database_default, instant_column
from shared.inbox import ProcessedMessage
from shared.outbox import OutboxMessage


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BookingRequest(SQLModel, table=True):
    __tablename__ = "booking_requests"
    booking_id: str = Field(primary_key=True, max_length=36)
    manage_token_hash: str = Field(max_length=64, unique=True)
    idempotency_key: str | None = Field(default=None, max_length=64, unique=True)
    # Keyed hash of the request (phone included) so a reused Idempotency-Key with another body is refused.
    request_fingerprint: str = Field(max_length=64)
    # The token itself, sealed, only so that a retried request can be answered with it; cleared after a day.
    manage_token_ciphertext: str | None = None
    status: str = Field(max_length=16)  # pending, confirmed, rejected, cancelled
    reason: str | None = Field(default=None, max_length=32)
    slot_json: str | None = None
    alternatives_json: str | None = None
    language: str = Field(max_length=2)
    channel: str = Field(max_length=8)
    created_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column(index=True))
    updated_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())
    # Keyed hash (HMAC with the data key) of the phone number, never the number: how many appointments one number
    # holds (gateway.limits). Null for bookings made before it was kept.
    phone_hash: str | None = Field(default=None, max_length=64, index=True)
    # The appointment's start once confirmed (from the slot): a number's appointments that have not begun yet.
    starts_at: datetime | None = Field(default=None, sa_column=instant_column(nullable=True))
    # The client's last move (gateway.bookings.MoveState as JSON), how to meet (the scheduler's Meeting as JSON,
    # shown only while confirmed) and the conversation choice (migration 0003).
    move_json: str | None = None
    meeting_json: str | None = None
    conversation: str = database_default("own_language", max_length=16)


class RateEvent(SQLModel, table=True):
    """One counted request (a booking, a cancellation, a search) per client address or phone number, for the
    sliding-window limits of gateway.limits. In the database so the limits hold across gateway replicas; the
    subject is a keyed hash, never an address or a number."""

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_subject", "scope", "subject", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=16)
    subject: str = Field(max_length=64)
    at: datetime = Field(sa_column=instant_column())


class BookingPreferences(SQLModel, table=True):
    """What the client decided is safe for one booking's texts (a ContactPreferences as JSON); it identifies no one.
    A booking without a row has the defaults (reminders on, any time), so the usual booking writes no row. A table
    of its own, not columns on booking_requests: the gateway then made its tables with create_all, which adds
    missing tables, never missing columns (its schema is now gateway/migrations)."""

    __tablename__ = "booking_preferences"
    booking_id: str = Field(primary_key=True, max_length=36, foreign_key="booking_requests.booking_id",
                            ondelete="CASCADE")  # goes wherever the booking goes
    preferences_json: str
    updated_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())


class SmsConversation(SQLModel, table=True):
    """Where a client's SMS conversation stands (gateway.sms_conversation): one row per number, found by the keyed
    hash of the number; the number itself only sealed for the notifier (it is what the replies go to). Deleted a day
    after it ends."""

    __tablename__ = "sms_conversations"
    conversation_id: str = Field(primary_key=True, max_length=36)
    phone_hash: str = Field(max_length=64, unique=True)  # gateway.limits.ClientLimits.phone_subject
    # Sealed for the notifier with shared.contracts.sms.conversation_context(conversation_id); this gateway
    # cannot open it when NOTIFIER_PUBLIC_KEY is set.
    phone_ciphertext: str
    language: str | None = Field(default=None, max_length=2)
    state: str = Field(max_length=16)  # idle, offered, confirm_cancel
    # offered: the times listed, in order ([{slot_id, starts_at, place}]); confirm_cancel: the appointment.
    context_json: str | None = None
    booking_id: str | None = Field(default=None, max_length=36)  # confirm_cancel: the appointment to cancel
    # A booking asked for by SMS and not decided yet: a refusal (the time was taken) is answered with fresh times.
    pending_booking_id: str | None = Field(default=None, max_length=36, index=True)
    expires_at: datetime = Field(sa_column=instant_column(index=True))
    not_understood_at: datetime | None = Field(default=None, sa_column=instant_column(nullable=True))
    paused_until: datetime | None = Field(default=None, sa_column=instant_column(nullable=True))
    updated_at: datetime = Field(default_factory=_utcnow, sa_column=instant_column())


class SmsInbound(SQLModel, table=True):
    """The Message SIDs of inbound texts handled in the last day: Twilio retries a webhook it thinks failed, and a
    retried text must not be answered (or book) twice. Nothing of the text or the number."""

    __tablename__ = "sms_inbound"
    message_sid: str = Field(primary_key=True, max_length=34)
    received_at: datetime = Field(sa_column=instant_column(index=True))


class CounsellorFeed(SQLModel, table=True):
    """A counsellor's private calendar feed (gateway.feeds): the token only as its SHA-256 hash."""

    __tablename__ = "counsellor_feeds"
    counsellor_id: int = Field(primary_key=True)  # the scheduler's counsellor id; one feed each
    token_hash: str = Field(max_length=64, unique=True)  # SHA-256 of the token; never the token
    issued_by: int  # staff account id
    issued_at: datetime = Field(sa_column=instant_column())


TABLES: list[Table] = [
    t.__table__  # type: ignore[union-attr]
    for t in (BookingRequest, BookingPreferences, CounsellorFeed, RateEvent, SmsConversation, SmsInbound,
              OutboxMessage, ProcessedMessage, *STAFF_TABLES)
] + HEALTH_TABLES
