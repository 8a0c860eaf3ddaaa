"""A counsellor's weekly hours (`/staff/hours`): per weekday times from..to at a place (ROWS_PER_DAY lines at
least), a preview of the week they make (before anything is saved), and saving them, which replaces the weekly
rules at once (the scheduler checks the calendar they would make and saves nothing if it refuses).

The form starts from the rules as the scheduler stores them and offers the places the counsellor serves. A rule
limited to some dates or kept on holidays is not a line of this form: it is listed as kept, and saved again as it
is, so saving plain hours never widens or drops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from gateway.errors import SchedulerUnavailable
from gateway.staff.accounts import CurrentSession
from gateway.staff_client import AlreadyCarriedOut, CalendarRefused
from gateway.web.catalogs import N_
from gateway.web.slot_rows import day_label
from gateway.web.staff.access import current_session, desk, form_session, language, to_sign_in
from gateway.web.staff.rendering import named, redirect, render, say
from gateway.web.staff.texts import TEXTS
from shared.contracts.staff import RuleIn, RulesAction, RulesAnswer, SetRulesAction, StaffLocation

router = APIRouter(include_in_schema=False)
TITLE = N_("Weekly hours")
ROWS_PER_DAY = 2
MOST_ROWS_PER_DAY = 12  # far more than a day holds; a form with more lines is not ours


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


@dataclass(frozen=True)
class Stored:
    """The calendar's weekly rules for the form: plain ones as lines, the rest kept as they are."""

    rows: list[Row]
    places: dict[str, StaffLocation]
    kept: list[RuleIn]


def _valid_time(value: str) -> bool:
    return len(value) == 5 and value[2] == ":" and value[:2].isdigit() and value[3:].isdigit() \
        and int(value[:2]) < 24 and int(value[3:]) < 60


def _plain(rule: RuleIn) -> bool:
    return rule.valid_from is None and rule.valid_until is None and not rule.on_holidays


def _stored(request: Request, current: CurrentSession, counsellor: int) -> Stored:
    """The rules as stored, as form lines (each weekday ROWS_PER_DAY lines at least) and kept rules."""
    data = desk(request).calendars.ask(current.staff, RulesAction(counsellor_id=counsellor), RulesAnswer).data
    rules = [RuleIn(**rule.model_dump(exclude={"rule_id"})) for rule in data.rules]
    rows = []
    for weekday in range(7):
        given = sorted((r for r in rules if r.weekday == weekday and _plain(r)), key=lambda r: r.start)
        for number in range(max(ROWS_PER_DAY, len(given))):
            rule = given[number] if number < len(given) else None
            rows.append(Row(f"d{weekday}r{number}", weekday, rule.start if rule else "", rule.end if rule else "",
                            str(rule.location_id) if rule else ""))
    return Stored(rows, {str(place.location_id): place for place in data.locations},
                  [r for r in rules if not _plain(r)])


def _read(form: FormData, places: dict[str, StaffLocation]) -> list[Row]:
    rows = []
    for weekday in range(7):
        for number in range(MOST_ROWS_PER_DAY):
            key = f"d{weekday}r{number}"
            if f"{key}_start" not in form:
                break

            def value(field: str, key: str = key) -> str:
                given = form.get(f"{key}_{field}", "")
                return given.strip()[:8] if isinstance(given, str) else ""

            row = Row(key, weekday, value("start"), value("end"), value("location"))
            row.wrong = not row.empty and not (
                _valid_time(row.start) and _valid_time(row.end) and row.start < row.end and row.location in places)
            rows.append(row)
    return rows


def _mode(place: StaffLocation, lang: str) -> str:
    return named(lang, "mode", place.kind)


def _preview(rows: list[Row], places: dict[str, StaffLocation], lang: str) -> list[tuple[str, list[str]]]:
    """The week the rows make: each weekday with its hours in order, or nothing."""
    week = []
    for weekday in range(7):
        hours = sorted((r.start, r.end, places[r.location]) for r in rows if r.weekday == weekday and not r.empty)
        week.append((say(lang, f"weekday.{weekday}"),
                     [f"{start}–{end}, {place.alias} ({_mode(place, lang)})" for start, end, place in hours]))
    return week


def _kept(rule: RuleIn, places: dict[str, StaffLocation], lang: str) -> str:
    """A rule the form keeps as it is, in words: weekday, hours, place, first and last day, public holidays."""
    place = places.get(str(rule.location_id))
    words = [f"{say(lang, f'weekday.{rule.weekday}')} {rule.start}–{rule.end}, "
             + (f"{place.alias} ({_mode(place, lang)})" if place else str(rule.location_id))]
    if rule.valid_from:
        words.append(say(lang, "hours.from", day=day_label(rule.valid_from, lang)))
    if rule.valid_until:
        words.append(say(lang, "hours.until", day=day_label(rule.valid_until, lang)))
    if rule.on_holidays:
        words.append(say(lang, "hours.on_holidays"))
    return ", ".join(words)


def _page(request: Request, lang: str, current: CurrentSession, rows: list[Row], stored: Stored,
          errors: list[str] | None = None, status: int = 200, preview: bool = False,
          done: str | None = None) -> HTMLResponse:
    places = stored.places
    return render("hours.html", lang, status, here="/staff/hours", errors=errors, staff=current.staff,
                  csrf=current.csrf_token, rows=rows, weekdays=[say(lang, f"weekday.{n}") for n in range(7)],
                  places=[(key, f"{place.alias} ({_mode(place, lang)})")
                          for key, place in sorted(places.items(), key=lambda item: item[1].alias)],
                  kept=[_kept(rule, places, lang) for rule in stored.kept],
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
        stored = _stored(request, current, counsellor)
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, 503, "scheduler_away")
    except CalendarRefused:
        return _unavailable(request, lang, current, 404, "no_calendar")
    return _page(request, lang, current, stored.rows, stored, done=done)


@router.post("/staff/hours", response_model=None)
async def change_hours(request: Request) -> Response:
    form = await request.form()
    given = {name: form.get(name, "") for name in ("csrf", "lang", "do")}
    csrf, chosen, do = (value if isinstance(value, str) else "" for value in given.values())
    return _change(request, form, csrf, chosen, "save" if do == "save" else "preview")


def _change(request: Request, form: FormData, csrf: str, chosen: str, do: Literal["save", "preview"]) -> Response:
    lang = language(request, chosen)
    current = form_session(request, lang, csrf)
    if isinstance(current, Response):
        return current
    counsellor = current.staff.counsellor_id
    if counsellor is None:
        return _unavailable(request, lang, current, 404, "no_calendar")
    try:
        stored = _stored(request, current, counsellor)
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, 503, "scheduler_away")
    except CalendarRefused:
        return _unavailable(request, lang, current, 404, "no_calendar")
    rows = _read(form, stored.places)
    if any(row.wrong for row in rows):
        return _page(request, lang, current, rows, stored, ["hours.invalid"], 422)
    if do == "preview":
        return _page(request, lang, current, rows, stored, preview=True)
    rules = [RuleIn(location_id=int(r.location), weekday=r.weekday, start=r.start, end=r.end)
             for r in rows if not r.empty] + stored.kept
    try:
        desk(request).calendars.ask(current.staff, SetRulesAction(counsellor_id=counsellor, rules=rules),
                                    RulesAnswer)
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, 503, "scheduler_late_write")
    except AlreadyCarriedOut:
        pass
    except CalendarRefused as refusal:
        key = f"refused.{refusal.code}"
        return _page(request, lang, current, rows, stored, [key if key in TEXTS else "hours.refused"], 422,
                     preview=True)
    return redirect("/staff/hours?done=saved", lang)
