"""Staff change a booking: cancel, no-show, attended, move. The booking operations decide (the same ones the
message handlers run, so a change announces exactly what they announce); here a decision becomes the answer."""

from __future__ import annotations

import logging

from sqlmodel import Session

from scheduler import bookings, repository
from scheduler.domain.availability import parse_slot_id
from scheduler.domain.decisions import Changed, ChangeDecision, ChangeRefusal, Refused
from scheduler.metrics import count_decision
from scheduler.staff import checks
from scheduler.staff.checks import StaffDeps, appointment_of, ensure_calendar
from scheduler.staff.describe import describe_booking
from scheduler.tables import Appointment
from shared.contracts import wrap
from shared.contracts.staff import Actor, BookingChangeData, CancelAction, MoveAction, OutcomeAction, RefusalKind
from shared.outbox import add_to_outbox

log = logging.getLogger(__name__)

# Why the booking operations refused a change, as the asker is told.
CHANGE_REFUSALS: dict[ChangeRefusal, tuple[RefusalKind, str]] = {
    "slot_taken": (RefusalKind.CONFLICT, "That time is no longer free; choose another slot."),
    "unknown_slot": (RefusalKind.INVALID, "This is not a slot the calendar offered."),
    "slot_in_past": (RefusalKind.INVALID, "That time is in the past or too soon; choose a later slot."),
    "language_not_offered": (RefusalKind.INVALID,
                             "The counsellor of that slot does not speak the booking's language."),
    "topic_not_offered": (RefusalKind.INVALID, "The counsellor of that slot does not offer the booking's topic."),
    "counsellor_absent": (RefusalKind.CONFLICT, "The counsellor is absent at that time."),
    "unknown_booking": (RefusalKind.UNKNOWN, "There is no booking with this id."),
    "not_confirmed": (RefusalKind.CONFLICT,
                      "Only a confirmed booking can be changed; this one is no longer confirmed."),
    "not_started": (RefusalKind.CONFLICT,
                    "The appointment has not begun yet; record attended or no-show once it has."),
}


def _carried_out(session: Session, row: Appointment, decision: ChangeDecision, deps: StaffDeps) -> bool:
    """Announces a change and says whether there was one; a refusal becomes `checks.Refused` (rolled back)."""
    count_decision("staff", decision)
    if isinstance(decision, Refused):
        log.info("booking change refused: %s", decision.reason)
        kind, sentence = CHANGE_REFUSALS[decision.reason]
        raise checks.Refused(kind, decision.reason, sentence, decision.alternatives)
    if isinstance(decision, Changed):
        add_to_outbox(session, wrap(decision.event, row.booking_id, deps.booking.clock()))
        return True
    return False


def _described(session: Session, row: Appointment, deps: StaffDeps) -> BookingChangeData:
    return BookingChangeData(booking=describe_booking(row, repository.locations(session),
                                                      deps.booking.calendar.zone))


def cancel(session: Session, actor: Actor, action: CancelAction, deps: StaffDeps) -> BookingChangeData:
    row = appointment_of(session, actor, action.booking_id)
    if row.status != "confirmed":
        raise checks.Refused(RefusalKind.CONFLICT, "not_confirmed",
                             f"Only a confirmed booking can be cancelled; this one is {row.status}.")
    now = deps.booking.clock()
    if row.starts_at <= now:
        raise checks.Refused(RefusalKind.CONFLICT, "already_begun",
                             "This appointment has already begun; record attended or no-show instead of cancelling.")
    _carried_out(session, row, bookings.cancel(session, action.booking_id, "staff", action.reason, now), deps)
    return _described(session, row, deps)


def record_outcome(session: Session, actor: Actor, action: OutcomeAction, deps: StaffDeps
                   ) -> tuple[BookingChangeData, str]:
    row = appointment_of(session, actor, action.booking_id)
    decision = bookings.record_outcome(session, action.booking_id, action.action, action.reason,
                                       deps.booking.clock())
    if _carried_out(session, row, decision, deps):
        message = "The client came." if action.action == "attended" else "The client did not come."
    else:
        message = "This was already recorded."
    return _described(session, row, deps), message


def move(session: Session, actor: Actor, action: MoveAction, deps: StaffDeps) -> BookingChangeData:
    row = appointment_of(session, actor, action.booking_id)
    ensure_calendar(actor, parse_slot_id(action.slot_id).counsellor_id)
    _carried_out(session, row, bookings.move(session, action.booking_id, action.slot_id, action.reason, deps.booking),
                 deps)
    return _described(session, row, deps)
