"""One function per message type. Each runs inside the consumer's transaction and announces through the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from scheduler import repository
from scheduler.calendar import Calendar, SearchCriteria, describe_slot
from scheduler.domain.bookings import BookingRefused, Reason
from scheduler.domain.slots import CandidateSlot, InvalidSlotId, expand, nearest, parse_slot_id
from scheduler.tables import Appointment, Counsellor, Location
from shared.contracts import (
    BookingCancellationRequested,
    BookingCancelled,
    BookingConfirmed,
    BookingRejected,
    BookingRequested,
    Envelope,
    SlotsOffered,
    SlotsRequested,
    wrap,
)
from shared.outbox import add_to_outbox

log = logging.getLogger(__name__)

ReplyFn = Callable[[str, Envelope, float], None]


@dataclass
class SchedulerDeps:
    calendar: Calendar
    clock: Callable[[], datetime]
    reply: ReplyFn
    reply_ttl_seconds: float = 10.0


def decide_booking(envelope: Envelope, session: Session, deps: SchedulerDeps) -> None:
    request = envelope.payload
    assert isinstance(request, BookingRequested)
    if repository.appointment_for_booking(session, str(request.booking_id)) is not None:
        return  # this booking was already given its slot
    now = deps.clock()
    try:
        slot, place, person = _check_request(session, request, deps.calendar, now)
    except BookingRefused as refused:
        log.info("booking refused: %s", refused.reason)
        _reject(session, envelope, refused.reason, [])
        return

    appointment = Appointment(
        booking_id=str(request.booking_id),
        counsellor_id=slot.counsellor_id,
        location_id=slot.location_id,
        starts_at=slot.start,
        ends_at=slot.end,
        status="confirmed",
        topic=request.topic.value if request.topic else None,
        language=request.language,
        channel=request.channel,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(appointment)
            session.flush()
    except IntegrityError:
        log.info("booking refused: slot_taken")
        alternatives = _alternatives(session, request, slot, deps.calendar, now)
        _reject(session, envelope, "slot_taken", alternatives, deps.calendar)
        return
    confirmed = BookingConfirmed(
        booking_id=request.booking_id,
        slot=describe_slot(slot, place, person, deps.calendar.zone),
        language=request.language,
    )
    add_to_outbox(session, wrap(confirmed, envelope.correlation_id, now))
    log.info("booking confirmed")


def _check_request(
    session: Session, request: BookingRequested, calendar: Calendar, now: datetime
) -> tuple[CandidateSlot, Location, Counsellor]:
    try:
        counsellor_id, location_id, start = parse_slot_id(request.slot_id)
    except InvalidSlotId:
        raise BookingRefused("unknown_slot", "not a slot id") from None
    person = session.get(Counsellor, counsellor_id)
    place = session.get(Location, location_id)
    if person is None or place is None or not person.active or not place.active:
        raise BookingRefused("unknown_slot", "counsellor or place not offered")
    local_day = start.astimezone(calendar.zone).date()
    offered = {
        s.start: s
        for s in expand(repository.windows(session, {counsellor_id}, location_id), local_day, local_day,
                        calendar.zone)
    }
    slot = offered.get(start)
    if slot is None:
        raise BookingRefused("unknown_slot", "no such slot in the opening hours")
    if start < now + calendar.min_notice:
        raise BookingRefused("slot_in_past", "slot starts in the past or too soon")
    if request.language not in person.language_set:
        raise BookingRefused("language_not_offered", "counsellor does not speak the language")
    return slot, place, person


def _alternatives(
    session: Session, request: BookingRequested, wanted: CandidateSlot, calendar: Calendar, now: datetime
) -> list[CandidateSlot]:
    local_day = wanted.start.astimezone(calendar.zone).date()
    criteria = SearchCriteria(
        date_from=local_day - timedelta(days=1),
        date_to=local_day + timedelta(days=14),
        topic=request.topic.value if request.topic else None,
        language=request.language,
        location_id=wanted.location_id,
    )
    return nearest(calendar.free_slots(session, criteria, now), wanted.start, 3)


def _reject(
    session: Session,
    envelope: Envelope,
    reason: Reason,
    alternatives: list[CandidateSlot],
    calendar: Calendar | None = None,
) -> None:
    request = envelope.payload
    assert isinstance(request, BookingRequested)
    described = calendar.describe(session, alternatives) if calendar and alternatives else []
    rejected = BookingRejected(booking_id=request.booking_id, reason=reason, alternatives=described)
    add_to_outbox(session, wrap(rejected, envelope.correlation_id))


def cancel_booking(envelope: Envelope, session: Session, deps: SchedulerDeps) -> None:
    request = envelope.payload
    assert isinstance(request, BookingCancellationRequested)
    appointment = repository.appointment_for_booking(session, str(request.booking_id))
    if appointment is None or appointment.status != "confirmed":
        return  # rejected earlier, or already cancelled: nothing holds a slot
    now = deps.clock()
    appointment.status = "cancelled"
    appointment.updated_at = now
    session.add(appointment)
    cancelled = BookingCancelled(booking_id=request.booking_id, by=request.by, starts_at=appointment.starts_at)
    add_to_outbox(session, wrap(cancelled, envelope.correlation_id, now))


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
    )
    found = deps.calendar.free_slots(session, criteria, deps.clock())[: query.limit]
    offered = SlotsOffered(slots=deps.calendar.describe(session, found))
    deps.reply(query.reply_to, wrap(offered, envelope.correlation_id), deps.reply_ttl_seconds)
