"""Asking the notifier for the client's number of one booking, for a counsellor's deliberate look (request/reply,
like the SMS preview). The number is sealed on the broker to a key pair made for this one question, whose private
half never leaves this call (shared/contracts/contact_numbers.py says why); the gateway stores nothing of it.

No answer in time is SchedulerUnavailable (503); the notifier's refusal is NumberWithheld with its reason.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID, uuid4

from gateway.errors import GatewayError, SchedulerUnavailable
from gateway.slots import ReplyWaiter, ask_scheduler
from shared.contracts import ContactNumberAnswered, ContactNumberRequested
from shared.contracts.contact_numbers import reply_key_context, reveal_context
from shared.crypto import DataCipher, DecryptionError, OpeningKey, generate_box_key
from shared.messaging import Publisher


class NumberWithheld(GatewayError):
    """The notifier has no number to show: `code` is its reason (no_contact, unreadable, unverified)."""

    status = 404

    def __init__(self, reason: str) -> None:
        super().__init__({"no_contact": "There is no number for this appointment any more.",
                          "unreadable": "The number of this appointment cannot be read."}.get(
                              reason, "The text service refused to show the number."))
        self.code = reason
        self.status = 404 if reason == "no_contact" else 409


class NumberSource(Protocol):
    """What the staff pages need: the E.164 number of one booking (the notifier, or a test's fake)."""

    def number(self, booking_id: UUID) -> str: ...


class ContactNumbers:
    def __init__(self, publisher: Publisher, waiter: ReplyWaiter, reply_to: str, timeout: float,
                 cipher: DataCipher) -> None:
        self.publisher, self.waiter, self.reply_to, self.timeout = publisher, waiter, reply_to, timeout
        self.cipher = cipher

    def number(self, booking_id: UUID) -> str:
        """The number, opened here and nowhere else; NumberWithheld, or SchedulerUnavailable without an answer."""
        request_id = uuid4()
        private, public = generate_box_key("r1")  # this question's only: a copy of the answer opens for nobody later
        asked = ContactNumberRequested(request_id=request_id, booking_id=booking_id, reply_to=self.reply_to,
                                       reply_key=self.cipher.encrypt(public, reply_key_context(booking_id,
                                                                                               request_id)))
        answer = ask_scheduler(self.publisher, self.waiter, request_id.hex, asked, self.timeout,
                               " Please try again in a moment.", who="The text service",
                               expect=ContactNumberAnswered)
        if answer.request_id != request_id or answer.booking_id != booking_id:
            raise SchedulerUnavailable("The text service gave an answer we cannot read. Please try again.")
        if answer.phone is None:
            raise NumberWithheld(answer.refused or "refused")
        try:
            return OpeningKey(private).open(answer.phone, reveal_context(booking_id, request_id))
        except DecryptionError:
            raise SchedulerUnavailable("The text service gave an answer we cannot read. Please try again.") from None
