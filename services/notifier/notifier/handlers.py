"""One function per message type, each inside the consumer's transaction, reaching the database through the
notifier's repository."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from notifier import deliveries
from notifier.domain.provider_errors import Retries
from notifier.plans import Policy, cancel_pending, plan_booking, plan_change_notice
from notifier.repository import NotifierRepository
from notifier.tables import BookingFacts, Contact, OptOut, Reminder
from shared.contracts import (
    BookingAttended,
    BookingCancelled,
    BookingConfirmed,
    BookingNoShow,
    BookingRejected,
    BookingRescheduled,
    ClientErasureRequested,
    ContactPreferencesChanged,
    ContactRegistered,
    ContactUnreachable,
    DeliveryStatusReported,
    Envelope,
    SmsReceived,
    SmsReplyRequested,
    wrap,
)
from shared.contracts.contacts import manage_token_context, phone_context
from shared.contracts.deliveries import inbound_phone_context
from shared.contracts.sms import OfferedTime, conversation_context
from shared.crypto import DataCipher

log = logging.getLogger(__name__)

# How long the answer to STOP/START may wait for a moment it is allowed to go out.
_OPT_ANSWER_VALID = timedelta(hours=12)
# A reply in an SMS conversation that could not go out within this is dropped: a list of times an hour late would
# only mislead (the conversation itself times out after 15 minutes by default).
_REPLY_VALID = timedelta(hours=1)
# A client whose language is not known yet gets German, then English.
_UNKNOWN_LANGUAGE, _ALSO = "de", "en"


@dataclass
class NotifierDeps:
    cipher: DataCipher
    clock: Callable[[], datetime]
    retention: timedelta
    policy: Policy
    retries: Retries = field(default_factory=Retries)
    # Called when a handler may have made a message due at once (a confirmation with its contact, in either
    # order, an answer to STOP): the dispatcher then runs after the commit instead of at its next tick.
    may_be_due: Callable[[], None] = lambda: None


def register_contact(envelope: Envelope, repo: NotifierRepository, deps: NotifierDeps) -> None:
    contact = envelope.payload_as(ContactRegistered)
    booking_id = str(contact.booking_id)
    # Decrypting here proves the ciphertext is whole and gives the keyed hash used for opt-outs later.
    phone = deps.cipher.decrypt(contact.phone, phone_context(contact.booking_id))
    phone_hash = deps.cipher.lookup_hash(phone)
    known = repo.contact_context(booking_id, phone_hash)
    if known.known:
        return
    facts = known.facts
    now = deps.clock()
    window = contact.preferences.safe_window
    # This number said STOP before: it gets no text (not even this confirmation) until START, and staff see why.
    # Its messages are still planned, so that START brings back those still to come.
    added = Contact(
        booking_id=booking_id,
        # Stored under DATA_KEY whatever it arrived sealed with (the dispatcher and the key rotation read that).
        phone_ciphertext=deps.cipher.at_rest(contact.phone, phone_context(contact.booking_id)),
        phone_hash=phone_hash,
        manage_token_ciphertext=deps.cipher.at_rest(contact.manage_token, manage_token_context(contact.booking_id)),
        language=contact.language,
        reminders=contact.preferences.reminders,
        safe_window=window.model_dump_json() if window else None,
        unreachable="opted_out" if known.opted_out else None,
        created_at=now,
        purge_after=(facts.starts_at if facts else now) + deps.retention,
    )
    repo.add_contact(added)
    if known.opted_out:
        repo.announce(wrap(ContactUnreachable(booking_id=contact.booking_id, reason="opted_out"), booking_id))
    if facts is not None and plan_booking(repo, booking_id, now, deps.policy, facts=facts, contact=added):
        deps.may_be_due()  # the confirmation came first and waited for this contact


def change_preferences(envelope: Envelope, repo: NotifierRepository, deps: NotifierDeps) -> None:
    changed = envelope.payload_as(ContactPreferencesChanged)
    booking_id = str(changed.booking_id)
    contact = repo.contact(booking_id)
    if contact is None:
        log.info("preferences for a booking without a contact (purged or rejected): nothing to change")
        return
    window = changed.preferences.safe_window
    contact.reminders = changed.preferences.reminders
    contact.safe_window = window.model_dump_json() if window else None
    repo.save(contact)
    repo.flush()
    if not contact.reminders:
        # Texts off: nothing but the confirmation they asked for (already planned, never cancelled here).
        cancel_pending(repo, booking_id, "texts_off", kinds=("reminder", "rescheduled", "cancelled"))
    if plan_booking(repo, booking_id, deps.clock(), deps.policy):
        deps.may_be_due()


def schedule_confirmation(envelope: Envelope, repo: NotifierRepository, deps: NotifierDeps) -> None:
    confirmed = envelope.payload_as(BookingConfirmed)
    booking_id = str(confirmed.booking_id)
    starts_at = confirmed.slot.start
    facts = BookingFacts(booking_id=booking_id, starts_at=starts_at, place_alias=confirmed.slot.location.alias,
                         language=confirmed.language, status="confirmed",
                         reminder_offsets=json.dumps(sorted(confirmed.reminder_offsets_minutes, reverse=True)))
    if not repo.add_facts_if_absent(facts):
        return  # the same booking confirmed again (a replayed message): everything is planned already
    # The contact's data is kept until the appointment is over (plus retention), not from when it was registered.
    contact = repo.keep_contact_until(booking_id, starts_at + deps.retention)
    if contact is not None and plan_booking(repo, booking_id, deps.clock(), deps.policy, facts=facts,
                                            contact=contact, first=True):
        deps.may_be_due()


def forget_rejected(envelope: Envelope, repo: NotifierRepository, deps: NotifierDeps) -> None:
    """A booking that got no slot needs no contact: the number is deleted at once."""
    booking_id = str(envelope.payload_as(BookingRejected).booking_id)
    repo.delete_contact(booking_id)
    cancel_pending(repo, booking_id, "booking_rejected")


def erase_client(envelope: Envelope, repo: NotifierRepository, deps: NotifierDeps) -> None:
    """The client deleted their data from the manage page: nothing more is sent, and nothing is kept that could
    reach or identify them (the opt-out list keeps its keyed hash: a STOP outlives an erasure)."""
    booking_id = str(envelope.payload_as(ClientErasureRequested).booking_id)
    erased = repo.erase_booking(booking_id)
    log.info("client data erased (%d contact)", erased)


def cancel_reminders(envelope: Envelope, repo: NotifierRepository, deps: NotifierDeps) -> None:
    """Cancelled: nothing planned goes out any more, and one neutral cancellation SMS does (if texts are on)."""
    booking_id = str(envelope.payload_as(BookingCancelled).booking_id)
    facts = repo.facts(booking_id)
    if facts is None or facts.status == "cancelled":
        cancel_pending(repo, booking_id, "booking_cancelled")
        return
    facts.status = "cancelled"
    repo.save(facts)
    cancel_pending(repo, booking_id, "booking_cancelled")
    if plan_change_notice(repo, facts, "cancelled", deps.clock(), facts.starts_at, deps.policy):
        deps.may_be_due()


def record_rescheduled(envelope: Envelope, repo: NotifierRepository, deps: NotifierDeps) -> None:
    """The booking moved: the old reminders are cancelled, new ones planned for the new time, and one neutral
    notice says when and where it now is. The contact is kept until retention after the new start."""
    rescheduled = envelope.payload_as(BookingRescheduled)
    booking_id = str(rescheduled.booking_id)
    facts = repo.facts(booking_id)
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
    repo.save(facts)
    contact = repo.contact(booking_id)
    if contact is not None:
        contact.purge_after = new_start + deps.retention
        repo.save(contact)
    cancel_pending(repo, booking_id, "rescheduled", kinds=("reminder", "rescheduled"))
    repo.flush()
    now = deps.clock()
    due = plan_booking(repo, booking_id, now, deps.policy)
    due |= plan_change_notice(repo, facts, "rescheduled", now, new_start, deps.policy)
    if due:
        deps.may_be_due()


def record_no_show(envelope: Envelope, repo: NotifierRepository, deps: NotifierDeps) -> None:
    _close_booking(repo, str(envelope.payload_as(BookingNoShow).booking_id), "no_show")


def record_attended(envelope: Envelope, repo: NotifierRepository, deps: NotifierDeps) -> None:
    _close_booking(repo, str(envelope.payload_as(BookingAttended).booking_id), "attended")


def _close_booking(repo: NotifierRepository, booking_id: str, status: str) -> None:
    """No-show or attended: nothing more to send for this booking."""
    facts = repo.facts(booking_id)
    if facts is not None:
        facts.status = status
        repo.save(facts)
    cancel_pending(repo, booking_id, status if facts else "outcome")


def apply_status(envelope: Envelope, repo: NotifierRepository, deps: NotifierDeps) -> None:
    deliveries.apply_report(repo, envelope.payload_as(DeliveryStatusReported), deps.clock(), deps.retries)


def answer_keyword(envelope: Envelope, repo: NotifierRepository, deps: NotifierDeps) -> None:
    """STOP blocks every further message to the number, START undoes it; each change is confirmed once."""
    received = envelope.payload_as(SmsReceived)
    if received.keyword == "other":
        return  # free text is not read here (no text ever reaches the notifier)
    context = inbound_phone_context(received.message_sid)
    phone_hash = deps.cipher.lookup_hash(deps.cipher.decrypt(received.phone, context))
    now = deps.clock()
    opted_out = received.keyword == "stop"
    record = repo.opt_out(phone_hash)
    if record is not None and record.opted_out == opted_out:
        return  # already so: confirmed once, not again
    if record is None and not opted_out:
        return  # START from a number that never stopped: nothing to undo, nothing to say
    if record is None:
        record = OptOut(phone_hash=phone_hash, opted_out=opted_out, changed_at=now,
                        last_message_sid=received.message_sid)
    record.opted_out, record.changed_at, record.last_message_sid = opted_out, now, received.message_sid
    repo.save(record)
    language = received.language or repo.latest_language(phone_hash) or "en"
    kind, params = ("opted_out" if opted_out else "opted_in"), None
    upcoming = repo.upcoming_bookings_of(phone_hash, now) if opted_out else []
    if upcoming:
        # Opting out does not cancel: the answer says the next appointment stays, and where to change or cancel it.
        _contact, facts = min(upcoming, key=lambda pair: pair[1].starts_at)
        kind = "reply_opted_out_booked"
        params = json.dumps({"appointment": [facts.starts_at.isoformat(), facts.place_alias],
                             "link_booking": facts.booking_id})
    repo.save(Reminder(key=f"sms:{received.message_sid}:{kind}", kind=kind, language=language, due_at=now,
                       not_after=now + _OPT_ANSWER_VALID, phone_context=context,
                       phone_ciphertext=deps.cipher.at_rest(received.phone, context), params=params))
    if opted_out:
        _tell_staff_about_opt_out(repo, phone_hash, now)
    else:
        for contact in repo.contacts_with_phone(phone_hash):
            if contact.unreachable == "opted_out":
                contact.unreachable = None
                repo.save(contact)
            repo.flush()
            plan_booking(repo, contact.booking_id, now, deps.policy)  # reminders still to come come back
    deps.may_be_due()


def _tell_staff_about_opt_out(repo: NotifierRepository, phone_hash: str, now: datetime) -> None:
    """Upcoming bookings of this number will get no reminder: staff see it on the booking."""
    for contact, facts in repo.upcoming_bookings_of(phone_hash, now):
        contact.unreachable = "opted_out"
        repo.save(contact)
        repo.announce(wrap(ContactUnreachable(booking_id=facts.booking_id, reason="opted_out"), facts.booking_id))


def queue_reply(envelope: Envelope, repo: NotifierRepository, deps: NotifierDeps) -> None:
    """A reply in a client's SMS conversation: a message due at once to the number that wrote, rendered at sending
    from the catalogues (kind reply_<kind>). It answers a text the client has just sent, so it goes out even to a
    number that said STOP before (the client wrote to us again); the daily budget and the pacing apply as ever."""
    reply = envelope.payload_as(SmsReplyRequested)
    context = conversation_context(reply.conversation_id)
    phone = deps.cipher.decrypt(reply.phone, context)
    language = reply.language or repo.latest_language(deps.cipher.lookup_hash(phone))
    params: dict[str, object] = {}
    if reply.times:
        params["times"] = [_shown(t) for t in reply.times]
    if reply.appointment is not None:
        params["appointment"] = _shown(reply.appointment)
    if reply.booking_id is not None:
        params["link_booking"] = str(reply.booking_id)
    if language is None:
        params["also"] = _ALSO
    now = deps.clock()
    repo.save(Reminder(key=f"sms-reply:{envelope.message_id}", kind=f"reply_{reply.kind}",
                       language=language or _UNKNOWN_LANGUAGE, due_at=now, not_after=now + _REPLY_VALID,
                       phone_context=context, phone_ciphertext=deps.cipher.at_rest(reply.phone, context),
                       params=json.dumps(params) if params else None))
    deps.may_be_due()


def _shown(time: OfferedTime) -> list[str]:
    return [time.starts_at.isoformat(), time.place]
