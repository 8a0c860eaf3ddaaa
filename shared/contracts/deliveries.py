"""Messages about what became of an SMS: Twilio's status callbacks and inbound texts (through the gateway, to the
notifier), and a client that cannot be reached (notifier → scheduler, for the staff view)."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, StringConstraints

from shared.contracts.common import Ciphertext, LanguageCode
from shared.contracts.envelope import Payload, register

INBOUND_PHONE_CONTEXT = "inbound.phone"

# Twilio's Message SID (SM…, MM… for MMS) as sent in webhooks.
MessageSid = Annotated[str, StringConstraints(pattern=r"^(SM|MM)[0-9a-fA-F]{32}$")]
# The opaque reference the notifier puts into each message's StatusCallback URL (`?d=`), so that a callback can
# be matched to its delivery even when the send's answer (with the SID) never came back.
DeliveryRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
ErrorCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,6}$")]
# Twilio's `message_enum_status` (the OpenAPI spec), as a status callback reports it.
ProviderStatus = Literal[
    "queued", "sending", "sent", "failed", "delivered", "undelivered", "receiving", "received", "accepted",
    "scheduled", "read", "partially_delivered", "canceled",
]


def inbound_phone_context(message_sid: str) -> str:
    return f"{INBOUND_PHONE_CONTEXT}:{message_sid}"


@register
class DeliveryStatusReported(Payload):
    """gateway → notifier: a signed Twilio status callback, reduced to what the notifier needs (no number, no text)."""

    message_type = "delivery.status_reported"
    message_version = 1
    message_sid: MessageSid
    status: ProviderStatus
    error_code: ErrorCode | None = None
    delivery_ref: DeliveryRef | None = None
    reported_at: AwareDatetime


@register
class SmsReceived(Payload):
    """gateway → notifier: a signed inbound SMS. The text itself never travels: only what it asks for."""

    message_type = "sms.received"
    message_version = 1
    message_sid: MessageSid
    phone: Ciphertext  # the sender's E.164 number, sealed with inbound_phone_context(message_sid)
    keyword: Literal["stop", "start", "other"]
    # The language whose word matched (STOPP → de), so that the one confirmation is in words the sender used.
    language: LanguageCode | None = None


@register
class ContactUnreachable(Payload):
    """notifier → scheduler: texts to this booking's number cannot arrive; staff should see it and call or write."""

    message_type = "contact.unreachable"
    message_version = 1
    booking_id: UUID
    reason: Literal["invalid_number", "unreachable", "opted_out"]
    error_code: ErrorCode | None = None
