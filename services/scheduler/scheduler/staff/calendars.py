"""A counsellor's calendar as staff see and change it: the week, the bookings, the weekly rules, absences and
extra hours."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler import calendar, repository
from scheduler.domain import calendar_setup as engine
from scheduler.domain.calendar_setup import check_date_range, resolve_zone
from scheduler.domain.public_holidays import is_public_holiday
from scheduler.staff.checks import (
    Refused,
    StaffDeps,
    appointment_of,
    counsellor_of,
    refuse_problems,
    today,
    wall,
    within_horizon,
)
from scheduler.staff.describe import describe_booking, describe_exception, place
from scheduler.tables import AvailabilityException, AvailabilityRule, Counsellor
from shared.contracts.limits import MAX_RANGE_DAYS
from shared.contracts.staff import (
    Actor,
    AddExceptionAction,
    BookingAction,
    BookingData,
    BookingsAction,
    BookingsData,
    ExceptionData,
    RefusalKind,
    RemoveExceptionAction,
    RuleOut,
    RulesAction,
    RulesData,
    SetRulesAction,
    StaffWindow,
    WeekAction,
    WeekData,
)

# --- reads -----------------------------------------------------------------------------------------------------------


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
    person = counsellor_of(session, actor, action.counsellor_id)
    shown = resolve_zone(action.timezone)
    business = deps.booking.calendar.zone
    monday = action.week_start - timedelta(days=action.week_start.weekday())
    within_horizon(monday, deps, "The week")
    stored = repository.load_calendar(session, monday)
    locations = repository.locations(session)
    windows = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        for location_id, opens, closes, source in day_windows(stored.setup, action.counsellor_id, day):
            windows.append(StaffWindow(day=day, start=_at(day, opens, business).astimezone(shown),
                                       end=_at(day, closes, business).astimezone(shown),
                                       location=place(locations, location_id), source=source))
    sunday = monday + timedelta(days=6)
    start, end = repository.day_bounds(monday, sunday, business)
    rows = repository.appointments_between(session, action.counsellor_id, start, end)
    exceptions = repository.exceptions_overlapping(session, action.counsellor_id, monday, sunday)
    return WeekData(counsellor_id=action.counsellor_id, counsellor_alias=person.alias, week_start=monday,
                    timezone=action.timezone, windows=windows,
                    bookings=[describe_booking(row, locations, shown) for row in rows],
                    exceptions=[describe_exception(row) for row in exceptions])


def bookings(session: Session, actor: Actor, action: BookingsAction, deps: StaffDeps) -> BookingsData:
    counsellor_of(session, actor, action.counsellor_id)
    shown = resolve_zone(action.timezone)
    check_date_range(action.date_from, action.date_to, MAX_RANGE_DAYS)
    within_horizon(action.date_from, deps, "The range")
    start, end = repository.day_bounds(action.date_from, action.date_to, deps.booking.calendar.zone)
    locations = repository.locations(session)
    rows = repository.appointments_between(session, action.counsellor_id, start, end, action.status)
    return BookingsData(counsellor_id=action.counsellor_id,
                        bookings=[describe_booking(row, locations, shown) for row in rows])


def booking(session: Session, actor: Actor, action: BookingAction) -> BookingData:
    """One booking's appointment and its counsellor, in whichever week it lies (refused as unknown if there is no
    such booking, as forbidden if it is another counsellor's; an admin may read any)."""
    row = appointment_of(session, actor, action.booking_id)
    person = session.get(Counsellor, row.counsellor_id)
    alias = person.alias if person is not None else "?"  # the foreign key keeps it; "?" as for a missing place
    return BookingData(counsellor_id=row.counsellor_id, counsellor_alias=alias,
                       booking=describe_booking(row, repository.locations(session), resolve_zone(action.timezone)))


# --- writes ----------------------------------------------------------------------------------------------------------


def rules(session: Session, actor: Actor, action: RulesAction) -> RulesData:
    """The counsellor's weekly rules as stored (dates and holidays included) and the locations they serve."""
    counsellor_of(session, actor, action.counsellor_id)
    locations = repository.locations(session)
    stored = [RuleOut(rule_id=row.id or 0, location_id=row.location_id, weekday=row.weekday,
                      start=f"{row.starts:%H:%M}", end=f"{row.ends:%H:%M}", valid_from=row.valid_from,
                      valid_until=row.valid_until, on_holidays=row.on_holidays)
              for row in repository.rules_of(session, action.counsellor_id)]
    return RulesData(counsellor_id=action.counsellor_id, rules=stored, locations=[
        place(locations, location_id) for location_id in repository.served_locations(session, action.counsellor_id)
        if location_id in locations])


def set_rules(session: Session, actor: Actor, action: SetRulesAction, deps: StaffDeps) -> RulesData:
    """Replace the counsellor's weekly rules in one go, after checking the calendar they would make."""
    counsellor_of(session, actor, action.counsellor_id)
    repository.lock_counsellor(session, action.counsellor_id)
    new = tuple(engine.WeeklyRule(counsellor_id=action.counsellor_id, location_id=r.location_id, weekday=r.weekday,
                                  start=wall(r.start), end=wall(r.end), valid_from=r.valid_from,
                                  valid_until=r.valid_until, on_holidays=r.on_holidays) for r in action.rules)
    stored = repository.load_calendar(session, today(deps))
    others = tuple(rule for rule in stored.setup.rules if rule.counsellor_id != action.counsellor_id)
    refuse_problems(stored.setup, replace(stored.setup, rules=others + new))
    rows = [AvailabilityRule(counsellor_id=action.counsellor_id, location_id=r.location_id, weekday=r.weekday,
                             starts=wall(r.start), ends=wall(r.end), valid_from=r.valid_from,
                             valid_until=r.valid_until, on_holidays=r.on_holidays) for r in action.rules]
    repository.replace_rules(session, action.counsellor_id, rows)
    return RulesData(counsellor_id=action.counsellor_id, rules=[
        RuleOut(rule_id=row.id or 0, **given.model_dump()) for row, given in zip(rows, action.rules, strict=True)])


def add_exception(session: Session, actor: Actor, action: AddExceptionAction, deps: StaffDeps) -> ExceptionData:
    counsellor_of(session, actor, action.counsellor_id)
    repository.lock_counsellor(session, action.counsellor_id)
    check_date_range(action.first_day, action.last_day, MAX_RANGE_DAYS)
    within_horizon(action.last_day, deps, "An exception")
    start = wall(action.start) if action.start else None
    end = wall(action.end) if action.end else None
    now = deps.booking.clock()
    zone = deps.booking.calendar.zone
    locations = repository.locations(session)
    if action.kind == "absence":
        if action.location_id is not None:
            raise Refused(RefusalKind.INVALID, "absence_with_location",
                          "An absence is for the person, not for a location: leave out location_id.")
        absence = engine.Absence(counsellor_id=action.counsellor_id, first_day=action.first_day,
                                 last_day=action.last_day, start=start, end=end, reason=action.reason or "leave")
        flagged = calendar.enter_absence(session, absence, zone, now)
        # The row enter_absence just wrote: the newest of this counsellor's (their writes are serialised by the
        # lock above on PostgreSQL and by BEGIN IMMEDIATE on SQLite).
        row = repository.newest_absence(session, action.counsellor_id)
        assert row is not None
        return ExceptionData(exception=describe_exception(row),
                             bookings_to_move=[describe_booking(a, locations, zone) for a in flagged])
    if action.location_id is None or start is None or end is None:
        raise Refused(RefusalKind.INVALID, "extra_hours_incomplete",
                      "Extra hours need a location_id, a start and an end time.")
    if action.first_day != action.last_day:
        raise Refused(RefusalKind.INVALID, "extra_hours_over_several_days",
                      "Extra hours are for a single day (first_day = last_day); enter one per day.")
    if action.first_day < today(deps):
        raise Refused(RefusalKind.INVALID, "extra_hours_in_past", "Extra hours can only be added for today or later.")
    extra = engine.ExtraHours(counsellor_id=action.counsellor_id, location_id=action.location_id,
                              day=action.first_day, start=start, end=end)
    stored = repository.load_calendar(session, today(deps))
    refuse_problems(stored.setup, replace(stored.setup, extra_hours=(*stored.setup.extra_hours, extra)))
    row = AvailabilityException(kind="extra_hours", counsellor_id=action.counsellor_id,
                                location_id=action.location_id, first_day=action.first_day,
                                last_day=action.last_day, starts=start, ends=end, reason=action.reason or "",
                                created_at=now)
    session.add(row)
    session.flush()
    return ExceptionData(exception=describe_exception(row))


def remove_exception(session: Session, actor: Actor, action: RemoveExceptionAction) -> ExceptionData:
    counsellor_of(session, actor, action.counsellor_id)
    row = session.get(AvailabilityException, action.exception_id)
    if row is None or row.counsellor_id != action.counsellor_id or row.kind not in ("absence", "extra_hours"):
        raise Refused(RefusalKind.UNKNOWN, "unknown_exception",
                      "This calendar has no absence or extra hours with this id.")
    described = describe_exception(row)
    session.delete(row)
    session.flush()
    return ExceptionData(exception=described)
