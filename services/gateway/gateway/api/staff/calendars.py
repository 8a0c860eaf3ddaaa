"""A counsellor's calendar: the week, the bookings with status, the weekly rules, absences and extra hours."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from gateway.api.deps import SettingsDep
from gateway.api.schemas import IdPath
from gateway.api.staff.answers import ERRORS, ask
from gateway.api.staff.inputs import (
    ExceptionBody,
    InvalidStaffInput,
    NoCalendar,
    RulesBody,
    check_day,
    check_range,
    reason,
    today,
    wall,
    zone,
)
from gateway.api.staff_deps import CalendarStaff, CurrentStaff, no_store
from gateway.staff.accounts import Staff
from shared.contracts.limits import HORIZON_DAYS
from shared.contracts.staff import (
    AddExceptionAction,
    AppointmentStatus,
    BookingsAction,
    BookingsAnswer,
    BookingsData,
    ExceptionAnswer,
    ExceptionData,
    RemoveExceptionAction,
    RuleIn,
    RulesAnswer,
    RulesData,
    SetRulesAction,
    WeekAction,
    WeekAnswer,
    WeekData,
)

router = APIRouter()

DEFAULT_DAYS = 14
Start = Annotated[date | None, Query(alias="start", description="any day of the week; default: this week")]
Timezone = Annotated[str, Query(max_length=64, description="show times in this IANA zone")]


def _week(request: Request, staff: Staff, counsellor_id: int, start: date | None, timezone: str,
          settings_zone: str) -> WeekData:
    shown = zone(timezone)
    first_allowed = today(settings_zone)
    first = check_day(start, first_allowed, "The start") if start else first_allowed
    if first > first_allowed + timedelta(days=HORIZON_DAYS):
        raise InvalidStaffInput(f"A week may start at most {HORIZON_DAYS} days ahead.", "beyond_horizon")
    action = WeekAction(counsellor_id=counsellor_id, week_start=first, timezone=shown)
    return ask(request, staff, action, WeekAnswer).data


@router.get("/me/week", responses=ERRORS)
def my_week(staff: CurrentStaff, request: Request, response: Response, settings: SettingsDep,
            start: Start = None, timezone: Timezone = "Europe/Berlin") -> WeekData:
    """The signed-in counsellor's week: windows after absences and holidays, and appointments."""
    if staff.counsellor_id is None:
        raise NoCalendar("An admin account has no calendar of its own; use /v1/staff/calendars/{id}/week.")
    no_store(response)
    return _week(request, staff, staff.counsellor_id, start, timezone, settings.timezone)


@router.get("/calendars/{counsellor_id}/week", responses=ERRORS)
def calendar_week(counsellor_id: IdPath, staff: CalendarStaff, request: Request, response: Response,
                  settings: SettingsDep, start: Start = None, timezone: Timezone = "Europe/Berlin") -> WeekData:
    no_store(response)
    return _week(request, staff, counsellor_id, start, timezone, settings.timezone)


@router.get("/calendars/{counsellor_id}/bookings", responses=ERRORS)
def calendar_bookings(
    counsellor_id: IdPath, staff: CalendarStaff, request: Request, response: Response, settings: SettingsDep,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    status: AppointmentStatus | None = None,
    timezone: Timezone = "Europe/Berlin",
) -> BookingsData:
    """Appointments starting on the days from..to (at most 90 days; default the next two weeks), with status."""
    shown = zone(timezone)
    now = today(settings.timezone)
    first = date_from or now
    last = date_to or first + timedelta(days=DEFAULT_DAYS - 1)
    check_range(first, last, now)
    action = BookingsAction(counsellor_id=counsellor_id, date_from=first, date_to=last, status=status, timezone=shown)
    answer = ask(request, staff, action, BookingsAnswer)
    no_store(response)
    return answer.data


@router.put("/calendars/{counsellor_id}/rules", responses=ERRORS)
def replace_rules(counsellor_id: IdPath, body: RulesBody, staff: CalendarStaff, request: Request,
                  settings: SettingsDep) -> RulesData:
    """Replace all weekly rules of the calendar at once; nothing is saved if any rule is refused."""
    rules = []
    now = today(settings.timezone)
    for number, rule in enumerate(body.rules, start=1):
        what = f"Rule {number}"
        for day, name in ((rule.valid_from, "valid_from"), (rule.valid_until, "valid_until")):
            if day is not None:
                check_day(day, now, f"{what}: {name}")
        if not 0 <= rule.weekday <= 6:
            raise InvalidStaffInput(f"{what}: weekday must be 0 (Monday) to 6 (Sunday).", "invalid_weekday")
        rules.append(RuleIn(location_id=rule.location_id, weekday=rule.weekday,
                            start=wall(rule.start, f"{what}: start") or "", end=wall(rule.end, f"{what}: end") or "",
                            valid_from=rule.valid_from, valid_until=rule.valid_until, on_holidays=rule.on_holidays))
    return ask(request, staff, SetRulesAction(counsellor_id=counsellor_id, rules=rules), RulesAnswer).data


@router.post("/calendars/{counsellor_id}/exceptions", status_code=201, responses=ERRORS)
def add_exception(counsellor_id: IdPath, body: ExceptionBody, staff: CalendarStaff, request: Request,
                  settings: SettingsDep) -> ExceptionData:
    """An absence (whole days, or start..end on one day) or extra hours at a location on one day. An absence over
    booked appointments keeps them, flags them and lists them in `bookings_to_move`."""
    last = body.last_day or body.first_day
    check_range(body.first_day, last, today(settings.timezone))
    action = AddExceptionAction(counsellor_id=counsellor_id, kind=body.kind, first_day=body.first_day, last_day=last,
                                start=wall(body.start, "start"), end=wall(body.end, "end"),
                                location_id=body.location_id, reason=reason(body.reason))
    return ask(request, staff, action, ExceptionAnswer).data


@router.delete("/calendars/{counsellor_id}/exceptions/{exception_id}", responses=ERRORS)
def remove_exception(counsellor_id: IdPath, exception_id: IdPath,
                     staff: CalendarStaff, request: Request) -> ExceptionData:
    action = RemoveExceptionAction(counsellor_id=counsellor_id, exception_id=exception_id)
    return ask(request, staff, action, ExceptionAnswer).data
