"""One function per message type: it takes the payload as the model it handles, runs the operation inside the
consumer's transaction and maps the decision it returns to the message announcing it (outbox)."""

from __future__ import annotations

import logging
from dataclasses import replace
from uuid import uuid4

from sqlmodel import Session

from scheduler import bookings, repository
from scheduler.bookings import SchedulerDeps
from scheduler.calendar import SearchCriteria, conversation_language
from scheduler.domain.calendar_setup import CalendarError
from scheduler.domain.decisions import Changed, Confirmed, Refused
from scheduler.metrics import count_decision
from shared.contracts import (
    BookingCancellationRequested,
    BookingMoveRefused,
    BookingMoveRequested,
    BookingRejected,
    BookingRequested,
    ClientErasureRequested,
    ContactUnreachable,
    Envelope,
    QueryError,
    SlotsOffered,
    SlotsRequested,
    wrap,
)
from shared.outbox import add_to_outbox

log = logging.getLogger(__name__)


def decide_booking(envelope: Envelope, session: Session, deps: SchedulerDeps) -> None:
    request = envelope.payload_as(BookingRequested)
    decision = bookings.book(session, request, envelope.correlation_id, deps)
    count_decision("book", decision)
    if isinstance(decision, Confirmed):
        log.info("booking confirmed")  # announced with the appointment
    elif isinstance(decision, Refused):
        log.info("booking refused: %s", decision.reason)
        rejected = BookingRejected(booking_id=request.booking_id, reason=decision.reason,
                                   alternatives=list(decision.alternatives))
        add_to_outbox(session, wrap(rejected, envelope.correlation_id, deps.clock()))


def cancel_booking(envelope: Envelope, session: Session, deps: SchedulerDeps) -> None:
    request = envelope.payload_as(BookingCancellationRequested)
    now = deps.clock()
    decision = bookings.cancel(session, request.booking_id, request.by, request.reason, now)
    count_decision("cancel", decision)
    if isinstance(decision, Changed):
        add_to_outbox(session, wrap(decision.event, envelope.correlation_id, now))


def move_booking(envelope: Envelope, session: Session, deps: SchedulerDeps) -> None:
    """The client moves their booking: `booking.rescheduled` (with the move's id) or `booking.move_refused`, each
    written to the outbox in the transaction that decided it. A redelivered request is kept out by the inbox."""
    request = envelope.payload_as(BookingMoveRequested)
    now = deps.clock()
    decision = bookings.move(session, request.booking_id, request.slot_id, None, deps, by="client",
                             move_id=request.move_id)
    count_decision("move", decision)
    if isinstance(decision, Changed):
        log.info("booking moved by the client")
        add_to_outbox(session, wrap(decision.event, envelope.correlation_id, now))
    elif isinstance(decision, Refused):
        log.info("client's move refused: %s", decision.reason)
        refused = BookingMoveRefused(booking_id=request.booking_id, move_id=request.move_id,
                                     reason=decision.reason,
                                     alternatives=list(decision.alternatives))
        add_to_outbox(session, wrap(refused, envelope.correlation_id, now))


def erase_client(envelope: Envelope, session: Session, deps: SchedulerDeps) -> None:
    """The client deleted their data: an appointment still to come is cancelled first (its time is free again),
    then the appointment is cut loose from the booking id every other service and every log line knew it by (a new
    random id), and staff see "erased_by_client" where a contact problem would show. Nothing is announced: the
    gateway and the notifier erase on the same message, and no text may follow an erasure. An appointment this
    calendar does not hold (a booking that was refused) changes nothing."""
    request = envelope.payload_as(ClientErasureRequested)
    appointment = repository.appointment_for_booking(session, str(request.booking_id))
    if appointment is None:
        log.info("erasure for a booking without an appointment: nothing to do")
        return
    now = deps.clock()
    if appointment.starts_at > now:
        bookings.cancel(session, request.booking_id, "client", None, now)  # no-op unless still confirmed
    appointment.booking_id = str(uuid4())
    appointment.contact_problem, appointment.contact_problem_code = "erased_by_client", None
    appointment.contact_problem_since = now
    appointment.updated_at = now
    session.add(appointment)
    log.info("client data erased from an appointment")


def answer_slot_query(envelope: Envelope, session: Session, deps: SchedulerDeps) -> None:
    query = envelope.payload_as(SlotsRequested)
    criteria = SearchCriteria(
        date_from=query.date_from,
        date_to=query.date_to,
        topic=query.topic.value if query.topic else None,
        language=query.language,
        location_id=query.location_id,
        mode=query.mode.value if query.mode else None,
        counsellor=query.counsellor,
    )
    held = None
    if query.for_booking is not None:
        held = repository.appointment_for_booking(session, str(query.for_booking))
        if held is None or held.status != "confirmed":
            error = QueryError(code="not_movable", message="This appointment is not booked, so it cannot be moved.")
            deps.reply(query.reply_to, wrap(SlotsOffered(slots=[], error=error), envelope.correlation_id),
                       deps.reply_ttl_seconds)
            return
        # The times the booking may move to: its own topic, and the language its conversation needs.
        criteria = replace(criteria, topic=held.topic, exclude_booking=held.booking_id,
                           language=conversation_language(held.language, held.conversation))
    try:
        stored, found = deps.calendar.free_slots(session, criteria, deps.clock())
        if held is not None:
            found = [s for s in found if (s.start, s.counsellor_id) != (held.starts_at, held.counsellor_id)]
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
    report = envelope.payload_as(ContactUnreachable)
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
