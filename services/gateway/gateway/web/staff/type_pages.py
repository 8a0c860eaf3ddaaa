"""`/admin/types`: the appointment types for admins: the list (topic in words, duration, ways of meeting, buffers,
minimum notice, horizon, reminders in words), a new type, a page per type to change it, and deactivating or
reactivating one. Everything goes to the scheduler through the audited client the API uses, so a page records what
the API records; the scheduler checks the calendar a change would make and saves nothing if it refuses.

Reminders are entered as an office worker thinks of them, up to five lines of a number and a unit ("2 hours"); the
page turns them into minutes and checks them with the contract's `reminder_policy`. The ranges of the other numbers
are the API's (`TYPE_LIMITS`), said in the page's own words next to the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

from babel.lists import format_list
from babel.units import format_unit
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import FormData

from gateway.api.staff.answers import STATUS_OF
from gateway.api.staff.setup import TYPE_LIMITS
from gateway.errors import SchedulerUnavailable
from gateway.staff.accounts import CurrentSession
from gateway.staff_client import AlreadyCarriedOut, CalendarRefused
from gateway.web.catalogs import N_
from gateway.web.staff.access import admin_form_session, admin_only, desk, language, to_sign_in
from gateway.web.staff.rendering import named, redirect, render, say
from gateway.web.staff.texts import TEXTS, known
from shared.contracts.staff import (
    MAX_REMINDERS,
    REMINDER_OFFSET_MAX,
    REMINDER_OFFSET_MIN,
    AppointmentTypeAnswer,
    AppointmentTypeData,
    CreateTypeAction,
    ModeName,
    TopicCode,
    TypesAction,
    TypesAnswer,
    UpdateTypeAction,
    reminder_policy,
)

router = APIRouter(include_in_schema=False)
PAGE = "/admin/types"
TITLE = N_("Appointment types and reminders")
MODES: tuple[str, ...] = get_args(ModeName)
_TOPIC = TypeAdapter(TopicCode)
# The units a reminder line offers, in minutes; a stored time is shown in the largest unit that divides it.
UNITS: dict[str, int] = {"days": 1440, "hours": 60, "minutes": 1}
UNIT_NAMES = {"days": N_("days"), "hours": N_("hours"), "minutes": N_("minutes")}
# The numbers of the form, with the text key said when one is not a whole number in the API's range.
NUMBERS: dict[str, str] = {
    "duration_minutes": "type.duration_invalid",
    "buffer_before_minutes": "type.buffer_before_invalid",
    "buffer_after_minutes": "type.buffer_after_invalid",
    "min_notice_minutes": "type.notice_invalid",
    "horizon_days": "type.horizon_invalid",
}
DONE = {"created": "type.created", "saved": "type.saved", "unchanged": "type.unchanged",
        "deactivated": "type.deactivated", "reactivated": "type.reactivated"}
MAX_DIGITS = 6  # far more than any range allows; a longer "number" is not worth reading


def _limits(key: str) -> dict[str, int]:
    """The numbers a field's sentence names."""
    for name, text in NUMBERS.items():
        if text == key:
            low, high, _what = TYPE_LIMITS[name]
            return {"low": low, "high": high}
    if key == "type.reminder_range":
        return {"low": REMINDER_OFFSET_MIN, "high": REMINDER_OFFSET_MAX // UNITS["days"]}
    return {}


@dataclass
class Entered:
    """The form's fields as typed (strings), so a refused form comes back as it was sent."""

    topic: str = ""
    duration_minutes: str = ""
    buffer_before_minutes: str = ""
    buffer_after_minutes: str = ""
    min_notice_minutes: str = ""
    horizon_days: str = ""
    modes: list[str] = field(default_factory=list)
    reminders: list[tuple[str, str]] = field(default_factory=list)  # (number, unit), MAX_REMINDERS lines
    active: bool = True

    @classmethod
    def new(cls) -> Entered:
        """A new type's form: the contract's defaults."""
        defaults = {name: CreateTypeAction.model_fields[name].default for name in NUMBERS if name != "duration_minutes"}
        offsets = CreateTypeAction.model_fields["reminder_offsets_minutes"].default
        numbers: dict[str, Any] = {name: str(value) for name, value in defaults.items()}
        return cls(**numbers, reminders=_lines(offsets))

    @classmethod
    def of(cls, kind: AppointmentTypeData) -> Entered:
        numbers: dict[str, Any] = {name: str(getattr(kind, name)) for name in NUMBERS}
        return cls(topic=kind.topic, **numbers, modes=list(kind.modes), reminders=_lines(kind.reminder_offsets_minutes),
                   active=kind.active)

    @classmethod
    def read(cls, form: FormData) -> Entered:
        def value(name: str, longest: int = 40) -> str:
            given = form.get(name, "")
            return given.strip()[:longest] if isinstance(given, str) else ""

        modes = [mode for mode in form.getlist("modes") if isinstance(mode, str)][:len(MODES)]
        reminders = [(value(f"reminder{n}", MAX_DIGITS + 1), value(f"reminder{n}_unit", 10))
                     for n in range(MAX_REMINDERS)]
        numbers: dict[str, Any] = {name: value(name, MAX_DIGITS + 1) for name in NUMBERS}
        return cls(topic=value("topic", 41), **numbers, modes=modes, reminders=reminders,
                   active=value("active") == "on")


def _lines(offsets: Any) -> list[tuple[str, str]]:
    """Reminder times in minutes as the form's lines, each in the largest unit that divides it; empty lines after."""
    lines = []
    for minutes in offsets:
        unit = next(name for name, size in UNITS.items() if minutes % size == 0)
        lines.append((str(minutes // UNITS[unit]), unit))
    return (lines + [("", "hours")] * MAX_REMINDERS)[:MAX_REMINDERS]


def _whole(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS else None


def _checked(entered: Entered) -> tuple[dict[str, Any], list[str]]:
    """The type's fields as the scheduler takes them, and the text keys of what is wrong (one per field)."""
    fields: dict[str, Any] = {}
    errors: list[str] = []
    try:
        fields["topic"] = _TOPIC.validate_python(entered.topic)
    except ValidationError:
        errors.append("type.topic_invalid")
    for name, key in NUMBERS.items():
        number, (low, high, _what) = _whole(getattr(entered, name)), TYPE_LIMITS[name]
        if number is None or not low <= number <= high:
            errors.append(key)
        else:
            fields[name] = number
    if not entered.modes or any(mode not in MODES for mode in entered.modes):
        errors.append("type.modes_invalid")
    else:
        fields["modes"] = sorted(set(entered.modes))
    offsets = []
    for typed, unit in entered.reminders:
        if not typed:
            continue
        amount = _whole(typed)
        if amount is None or unit not in UNITS:
            errors.append("type.reminder_number_invalid")
            break
        offsets.append(amount * UNITS[unit])
    else:
        try:
            fields["reminder_offsets_minutes"] = list(reminder_policy(offsets))
        except ValueError:
            # The contract's sentence names the limit in minutes; the page says it in its own words and units.
            out = any(not REMINDER_OFFSET_MIN <= minutes <= REMINDER_OFFSET_MAX for minutes in offsets)
            errors.append("type.reminder_range" if out else "type.reminder_twice")
    fields["active"] = entered.active
    return fields, errors


def _span(minutes: int, lang: str) -> str:
    """A number of minutes in words, "1 day 2 hours", in the page's language (Babel's units and plurals)."""
    days, rest = divmod(minutes, UNITS["days"])
    hours, rest = divmod(rest, UNITS["hours"])
    parts = [format_unit(number, f"duration-{unit}", length="long", locale=lang)
             for number, unit in ((days, "day"), (hours, "hour"), (rest, "minute")) if number]
    return " ".join(parts) or format_unit(0, "duration-minute", length="long", locale=lang)


def topic_words(topic: str, lang: str) -> str:
    """The topic's name where the pages have one ("Health (health)"), else its code."""
    key = f"topic.{topic}"
    return f"{say(lang, key)} ({topic})" if key in TEXTS else topic


@dataclass(frozen=True)
class TypeRow:
    kind: AppointmentTypeData
    topic: str
    duration: str
    modes: str
    before: str
    after: str
    notice: str
    horizon: str
    reminders: list[str]  # each time in words, earliest first; [] for none


def _row(kind: AppointmentTypeData, lang: str) -> TypeRow:
    modes = [named(lang, "mode", mode) for mode in kind.modes]
    return TypeRow(kind, topic_words(kind.topic, lang), _span(kind.duration_minutes, lang), ", ".join(modes),
                   _span(kind.buffer_before_minutes, lang), _span(kind.buffer_after_minutes, lang),
                   _span(kind.min_notice_minutes, lang),
                   format_unit(kind.horizon_days, "duration-day", length="long", locale=lang),
                   [_span(minutes, lang) for minutes in kind.reminder_offsets_minutes])


def reminders_in_words(row: TypeRow, lang: str) -> str:
    return format_list(row.reminders, locale=lang) if row.reminders else ""


def _types(request: Request, current: CurrentSession) -> list[AppointmentTypeData]:
    answer = desk(request).calendars.ask(current.staff, TypesAction(), TypesAnswer)
    return sorted(answer.data.types, key=lambda kind: (not kind.active, kind.topic, kind.type_id))


def _form_context(lang: str, entered: Entered) -> dict[str, Any]:
    return {"entered": entered, "modes": [(mode, say(lang, f"mode.{mode}")) for mode in MODES],
            "units": list(UNIT_NAMES.items()), "said": lambda key: say(lang, key, **_limits(key))}


def _list_page(request: Request, lang: str, current: CurrentSession, status: int = 200,
               errors: list[str] | None = None, notice: str | None = None,
               entered: Entered | None = None) -> HTMLResponse:
    try:
        kinds = _types(request, current)
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, "scheduler_away")
    rows = [_row(kind, lang) for kind in kinds]
    return render("types.html", lang, status, here=PAGE, errors=errors, staff=current.staff, csrf=current.csrf_token,
                  notice=notice, rows=rows, in_words=lambda row: reminders_in_words(row, lang),
                  **_form_context(lang, entered or Entered.new()))


def _edit_page(request: Request, lang: str, current: CurrentSession, kind: AppointmentTypeData, status: int = 200,
               errors: list[str] | None = None, entered: Entered | None = None) -> HTMLResponse:
    here = f"{PAGE}/{kind.type_id}"
    return render("type_edit.html", lang, status, here=here, errors=errors, staff=current.staff,
                  csrf=current.csrf_token, kind=kind, topic=topic_words(kind.topic, lang),
                  **_form_context(lang, entered or Entered.of(kind)))


def _unavailable(request: Request, lang: str, current: CurrentSession, key: str, status: int = 503) -> HTMLResponse:
    return render("message.html", lang, status, here=request.url.path, errors=[key], staff=current.staff,
                  csrf=current.csrf_token, title=TITLE, headers={"Retry-After": "60"} if status == 503 else None,
                  again=PAGE if status == 503 else None)


def _refusal(refused: CalendarRefused) -> tuple[str, int]:
    """The text key and status of a scheduler's refusal (a sentence of the page's own, never its English)."""
    return known(f"type_refused.{refused.code}"), STATUS_OF[refused.kind]


@router.get(PAGE, response_class=HTMLResponse)
def types_page(request: Request, done: str | None = None) -> Response:
    lang = language(request)
    current, refused = admin_only(request, lang, TITLE, here=PAGE)
    if current is None:
        return refused or to_sign_in(request)
    return _list_page(request, lang, current, notice=DONE.get(done or ""))


@router.post(PAGE, response_model=None)
async def create_type(request: Request) -> Response:
    form = await request.form()
    csrf, chosen = (value if isinstance(value, str) else "" for value in (form.get("csrf", ""), form.get("lang", "")))
    lang = language(request, chosen)
    current = admin_form_session(request, lang, csrf, TITLE, here=PAGE)
    if isinstance(current, Response):
        return current
    entered = Entered.read(form)
    fields, errors = _checked(entered)
    if errors:
        return _list_page(request, lang, current, 422, errors, entered=entered)
    try:
        desk(request).calendars.ask(current.staff, CreateTypeAction(**fields), AppointmentTypeAnswer)
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, "scheduler_late_write")
    except AlreadyCarriedOut:
        pass
    except CalendarRefused as refusal:
        key, status = _refusal(refusal)
        return _list_page(request, lang, current, status, [key], entered=entered)
    return redirect(f"{PAGE}?done=created", lang)


def _stored(request: Request, lang: str, current: CurrentSession,
            type_id: str) -> AppointmentTypeData | HTMLResponse:
    """The type the address names, or the page saying there is none (404) or the calendar is away (503)."""
    try:
        kinds = _types(request, current)
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, "scheduler_away")
    wanted = int(type_id) if type_id.isascii() and type_id.isdigit() and len(type_id) <= 10 else None
    found = next((kind for kind in kinds if kind.type_id == wanted), None)
    return found or _unavailable(request, lang, current, "type_refused.unknown_type", 404)


@router.get(PAGE + "/{type_id}", response_class=HTMLResponse)
def type_page(request: Request, type_id: str) -> Response:
    lang = language(request)
    current, refused = admin_only(request, lang, TITLE)
    if current is None:
        return refused or to_sign_in(request)
    kind = _stored(request, lang, current, type_id)
    return kind if isinstance(kind, Response) else _edit_page(request, lang, current, kind)


def _changes(kind: AppointmentTypeData, fields: dict[str, Any]) -> dict[str, Any]:
    """Only what differs from the stored type: the audit log names the fields that changed."""
    stored = {**kind.model_dump(), "modes": sorted(kind.modes)}
    return {name: value for name, value in fields.items() if stored[name] != value}


@router.post(PAGE + "/{type_id}", response_model=None)
async def change_type(request: Request, type_id: str) -> Response:
    form = await request.form()
    csrf, chosen = (value if isinstance(value, str) else "" for value in (form.get("csrf", ""), form.get("lang", "")))
    lang = language(request, chosen)
    current = admin_form_session(request, lang, csrf, TITLE)
    if isinstance(current, Response):
        return current
    kind = _stored(request, lang, current, type_id)
    if isinstance(kind, Response):
        return kind
    entered = Entered.read(form)
    fields, errors = _checked(entered)
    if errors:
        return _edit_page(request, lang, current, kind, 422, errors, entered)
    changes = _changes(kind, fields)
    if not changes:
        return redirect(f"{PAGE}?done=unchanged", lang)
    try:
        desk(request).calendars.ask(current.staff, UpdateTypeAction(type_id=kind.type_id, **changes),
                                    AppointmentTypeAnswer)
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, "scheduler_late_write")
    except AlreadyCarriedOut:
        pass
    except CalendarRefused as refusal:
        key, status = _refusal(refusal)
        return _edit_page(request, lang, current, kind, status, [key], entered)
    return redirect(f"{PAGE}?done=saved", lang)


@router.post(PAGE + "/{type_id}/{action}", response_model=None)
async def switch_type(request: Request, type_id: str, action: str) -> Response:
    """Deactivate (clients can no longer book it) or reactivate a type; the scheduler refuses a reactivation that
    would give a topic and way of meeting two active types."""
    form = await request.form()
    csrf, chosen = (value if isinstance(value, str) else "" for value in (form.get("csrf", ""), form.get("lang", "")))
    lang = language(request, chosen)
    current = admin_form_session(request, lang, csrf, TITLE, here=PAGE)
    if isinstance(current, Response):
        return current
    if action not in ("deactivate", "reactivate") or not type_id.isdigit() \
            or not 1 <= int(type_id) <= 2_000_000_000:
        return _unavailable(request, lang, current, "type_refused.unknown_type", 404)
    try:
        desk(request).calendars.ask(current.staff, UpdateTypeAction(type_id=int(type_id),
                                                                    active=action == "reactivate"),
                                    AppointmentTypeAnswer)
    except SchedulerUnavailable:
        return _unavailable(request, lang, current, "scheduler_late_write")
    except AlreadyCarriedOut:
        pass
    except CalendarRefused as refusal:
        key, status = _refusal(refusal)
        return _list_page(request, lang, current, status, [key])
    return redirect(f"{PAGE}?done={action}d", lang)
