"""Messages about bookings. None of them carries a phone number: the scheduler must never see one."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.contracts.common import FreeText, LanguageCode, Slot, SlotId, Topic
from shared.contracts.envelope import Payload, register, register_upgrade

RejectionReason = Literal[
    "slot_taken", "unknown_slot", "slot_in_past", "language_not_offered", "topic_not_offered", "counsellor_absent"
]
CancelledBy = Literal["client", "staff"]
# When reminders go out, in minutes before the start: the appointment type's policy, set by admins in the scheduler.
ReminderOffsets = Annotated[
    tuple[Annotated[int, Field(ge=15, le=20160)], ...], Field(max_length=5)
]
DEFAULT_REMINDER_OFFSETS: tuple[int, ...] = (1440, 120)


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
    message_version = 2
    booking_id: UUID
    slot: Slot
    language: LanguageCode
    # v2: the appointment type's reminder policy (a v1 message is read with the default policy).
    reminder_offsets_minutes: ReminderOffsets = DEFAULT_REMINDER_OFFSETS


register_upgrade("booking.confirmed", 1)


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
    """gateway → scheduler: the client (by manage token) or staff asks to cancel; staff may say why."""

    message_type = "booking.cancellation_requested"
    message_version = 1
    booking_id: UUID
    by: CancelledBy
    reason: FreeText | None = None


@register
class BookingCancelled(Payload):
    """scheduler → all: the booking no longer holds its slot."""

    message_type = "booking.cancelled"
    message_version = 1
    booking_id: UUID
    by: CancelledBy
    starts_at: AwareDatetime | None = None
    reason: FreeText | None = None


@register
class BookingRescheduled(Payload):
    """scheduler → all: the booking now holds `slot` instead of `previous` (in one transaction)."""

    message_type = "booking.rescheduled"
    message_version = 2
    booking_id: UUID
    previous: Slot
    slot: Slot
    language: LanguageCode
    by: CancelledBy
    reason: FreeText | None = None
    # v2: the reminder policy of the (possibly other) appointment type now booked.
    reminder_offsets_minutes: ReminderOffsets = DEFAULT_REMINDER_OFFSETS


register_upgrade("booking.rescheduled", 1)


@register
class BookingNoShow(Payload):
    """scheduler → all: the client did not come."""

    message_type = "booking.no_show"
    message_version = 1
    booking_id: UUID
    starts_at: AwareDatetime
    reason: FreeText | None = None


@register
class BookingAttended(Payload):
    """scheduler → all: the client came."""

    message_type = "booking.attended"
    message_version = 1
    booking_id: UUID
    starts_at: AwareDatetime
