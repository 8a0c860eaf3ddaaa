"""Replies to a client's text (gateway → notifier): which reply, in which language, with which times; never words
the client wrote. The notifier renders them from its gettext catalogues and sends them like every other text."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts.common import Ciphertext, LanguageCode
from shared.contracts.envelope import Payload, register

SMS_CONVERSATION_CONTEXT = "sms.conversation"

# What the notifier can say back. Each is one msgid in notifier/locale; the gateway picks one, never a text.
ReplyKind = Literal[
    "offer",  # the next free times, numbered; the answer with a number books one
    "offer_again",  # the list expired: fresh times
    "taken",  # the time chosen was taken meanwhile: fresh times
    "no_times",  # nothing free in the next days
    "cannot_book",  # a limit on bookings per number is reached
    "confirm_cancel",  # "cancel the appointment at {when}? YES / NO"
    "cancel_requested",  # the cancellation is on its way (the notice of the cancellation follows)
    "cancel_kept",  # NO: the appointment stays
    "no_appointment",  # CHANGE / CANCEL without an appointment to come
    "change_link",  # where the time can be changed (the manage link of `booking_id`); CHANGE with no time free
    "move_offer",  # CHANGE: the appointment, and the free times it may move to, numbered; a number moves it
    "move_taken",  # the time chosen to move to was taken meanwhile: the appointment stays; fresh times
    "move_kept",  # the move was refused otherwise (or with no time left): the appointment stays as it is
    "help",  # what one can send
    "not_understood",  # once per conversation, with what one can send
    "paused",  # too many texts a minute: the next ones are not read for a while
]

PlaceAlias = Annotated[str, StringConstraints(min_length=1, max_length=40)]


def conversation_context(conversation_id: UUID | str) -> str:
    """The context a conversation's sealed number is bound to."""
    return f"{SMS_CONVERSATION_CONTEXT}:{conversation_id}"


class OfferedTime(BaseModel):
    """A time as the client may see it by SMS: when and the place's neutral alias, nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    starts_at: AwareDatetime
    place: PlaceAlias


@register
class SmsReplyRequested(Payload):
    """gateway → notifier: answer the client of an SMS conversation. `phone` is the sender's E.164 number sealed for
    the notifier with conversation_context(conversation_id); `language` None means: the number's last known
    language, else German and English."""

    message_type = "sms.reply_requested"
    message_version = 1
    conversation_id: UUID
    phone: Ciphertext
    kind: ReplyKind
    language: LanguageCode | None = None
    # offer / offer_again / taken / move_offer / move_taken: the times, in the order of their numbers (1, 2, …).
    times: tuple[OfferedTime, ...] = Field(default=(), max_length=5)
    # confirm_cancel / cancel_kept / cancel_requested / change_link / move_*: the appointment it is about.
    appointment: OfferedTime | None = None
    booking_id: UUID | None = None  # change_link: whose manage link
