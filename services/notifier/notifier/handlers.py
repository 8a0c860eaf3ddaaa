"""One function per message type, each inside the consumer's transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, exists, insert, literal, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, delete, select

from notifier import deliveries
from notifier.plans import Policy, cancel_pending, plan_booking, plan_change_notice
from notifier.tables import BookingFacts, Contact, OptOut, Reminder
from shared.contracts import (
    BookingAttended,
    BookingCancelled,
    BookingConfirmed,
    BookingNoShow,
    BookingRejected,
    BookingRescheduled,
    ContactPreferencesChanged,
    ContactRegistered,
    ContactUnreachable,
    DeliveryStatusReported,
    Envelope,
    SmsReceived,
    wrap,
)
from shared.contracts.contacts import phone_context
from shared.contracts.deliveries import inbound_phone_context
from shared.crypto import DataCipher
from shared.db import InsertIfAbsent
from shared.outbox import add_to_outbox

log = logging.getLogger(__name__)

# How long the answer to STOP/START may wait for a moment it is allowed to go out.
_OPT_ANSWER_VALID = timedelta(hours=12)


@dataclass
class NotifierDeps:
    cipher: DataCipher
    clock: Callable[[], datetime]
    retention: timedelta
    policy: Policy
    max_attempts: int = 5
    # Called when a handler may have made a message due at once (a confirmation with its contact, in either
    # order, an answer to STOP): the dispatcher then runs after the commit instead of at its next tick.
    may_be_due: Callable[[], None] = lambda: None


_CONTACTS = Contact.__table__  # type: ignore[attr-defined]
_FACTS = BookingFacts.__table__  # type: ignore[attr-defined]
# Built once, Core rather than ORM look-ups and flushes: these run for every booking (its contact and its
# confirmation), and the ORM's identity map and unit of work were about half of the notifier's CPU under load.
_OPT_OUTS = OptOut.__table__  # type: ignore[attr-defined]
# What a new contact needs to know, in one round trip: whether it is known already, whether its number said STOP,
# and the booking's facts if the confirmation came first (a row of NULLs if not).
_CONTACT_CONTEXT = (
    select_columns(
        exists().where(_CONTACTS.c.booking_id == bindparam("booking_id")).label("contact_known"),
        exists().where(_OPT_OUTS.c.phone_hash == bindparam("phone_hash"), _OPT_OUTS.c.opted_out)
        .label("opted_out"),
        *_FACTS.c)
    .select_from(select_columns(literal(1).label("one")).subquery("one")
                 .outerjoin(_FACTS, _FACTS.c.booking_id == bindparam("booking_id"))))
_INSERT_CONTACT = insert(_CONTACTS)
# A replayed confirmation finds its facts there and inserts nothing: one statement instead of a look-up first.
_INSERT_FACTS = InsertIfAbsent(_FACTS, _FACTS.c.booking_id)
_MOVE_PURGE = (update(_CONTACTS).where(_CONTACTS.c.booking_id == bindparam("contact_booking_id"))
               .values(purge_after=bindparam("new_purge_after")).returning(*_CONTACTS.c))


def register_contact(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    contact = envelope.payload
    assert isinstance(contact, ContactRegistered)
    booking_id = str(contact.booking_id)
    # Decrypting here proves the ciphertext is whole and gives the keyed hash used for opt-outs later.
    phone = deps.cipher.decrypt(contact.phone, phone_context(contact.booking_id))
    phone_hash = deps.cipher.lookup_hash(phone)
    known = session.connection().execute(_CONTACT_CONTEXT, {"booking_id": booking_id, "phone_hash": phone_hash}
                                         ).mappings().one()
    if known["contact_known"]:
        return
    facts = (BookingFacts(**{c.name: known[c.name] for c in _FACTS.c}) if known["booking_id"] is not None
             else None)
    now = deps.clock()
    window = contact.preferences.safe_window
    # This number said STOP before: it gets no text (not even this confirmation) until START, and staff see why.
    # Its messages are still planned, so that START brings back those still to come.
    opted_out = bool(known["opted_out"])
    added = Contact(
        booking_id=booking_id,
        phone_ciphertext=contact.phone,
        phone_hash=phone_hash,
        manage_token_ciphertext=contact.manage_token,
        language=contact.language,
        reminders=contact.preferences.reminders,
        safe_window=window.model_dump_json() if window else None,
        unreachable="opted_out" if opted_out else None,
        created_at=now,
        purge_after=(facts.starts_at if facts else now) + deps.retention,
    )
    session.connection().execute(_INSERT_CONTACT, added.model_dump())
    if opted_out:
        add_to_outbox(session, wrap(ContactUnreachable(booking_id=contact.booking_id, reason="opted_out"),
                                    booking_id))
    if facts is not None and plan_booking(session, booking_id, now, deps.policy, facts=facts, contact=added):
        deps.may_be_due()  # the confirmation came first and waited for this contact


def change_preferences(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    changed = envelope.payload
    assert isinstance(changed, ContactPreferencesChanged)
    booking_id = str(changed.booking_id)
    contact = session.get(Contact, booking_id)
    if contact is None:
        log.info("preferences for a booking without a contact (purged or rejected): nothing to change")
        return
    window = changed.preferences.safe_window
    contact.reminders = changed.preferences.reminders
    contact.safe_window = window.model_dump_json() if window else None
    session.add(contact)
    session.flush()
    if not contact.reminders:
        # Texts off: nothing but the confirmation they asked for (already planned, never cancelled here).
        cancel_pending(session, booking_id, "texts_off", kinds=("reminder", "rescheduled", "cancelled"))
    if plan_booking(session, booking_id, deps.clock(), deps.policy):
        deps.may_be_due()


def schedule_confirmation(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    confirmed = envelope.payload
    assert isinstance(confirmed, BookingConfirmed)
    booking_id = str(confirmed.booking_id)
    starts_at = confirmed.slot.start
    connection = session.connection()
    facts = BookingFacts(booking_id=booking_id, starts_at=starts_at, place_alias=confirmed.slot.location.alias,
                         language=confirmed.language, status="confirmed",
                         reminder_offsets=json.dumps(sorted(confirmed.reminder_offsets_minutes, reverse=True)))
    if not _INSERT_FACTS(connection, facts.model_dump()):
        return  # the same booking confirmed again (a replayed message): everything is planned already
    # The contact's data is kept until the appointment is over (plus retention), not from when it was registered.
    contact_row = connection.execute(_MOVE_PURGE, {"contact_booking_id": booking_id,
                                                   "new_purge_after": starts_at + deps.retention}).mappings().first()
    if contact_row is not None and plan_booking(session, booking_id, deps.clock(), deps.policy, facts=facts,
                                                contact=Contact(**contact_row), first=True):
        deps.may_be_due()


def forget_rejected(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    """A booking that got no slot needs no contact: the number is deleted at once."""
    rejected = envelope.payload
    assert isinstance(rejected, BookingRejected)
    booking_id = str(rejected.booking_id)
    session.exec(delete(Contact).where(col(Contact.booking_id) == booking_id))
    cancel_pending(session, booking_id, "booking_rejected")


def cancel_reminders(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    """Cancelled: nothing planned goes out any more, and one neutral cancellation SMS does (if texts are on)."""
    cancelled = envelope.payload
    assert isinstance(cancelled, BookingCancelled)
    booking_id = str(cancelled.booking_id)
    facts = session.get(BookingFacts, booking_id)
    if facts is None or facts.status == "cancelled":
        cancel_pending(session, booking_id, "booking_cancelled")
        return
    facts.status = "cancelled"
    session.add(facts)
    cancel_pending(session, booking_id, "booking_cancelled")
    if plan_change_notice(session, facts, "cancelled", deps.clock(), facts.starts_at, deps.policy):
        deps.may_be_due()


def record_rescheduled(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    """The booking moved: the old reminders are cancelled, new ones planned for the new time, and one neutral
    notice says when and where it now is. The contact is kept until retention after the new start."""
    rescheduled = envelope.payload
    assert isinstance(rescheduled, BookingRescheduled)
    booking_id = str(rescheduled.booking_id)
    facts = session.get(BookingFacts, booking_id)
    if facts is None:
        log.info("reschedule of a booking this notifier never saw confirmed: nothing to move")
        return
    new_start = rescheduled.slot.start
    if facts.starts_at == new_start and facts.place_alias == rescheduled.slot.location.alias:
        return  # replayed: the booking is already where this message puts it
    facts.starts_at = new_start
    facts.place_alias = rescheduled.slot.location.alias
    facts.reminder_offsets = json.dumps(sorted(rescheduled.reminder_offsets_minutes, reverse=True))
    facts.generation += 1
    facts.status = "confirmed"
    session.add(facts)
    contact = session.get(Contact, booking_id)
    if contact is not None:
        contact.purge_after = new_start + deps.retention
        session.add(contact)
    cancel_pending(session, booking_id, "rescheduled", kinds=("reminder", "rescheduled"))
    session.flush()
    now = deps.clock()
    due = plan_booking(session, booking_id, now, deps.policy)
    due |= plan_change_notice(session, facts, "rescheduled", now, new_start, deps.policy)
    if due:
        deps.may_be_due()


def record_outcome(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    """No-show or attended: nothing more to send for this booking."""
    outcome = envelope.payload
    assert isinstance(outcome, BookingNoShow | BookingAttended)
    booking_id = str(outcome.booking_id)
    facts = session.get(BookingFacts, booking_id)
    if facts is not None:
        facts.status = "no_show" if isinstance(outcome, BookingNoShow) else "attended"
        session.add(facts)
    cancel_pending(session, booking_id, facts.status if facts else "outcome")


def apply_status(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    report = envelope.payload
    assert isinstance(report, DeliveryStatusReported)
    deliveries.apply_report(session, report, deps.clock(), deps.max_attempts)


def answer_keyword(envelope: Envelope, session: Session, deps: NotifierDeps) -> None:
    """STOP blocks every further message to the number, START undoes it; each change is confirmed once."""
    received = envelope.payload
    assert isinstance(received, SmsReceived)
    if received.keyword == "other":
        return  # free text is not read here (no text ever reaches the notifier)
    context = inbound_phone_context(received.message_sid)
    phone_hash = deps.cipher.lookup_hash(deps.cipher.decrypt(received.phone, context))
    now = deps.clock()
    opted_out = received.keyword == "stop"
    record = session.get(OptOut, phone_hash)
    if record is not None and record.opted_out == opted_out:
        return  # already so: confirmed once, not again
    if record is None and not opted_out:
        return  # START from a number that never stopped: nothing to undo, nothing to say
    if record is None:
        record = OptOut(phone_hash=phone_hash, opted_out=opted_out, changed_at=now,
                        last_message_sid=received.message_sid)
    record.opted_out, record.changed_at, record.last_message_sid = opted_out, now, received.message_sid
    session.add(record)
    language = received.language or _latest_language(session, phone_hash) or "en"
    kind = "opted_out" if opted_out else "opted_in"
    session.add(Reminder(key=f"sms:{received.message_sid}:{kind}", kind=kind, language=language, due_at=now,
                         not_after=now + _OPT_ANSWER_VALID, phone_ciphertext=received.phone,
                         phone_context=context))
    if opted_out:
        _tell_staff_about_opt_out(session, phone_hash, now)
    else:
        for contact in session.exec(select(Contact).where(Contact.phone_hash == phone_hash)):
            if contact.unreachable == "opted_out":
                contact.unreachable = None
                session.add(contact)
            session.flush()
            plan_booking(session, contact.booking_id, now, deps.policy)  # reminders still to come come back
    deps.may_be_due()


def _latest_language(session: Session, phone_hash: str) -> str | None:
    contact = session.exec(select(Contact).where(Contact.phone_hash == phone_hash)
                           .order_by(col(Contact.created_at).desc())).first()
    return contact.language if contact else None


def _tell_staff_about_opt_out(session: Session, phone_hash: str, now: datetime) -> None:
    """Upcoming bookings of this number will get no reminder: staff see it on the booking."""
    rows = session.exec(select(Contact, BookingFacts).join(BookingFacts, col(BookingFacts.booking_id) ==
                                                           Contact.booking_id)
                        .where(Contact.phone_hash == phone_hash, BookingFacts.status == "confirmed",
                               col(BookingFacts.starts_at) > now)).all()
    for contact, facts in rows:
        contact.unreachable = "opted_out"
        session.add(contact)
        add_to_outbox(session, wrap(ContactUnreachable(booking_id=facts.booking_id, reason="opted_out"),
                                    facts.booking_id))
