"""One function per message type. Each runs inside the consumer's transaction and announces through the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from scheduler import repository
from scheduler.calendar import Calendar, SearchCriteria, describe_slot
from scheduler.domain.availability import InvalidSlotId, OfferedSlot, Verdict, parse_slot_id
from scheduler.domain.calendar_setup import CalendarError
from scheduler.repository import StoredCalendar
from scheduler.tables import Appointment
from shared.contracts import (
    BookingAttended,
    BookingCancellationRequested,
    BookingCancelled,
    BookingChangeRejected,
    BookingConfirmed,
    BookingNoShow,
    BookingOutcomeReported,
    BookingRejected,
    BookingRequested,
    BookingRescheduled,
    BookingRescheduleRequested,
    ContactUnreachable,
    Envelope,
    QueryError,
    SlotsOffered,
    SlotsRequested,
    wrap,
)
from shared.contracts.bookings import ChangeRefusal, RejectionReason
from shared.outbox import add_to_outbox

log = logging.getLogger(__name__)

ReplyFn = Callable[[str, Envelope, float], None]


@dataclass
class SchedulerDeps:
    calendar: Calendar
    clock: Callable[[], datetime]
    reply: ReplyFn
    reply_ttl_seconds: float = 10.0


def blocked_span(stored: StoredCalendar, slot: OfferedSlot) -> tuple[datetime, datetime]:
    """What the database constraint compares: the appointment with its type's buffers."""
    kind = stored.setup.index.types[slot.type_id]
    return (slot.start - timedelta(minutes=kind.buffer_before_minutes),
            slot.end + timedelta(minutes=kind.buffer_after_minutes))


def _hold(appointment: Appointment, stored: StoredCalendar, slot: OfferedSlot) -> None:
    appointment.counsellor_id = slot.counsellor_id
    appointment.location_id = slot.location_id
    appointment.type_id = slot.type_id
    appointment.starts_at, appointment.ends_at = slot.start, slot.end
    appointment.blocked_from, appointment.blocked_until = blocked_span(stored, slot)


def _saved(session: Session, appointment: Appointment) -> bool:
    """Written in a savepoint; False when the database refused it as a double booking."""
    try:
        with session.begin_nested():
            session.add(appointment)
            session.flush()
    except IntegrityError:
        return False
    return True


def _lock_for(session: Session, slot_id: str) -> int | None:
    """Locks the slot's counsellor; returns the calendar version read with the lock, if it was."""
    try:
        return repository.lock_counsellor(session, parse_slot_id(slot_id).counsellor_id)
    except InvalidSlotId:
        return None  # refused by the check that follows


def decide_booking(envelope: Envelope, session: Session, deps: SchedulerDeps) -> None:
    request = envelope.payload
    assert isinstance(request, BookingRequested)
    booking_id = str(request.booking_id)
    now = deps.clock()
    calendar = deps.calendar
    stored = calendar.load(session, now, version=_lock_for(session, request.slot_id))
    topic = request.topic.value if request.topic else None
    verdict = calendar.check(session, stored, request.slot_id, now, language=request.language, topic=topic)
    # A booking already given its slot (a second request for it) is found only when this one is refused (its
    # own appointment takes the slot, or the insert meets its booking id): no look-up on the hot path.
    if not verdict.ok or verdict.slot is None:
        if repository.appointment_for_booking(session, booking_id) is None:
            _reject(session, envelope, stored, verdict, now, deps)
        return
    slot = verdict.slot
    appointment = Appointment(booking_id=booking_id, status="confirmed",
                              topic=stored.setup.index.types[slot.type_id].topic, language=request.language,
                              channel=request.channel, created_at=now, updated_at=now,
                              counsellor_id=slot.counsellor_id, location_id=slot.location_id,
                              starts_at=slot.start, ends_at=slot.end, blocked_from=slot.start,
                              blocked_until=slot.end)
    _hold(appointment, stored, slot)
    confirmed = BookingConfirmed(booking_id=request.booking_id, slot=describe_slot(stored, slot, calendar.zone),
                                 language=request.language,
                                 reminder_offsets_minutes=stored.reminder_offsets(slot.type_id))
    if not repository.insert_held(session, appointment, announce=wrap(confirmed, envelope.correlation_id, now)):
        if repository.appointment_for_booking(session, booking_id) is None:
            _reject(session, envelope, stored,
                    Verdict("slot_taken", "the database refused a double booking", slot), now, deps)
        return
    log.info("booking confirmed")


def _reject(session: Session, envelope: Envelope, stored: StoredCalendar, verdict: Verdict, now: datetime,
            deps: SchedulerDeps) -> None:
    request = envelope.payload
    assert isinstance(request, BookingRequested)
    reason: RejectionReason = verdict.reason or "unknown_slot"
    log.info("booking refused: %s", reason)
    alternatives: list[OfferedSlot] = []
    if reason == "slot_taken" and verdict.slot is not None:
        alternatives = deps.calendar.alternatives(session, stored, verdict.slot, now, language=request.language)
    rejected = BookingRejected(booking_id=request.booking_id, reason=reason,
                               alternatives=deps.calendar.describe(stored, alternatives))
    add_to_outbox(session, wrap(rejected, envelope.correlation_id, now))


def cancel_booking(envelope: Envelope, session: Session, deps: SchedulerDeps) -> None:
    request = envelope.payload
    assert isinstance(request, BookingCancellationRequested)
    appointment = repository.appointment_for_booking(session, str(request.booking_id))
    if appointment is None or appointment.status != "confirmed":
        return  # rejected earlier, or already cancelled: nothing holds a slot
    now = deps.clock()
    appointment.status = "cancelled"
    appointment.status_reason = request.reason
    appointment.needs_attention = False
    appointment.updated_at = now
    session.add(appointment)
    cancelled = BookingCancelled(booking_id=request.booking_id, by=request.by, starts_at=appointment.starts_at,
                                 reason=request.reason)
    add_to_outbox(session, wrap(cancelled, envelope.correlation_id, now))


def _refuse_change(session: Session, envelope: Envelope, booking_id: UUID,
                   change: Literal["reschedule", "attended", "no_show"], reason: ChangeRefusal, now: datetime,
                   alternatives: list[OfferedSlot] | None = None, stored: StoredCalendar | None = None,
                   deps: SchedulerDeps | None = None) -> None:
    log.info("%s refused: %s", change, reason)
    described = deps.calendar.describe(stored, alternatives) if deps and stored and alternatives else []
    refused = BookingChangeRejected(booking_id=booking_id, change=change, reason=reason,
                                    alternatives=described)
    add_to_outbox(session, wrap(refused, envelope.correlation_id, now))


def reschedule_booking(envelope: Envelope, session: Session, deps: SchedulerDeps) -> None:
    """Move a confirmed booking to another slot in one transaction; the constraint guards the new time."""
    request = envelope.payload
    assert isinstance(request, BookingRescheduleRequested)
    now = deps.clock()
    calendar = deps.calendar
    booking_id = str(request.booking_id)
    appointment = repository.appointment_for_booking(session, booking_id)
    if appointment is None:
        _refuse_change(session, envelope, request.booking_id, "reschedule", "unknown_booking", now)
        return
    if appointment.status != "confirmed":
        _refuse_change(session, envelope, request.booking_id, "reschedule", "not_confirmed", now)
        return
    stored = calendar.load(session, now, version=_lock_for(session, request.slot_id))
    # The booking's own time does not stand in the way of its new one (moving it by half an hour is fine).
    verdict = calendar.check(session, stored, request.slot_id, now, language=appointment.language,
                             topic=appointment.topic, exclude_booking=booking_id)
    if verdict.ok and verdict.slot is not None:
        previous = OfferedSlot(appointment.starts_at, appointment.ends_at, appointment.location_id,
                               appointment.counsellor_id, appointment.type_id or 0)
        slot = verdict.slot
        _hold(appointment, stored, slot)
        appointment.status_reason = request.reason
        appointment.needs_attention = False
        appointment.updated_at = now
        if _saved(session, appointment):
            rescheduled = BookingRescheduled(
                booking_id=request.booking_id, previous=describe_slot(stored, previous, calendar.zone),
                slot=describe_slot(stored, slot, calendar.zone), language=appointment.language, by=request.by,
                reason=request.reason, reminder_offsets_minutes=stored.reminder_offsets(slot.type_id))
            add_to_outbox(session, wrap(rescheduled, envelope.correlation_id, now))
            log.info("booking rescheduled")
            return
        session.refresh(appointment)
        verdict = Verdict("slot_taken", "the database refused a double booking", slot)
    alternatives: list[OfferedSlot] = []
    if verdict.reason == "slot_taken" and verdict.slot is not None:
        alternatives = calendar.alternatives(session, stored, verdict.slot, now, language=appointment.language,
                                             exclude_booking=booking_id)
    _refuse_change(session, envelope, request.booking_id, "reschedule", verdict.reason or "unknown_slot", now,
                   alternatives, stored, deps)


def record_outcome(envelope: Envelope, session: Session, deps: SchedulerDeps) -> None:
    """No-show or attended: only for a confirmed booking that has begun."""
    request = envelope.payload
    assert isinstance(request, BookingOutcomeReported)
    now = deps.clock()
    appointment = repository.appointment_for_booking(session, str(request.booking_id))
    if appointment is None:
        _refuse_change(session, envelope, request.booking_id, request.outcome, "unknown_booking", now)
        return
    if appointment.status == request.outcome:
        return  # reported twice: the first report stands
    if appointment.status != "confirmed":
        _refuse_change(session, envelope, request.booking_id, request.outcome, "not_confirmed", now)
        return
    if appointment.starts_at > now:
        _refuse_change(session, envelope, request.booking_id, request.outcome, "not_started", now)
        return
    appointment.status = request.outcome
    appointment.status_reason = request.reason
    appointment.updated_at = now
    session.add(appointment)
    event: BookingNoShow | BookingAttended
    if request.outcome == "no_show":
        event = BookingNoShow(booking_id=request.booking_id, starts_at=appointment.starts_at, reason=request.reason)
    else:
        event = BookingAttended(booking_id=request.booking_id, starts_at=appointment.starts_at)
    add_to_outbox(session, wrap(event, envelope.correlation_id, now))


def answer_slot_query(envelope: Envelope, session: Session, deps: SchedulerDeps) -> None:
    query = envelope.payload
    assert isinstance(query, SlotsRequested)
    criteria = SearchCriteria(
        date_from=query.date_from,
        date_to=query.date_to,
        topic=query.topic.value if query.topic else None,
        language=query.language,
        location_id=query.location_id,
        mode=query.mode.value if query.mode else None,
        counsellor=query.counsellor,
    )
    try:
        stored, found = deps.calendar.free_slots(session, criteria, deps.clock())
        offered = SlotsOffered(slots=deps.calendar.describe(stored, found[: query.limit]))
    except CalendarError as error:
        offered = SlotsOffered(slots=[], error=QueryError(code=error.code, message=error.message))
    deps.reply(query.reply_to, wrap(offered, envelope.correlation_id), deps.reply_ttl_seconds)


def record_contact_problem(envelope: Envelope, session: Session, deps: SchedulerDeps) -> None:
    """The notifier cannot reach the booking's client by SMS: staff see why on the appointment (never the number).

    Another report for the booking replaces reason and error code (a number that went from unreachable to opted
    out says so); `since` stays the first report's time, and a report older than that (a late delivery) only moves
    it back. Redelivery of one report is kept out by the consumer's inbox. A report for a booking this calendar
    does not hold changes nothing."""
    report = envelope.payload
    assert isinstance(report, ContactUnreachable)
    appointment = repository.appointment_for_booking(session, str(report.booking_id))
    if appointment is None:
        log.info("contact problem for an unknown booking ignored")
        return
    reported_at = envelope.occurred_at
    since = appointment.contact_problem_since
    if since is not None and reported_at < since:
        appointment.contact_problem_since = reported_at  # an older report arrived late: it is the first
    else:
        appointment.contact_problem = report.reason
        appointment.contact_problem_code = report.error_code
        appointment.contact_problem_since = since or reported_at
    appointment.updated_at = deps.clock()
    session.add(appointment)
    log.info("contact problem recorded: %s", report.reason)
