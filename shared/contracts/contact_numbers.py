"""A counsellor's deliberate look at the client's number of one phone appointment: gateway → notifier question,
notifier → gateway answer (request/reply on the asking gateway's own `gateway.replies.*` queue, like the SMS preview).

How the number crosses the broker, and why so:

* The gateway makes a fresh X25519 key pair for each question (`shared.crypto.generate_box_key`) and keeps the
  private half in the memory of the one request that asks, never on disk. The public half travels in
  `reply_key`, itself AES-GCM sealed under DATA_KEY (`DataCipher.encrypt`) and bound to the booking and the
  question (`reply_key_context`): DATA_KEY is held by the gateway and the notifier only (docs/privacy.md), so a
  question the notifier can open came from one of them; a message put on the broker by anyone else is refused
  (`unverified`), and a key cannot be moved to another booking's question. (Sealing the question to the notifier's
  public key, as `contact.registered` may be, would prove nothing: anyone can seal with a public key.)
* The notifier seals the number to that public key with the box the gateway already uses towards the notifier
  (`shared.crypto.SealingKey`, `x1.…`), bound to the booking and the question (`reveal_context`). Only the asking
  request can open it; once it has answered, its private key is gone, so a copy of the answer kept anywhere (a
  queue, a dead letter, a capture) cannot be opened later, not even with DATA_KEY or NOTIFIER_PRIVATE_KEY.
  Sealing under DATA_KEY instead would leave every such copy readable to whoever gets DATA_KEY later.

A refusal says why there is no number: `no_contact` (never given, erased by the client, or deleted after
CONTACT_RETENTION_DAYS: the notifier keeps nothing that tells these apart), `unreadable` (stored under a key the
notifier no longer has), `unverified` (the question did not come from a DATA_KEY holder).
"""

from __future__ import annotations

from typing import Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from shared.contracts.common import Ciphertext
from shared.contracts.envelope import Payload, register

REPLY_KEY_CONTEXT = "contact.reveal_key"
REVEAL_CONTEXT = "contact.reveal"

NumberRefusal = Literal["no_contact", "unreadable", "unverified"]


def reply_key_context(booking_id: UUID, request_id: UUID) -> str:
    return f"{REPLY_KEY_CONTEXT}:{booking_id}:{request_id}"


def reveal_context(booking_id: UUID, request_id: UUID) -> str:
    return f"{REVEAL_CONTEXT}:{booking_id}:{request_id}"


@register
class ContactNumberRequested(Payload):
    """gateway → notifier: the number of this booking's client, sealed to `reply_key`. Read-only: asking twice
    changes nothing."""

    message_type = "contact.number_requested"
    message_version = 1
    request_id: UUID
    booking_id: UUID
    # The one-time public key `kid:base64`, under DATA_KEY with reply_key_context(booking_id, request_id).
    reply_key: Ciphertext
    reply_to: str = Field(pattern=r"^gateway\.replies\.[0-9a-f]{12}$")


@register
class ContactNumberAnswered(Payload):
    """notifier → gateway: the E.164 number sealed to the question's `reply_key` with
    reveal_context(booking_id, request_id), or why there is none."""

    message_type = "contact.number_answered"
    message_version = 1
    request_id: UUID
    booking_id: UUID
    phone: Ciphertext | None = None
    refused: NumberRefusal | None = None

    @model_validator(mode="after")
    def _number_or_refusal(self) -> Self:
        if (self.phone is None) == (self.refused is None):
            raise ValueError("an answer holds either the sealed number or a refusal")
        if self.phone is not None and not self.phone.startswith("x1."):
            raise ValueError("the number travels sealed to the asker's key only")
        return self
