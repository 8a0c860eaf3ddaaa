"""A counsellor's weekly hours (`/staff/hours`): per weekday up to ROWS_PER_DAY times from..to at a place, a
preview of the week they make (before anything is saved), and saving them, which replaces all weekly hours at once
(the scheduler checks the calendar they would make and saves nothing if it refuses).

The scheduler has no question that reads the weekly rules back, so the form starts from the hours its week answer
shows (`source == "rule"` windows of the next PREFILL_WEEKS weeks) and offers the places seen there: a rule limited
to some dates or kept on holidays is shown as plain weekly hours, which the page says before saving.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from gateway.errors import SchedulerUnavailable
from gateway.staff.accounts import CurrentSession
from gateway.staff_client import AlreadyCarriedOut, CalendarRefused
from gateway.web.catalogs import N_
from gateway.web.staff.access import current_session, desk, form_refused, language, to_sign_in
from gateway.web.staff.calendar_pages import local_today
from gateway.web.staff.rendering import redirect, render, say
from gateway.web.staff.texts import TEXTS
from shared.contracts.staff import RuleIn, RulesAnswer, SetRulesAction, StaffLocation, WeekAction, WeekAnswer

router = APIRouter(include_in_schema=False)
TITLE = N_("Weekly hours")
ROWS_PER_DAY = 2
PREFILL_WEEKS = 2


@dataclass
class Row:
    """One line of the form: a weekday's from..to at a place; all empty for none."""

    key: str  # "d0r1": weekday 0, second row
    weekday: int
    start: str = ""
    end: str = ""
    location: str = ""
    wrong: bool = False

    @property
    def empty(self) -> bool:
        return not (self.start or self.end or self.location)


def _valid_time(value: str) -> bool:
    return len(value) == 5 and value[2] == ":" and value[:2].isdigit() and value[3:].isdigit() \
        and int(value[:2]) < 24 and int(value[3:]) < 60


def _known(request: Request, current: CurrentSession, counsellor: int) -> tuple[list[Row], dict[str, StaffLocation]]:
    """The hours and places the coming weeks show, as form rows (each weekday filled up to ROWS_PER_DAY)."""
    _now, today, zone = local_today(request)
    monday = today - timedelta(days=today.weekday())
    seen: set[tuple[int, str, str, int]] = set()
    places: dict[str, StaffLocation] = {}
    for week in range(PREFILL_WEEKS):
        data = desk(request).calendars.ask(current.staff, WeekAction(
            counsellor_id=counsellor, week_start=monday + timedelta(days=7 * week),
            timezone=desk(request).settings.timezone), WeekAnswer).data
        for window in data.windows:
            places[str(window.location.location_id)] = window.location
            if window.source == "rule":
                opens, closes = window.start.astimezone(zone), window.end.astimezone(zone)
                seen.add((window.day.weekday(), f"{opens:%H:%M}", f"{closes:%H:%M}", window.location.location_id))
    by_day: dict[int, list[tuple[str, str, int]]] = {}
    for weekday, start, end, location in sorted(seen):
        by_day.setdefault(weekday, []).append((start, end, location))
    rows = []
    for weekday in range(7):
        given = by_day.get(weekday, [])[:ROWS_PER_DAY]
        for number in range(ROWS_PER_DAY):
            start, end, location = given[number] if number < len(given) else ("", "", 0)
            rows.append(Row(f"d{weekday}r{number}", weekday, start, end, str(location or "")))
    return rows, places


def _read(form: FormData, places: dict[str, StaffLocation]) -> list[Row]:
    rows = []
    for weekday in range(7):
        for number in range(ROWS_PER_DAY):
            key = f"d{weekday}r{number}"

            def value(field: str, key: str = key) -> str:
                given = form.get(f"{key}_{field}", "")
                return given.strip()[:8] if isinstance(given, str) else ""

            row = Row(key, weekday, value("start"), value("end"), value("location"))
            row.wrong = not row.empty and not (
                _valid_time(row.start) and _valid_time(row.end) and row.start < row.end and row.location in places)
            rows.append(row)
    return rows


def _mode(place: StaffLocation, lang: str) -> str:
    return say(lang, f"mode.{place.kind}") if f"mode.{place.kind}" in TEXTS else place.kind


def _preview(rows: list[Row], places: dict[str, StaffLocation], lang: str) -> list[tuple[str, list[str]]]:
    """The week the rows make: each weekday with its hours in order, or nothing."""
    week = []
    for weekday in range(7):
        hours = sorted((r.start, r.end, places[r.location]) for r in rows if r.weekday == weekday and not r.empty)
        week.append((say(lang, f"weekday.{weekday}"),
                     [f"{start}–{end}, {place.alias} ({_mode(place, lang)})" for start, end, place in hours]))
    return week


def _page(request: Request, lang: str, current: CurrentSession, rows: list[Row], places: dict[str, StaffLocation],
          errors: list[str] | None = None, status: int = 200, preview: bool = False,
          done: str | None = None) -> HTMLResponse:
    return render("hours.html", lang, status, here="/staff/hours", errors=errors, staff=current.staff,
                  csrf=current.csrf_token, rows=rows, weekdays=[say(lang, f"weekday.{n}") for n in range(7)],
                  places=[(key, f"{place.alias} ({_mode(place, lang)})")
                          for key, place in sorted(places.items(), key=lambda item: item[1].alias)],
                  preview=_preview(rows, places, lang) if preview else None,
                  notice="done.hours_saved" if done == "saved" else None)


def _unavailable(request: Request, lang: str, current: CurrentSession, status: int, key: str) -> HTMLResponse:
    return render("message.html", lang, status, here="/staff/hours", errors=[key], staff=current.staff,
                  csrf=current.csrf_token, title=TITLE, headers={"Retry-After": "60"} if status == 503 else None)


@router.get("/staff/hours", response_class=HTMLResponse)
def hours(request: Request, done: str | None = None) -> Response:
    current = current_session(request)
    if current is None:
        return to_sign_in(request)
    lang = language(request)
    counsellor = current.staff.counsellor_id
    if counsellor is None:
        return _unavailable(request, lang, current, 404, "no_calendar")
    try:
        rows, places = _known(request, current, counsellor)
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, 503, "scheduler_away")
    except CalendarRefused:
        return _unavailable(request, lang, current, 404, "no_calendar")
    return _page(request, lang, current, rows, places, done=done)


@router.post("/staff/hours", response_model=None)
async def change_hours(request: Request) -> Response:
    form = await request.form()
    given = {name: form.get(name, "") for name in ("csrf", "lang", "do")}
    csrf, chosen, do = (value if isinstance(value, str) else "" for value in given.values())
    return _change(request, form, csrf, chosen, "save" if do == "save" else "preview")


def _change(request: Request, form: FormData, csrf: str, chosen: str, do: Literal["save", "preview"]) -> Response:
    lang = language(request, chosen)
    current = current_session(request)
    if current is None:
        return to_sign_in(request)
    refused = form_refused(request, lang, current, csrf)
    if refused is not None:
        return refused
    counsellor = current.staff.counsellor_id
    if counsellor is None:
        return _unavailable(request, lang, current, 404, "no_calendar")
    try:
        _rows, places = _known(request, current, counsellor)
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, 503, "scheduler_away")
    except CalendarRefused:
        return _unavailable(request, lang, current, 404, "no_calendar")
    rows = _read(form, places)
    if any(row.wrong for row in rows):
        return _page(request, lang, current, rows, places, ["hours.invalid"], 422)
    if do == "preview":
        return _page(request, lang, current, rows, places, preview=True)
    rules = [RuleIn(location_id=int(r.location), weekday=r.weekday, start=r.start, end=r.end)
             for r in rows if not r.empty]
    try:
        desk(request).calendars.ask(current.staff, SetRulesAction(counsellor_id=counsellor, rules=rules),
                                    RulesAnswer)
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, 503, "scheduler_late_write")
    except AlreadyCarriedOut:
        pass
    except CalendarRefused as refusal:
        key = f"refused.{refusal.code}"
        return _page(request, lang, current, rows, places, [key if key in TEXTS else "hours.refused"], 422,
                     preview=True)
    return redirect("/staff/hours?done=saved", lang)
