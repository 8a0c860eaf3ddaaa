"""A counsellor's day (`/staff`) and week (`/staff/week`), from the scheduler's week answer, and the forms per
appointment: attended, no-show, cancel with a reason (after a confirmation page). An admin's `/staff` is the admin
start page (gateway.web.staff.admin_pages).

Every form posts the session's CSRF token and which view it came from; after a change the browser is sent back
there (303) with a sentence saying what was done, and a refusal is said on that view.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from gateway.api.staff.inputs import InvalidStaffInput
from gateway.api.staff.inputs import reason as checked_reason
from gateway.errors import SchedulerUnavailable
from gateway.staff.accounts import CurrentSession
from gateway.staff_client import AlreadyCarriedOut, CalendarRefused
from gateway.web.catalogs import N_
from gateway.web.staff.access import current_session, desk, form_refused, form_session, language, to_sign_in
from gateway.web.staff.admin_pages import admin_start
from gateway.web.staff.appointments import by_day
from gateway.web.staff.rendering import redirect, render
from gateway.web.staff.texts import known
from shared.contracts.limits import HORIZON_DAYS
from shared.contracts.staff import (
    BookingChangeAnswer,
    CancelAction,
    OutcomeAction,
    RefusalKind,
    StaffAction,
    WeekAction,
    WeekAnswer,
    WeekData,
)

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]
View = Literal["day", "week"]
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# How far back a week may be looked at (about a year: records of what happened); ahead, as far as bookings go.
PAST_DAYS = 366
DONE = {"attended": "done.attended", "no_show": "done.no_show", "cancelled": "done.cancelled", "moved": "done.moved"}


def local_today(request: Request) -> tuple[datetime, date, ZoneInfo]:
    zone = ZoneInfo(desk(request).settings.timezone)
    now = desk(request).accounts.clock()
    return now, now.astimezone(zone).date(), zone


def week_of(value: str | None, today: date) -> date | None:
    """The Monday of the week `value` (an ISO day) falls in; None when it is no day or out of range."""
    if not value:
        return today - timedelta(days=today.weekday())
    if not ISO_DAY.match(value):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    if not today - timedelta(days=PAST_DAYS) <= day <= today + timedelta(days=HORIZON_DAYS):
        return None
    return day - timedelta(days=day.weekday())


def _unavailable(request: Request, lang: str, current: CurrentSession, key: str = "scheduler_away") -> HTMLResponse:
    return render("message.html", lang, 503, here=request.url.path, errors=[key], staff=current.staff,
                  csrf=current.csrf_token, title=N_("Calendar not available"), headers={"Retry-After": "60"})


def refusal_status(refusal: CalendarRefused) -> int:
    """Another counsellor's calendar is a 403, as the API's answer; any other refusal a conflict."""
    return 403 if refusal.kind is RefusalKind.FORBIDDEN else 409


def _calendar(request: Request, lang: str, current: CurrentSession, view: View, monday: date,
              errors: list[str] | None = None, status: int = 200, done: str | None = None) -> Response:
    staff = current.staff
    if staff.counsellor_id is None:
        return admin_start(request, lang, current)
    now, today, zone = local_today(request)
    try:
        week: WeekData = desk(request).calendars.ask(staff, WeekAction(
            counsellor_id=staff.counsellor_id, week_start=monday, timezone=desk(request).settings.timezone),
            WeekAnswer).data
    except SchedulerUnavailable:
        return _unavailable(request, lang, current)
    except CalendarRefused as refused:
        if refused.kind in (RefusalKind.UNKNOWN, RefusalKind.FORBIDDEN):  # no counsellor behind this account
            return render("message.html", lang, 404, here=request.url.path, errors=["no_calendar"], staff=staff,
                          csrf=current.csrf_token, title=N_("No calendar"))
        return render("message.html", lang, 400, here=request.url.path, errors=["bad_week"], staff=staff,
                      csrf=current.csrf_token, title=N_("My week"))
    shown = [today] if view == "day" else [week.week_start + timedelta(days=n) for n in range(7)]
    return render(
        "calendar.html", lang, status, here="/staff" if view == "day" else f"/staff/week?start={monday}",
        errors=errors, staff=staff, csrf=current.csrf_token, view=view,
        days=by_day(week.bookings, lang, zone, now, shown), start=monday.isoformat(),
        previous=(monday - timedelta(days=7)).isoformat(),
        following=(monday + timedelta(days=7)).isoformat(), notice=DONE.get(done or ""), alias=week.counsellor_alias,
        zone=desk(request).settings.timezone)


@router.get("/staff", response_class=HTMLResponse)
def my_day(request: Request, done: str | None = None) -> Response:
    current = current_session(request)
    if current is None:
        return to_sign_in(request)
    lang = language(request)
    _now, today, _zone = local_today(request)
    return _calendar(request, lang, current, "day", today - timedelta(days=today.weekday()), done=done)


@router.get("/staff/week", response_class=HTMLResponse)
def my_week(request: Request, start: str | None = None, done: str | None = None) -> Response:
    current = current_session(request)
    if current is None:
        return to_sign_in(request)
    lang = language(request)
    monday = week_of(start, local_today(request)[1])
    if monday is None:
        return render("message.html", lang, 400, here="/staff/week", errors=["bad_week"], staff=current.staff,
                      csrf=current.csrf_token, title=N_("My week"))
    return _calendar(request, lang, current, "week", monday, done=done)


def _change(request: Request, booking_id: str, action: str, csrf: str, view: str, start: str, lang: str,
            reason: str | None = None) -> Response:
    lang = language(request, lang)
    current = form_session(request, lang, csrf)
    if isinstance(current, Response):
        return current
    shown: View = "week" if view == "week" else "day"
    _now, today, _zone = local_today(request)
    monday = week_of(start if shown == "week" else None, today) or today - timedelta(days=today.weekday())
    try:
        booking = UUID(booking_id)
    except ValueError:
        return _calendar(request, lang, current, shown, monday, ["refused.unknown_booking"], 404)
    change: StaffAction = (CancelAction(booking_id=booking, reason=reason) if action == "cancel"
                           else OutcomeAction(action="attended" if action == "attended" else "no_show",
                                              booking_id=booking))
    try:
        desk(request).calendars.ask(current.staff, change, BookingChangeAnswer)
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, "scheduler_late_write")
    except AlreadyCarriedOut:
        return _calendar(request, lang, current, shown, monday, ["refused.already_done"], 409)
    except CalendarRefused as refused_change:
        return _calendar(request, lang, current, shown, monday, [known(f"refused.{refused_change.code}")],
                         refusal_status(refused_change))
    back = "/staff" if shown == "day" else f"/staff/week?start={monday}"
    done = "cancelled" if action == "cancel" else change.action
    return redirect(f"{back}{'&' if '?' in back else '?'}done={done}", lang)


@router.post("/staff/appointments/{booking_id}/attended", response_model=None)
def record_attended(request: Request, booking_id: str, csrf: Field = "", view: Field = "day", start: Field = "",
                    lang: Field = "") -> Response:
    return _change(request, booking_id, "attended", csrf, view, start, lang)


@router.post("/staff/appointments/{booking_id}/no-show", response_model=None)
def record_no_show(request: Request, booking_id: str, csrf: Field = "", view: Field = "day", start: Field = "",
                   lang: Field = "") -> Response:
    return _change(request, booking_id, "no_show", csrf, view, start, lang)


def _cancel_page(request: Request, lang: str, current: CurrentSession, booking_id: str, view: str, start: str,
                 reason: str = "", errors: list[str] | None = None, status: int = 200) -> HTMLResponse:
    return render("cancel.html", lang, status, here=request.url.path, errors=errors, staff=current.staff,
                  csrf=current.csrf_token, booking_id=booking_id, view="week" if view == "week" else "day",
                  start=start if ISO_DAY.match(start) else "", reason=reason)


@router.get("/staff/appointments/{booking_id}/cancel", response_class=HTMLResponse)
def cancel_question(request: Request, booking_id: str, view: str = "day", start: str = "") -> Response:
    current = current_session(request)
    if current is None:
        return to_sign_in(request)
    return _cancel_page(request, language(request), current, booking_id, view, start)


@router.post("/staff/appointments/{booking_id}/cancel", response_model=None)
def cancel(request: Request, booking_id: str, csrf: Field = "", view: Field = "day", start: Field = "",
           reason: Field = "", lang: Field = "") -> Response:
    try:
        given = checked_reason(reason)
    except InvalidStaffInput:
        page_lang, current = language(request, lang), current_session(request)
        if current is None:
            return to_sign_in(request)
        return form_refused(request, page_lang, current, csrf) or _cancel_page(
            request, page_lang, current, booking_id, view, start, reason[:200], ["reason_invalid"], 422)
    return _change(request, booking_id, "cancel", csrf, view, start, lang, given)
