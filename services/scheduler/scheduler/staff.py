"""Staff questions and changes to calendars (`staff.requested`), decided here and answered on the asker's queue.

The gateway signed the staff member in; who may do what is checked again here (a counsellor only in their own
calendar, an admin everywhere). A read runs in the consumer's session. A write runs in one transaction with its
outbox messages and with the request's id in the inbox (a redelivered request changes nothing twice), and is
answered only after that transaction committed. A refused write is rolled back whole: nothing is half-saved.
Cancel, no-show, attended and move reuse the booking handlers, so they announce exactly what those announce.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from scheduler import calendar, handlers, repository
from scheduler.domain import calendar_setup as engine
from scheduler.domain.availability import parse_slot_id
from scheduler.domain.calendar_setup import CalendarError, check_date_range, resolve_zone, setup_problems
from scheduler.domain.public_holidays import is_public_holiday
from scheduler.tables import (
    Appointment,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Counsellor,
    CounsellorLocation,
    Location,
    format_offsets,
)
from shared.contracts import (
    BookingCancellationRequested,
    BookingOutcomeReported,
    BookingRescheduleRequested,
    Envelope,
    Slot,
    StaffAnswered,
    StaffRequested,
    wrap,
)
from shared.contracts.staff import (
    ADMIN_WRITES,
    MAX_STAFF_RANGE_DAYS,
    WRITES,
    Actor,
    AddExceptionAction,
    AppointmentTypeData,
    BookingChangeData,
    BookingsAction,
    BookingsData,
    CancelAction,
    ContactProblem,
    CounsellorData,
    CreateTypeAction,
    ExceptionData,
    LocationData,
    MoveAction,
    OutcomeAction,
    RemoveExceptionAction,
    RuleOut,
    RulesData,
    SetRulesAction,
    StaffBooking,
    StaffException,
    StaffLocation,
    StaffWindow,
    TypesAction,
    TypesData,
    UpdateCounsellorAction,
    UpdateLocationAction,
    UpdateTypeAction,
    WeekAction,
    WeekData,
)
from shared.inbox import remember_processed
from shared.outbox import OutboxMessage

log = logging.getLogger(__name__)

OWN_CALENDAR_ONLY = "You can only see and change your own calendar."
ADMIN_ONLY = "Only an admin can change appointment types, counsellors and locations."
# How far ahead staff may look or plan, as for a client's slot search.
HORIZON_DAYS = 366

# Why the booking handlers refused a change: (HTTP-like status, sentence).
CHANGE_REFUSALS: dict[str, tuple[int, str]] = {
    "slot_taken": (409, "That time is no longer free; choose another slot."),
    "unknown_slot": (422, "This is not a slot the calendar offered."),
    "slot_in_past": (422, "That time is in the past or too soon; choose a later slot."),
    "language_not_offered": (422, "The counsellor of that slot does not speak the booking's language."),
    "topic_not_offered": (422, "The counsellor of that slot does not offer the booking's topic."),
    "counsellor_absent": (409, "The counsellor is absent at that time."),
    "unknown_booking": (404, "There is no booking with this id."),
    "not_confirmed": (409, "Only a confirmed booking can be changed; this one is no longer confirmed."),
    "not_started": (409, "The appointment has not begun yet; record attended or no-show once it has."),
}


@dataclass
class StaffDeps:
    booking: handlers.SchedulerDeps  # calendar, clock and reply, shared with the booking handlers
    after_commit: Callable[[], None] = lambda: None  # wakes the outbox relay


class Refused(Exception):
    """A request the scheduler will not carry out; the transaction is rolled back and this is the answer."""

    def __init__(self, status: int, code: str, message: str, data: BaseModel | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.data = status, code, message, data


def _answer(request_id: UUID, status: int, code: str, message: str, data: BaseModel | None = None) -> StaffAnswered:
    return StaffAnswered(request_id=request_id, ok=status < 400, status=status, code=code, message=message,
                         data=data.model_dump(mode="json") if data is not None else {})


def answer_staff_request(envelope: Envelope, session: Session, deps: StaffDeps) -> None:
    request = envelope.payload
    assert isinstance(request, StaffRequested)
    answer = decide(envelope, session, deps)
    deps.booking.reply(request.reply_to, wrap(answer, envelope.correlation_id), deps.booking.reply_ttl_seconds)


def decide(envelope: Envelope, session: Session, deps: StaffDeps) -> StaffAnswered:
    """The answer to a staff request; a write is committed before this returns, a refusal rolled back."""
    request = envelope.payload
    assert isinstance(request, StaffRequested)
    action = request.action
    try:
        if action.action in WRITES:
            return _write(envelope, request, session, deps)
        if isinstance(action, WeekAction):
            return _answer(request.request_id, 200, "ok", "Your week.", week(session, request.actor, action, deps))
        if isinstance(action, TypesAction):
            return _answer(request.request_id, 200, "ok", "Appointment types.", list_types(session))
        assert isinstance(action, BookingsAction)
        return _answer(request.request_id, 200, "ok", "Bookings.", bookings(session, request.actor, action, deps))
    except Refused as refused:
        session.rollback()
        log.info("staff %s refused: %s", action.action, refused.code)
        return _answer(request.request_id, refused.status, refused.code, refused.message, refused.data)
    except CalendarError as error:
        session.rollback()
        log.info("staff %s refused: %s", action.action, error.code)
        return _answer(request.request_id, 422, error.code[:40], error.message[:1].upper() + error.message[1:])
    except Exception:  # the asker waits for an answer; it gets one saying nothing changed
        session.rollback()
        log.exception("staff %s failed", action.action)
        return _answer(request.request_id, 500, "internal_error",
                       "Something went wrong in the calendar. Nothing was changed.")


def _write(envelope: Envelope, request: StaffRequested, session: Session, deps: StaffDeps) -> StaffAnswered:
    try:
        remember_processed(session, request.request_id, request.message_type)
    except IntegrityError:
        session.rollback()
        return _answer(request.request_id, 200, "already_done", "This request was already carried out.")
    action = request.action
    actor = request.actor
    status, message = 200, "Done."
    data: BaseModel
    if action.action in ADMIN_WRITES:
        ensure_admin(actor)
        # The stored calendar is read as it was before this change (the check compares the two): nothing the
        # handler changed reaches the database before its own flush.
        with session.no_autoflush:
            status, data, message = _admin_write(session, action, deps)
    elif isinstance(action, SetRulesAction):
        data, message = set_rules(session, actor, action, deps), "The weekly rules were saved."
    elif isinstance(action, AddExceptionAction):
        added = add_exception(session, actor, action, deps)
        status, data = 201, added
        message = (f"The absence was saved; {len(added.bookings_to_move)} booking(s) fall into it and need moving."
                   if added.bookings_to_move else "Saved.")
    elif isinstance(action, RemoveExceptionAction):
        data, message = remove_exception(session, actor, action), "The exception was removed."
    elif isinstance(action, CancelAction):
        data, message = cancel(session, actor, action, deps), "The booking was cancelled."
    elif isinstance(action, OutcomeAction):
        data, message = record_outcome(session, actor, action, deps)
    else:
        assert isinstance(action, MoveAction)
        data, message = move(session, actor, action, deps), "The booking was moved."
    session.commit()
    deps.after_commit()
    log.info("staff %s carried out", action.action)
    return _answer(request.request_id, status, "ok", message, data)


def _admin_write(session: Session, action: Any, deps: StaffDeps) -> tuple[int, BaseModel, str]:
    if isinstance(action, CreateTypeAction):
        return 201, create_type(session, action, deps), "The appointment type was created."
    if isinstance(action, UpdateTypeAction):
        return 200, update_type(session, action, deps), "The appointment type was saved."
    if isinstance(action, UpdateCounsellorAction):
        return 200, update_counsellor(session, action, deps), "The counsellor was saved."
    assert isinstance(action, UpdateLocationAction)
    return 200, update_location(session, action), "The location was saved."


# --- who may do what ---------------------------------------------------------------------------------------------


def ensure_calendar(actor: Actor, counsellor_id: int) -> None:
    if actor.role != "admin" and actor.counsellor_id != counsellor_id:
        raise Refused(403, "forbidden", f"{OWN_CALENDAR_ONLY} This one belongs to another counsellor.")


def ensure_admin(actor: Actor) -> None:
    if actor.role != "admin":
        raise Refused(403, "forbidden", ADMIN_ONLY)


def _counsellor(session: Session, actor: Actor, counsellor_id: int) -> Counsellor:
    ensure_calendar(actor, counsellor_id)
    row = session.get(Counsellor, counsellor_id)
    if row is None:
        raise Refused(404, "unknown_counsellor", f"There is no counsellor with id {counsellor_id}.")
    return row


def _appointment(session: Session, actor: Actor, booking_id: UUID) -> Appointment:
    row = repository.appointment_for_booking(session, str(booking_id))
    if row is None:
        raise Refused(404, "unknown_booking", "There is no booking with this id.")
    ensure_calendar(actor, row.counsellor_id)
    return row


# --- describing ----------------------------------------------------------------------------------------------------


def _locations(session: Session) -> dict[int, Location]:
    return {row.id: row for row in session.exec(select(Location)) if row.id is not None}


def _place(locations: dict[int, Location], location_id: int) -> StaffLocation:
    row = locations.get(location_id)
    return StaffLocation(location_id=location_id, alias=row.alias if row else "?", kind=row.kind if row else "?")


def describe_contact_problem(row: Appointment, zone: ZoneInfo) -> ContactProblem | None:
    if row.contact_problem is None or row.contact_problem_since is None:
        return None
    return ContactProblem(reason=row.contact_problem,  # stored from contact.unreachable, validated again here
                          error_code=row.contact_problem_code,
                          since=row.contact_problem_since.astimezone(zone).replace(microsecond=0))


def describe_booking(row: Appointment, locations: dict[int, Location], zone: ZoneInfo) -> StaffBooking:
    return StaffBooking(
        booking_id=UUID(row.booking_id), status=row.status,
        start=row.starts_at.astimezone(zone), end=row.ends_at.astimezone(zone),
        location=_place(locations, row.location_id), topic=row.topic,
        duration_minutes=int((row.ends_at - row.starts_at).total_seconds() // 60), language=row.language,
        channel=row.channel, needs_attention=row.needs_attention, status_reason=row.status_reason,
        contact_problem=describe_contact_problem(row, zone))


def describe_exception(row: AvailabilityException) -> StaffException:
    assert row.id is not None
    return StaffException(exception_id=row.id, kind=row.kind, first_day=row.first_day, last_day=row.last_day,
                          start=f"{row.starts:%H:%M}" if row.starts else None,
                          end=f"{row.ends:%H:%M}" if row.ends else None, location_id=row.location_id,
                          reason=row.reason)


def _wall(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _today(deps: StaffDeps) -> date:
    return deps.booking.calendar.today(deps.booking.clock())


def _within_horizon(last_day: date, deps: StaffDeps, what: str) -> None:
    limit = _today(deps) + timedelta(days=HORIZON_DAYS)
    if last_day > limit:
        raise engine.InvalidDateRange(
            f"{what} may reach at most {HORIZON_DAYS} days ahead (until {limit}); it ends on {last_day}.",
            "beyond_horizon")


# --- reads -----------------------------------------------------------------------------------------------------------


def appointments_between(session: Session, counsellor_id: int, start: datetime, end: datetime,
                         status: str | None = None) -> list[Appointment]:
    """The counsellor's appointments of any status (or one) that start in [start, end), by start."""
    query = select(Appointment).where(Appointment.counsellor_id == counsellor_id,
                                      col(Appointment.starts_at) >= start, col(Appointment.starts_at) < end)
    if status is not None:
        query = query.where(Appointment.status == status)
    return list(session.exec(query.order_by(col(Appointment.starts_at))))


def day_windows(setup: engine.CalendarSetup, counsellor_id: int, day: date) -> list[tuple[int, int, int, str]]:
    """(location id, opens, closes, source) in local minutes: rules and extra hours of the day, after public
    holidays, closures and absences (a whole-day absence leaves nothing; a timed one cuts the windows)."""
    index = setup.index
    holiday = is_public_holiday(day)
    windows = [(rule.location_id, *rule.minutes, "rule") for rule in index.rules.get((counsellor_id, day.weekday()), ())
               if rule.applies_on(day) and (rule.on_holidays or not holiday)]
    windows += [(extra.location_id, *extra.minutes, "extra_hours")
                for extra in index.extra.get((counsellor_id, day), ())]
    windows = [w for w in windows if not index.closed(w[0], day)]
    for absence in index.absences.get(counsellor_id, ()):
        if not absence.first_day <= day <= absence.last_day:
            continue
        if absence.start is None or absence.end is None:
            return []
        cut = (absence.start.hour * 60 + absence.start.minute, absence.end.hour * 60 + absence.end.minute)
        windows = [piece for w in windows for piece in _without(w, cut)]
    return sorted(windows, key=lambda w: (w[1], w[0]))


def _without(window: tuple[int, int, int, str], cut: tuple[int, int]) -> Iterable[tuple[int, int, int, str]]:
    location_id, opens, closes, source = window
    if cut[1] <= opens or cut[0] >= closes:
        yield window
        return
    if opens < cut[0]:
        yield location_id, opens, cut[0], source
    if cut[1] < closes:
        yield location_id, cut[1], closes, source


def _at(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    if minutes >= 24 * 60:
        return datetime.combine(day + timedelta(days=1), time(), zone)
    return datetime.combine(day, time(minutes // 60, minutes % 60), zone)


def week(session: Session, actor: Actor, action: WeekAction, deps: StaffDeps) -> WeekData:
    person = _counsellor(session, actor, action.counsellor_id)
    shown = resolve_zone(action.timezone)
    business = deps.booking.calendar.zone
    monday = action.week_start - timedelta(days=action.week_start.weekday())
    _within_horizon(monday, deps, "The week")
    stored = repository.load_calendar(session, monday)
    locations = _locations(session)
    windows = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        for location_id, opens, closes, source in day_windows(stored.setup, action.counsellor_id, day):
            windows.append(StaffWindow(day=day, start=_at(day, opens, business).astimezone(shown),
                                       end=_at(day, closes, business).astimezone(shown),
                                       location=_place(locations, location_id), source=source))
    start, end = repository.day_bounds(monday, monday + timedelta(days=6), business)
    rows = appointments_between(session, action.counsellor_id, start, end)
    exceptions = session.exec(select(AvailabilityException).where(
        AvailabilityException.counsellor_id == action.counsellor_id,
        col(AvailabilityException.first_day) <= monday + timedelta(days=6),
        col(AvailabilityException.last_day) >= monday,
    ).order_by(col(AvailabilityException.first_day)))
    return WeekData(counsellor_id=action.counsellor_id, counsellor_alias=person.alias, week_start=monday,
                    timezone=action.timezone, windows=windows,
                    bookings=[describe_booking(row, locations, shown) for row in rows],
                    exceptions=[describe_exception(row) for row in exceptions])


def bookings(session: Session, actor: Actor, action: BookingsAction, deps: StaffDeps) -> BookingsData:
    _counsellor(session, actor, action.counsellor_id)
    shown = resolve_zone(action.timezone)
    check_date_range(action.date_from, action.date_to, MAX_STAFF_RANGE_DAYS)
    _within_horizon(action.date_from, deps, "The range")
    start, end = repository.day_bounds(action.date_from, action.date_to, deps.booking.calendar.zone)
    locations = _locations(session)
    rows = appointments_between(session, action.counsellor_id, start, end, action.status)
    return BookingsData(counsellor_id=action.counsellor_id,
                        bookings=[describe_booking(row, locations, shown) for row in rows])


# --- writes ----------------------------------------------------------------------------------------------------------


def _new_problems(before: engine.CalendarSetup, after: engine.CalendarSetup) -> list[CalendarError]:
    """Problems the change would bring; ones the calendar already had are not the asker's to fix here."""
    known = {(p.code, p.message) for p in setup_problems(before)}
    return [p for p in setup_problems(after) if (p.code, p.message) not in known]


def _refuse_problems(before: engine.CalendarSetup, after: engine.CalendarSetup) -> None:
    problems = _new_problems(before, after)
    if problems:
        raise problems[0]


def set_rules(session: Session, actor: Actor, action: SetRulesAction, deps: StaffDeps) -> RulesData:
    """Replace the counsellor's weekly rules in one go, after checking the calendar they would make."""
    _counsellor(session, actor, action.counsellor_id)
    repository.lock_counsellor(session, action.counsellor_id)
    new = tuple(engine.WeeklyRule(counsellor_id=action.counsellor_id, location_id=r.location_id, weekday=r.weekday,
                                  start=_wall(r.start), end=_wall(r.end), valid_from=r.valid_from,
                                  valid_until=r.valid_until, on_holidays=r.on_holidays) for r in action.rules)
    stored = repository.load_calendar(session, _today(deps))
    others = tuple(rule for rule in stored.setup.rules if rule.counsellor_id != action.counsellor_id)
    _refuse_problems(stored.setup, replace(stored.setup, rules=others + new))
    session.execute(delete(AvailabilityRule).where(col(AvailabilityRule.counsellor_id) == action.counsellor_id))
    rows = [AvailabilityRule(counsellor_id=action.counsellor_id, location_id=r.location_id, weekday=r.weekday,
                             starts=_wall(r.start), ends=_wall(r.end), valid_from=r.valid_from,
                             valid_until=r.valid_until, on_holidays=r.on_holidays) for r in action.rules]
    session.add_all(rows)
    session.flush()
    return RulesData(counsellor_id=action.counsellor_id, rules=[
        RuleOut(rule_id=row.id or 0, **given.model_dump()) for row, given in zip(rows, action.rules, strict=True)])


def add_exception(session: Session, actor: Actor, action: AddExceptionAction, deps: StaffDeps) -> ExceptionData:
    _counsellor(session, actor, action.counsellor_id)
    repository.lock_counsellor(session, action.counsellor_id)
    check_date_range(action.first_day, action.last_day, MAX_STAFF_RANGE_DAYS)
    _within_horizon(action.last_day, deps, "An exception")
    start = _wall(action.start) if action.start else None
    end = _wall(action.end) if action.end else None
    now = deps.booking.clock()
    zone = deps.booking.calendar.zone
    locations = _locations(session)
    if action.kind == "absence":
        if action.location_id is not None:
            raise Refused(422, "absence_with_location",
                          "An absence is for the person, not for a location: leave out location_id.")
        absence = engine.Absence(counsellor_id=action.counsellor_id, first_day=action.first_day,
                                 last_day=action.last_day, start=start, end=end, reason=action.reason or "leave")
        flagged = calendar.enter_absence(session, absence, zone, now)
        # The row enter_absence just wrote: the newest of this counsellor's (their writes are serialised by the
        # lock above on PostgreSQL and by BEGIN IMMEDIATE on SQLite).
        row = session.exec(select(AvailabilityException).where(
            AvailabilityException.counsellor_id == action.counsellor_id, AvailabilityException.kind == "absence",
        ).order_by(col(AvailabilityException.id).desc())).first()
        assert row is not None
        return ExceptionData(exception=describe_exception(row),
                             bookings_to_move=[describe_booking(a, locations, zone) for a in flagged])
    if action.location_id is None or start is None or end is None:
        raise Refused(422, "extra_hours_incomplete", "Extra hours need a location_id, a start and an end time.")
    if action.first_day != action.last_day:
        raise Refused(422, "extra_hours_over_several_days",
                      "Extra hours are for a single day (first_day = last_day); enter one per day.")
    if action.first_day < _today(deps):
        raise Refused(422, "extra_hours_in_past", "Extra hours can only be added for today or later.")
    extra = engine.ExtraHours(counsellor_id=action.counsellor_id, location_id=action.location_id,
                              day=action.first_day, start=start, end=end)
    stored = repository.load_calendar(session, _today(deps))
    _refuse_problems(stored.setup, replace(stored.setup, extra_hours=(*stored.setup.extra_hours, extra)))
    row = AvailabilityException(kind="extra_hours", counsellor_id=action.counsellor_id,
                                location_id=action.location_id, first_day=action.first_day,
                                last_day=action.last_day, starts=start, ends=end, reason=action.reason or "",
                                created_at=now)
    session.add(row)
    session.flush()
    return ExceptionData(exception=describe_exception(row))


def remove_exception(session: Session, actor: Actor, action: RemoveExceptionAction) -> ExceptionData:
    _counsellor(session, actor, action.counsellor_id)
    row = session.get(AvailabilityException, action.exception_id)
    if row is None or row.counsellor_id != action.counsellor_id or row.kind not in ("absence", "extra_hours"):
        raise Refused(404, "unknown_exception", "This calendar has no absence or extra hours with this id.")
    described = describe_exception(row)
    session.delete(row)
    session.flush()
    return ExceptionData(exception=described)


@contextmanager
def _announcements(session: Session, booking_id: UUID) -> Iterator[list[dict[str, Any]]]:
    """Collects the outbox messages a booking handler writes for `booking_id` inside the block (how it announced its
    decision): the rows of this booking written after the newest one before the block."""
    before = session.exec(select(func.coalesce(func.max(OutboxMessage.id), 0))).one()
    announced: list[dict[str, Any]] = []
    yield announced
    written = select(OutboxMessage.body).where(col(OutboxMessage.id) > before,
                                               OutboxMessage.correlation_id == str(booking_id))
    announced.extend(json.loads(body) for body in session.exec(written.order_by(col(OutboxMessage.id))))


def _refuse_change(announced: list[dict[str, Any]]) -> None:
    for message in announced:
        if message["type"] == "booking.change_rejected":
            reason = message["payload"]["reason"]
            status, sentence = CHANGE_REFUSALS.get(reason, (409, "The change was refused."))
            alternatives = message["payload"].get("alternatives") or []
            data = None
            if alternatives:
                data = _Alternatives(alternatives=[Slot.model_validate(s) for s in alternatives])
            raise Refused(status, reason, sentence, data)


class _Alternatives(BaseModel):
    alternatives: list[Slot]


def cancel(session: Session, actor: Actor, action: CancelAction, deps: StaffDeps) -> BookingChangeData:
    row = _appointment(session, actor, action.booking_id)
    if row.status != "confirmed":
        raise Refused(409, "not_confirmed", f"Only a confirmed booking can be cancelled; this one is {row.status}.")
    now = deps.booking.clock()
    if row.starts_at <= now:
        raise Refused(409, "already_begun",
                      "This appointment has already begun; record attended or no-show instead of cancelling.")
    request = BookingCancellationRequested(booking_id=action.booking_id, by="staff", reason=action.reason)
    handlers.cancel_booking(wrap(request, str(action.booking_id), now), session, deps.booking)
    return BookingChangeData(booking=describe_booking(row, _locations(session), deps.booking.calendar.zone))


def record_outcome(session: Session, actor: Actor, action: OutcomeAction, deps: StaffDeps
                   ) -> tuple[BookingChangeData, str]:
    row = _appointment(session, actor, action.booking_id)
    request = BookingOutcomeReported(booking_id=action.booking_id, outcome=action.action, reason=action.reason)
    with _announcements(session, action.booking_id) as announced:
        handlers.record_outcome(wrap(request, str(action.booking_id), deps.booking.clock()), session, deps.booking)
    _refuse_change(announced)
    message = ("The client came." if action.action == "attended" else "The client did not come.") if announced \
        else "This was already recorded."
    return BookingChangeData(booking=describe_booking(row, _locations(session), deps.booking.calendar.zone)), message


def move(session: Session, actor: Actor, action: MoveAction, deps: StaffDeps) -> BookingChangeData:
    row = _appointment(session, actor, action.booking_id)
    target = parse_slot_id(action.slot_id)
    ensure_calendar(actor, target.counsellor_id)
    request = BookingRescheduleRequested(booking_id=action.booking_id, slot_id=action.slot_id, by="staff",
                                         reason=action.reason)
    with _announcements(session, action.booking_id) as announced:
        handlers.reschedule_booking(wrap(request, str(action.booking_id), deps.booking.clock()), session,
                                    deps.booking)
    _refuse_change(announced)
    return BookingChangeData(booking=describe_booking(row, _locations(session), deps.booking.calendar.zone))


# --- admin: appointment types, counsellors, locations ----------------------------------------------------------------


def describe_type(row: AppointmentType) -> AppointmentTypeData:
    assert row.id is not None
    return AppointmentTypeData(type_id=row.id, topic=row.topic, duration_minutes=row.duration_minutes,
                               modes=sorted(row.mode_set), buffer_before_minutes=row.buffer_before_minutes,
                               buffer_after_minutes=row.buffer_after_minutes,
                               min_notice_minutes=row.min_notice_minutes, horizon_days=row.horizon_days,
                               active=row.active, reminder_offsets_minutes=list(row.reminder_offsets))


def list_types(session: Session) -> TypesData:
    return TypesData(types=[describe_type(row) for row in
                            session.exec(select(AppointmentType).order_by(col(AppointmentType.id)))])


def _engine_type(row: AppointmentType, type_id: int) -> engine.AppointmentType:
    """The row as the slot engine sees it (its own checks raise CalendarError for a value out of range)."""
    return engine.AppointmentType(
        id=type_id, topic=row.topic, duration_minutes=row.duration_minutes,
        modes=row.mode_set,  # type: ignore[arg-type]
        buffer_before_minutes=row.buffer_before_minutes, buffer_after_minutes=row.buffer_after_minutes,
        min_notice_minutes=row.min_notice_minutes, horizon_days=row.horizon_days)


def _refuse_type_setup(session: Session, row: AppointmentType, type_id: int, deps: StaffDeps) -> None:
    """Refuse a type that would make the calendar one the engine cannot honour (such as two active types for one
    topic and mode); an inactive type is not part of the calendar."""
    stored = repository.load_calendar(session, _today(deps))
    others = tuple(t for t in stored.setup.types if t.id != type_id)
    kind_type = _engine_type(row, type_id)
    types = (*others, kind_type) if row.active else others
    after = replace(stored.setup, types=tuple(sorted(types, key=lambda t: t.id)),
                    topics=stored.setup.topics | {row.topic})
    _refuse_problems(stored.setup, after)


_TYPE_FIELDS = ("topic", "duration_minutes", "buffer_before_minutes", "buffer_after_minutes", "min_notice_minutes",
                "horizon_days", "active")


def create_type(session: Session, action: CreateTypeAction, deps: StaffDeps) -> AppointmentTypeData:
    row = AppointmentType(modes=",".join(sorted(set(action.modes))),
                          reminder_offsets_minutes=format_offsets(action.reminder_offsets_minutes),
                          **{name: getattr(action, name) for name in _TYPE_FIELDS})
    # A new type has no id yet; one above every stored id stands for it in the check.
    newest = session.exec(select(AppointmentType.id).order_by(col(AppointmentType.id).desc())).first()
    _refuse_type_setup(session, row, (newest or 0) + 1, deps)
    session.add(row)
    session.flush()
    return describe_type(row)


def update_type(session: Session, action: UpdateTypeAction, deps: StaffDeps) -> AppointmentTypeData:
    row = session.get(AppointmentType, action.type_id)
    if row is None:
        raise Refused(404, "unknown_type", f"There is no appointment type with id {action.type_id}.")
    for name in _TYPE_FIELDS:
        value = getattr(action, name)
        if value is not None:
            setattr(row, name, value)
    if action.modes is not None:
        row.modes = ",".join(sorted(set(action.modes)))
    if action.reminder_offsets_minutes is not None:
        # Only what is announced from now on: bookings already confirmed keep the reminders the notifier planned.
        row.reminder_offsets_minutes = format_offsets(action.reminder_offsets_minutes)
    _refuse_type_setup(session, row, action.type_id, deps)
    session.add(row)
    session.flush()
    return describe_type(row)


def _served(session: Session, counsellor_id: int) -> list[int]:
    return sorted(session.exec(select(CounsellorLocation.location_id).where(
        CounsellorLocation.counsellor_id == counsellor_id)))


def describe_counsellor(session: Session, row: Counsellor) -> CounsellorData:
    assert row.id is not None
    return CounsellorData(counsellor_id=row.id, alias=row.alias, languages=sorted(row.language_set),
                          topics=sorted(row.topic_set), location_ids=_served(session, row.id), active=row.active,
                          daily_cap=row.daily_cap)


def update_counsellor(session: Session, action: UpdateCounsellorAction, deps: StaffDeps) -> CounsellorData:
    row = session.get(Counsellor, action.counsellor_id)
    if row is None:
        raise Refused(404, "unknown_counsellor", f"There is no counsellor with id {action.counsellor_id}.")
    repository.lock_counsellor(session, action.counsellor_id)
    if action.languages is not None:
        row.languages = ",".join(sorted(set(action.languages)))
    if action.topics is not None:
        row.topics = ",".join(sorted(set(action.topics)))
    if action.active is not None:
        row.active = action.active
    if action.change_daily_cap:
        row.daily_cap = action.daily_cap
    served = frozenset(action.location_ids) if action.location_ids is not None \
        else frozenset(_served(session, action.counsellor_id))
    stored = repository.load_calendar(session, _today(deps))
    person = engine.Counsellor(id=action.counsellor_id, alias=row.alias, languages=row.language_set,
                               topics=row.topic_set, location_ids=served, active=row.active,
                               daily_cap=row.daily_cap)
    after = replace(stored.setup, counsellors=tuple(
        person if c.id == action.counsellor_id else c for c in stored.setup.counsellors))
    problems = _new_problems(stored.setup, after)
    if problems:
        first = problems[0]
        if isinstance(first, engine.LocationNotServed):
            raise engine.LocationNotServed(
                "A location the counsellor's weekly rules or extra hours still use cannot be removed; change "
                f"those first. {first.message}")
        raise first
    if action.location_ids is not None:
        session.execute(delete(CounsellorLocation).where(
            col(CounsellorLocation.counsellor_id) == action.counsellor_id))
        session.add_all(CounsellorLocation(counsellor_id=action.counsellor_id, location_id=location_id)
                        for location_id in sorted(served))
    session.add(row)
    session.flush()
    return describe_counsellor(session, row)


def update_location(session: Session, action: UpdateLocationAction) -> LocationData:
    row = session.get(Location, action.location_id)
    if row is None:
        raise Refused(404, "unknown_location", f"There is no location with id {action.location_id}.")
    if action.active is not None:
        row.active = action.active
    if action.alias is not None:
        row.alias = " ".join(action.alias.split())
    session.add(row)
    session.flush()
    assert row.id is not None
    return LocationData(location_id=row.id, town=row.town, kind=row.kind, alias=row.alias, active=row.active)
