"""A counsellor's absences (`/staff/absences`): those of four weeks from a chosen one, a form to add one (whole days,
or from..to on one day, with a reason kept free of phone numbers as the API keeps it), and removing one. After an
absence is added, the appointments it covers are listed, each with a link to move it: the scheduler keeps them
(and flags them) rather than cancelling them behind the client's back."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from gateway.api.staff.inputs import InvalidStaffInput, check_range, wall
from gateway.api.staff.inputs import reason as checked_reason
from gateway.errors import SchedulerUnavailable
from gateway.staff.accounts import CurrentSession
from gateway.staff_client import AlreadyCarriedOut, CalendarRefused
from gateway.web.catalogs import N_
from gateway.web.slot_rows import day_label
from gateway.web.staff.access import current_session, desk, form_session, language, to_sign_in
from gateway.web.staff.appointments import appointment_row
from gateway.web.staff.calendar_pages import ISO_DAY, local_today, week_of
from gateway.web.staff.rendering import redirect, render
from gateway.web.staff.texts import known
from shared.contracts.staff import (
    AddExceptionAction,
    ExceptionAnswer,
    RemoveExceptionAction,
    StaffException,
    WeekAction,
    WeekAnswer,
)

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]
TITLE = N_("Absences")
WEEKS_LISTED = 4
# The API's refusals of a range, as the form says them.
RANGE_TEXTS = {"range_reversed": "absence.range_reversed", "range_too_long": "absence.range_too_long",
               "date_out_of_range": "absence.too_far", "beyond_horizon": "absence.too_far"}
DONE = {"removed": "done.absence_removed"}


def _no_calendar(request: Request, lang: str, current: CurrentSession) -> HTMLResponse:
    return render("message.html", lang, 404, here=request.url.path, errors=["no_calendar"], staff=current.staff,
                  csrf=current.csrf_token, title=TITLE)


def _away(request: Request, lang: str, current: CurrentSession, key: str = "scheduler_away") -> HTMLResponse:
    return render("message.html", lang, 503, here=request.url.path, errors=[key], staff=current.staff,
                  csrf=current.csrf_token, title=TITLE, headers={"Retry-After": "60"})


def _absences(request: Request, current: CurrentSession, monday: date) -> tuple[list[StaffException], str]:
    """The absences touching the WEEKS_LISTED weeks from `monday`, each once, by first day; and the alias."""
    assert current.staff.counsellor_id is not None
    found: dict[int, StaffException] = {}
    alias = ""
    for week in range(WEEKS_LISTED):
        data = desk(request).calendars.ask(current.staff, WeekAction(
            counsellor_id=current.staff.counsellor_id, week_start=monday + timedelta(days=7 * week),
            timezone=desk(request).settings.timezone), WeekAnswer).data
        alias = data.counsellor_alias
        found.update((e.exception_id, e) for e in data.exceptions if e.kind == "absence")
    return sorted(found.values(), key=lambda e: (e.first_day, e.start or "", e.exception_id)), alias


def _page(request: Request, lang: str, current: CurrentSession, monday: date, errors: list[str] | None = None,
          status: int = 200, form: dict[str, str] | None = None, done: str | None = None) -> Response:
    if current.staff.counsellor_id is None:
        return _no_calendar(request, lang, current)
    try:
        absences, alias = _absences(request, current, monday)
    except SchedulerUnavailable:
        return _away(request, lang, current)
    except CalendarRefused:
        return _no_calendar(request, lang, current)
    rows = [{"id": a.exception_id, "first": day_label(a.first_day, lang), "last": day_label(a.last_day, lang),
             "one_day": a.first_day == a.last_day, "start": a.start, "end": a.end, "reason": a.reason}
            for a in absences]
    last = monday + timedelta(days=7 * WEEKS_LISTED - 1)
    return render("absences.html", lang, status, here=f"/staff/absences?start={monday}", errors=errors,
                  staff=current.staff, csrf=current.csrf_token, absences=rows, alias=alias,
                  start=monday.isoformat(), shown_from=day_label(monday, lang), shown_to=day_label(last, lang),
                  previous=(monday - timedelta(days=7 * WEEKS_LISTED)).isoformat(),
                  following=(monday + timedelta(days=7 * WEEKS_LISTED)).isoformat(),
                  form=form or {"first_day": "", "last_day": "", "start": "", "end": "", "reason": ""},
                  notice=DONE.get(done or ""))


@router.get("/staff/absences", response_class=HTMLResponse)
def absences(request: Request, start: str | None = None, done: str | None = None) -> Response:
    current = current_session(request)
    if current is None:
        return to_sign_in(request)
    lang = language(request)
    monday = week_of(start, local_today(request)[1])
    if monday is None:
        return render("message.html", lang, 400, here="/staff/absences", errors=["bad_week"], staff=current.staff,
                      csrf=current.csrf_token, title=TITLE)
    return _page(request, lang, current, monday, done=done)


def _checked(form: dict[str, str], counsellor: int, today: date) -> AddExceptionAction | str:
    """The absence the form asks for, or the key of what is wrong with it."""
    if not ISO_DAY.match(form["first_day"]):
        return "absence.first_day_invalid"
    if form["last_day"] and not ISO_DAY.match(form["last_day"]):
        return "absence.last_day_invalid"
    try:
        first = date.fromisoformat(form["first_day"])
    except ValueError:
        return "absence.first_day_invalid"
    try:
        last = date.fromisoformat(form["last_day"]) if form["last_day"] else first
    except ValueError:
        return "absence.last_day_invalid"
    try:
        check_range(first, last, today)
    except InvalidStaffInput as wrong:
        return RANGE_TEXTS.get(wrong.code, "absence.too_far")
    if bool(form["start"]) != bool(form["end"]) or (form["start"] and first != last):
        return "absence.times_invalid"
    try:
        start, end = wall(form["start"] or None, "start"), wall(form["end"] or None, "end")
        given = checked_reason(form["reason"])
    except InvalidStaffInput as wrong:
        return "reason_invalid" if wrong.code == "invalid_reason" else "absence.times_invalid"
    if start is not None and end is not None and start >= end:
        return "absence.times_invalid"
    return AddExceptionAction(counsellor_id=counsellor, kind="absence", first_day=first, last_day=last,
                              start=start, end=end, reason=given)


@router.post("/staff/absences", response_model=None)
def add_absence(request: Request, csrf: Field = "", first_day: Field = "", last_day: Field = "", start: Field = "",
                end: Field = "", reason: Field = "", lang: Field = "") -> Response:
    lang = language(request, lang)
    current = form_session(request, lang, csrf)
    if isinstance(current, Response):
        return current
    counsellor = current.staff.counsellor_id
    if counsellor is None:
        return _no_calendar(request, lang, current)
    now, today, zone = local_today(request)
    form = {"first_day": first_day.strip()[:10], "last_day": last_day.strip()[:10], "start": start.strip()[:5],
            "end": end.strip()[:5], "reason": reason[:200]}
    monday = today - timedelta(days=today.weekday())
    checked = _checked(form, counsellor, today)
    if isinstance(checked, str):
        return _page(request, lang, current, monday, [checked], 422, form)
    try:
        added = desk(request).calendars.ask(current.staff, checked, ExceptionAnswer).data
    except SchedulerUnavailable:
        return _away(request, lang, current, "scheduler_late_write")
    except AlreadyCarriedOut:
        return redirect("/staff/absences", lang)
    except CalendarRefused as refusal:
        return _page(request, lang, current, monday, [known(f"refused.{refusal.code}")], 409, form)
    hit = sorted((appointment_row(b, lang, zone, now) for b in added.bookings_to_move), key=lambda r: (r.day, r.time))
    return render("absence_added.html", lang, here="/staff/absences", staff=current.staff, csrf=current.csrf_token,
                  notice="done.absence_added", hit=[(day_label(row.day, lang), row) for row in hit])


@router.post("/staff/absences/{exception_id}/remove", response_model=None)
def remove_absence(request: Request, exception_id: str, csrf: Field = "", lang: Field = "") -> Response:
    lang = language(request, lang)
    current = form_session(request, lang, csrf)
    if isinstance(current, Response):
        return current
    counsellor = current.staff.counsellor_id
    if counsellor is None:
        return _no_calendar(request, lang, current)
    _now, today, _zone = local_today(request)
    monday = today - timedelta(days=today.weekday())
    if not exception_id.isdigit() or not 1 <= int(exception_id) <= 2_000_000_000:
        return _page(request, lang, current, monday, ["refused.unknown_exception"], 404)
    try:
        desk(request).calendars.ask(current.staff, RemoveExceptionAction(
            counsellor_id=counsellor, exception_id=int(exception_id)), ExceptionAnswer)
    except SchedulerUnavailable:
        return _away(request, lang, current, "scheduler_late_write")
    except AlreadyCarriedOut:
        pass
    except CalendarRefused as refusal:
        status = 404 if refusal.code == "unknown_exception" else 409
        return _page(request, lang, current, monday, [known(f"refused.{refusal.code}")], status)
    return redirect("/staff/absences?done=removed", lang)
