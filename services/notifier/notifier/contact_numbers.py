"""Answering a counsellor's deliberate look at the client's number of one booking (`contact.number_requested`).

The gateway checked with the scheduler that the booking is the asking counsellor's phone appointment; here only the
contact of that one booking is read, opened and sealed again to the question's one-time key (the contract's
docstring says why). Read-only, so a question delivered twice is answered twice and changes nothing; nothing is
logged that names the client, the booking or the number: only the outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlmodel import Session

from notifier.repository import NotifierRepository
from shared.contracts import ContactNumberAnswered, ContactNumberRequested, Envelope, wrap
from shared.contracts.contact_numbers import NumberRefusal, reply_key_context, reveal_context
from shared.contracts.contacts import phone_context
from shared.crypto import DataCipher, DecryptionError, SealingKey

log = logging.getLogger(__name__)
Reply = Callable[[str, Envelope], None]


def number_of(session: Session, asked: ContactNumberRequested, cipher: DataCipher) -> ContactNumberAnswered:
    """The booking's number sealed to the asker's key, or why there is none."""
    def refused(reason: NumberRefusal) -> ContactNumberAnswered:
        return ContactNumberAnswered(request_id=asked.request_id, booking_id=asked.booking_id, refused=reason)

    try:
        reply_key = SealingKey(cipher.decrypt(asked.reply_key, reply_key_context(asked.booking_id,
                                                                                 asked.request_id)))
    except (DecryptionError, ValueError):
        return refused("unverified")  # not asked by a holder of DATA_KEY, or a key moved from another question
    contact = NotifierRepository(session).contact(str(asked.booking_id))
    if contact is None:
        return refused("no_contact")  # never given, erased by the client, or past retention
    try:
        phone = cipher.decrypt(contact.phone_ciphertext, phone_context(asked.booking_id))
    except DecryptionError:
        return refused("unreadable")  # stored under a key no longer in DATA_KEY
    return ContactNumberAnswered(request_id=asked.request_id, booking_id=asked.booking_id,
                                 phone=reply_key.seal(phone, reveal_context(asked.booking_id, asked.request_id)))


def answer_number(envelope: Envelope, session: Session, cipher: DataCipher, reply: Reply) -> None:
    asked = envelope.payload_as(ContactNumberRequested)
    answer = number_of(session, asked, cipher)
    if answer.refused == "unverified":
        log.warning("a number question did not verify under DATA_KEY; refused")
    else:
        log.info("number question answered (%s)", answer.refused or "sealed number")
    reply(asked.reply_to, wrap(answer, envelope.correlation_id))
