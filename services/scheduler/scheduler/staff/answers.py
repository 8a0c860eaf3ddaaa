"""Staff requests decided and answered: a read runs in the consumer's session; a write in its own transaction
with its outbox messages and the request's id in the inbox (a redelivered request changes nothing twice), answered
only after that transaction committed. A refused write is rolled back whole: nothing is half-saved."""

from __future__ import annotations

import logging
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from scheduler.domain.calendar_setup import CalendarError
from scheduler.staff import calendars, changes, setup
from scheduler.staff.checks import ADMIN_READ_ONLY, Refused, StaffDeps, ensure_admin
from shared.contracts import CounsellorRequested, Envelope, StaffAnswered, StaffRequested, wrap
from shared.contracts.staff import (
    ADMIN_READS,
    ADMIN_WRITES,
    WRITES,
    AddExceptionAction,
    AlreadyDone,
    AppointmentTypeAnswer,
    BookingAction,
    BookingAnswer,
    BookingChangeAnswer,
    BookingsAction,
    BookingsAnswer,
    CancelAction,
    CounsellorAnswer,
    CounsellorsAction,
    CounsellorsAnswer,
    CreateCounsellorAction,
    CreateLocationAction,
    CreateTypeAction,
    ExceptionAnswer,
    LocationAnswer,
    LocationsAction,
    LocationsAnswer,
    MoveAction,
    OutcomeAction,
    RefusalKind,
    RemoveExceptionAction,
    RulesAction,
    RulesAnswer,
    SetRulesAction,
    StaffAction,
    StaffRefusal,
    StaffResult,
    TypesAction,
    TypesAnswer,
    UpdateCounsellorAction,
    UpdateLocationAction,
    UpdateTypeAction,
    WeekAction,
    WeekAnswer,
)
from shared.inbox import remember_processed
from shared.unit_of_work import transaction

log = logging.getLogger(__name__)


class _AlreadyDone(Exception):
    """The inbox already holds the request's id."""


def answer_staff_request(envelope: Envelope, session: Session, deps: StaffDeps) -> None:
    request = envelope.payload_as(StaffRequested)
    answer = decide(envelope, session, deps)
    deps.booking.reply(request.reply_to, wrap(answer, envelope.correlation_id), deps.booking.reply_ttl_seconds)


def answer_counsellor_request(envelope: Envelope, session: Session, deps: StaffDeps) -> None:
    request = envelope.payload_as(CounsellorRequested)
    try:
        answer = StaffAnswered(request_id=request.request_id, message="The counsellor.",
                               answer=CounsellorAnswer(operation="counsellor",
                                                       data=setup.counsellor(session, request.counsellor_id)))
    except Refused as refused:
        answer = _refusal(request.request_id, refused)
    deps.booking.reply(request.reply_to, wrap(answer, envelope.correlation_id), deps.booking.reply_ttl_seconds)


def _refusal(request_id: UUID, refused: Refused) -> StaffAnswered:
    return StaffAnswered(request_id=request_id, message=refused.message, refusal=StaffRefusal(
        kind=refused.kind, code=refused.code, alternatives=list(refused.alternatives)))


def decide(envelope: Envelope, session: Session, deps: StaffDeps) -> StaffAnswered:
    """The answer to a staff request; a write is committed before this returns, a refusal rolled back."""
    request = envelope.payload_as(StaffRequested)
    action = request.action
    try:
        if action.action in WRITES:
            result, message = _write(request, deps)
            deps.after_commit()
            log.info("staff %s carried out", action.action)
        else:
            result, message = _read(session, request, deps)
        return StaffAnswered(request_id=request.request_id, message=message, answer=result)
    except _AlreadyDone:
        return StaffAnswered(request_id=request.request_id, message="This request was already carried out.",
                             answer=AlreadyDone())
    except Refused as refused:
        log.info("staff %s refused: %s", action.action, refused.code)
        return _refusal(request.request_id, refused)
    except CalendarError as error:
        log.info("staff %s refused: %s", action.action, error.code)
        return _refusal(request.request_id, Refused(RefusalKind.INVALID, error.code[:40],
                                                    error.message[:1].upper() + error.message[1:]))
    except Exception:  # the asker waits for an answer; it gets one saying nothing changed
        log.exception("staff %s failed", action.action)
        return _refusal(request.request_id, Refused(RefusalKind.FAILED, "internal_error",
                                                    "Something went wrong in the calendar. Nothing was changed."))


def _read(session: Session, request: StaffRequested, deps: StaffDeps) -> tuple[StaffResult, str]:
    action, actor = request.action, request.actor
    if action.action in ADMIN_READS:
        ensure_admin(actor, ADMIN_READ_ONLY)
    match action:
        case WeekAction():
            return WeekAnswer(data=calendars.week(session, actor, action, deps)), "Your week."
        case TypesAction():
            return TypesAnswer(data=setup.list_types(session)), "Appointment types."
        case BookingsAction():
            return BookingsAnswer(data=calendars.bookings(session, actor, action, deps)), "Bookings."
        case BookingAction():
            return BookingAnswer(data=calendars.booking(session, actor, action)), "The booking."
        case RulesAction():
            return RulesAnswer(operation="rules", data=calendars.rules(session, actor, action)), "Weekly rules."
        case CounsellorsAction():
            return CounsellorsAnswer(data=setup.list_counsellors(session)), "Counsellors."
        case LocationsAction():
            return LocationsAnswer(data=setup.list_locations(session)), "Locations."
    raise AssertionError(f"{action.action} is a write")


def _write(request: StaffRequested, deps: StaffDeps) -> tuple[StaffResult, str]:
    with transaction(deps.engine) as session:
        try:
            remember_processed(session, request.request_id, request.message_type)
        except IntegrityError:
            raise _AlreadyDone from None
        if request.action.action in ADMIN_WRITES:
            ensure_admin(request.actor)
            # The stored calendar is read as it was before this change (the check compares the two): nothing the
            # handler changed reaches the database before its own flush.
            with session.no_autoflush:
                return _change(session, request, deps)
        return _change(session, request, deps)


def _change(session: Session, request: StaffRequested, deps: StaffDeps) -> tuple[StaffResult, str]:
    action: StaffAction = request.action
    actor = request.actor
    match action:
        case SetRulesAction():
            return RulesAnswer(data=calendars.set_rules(session, actor, action, deps)), "The weekly rules were saved."
        case AddExceptionAction():
            added = calendars.add_exception(session, actor, action, deps)
            message = (f"The absence was saved; {len(added.bookings_to_move)} booking(s) fall into it and need "
                       "moving." if added.bookings_to_move else "Saved.")
            return ExceptionAnswer(operation=action.action, data=added), message
        case RemoveExceptionAction():
            return (ExceptionAnswer(operation=action.action, data=calendars.remove_exception(session, actor, action)),
                    "The exception was removed.")
        case CancelAction():
            return (BookingChangeAnswer(operation=action.action, data=changes.cancel(session, actor, action, deps)),
                    "The booking was cancelled.")
        case OutcomeAction():
            data, message = changes.record_outcome(session, actor, action, deps)
            return BookingChangeAnswer(operation=action.action, data=data), message
        case MoveAction():
            return (BookingChangeAnswer(operation=action.action, data=changes.move(session, actor, action, deps)),
                    "The booking was moved.")
        case CreateTypeAction():
            return (AppointmentTypeAnswer(operation=action.action, data=setup.create_type(session, action, deps)),
                    "The appointment type was created.")
        case UpdateTypeAction():
            return (AppointmentTypeAnswer(operation=action.action, data=setup.update_type(session, action, deps)),
                    "The appointment type was saved.")
        case UpdateCounsellorAction():
            return (CounsellorAnswer(operation=action.action, data=setup.update_counsellor(session, action, deps)),
                    "The counsellor was saved.")
        case UpdateLocationAction():
            return (LocationAnswer(data=setup.update_location(session, action)), "The location was saved.")
        case CreateCounsellorAction():
            return (CounsellorAnswer(operation=action.action, data=setup.create_counsellor(session, action, deps)),
                    "The counsellor was created.")
        case CreateLocationAction():
            return (LocationAnswer(operation=action.action, data=setup.create_location(session, action)),
                    "The location was created.")
    raise AssertionError(f"{action.action} is a read")
