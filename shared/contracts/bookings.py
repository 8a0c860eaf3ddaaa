"""Messages about bookings. None of them carries a phone number: the scheduler must never see one."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.contracts.common import LanguageCode, Slot, SlotId, Topic
from shared.contracts.envelope import Payload, register

RejectionReason = Literal["slot_taken", "unknown_slot", "slot_in_past", "language_not_offered"]
CancelledBy = Literal["client", "staff"]


@register
class BookingRequested(Payload):
    """gateway → scheduler: a client asks for a slot."""

    message_type = "booking.requested"
    message_version = 1
    booking_id: UUID
    slot_id: SlotId
    topic: Topic | None = None
    language: LanguageCode
    channel: Literal["web", "sms"]


@register
class BookingConfirmed(Payload):
    """scheduler → all: the slot is the booking's."""

    message_type = "booking.confirmed"
    message_version = 1
    booking_id: UUID
    slot: Slot
    language: LanguageCode


@register
class BookingRejected(Payload):
    """scheduler → all: the booking could not be given its slot; up to three nearest alternatives."""

    message_type = "booking.rejected"
    message_version = 1
    booking_id: UUID
    reason: RejectionReason
    alternatives: list[Slot] = Field(default_factory=list)


@register
class BookingCancellationRequested(Payload):
    """gateway → scheduler: the client (by manage token) or staff asks to cancel."""

    message_type = "booking.cancellation_requested"
    message_version = 1
    booking_id: UUID
    by: CancelledBy


@register
class BookingCancelled(Payload):
    """scheduler → all: the booking no longer holds its slot."""

    message_type = "booking.cancelled"
    message_version = 1
    booking_id: UUID
    by: CancelledBy
    starts_at: AwareDatetime | None = None
