"""The booking operations: book, cancel, move, record the outcome. Each runs in the caller's transaction, changes
the tables and returns its decision (`domain.decisions`); it sends nothing itself, except that a confirmed booking
is announced in the statement that holds its slot (one round trip on the hot path)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from sqlmodel import Session

from scheduler import repository
from scheduler.calendar import Calendar, conversation_language, describe_slot
from scheduler.domain.availability import InvalidSlotId, OfferedSlot, Verdict, parse_slot_id
from scheduler.domain.decisions import (
    BookingDecision,
    Changed,
    ChangeDecision,
    Confirmed,
    Refused,
    SlotRefusal,
    Unchanged,
)
from scheduler.meetings import meeting_for, video_room_for
from scheduler.repository import StoredCalendar
from scheduler.tables import Appointment
from shared.contracts import (
    BookingAttended,
    BookingCancelled,
    BookingConfirmed,
    BookingNoShow,
    BookingRequested,
    BookingRescheduled,
    Envelope,
    wrap,
)
from shared.contracts.bookings import CancelledBy

log = logging.getLogger(__name__)

ReplyFn = Callable[[str, Envelope, float], None]


@dataclass
class SchedulerDeps:
    calendar: Calendar
    clock: Callable[[], datetime]
    reply: ReplyFn
    reply_ttl_seconds: float = 10.0
    video_base_url: str = "https://meet.example.org"


def blocked_span(stored: StoredCalendar, slot: OfferedSlot) -> tuple[datetime, datetime]:
    """What the database constraint compares: the appointment with its type's buffers."""
    kind = stored.setup.index.types[slot.type_id]
    return (slot.start - timedelta(minutes=kind.buffer_before_minutes),
            slot.end + timedelta(minutes=kind.buffer_after_minutes))


def _hold(appointment: Appointment, stored: StoredCalendar, slot: OfferedSlot) -> None:
    appointment.video_room = video_room_for(stored.locations[slot.location_id].kind, appointment.video_room)
    appointment.counsellor_id = slot.counsellor_id
    appointment.location_id = slot.location_id
    appointment.type_id = slot.type_id
    appointment.starts_at, appointment.ends_at = slot.start, slot.end
    appointment.blocked_from, appointment.blocked_until = blocked_span(stored, slot)


def _lock_for(session: Session, slot_id: str) -> int | None:
    """Locks the slot's counsellor; returns the calendar version read with the lock, if it was."""
    try:
        return repository.lock_counsellor(session, parse_slot_id(slot_id).counsellor_id)
    except InvalidSlotId:
        return None  # refused by the check that follows


def _refused(session: Session, deps: SchedulerDeps, stored: StoredCalendar, verdict: Verdict, now: datetime,
             language: str | None, exclude_booking: str | None = None) -> Refused[SlotRefusal]:
    """The refusal for a verdict; for a taken slot with up to three nearest free ones."""
    alternatives: list[OfferedSlot] = []
    if verdict.reason == "slot_taken" and verdict.slot is not None:
        alternatives = deps.calendar.alternatives(session, stored, verdict.slot, now, language=language,
                                                  exclude_booking=exclude_booking)
    return Refused(verdict.reason or "unknown_slot", tuple(deps.calendar.describe(stored, alternatives)))


def book(session: Session, request: BookingRequested, correlation_id: str, deps: SchedulerDeps) -> BookingDecision:
    """Give the requested slot to a new booking, or refuse it; a second request for a booking decided before
    changes nothing."""
    booking_id = str(request.booking_id)
    now = deps.clock()
    calendar = deps.calendar
    stored = calendar.load(session, now, version=_lock_for(session, request.slot_id))
    topic = request.topic.value if request.topic else None
    language = conversation_language(request.language, request.conversation)
    verdict = calendar.check(session, stored, request.slot_id, now, language=language, topic=topic)
    # A booking already given its slot (a second request for it) is found only when this one is refused (its
    # own appointment takes the slot, or the insert meets its booking id): no look-up on the hot path.
    if not verdict.ok or verdict.slot is None:
        if repository.appointment_for_booking(session, booking_id) is not None:
            return Unchanged()
        return _refused(session, deps, stored, verdict, now, language)
    slot = verdict.slot
    appointment = Appointment(booking_id=booking_id, status="confirmed",
                              topic=stored.setup.index.types[slot.type_id].topic, language=request.language,
                              channel=request.channel, conversation=request.conversation,
                              created_at=now, updated_at=now,
                              counsellor_id=slot.counsellor_id, location_id=slot.location_id,
                              starts_at=slot.start, ends_at=slot.end, blocked_from=slot.start,
                              blocked_until=slot.end)
    _hold(appointment, stored, slot)
    described = describe_slot(stored, slot, calendar.zone)
    confirmed = BookingConfirmed(booking_id=request.booking_id, slot=described, language=request.language,
                                 reminder_offsets_minutes=stored.reminder_offsets(slot.type_id),
                                 meeting=meeting_for(stored, slot.location_id, appointment.video_room,
                                                     deps.video_base_url),
                                 conversation=request.conversation)
    if not repository.insert_held(session, appointment, announce=wrap(confirmed, correlation_id, now)):
        if repository.appointment_for_booking(session, booking_id) is not None:
            return Unchanged()
        return _refused(session, deps, stored, Verdict("slot_taken", "the database refused a double booking", slot),
                        now, language)
    return Confirmed(described)


def cancel(session: Session, booking_id: UUID, by: CancelledBy, reason: str | None, now: datetime) -> ChangeDecision:
    """A confirmed booking gives up its slot; one rejected earlier or already cancelled holds none."""
    appointment = repository.appointment_for_booking(session, str(booking_id))
    if appointment is None or appointment.status != "confirmed":
        return Unchanged()
    appointment.status = "cancelled"
    appointment.status_reason = reason
    appointment.needs_attention = False
    appointment.updated_at = now
    session.add(appointment)
    return Changed(BookingCancelled(booking_id=booking_id, by=by, starts_at=appointment.starts_at, reason=reason))


def move(session: Session, booking_id: UUID, slot_id: str, reason: str | None, deps: SchedulerDeps, *,
         by: CancelledBy = "staff", move_id: UUID | None = None) -> ChangeDecision:
    """Move a confirmed booking to another slot in one transaction: the new time is held (the constraint guards
    it) in the same statement that gives up the old one, so the booking never holds neither, and a refusal leaves
    it where it was. The client moves with the booking's own topic, language and conversation choice."""
    now = deps.clock()
    calendar = deps.calendar
    appointment = repository.appointment_for_booking(session, str(booking_id))
    if appointment is None:
        return Refused("unknown_booking")
    if appointment.status != "confirmed":
        return Refused("not_confirmed")
    stored = calendar.load(session, now, version=_lock_for(session, slot_id))
    language = conversation_language(appointment.language, appointment.conversation)
    # The booking's own time does not stand in the way of its new one (moving it by half an hour is fine).
    verdict = calendar.check(session, stored, slot_id, now, language=language, topic=appointment.topic,
                             exclude_booking=str(booking_id))
    if verdict.ok and verdict.slot is not None:
        previous = OfferedSlot(appointment.starts_at, appointment.ends_at, appointment.location_id,
                               appointment.counsellor_id, appointment.type_id or 0)
        slot = verdict.slot
        _hold(appointment, stored, slot)
        appointment.status_reason = reason
        appointment.needs_attention = False
        appointment.updated_at = now
        if repository.saved(session, appointment):
            return Changed(BookingRescheduled(
                booking_id=booking_id, previous=describe_slot(stored, previous, calendar.zone),
                slot=describe_slot(stored, slot, calendar.zone), language=appointment.language, by=by,
                reason=reason, reminder_offsets_minutes=stored.reminder_offsets(slot.type_id),
                meeting=meeting_for(stored, slot.location_id, appointment.video_room, deps.video_base_url),
                move_id=move_id))
        session.refresh(appointment)
        verdict = Verdict("slot_taken", "the database refused a double booking", slot)
    refused = _refused(session, deps, stored, verdict, now, language, exclude_booking=str(booking_id))
    # Its own time is free for the booking, so it can be among the nearest: never offered as "another time".
    own = describe_slot(stored, OfferedSlot(appointment.starts_at, appointment.ends_at, appointment.location_id,
                                            appointment.counsellor_id, appointment.type_id or 0), calendar.zone)
    return Refused(refused.reason, tuple(slot for slot in refused.alternatives
                                         if (slot.start, slot.location.location_id)
                                         != (own.start, own.location.location_id)))


def record_outcome(session: Session, booking_id: UUID, outcome: Literal["attended", "no_show"],
                   reason: str | None, now: datetime) -> ChangeDecision:
    """No-show or attended: only for a confirmed booking that has begun; reported twice, the first report stands."""
    appointment = repository.appointment_for_booking(session, str(booking_id))
    if appointment is None:
        return Refused("unknown_booking")
    if appointment.status == outcome:
        return Unchanged()
    if appointment.status != "confirmed":
        return Refused("not_confirmed")
    if appointment.starts_at > now:
        return Refused("not_started")
    appointment.status = outcome
    appointment.status_reason = reason
    appointment.updated_at = now
    session.add(appointment)
    if outcome == "no_show":
        return Changed(BookingNoShow(booking_id=booking_id, starts_at=appointment.starts_at, reason=reason))
    return Changed(BookingAttended(booking_id=booking_id, starts_at=appointment.starts_at))
