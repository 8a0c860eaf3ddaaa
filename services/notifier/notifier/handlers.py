"""One function per message type, each inside the consumer's transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, select

from notifier.tables import BookingFacts, Contact, Reminder
from shared.contracts import (
    BookingAttended,
    BookingCancelled,
    BookingConfirmed,
    BookingNoShow,
    BookingRejected,
    BookingRescheduled,
    ContactRegistered,
    Envelope,
)
from shared.contracts.contacts import phone_context
from shared.crypto import DataCipher

log = logging.getLogger(__name__)


@dataclass
class NotifierDeps:
    cipher: DataCipher
    clock: Callable[[], datetime]
    retention: timedelta
    # Called when a handler may have made a reminder due (a confirmation with its contact, in either order):
    # the dispatcher then runs after the commit instead of at its next tick.
    may_be_due: Callable[[], None] = lambda: None


def register_contact(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    contact = envelope.payload
    assert isinstance(contact, ContactRegistered)
    booking_id = str(contact.booking_id)
    if session.get(Contact, booking_id) is not None:
        return
    # Decrypting here proves the ciphertext is whole and gives the keyed hash used for opt-outs later.
    phone = deps.cipher.decrypt(contact.phone, phone_context(contact.booking_id))
    facts = session.get(BookingFacts, booking_id)
    now = deps.clock()
    session.add(
        Contact(
            booking_id=booking_id,
            phone_ciphertext=contact.phone,
            phone_hash=deps.cipher.lookup_hash(phone),
            manage_token_ciphertext=contact.manage_token,
            language=contact.language,
            created_at=now,
            purge_after=(facts.starts_at if facts else now) + deps.retention,
        )
    )
    if facts is not None:
        deps.may_be_due()  # the confirmation came first and waited for this contact


def schedule_confirmation(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    confirmed = envelope.payload
    assert isinstance(confirmed, BookingConfirmed)
    booking_id = str(confirmed.booking_id)
    starts_at = confirmed.slot.start
    facts = session.get(BookingFacts, booking_id)
    if facts is None:
        session.add(BookingFacts(booking_id=booking_id, starts_at=starts_at, place_alias=confirmed.slot.location.alias,
                                 language=confirmed.language, status="confirmed"))
    contact = session.get(Contact, booking_id)
    if contact is not None:
        contact.purge_after = starts_at + deps.retention
        session.add(contact)
    exists = session.exec(select(Reminder).where(Reminder.booking_id == booking_id,
                                                 Reminder.kind == "confirmation")).first()
    if exists is None:
        session.add(Reminder(booking_id=booking_id, kind="confirmation", due_at=deps.clock()))
    if contact is not None:
        deps.may_be_due()


def forget_rejected(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    """A booking that got no slot needs no contact: the number is deleted at once."""
    rejected = envelope.payload
    assert isinstance(rejected, BookingRejected)
    booking_id = str(rejected.booking_id)
    session.exec(delete(Contact).where(col(Contact.booking_id) == booking_id))
    _cancel_pending(session, booking_id)


def cancel_reminders(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    cancelled = envelope.payload
    assert isinstance(cancelled, BookingCancelled)
    booking_id = str(cancelled.booking_id)
    facts = session.get(BookingFacts, booking_id)
    if facts is not None:
        facts.status = "cancelled"
        session.add(facts)
    _cancel_pending(session, booking_id)


def _cancel_pending(session: Session, booking_id: str) -> None:
    for reminder in session.exec(select(Reminder).where(Reminder.booking_id == booking_id,
                                                        Reminder.status == "pending")):
        reminder.status = "cancelled"
        session.add(reminder)


def record_rescheduled(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    """The booking's new time and place; the contact is kept until retention after the new start.

    A "your appointment was moved" SMS (and moving the reminders) comes with Lotse 3/6; for now the facts are kept
    right so that what follows uses the new time. Idempotent: the same values are written again.
    """
    rescheduled = envelope.payload
    assert isinstance(rescheduled, BookingRescheduled)
    booking_id = str(rescheduled.booking_id)
    facts = session.get(BookingFacts, booking_id)
    if facts is not None:
        facts.starts_at = rescheduled.slot.start
        facts.place_alias = rescheduled.slot.location.alias
        session.add(facts)
    contact = session.get(Contact, booking_id)
    if contact is not None:
        contact.purge_after = rescheduled.slot.start + deps.retention
        session.add(contact)


def record_outcome(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    """No-show or attended: nothing more to send for this booking."""
    outcome = envelope.payload
    assert isinstance(outcome, BookingNoShow | BookingAttended)
    booking_id = str(outcome.booking_id)
    facts = session.get(BookingFacts, booking_id)
    if facts is not None:
        facts.status = "no_show" if isinstance(outcome, BookingNoShow) else "attended"
        session.add(facts)
    _cancel_pending(session, booking_id)
