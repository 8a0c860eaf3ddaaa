"""The client's number of a phone appointment, shown once to its counsellor (`POST /staff/appointments/{id}/number`).

A deliberate click: a form with the session's CSRF token on the appointment's row, never a link, so nothing of it
is in the browser's history, and the answer is a page (no redirect) sent with no-store. Before the notifier is
asked, the scheduler is asked for the booking itself (a "booking" read, whatever week it lies in, so an appointment
moved to another week is still found): it must be this counsellor's (another counsellor's is a 403, an unknown
booking a 404), a phone appointment, and confirmed. Admins are refused: the issue gives the number to the counsellor
who calls, and an admin account that can read every client's number would be the one account worth stealing; an
admin who must call takes the counsellor's place in the calendar.

The number exists in this process only while the page is made: not in the database, a log line, a URL, a cookie or
the audit row. Each attempt is one audit row (who, when, which booking, outcome and a refusal's code).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from gateway.contact_numbers import NumberSource, NumberWithheld
from gateway.errors import SchedulerUnavailable
from gateway.staff.accounts import CurrentSession
from gateway.staff.audit import Action, Event, Outcome, TargetKind
from gateway.staff_client import CalendarRefused
from gateway.web.catalogs import N_
from gateway.web.slot_rows import day_label
from gateway.web.staff.access import desk, form_session, language
from gateway.web.staff.appointments import AppointmentRow, appointment_row
from gateway.web.staff.calendar_pages import local_today, week_of
from gateway.web.staff.rendering import render
from shared.contracts.staff import BookingAction, BookingAnswer, RefusalKind

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]
TITLE = N_("The client's number")
# What the page says instead of a number, and its status.
REFUSALS = {
    "not_the_counsellor": 403,
    "not_own_booking": 403,
    "not_phone": 409,
    "not_confirmed": 409,
    "no_contact": 404,
    "unreadable": 409,
    "unverified": 409,
    "refused": 409,
    "unknown_booking": 404,
    "scheduler_away": 503,
    "notifier_away": 503,
}


def _back(view: str, start: str, today: date) -> str:
    """The calendar view the form was on: where the page's links (and its language switch) lead."""
    if view == "week":
        monday = week_of(start, today) or today - timedelta(days=today.weekday())
        return f"/staff/week?start={monday}"
    return "/staff"


def _page(lang: str, current: CurrentSession, back: str, *, refusal: str | None = None,
          number: str | None = None, appointment: AppointmentRow | None = None) -> HTMLResponse:
    """The number with its appointment, or the sentence of a refusal; `back` is also the language switch's target,
    so switching shows the calendar again, not the number."""
    status = REFUSALS[refusal] if refusal else 200
    return render("reveal.html", lang, status, here=back, staff=current.staff, csrf=current.csrf_token, title=TITLE,
                  back=back, refusal=refusal, number=number, appointment=appointment,
                  day=day_label(appointment.day, lang) if appointment else "",
                  headers={"Retry-After": "60"} if status == 503 else None)


def _record(request: Request, current: CurrentSession, booking: UUID | None, outcome: Outcome,
            code: str | None) -> None:
    desk(request).accounts.audit.record(desk(request).actor(current.staff), Event(
        Action.CONTACT_NUMBER_SHOWN, outcome, TargetKind.BOOKING if booking else None, booking,
        {"code": code} if code else {}))


@router.post("/staff/appointments/{booking_id}/number", response_class=HTMLResponse)
def show_number(request: Request, booking_id: str, csrf: Field = "", view: Field = "day", start: Field = "",
                lang: Field = "") -> Response:
    lang = language(request, lang)
    current = form_session(request, lang, csrf)
    if isinstance(current, Response):
        return current
    staff = current.staff
    now, today, zone = local_today(request)
    back = _back(view, start, today)

    def refused(code: str, booking: UUID | None, outcome: Outcome = Outcome.REFUSED) -> HTMLResponse:
        _record(request, current, booking, outcome, code)
        return _page(lang, current, back, refusal=code)

    try:
        booking = UUID(booking_id)
    except ValueError:
        return refused("unknown_booking", None)
    if staff.counsellor_id is None or staff.is_admin:
        return refused("not_the_counsellor", booking)
    try:
        # A check before the look this page records itself: one audit row per attempt, not two.
        found = desk(request).calendars.ask(staff, BookingAction(
            booking_id=booking, timezone=desk(request).settings.timezone), BookingAnswer, audited=False).data.booking
    except SchedulerUnavailable:
        return refused("scheduler_away", booking, Outcome.UNANSWERED)
    except CalendarRefused as refusal:
        if refusal.kind is RefusalKind.UNKNOWN:
            return refused("unknown_booking", booking)
        if refusal.kind is RefusalKind.FORBIDDEN:
            return refused("not_own_booking", booking)
        return refused("scheduler_away", booking)  # the read failed in the scheduler: nothing to check against
    if found.location.kind != "phone":
        return refused("not_phone", booking)
    if found.status != "confirmed":
        return refused("not_confirmed", booking)
    numbers: NumberSource = request.app.state.gateway.contact_numbers
    try:
        number = numbers.number(booking)
    except SchedulerUnavailable:
        return refused("notifier_away", booking, Outcome.UNANSWERED)
    except NumberWithheld as withheld:
        return refused(withheld.code if withheld.code in REFUSALS else "refused", booking)
    _record(request, current, booking, Outcome.OK, None)
    log.info("a client's number was shown to its counsellor")
    return _page(lang, current, back, number=number, appointment=appointment_row(found, lang, zone, now))
