"""Messages about bookings. None of them carries a phone number: the scheduler must never see one."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.common import FreeText, LanguageCode, Mode, Slot, SlotId, Topic
from shared.contracts.envelope import Payload, register, register_upgrade

RejectionReason = Literal[
    "slot_taken", "unknown_slot", "slot_in_past", "language_not_offered", "topic_not_offered", "counsellor_absent"
]
CancelledBy = Literal["client", "staff"]
# The language of the conversation, apart from the language of the texts: a counsellor who speaks it, or German or
# English with a language mediator (then any counsellor will do).
Conversation = Literal["own_language", "mediator"]
# Why a client's move was refused: a reason for the new slot, or one about the booking itself.
MoveRefusalReason = RejectionReason | Literal["unknown_booking", "not_confirmed"]
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
    # Added later (optional, so a message without it still means what it meant): the conversation choice.
    conversation: Conversation = "own_language"


class Meeting(BaseModel):
    """How client and counsellor meet, for the manage page only (never an SMS: lock screens). Office: the address
    and how to get in; outreach: how the place is agreed; phone: nothing more (the counsellor calls the number
    given); video: a join link made for this appointment alone (a random room name, nothing about topic or person)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Mode
    address: str | None = Field(default=None, max_length=200)
    directions: str | None = Field(default=None, max_length=500)
    video_url: str | None = Field(default=None, max_length=300)


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
    # Added later (optional): how to meet, for the gateway's manage page; the notifier never puts it in a text.
    meeting: Meeting | None = None
    conversation: Conversation = "own_language"


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
    # Added later (optional): how to meet at the new time; and, for a move the client asked for, its id.
    meeting: Meeting | None = None
    move_id: UUID | None = None


register_upgrade("booking.rescheduled", 1)


@register
class BookingMoveRequested(Payload):
    """gateway → scheduler: the client (by manage token) asks to move their confirmed booking to `slot_id`. The
    scheduler holds the new time before it releases the old one (one transaction), or keeps the old one and answers
    `booking.move_refused`; a move it carried out is announced as `booking.rescheduled` with this `move_id`."""

    message_type = "booking.move_requested"
    message_version = 1
    booking_id: UUID
    move_id: UUID
    slot_id: SlotId


@register
class BookingMoveRefused(Payload):
    """scheduler → gateway: the client's move was refused; the booking keeps its time. Up to three nearest
    alternatives for a taken slot."""

    message_type = "booking.move_refused"
    message_version = 1
    booking_id: UUID
    move_id: UUID
    reason: MoveRefusalReason
    alternatives: list[Slot] = Field(default_factory=list)


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
