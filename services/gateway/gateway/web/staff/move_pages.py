"""Moving an appointment from the staff pages (`/staff/bookings/{id}/move`): the days with free times of a week,
then one day's times (at most MAX_CHOICES a screen), then the move, which the scheduler decides (it holds the new
time before it releases the old one). The client's move page's pieces (gateway.web.slot_rows) build the choices.

Whose appointment: the scheduler is asked for the booking itself (a "booking" read), so the page shows it now
whatever its week, and refuses another counsellor's booking (403) and an unknown one (404) before offering anything;
an admin may open any. Whose free times: a counsellor's own calendar only, since the scheduler refuses a
counsellor's move into a colleague's (scheduler.staff.changes.move); an admin's, any counsellor's. Looking around is
GET with the week, day and screen in the address (links, no script); only the move itself is a form with the
session's CSRF token.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from gateway.errors import InvalidSearch, SchedulerUnavailable
from gateway.staff.accounts import CurrentSession
from gateway.staff_client import AlreadyCarriedOut, CalendarRefused
from gateway.web.booking_page import LAST_WEEK
from gateway.web.catalogs import N_
from gateway.web.move_page import choice_day, choice_number
from gateway.web.slot_rows import (
    day_label,
    picker_screen,
)
from gateway.web.staff.access import current_session, desk, form_session, language, to_sign_in
from gateway.web.staff.appointments import AppointmentRow, appointment_row
from gateway.web.staff.calendar_pages import local_today, refusal_status
from gateway.web.staff.rendering import redirect, render
from gateway.web.staff.texts import known
from shared.contracts import Slot
from shared.contracts.common import SLOT_ID_PATTERN
from shared.contracts.staff import BookingAction, BookingAnswer, BookingChangeAnswer, MoveAction, RefusalKind

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]
TITLE = N_("Move appointment")


def _whose(request: Request, current: CurrentSession, booking: UUID, lang: str
           ) -> tuple[str | None, AppointmentRow]:
    """The counsellor whose free times are offered (None: any, for an admin) and the appointment as it is now,
    asked of the scheduler by its booking, whatever week it lies in; CalendarRefused (FORBIDDEN for another
    counsellor's, UNKNOWN for none) and SchedulerUnavailable go up."""
    staff = current.staff
    now, _today, zone = local_today(request)
    found = desk(request).calendars.ask(staff, BookingAction(
        booking_id=booking, timezone=desk(request).settings.timezone), BookingAnswer).data
    shown = appointment_row(found.booking, lang, zone, now)
    return (None if staff.counsellor_id is None else found.counsellor_alias), shown


def _picker(request: Request, lang: str, current: CurrentSession, booking_id: str, on: str, week: int,
            day: date | None, part: int, chosen: str = "", errors: list[str] | None = None,
            status: int = 200) -> HTMLResponse:
    base = f"/staff/bookings/{booking_id}/move"
    context: dict[str, Any] = {"staff": current.staff, "csrf": current.csrf_token, "title": TITLE,
                               "booking_id": booking_id}
    try:
        booking = UUID(booking_id)
    except ValueError:
        return render("message.html", lang, 404, here=base, errors=["refused.unknown_booking"], **context)
    _now, today, zone = local_today(request)
    shown_on = choice_day(on)
    first = today + timedelta(days=7 * week)

    def away() -> HTMLResponse:
        return render("message.html", lang, 503, here=base, errors=["scheduler_away"],
                      headers={"Retry-After": "60"}, **context)

    try:
        alias, appointment = _whose(request, current, booking, lang)
    except SchedulerUnavailable:
        return away()
    except CalendarRefused as refusal:
        if refusal.kind is RefusalKind.FORBIDDEN:
            return render("message.html", lang, 403, here=base, errors=["refused.forbidden"], **context)
        if refusal.kind is RefusalKind.UNKNOWN:
            return render("message.html", lang, 404, here=base, errors=["refused.unknown_booking"], **context)
        return away()  # a read refused otherwise failed in the scheduler: nothing to show, try again
    if appointment.state != "confirmed":
        return render("message.html", lang, 409, here=base, errors=["refused.not_confirmed"], **context)
    try:
        found: list[Slot] = desk(request).slots.search(first, first + timedelta(days=6), counsellor=alias,
                                                       for_booking=booking)
    except SchedulerUnavailable:
        return away()
    except InvalidSearch:
        found = []  # past the horizon, or the booking was cancelled meanwhile: nothing to offer
    keep = f"on={shown_on.isoformat()}&" if shown_on else ""
    context.update(
        here=f"{base}?{keep}week={week}" + (f"&day={day}" if day else ""), base=base, keep=keep, week=week,
        last_week=LAST_WEEK, on=shown_on.isoformat() if shown_on else "", current=appointment,
        current_day=day_label(appointment.day, lang),
        week_label=day_label(first, lang), groups=[], days=[], first_free=None, chosen=chosen,
        back=f"/staff/week?start={shown_on}" if shown_on else "/staff/week")
    context.update(picker_screen(found, day, part, chosen, lang, zone))
    return render("move.html", lang, status, errors=errors, **context)


@router.get("/staff/bookings/{booking_id}/move", response_class=HTMLResponse)
def move_choices(request: Request, booking_id: str, on: str = "", week: str = "0", day: str = "", part: str = "0",
                 first: str = "") -> Response:
    current = current_session(request)
    if current is None:
        return to_sign_in(request)
    return _picker(request, language(request), current, booking_id, on, choice_number(week, LAST_WEEK), choice_day(day),
                   choice_number(part, 99), chosen=first)


@router.post("/staff/bookings/{booking_id}/move", response_model=None)
def move(request: Request, booking_id: str, csrf: Field = "", slot_id: Field = "", on: Field = "",
         week: Field = "0", day: Field = "", part: Field = "0", lang: Field = "") -> Response:
    lang = language(request, lang)
    current = form_session(request, lang, csrf)
    if isinstance(current, Response):
        return current
    weeks, chosen_day, screen = choice_number(week, LAST_WEEK), choice_day(day), choice_number(part, 99)
    if not re.match(SLOT_ID_PATTERN, slot_id):
        return _picker(request, lang, current, booking_id, on, weeks, chosen_day, screen, errors=["choose_slot"],
                       status=422)
    try:
        booking = UUID(booking_id)
    except ValueError:
        return _picker(request, lang, current, booking_id, on, weeks, chosen_day, screen)  # its 404 page
    try:
        moved = desk(request).calendars.ask(current.staff, MoveAction(booking_id=booking, slot_id=slot_id),
                                            BookingChangeAnswer).data.booking
    except SchedulerUnavailable:
        return render("message.html", lang, 503, here=request.url.path, errors=["scheduler_late_write"],
                      staff=current.staff, csrf=current.csrf_token, title=TITLE, headers={"Retry-After": "60"})
    except AlreadyCarriedOut:
        return redirect("/staff/week?done=moved", lang)
    except CalendarRefused as refusal:
        return _picker(request, lang, current, booking_id, on, weeks, chosen_day, screen,
                       errors=[known(f"refused.{refusal.code}")], status=refusal_status(refusal))
    new_day = moved.start.astimezone(ZoneInfo(desk(request).settings.timezone)).date()
    return redirect(f"/staff/week?start={new_day}&done=moved", lang)
