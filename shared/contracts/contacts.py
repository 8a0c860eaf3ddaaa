"""Messages to the notifier alone: how to reach a client, encrypted end to end through the broker."""

from __future__ import annotations

from uuid import UUID

from shared.contracts.common import Ciphertext, LanguageCode
from shared.contracts.envelope import Payload, register

PHONE_CONTEXT = "contact.phone"
MANAGE_TOKEN_CONTEXT = "contact.manage_token"  # noqa: S105 - a label, not a secret


def phone_context(booking_id: UUID) -> str:
    return f"{PHONE_CONTEXT}:{booking_id}"


def manage_token_context(booking_id: UUID) -> str:
    return f"{MANAGE_TOKEN_CONTEXT}:{booking_id}"


@register
class ContactRegistered(Payload):
    """gateway → notifier: the phone (E.164) and manage token of a booking, each AES-GCM sealed."""

    message_type = "contact.registered"
    message_version = 1
    booking_id: UUID
    phone: Ciphertext
    manage_token: Ciphertext
    language: LanguageCode
