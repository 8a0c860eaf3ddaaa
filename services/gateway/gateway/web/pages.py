"""The booking page `/` and the manage page `/m/{token}`: server-rendered forms, no JavaScript, no third party.

The handlers call the same BookingService and SlotClient as the JSON API, so input is checked the same way.
Discretion: every choice travels in a POST body, never in a URL; titles say only "appointment"; no page is
cached, indexed or framed; the phone number is never written back into a page.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, time, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from fastapi import APIRouter, Form, Header
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import ValidationError

from gateway.api.deps import BookingsDep, SettingsDep, SlotsDep
from gateway.api.schemas import BookingIn
from gateway.booking_views import BookingView
from gateway.bookings import Accepted, BookingService, NewBooking
from gateway.errors import (
    BookingNotFound,
    IdempotencyConflict,
    InvalidIdempotencyKey,
    InvalidPhone,
    InvalidSearch,
    NotCancellable,
    PreferencesNotChangeable,
    SchedulerUnavailable,
)
from gateway.metrics import BOOKINGS_ACCEPTED
from gateway.slots import SlotClient
from gateway.web.texts import TEXTS, negotiate
from shared.contracts import ContactPreferences, Mode, PublicLocation, SafeWindow, Slot, Topic
from shared.contracts.contacts import WEEKDAYS
from shared.settings import Settings

router = APIRouter(include_in_schema=False)

WEB_DIR = Path(__file__).resolve().parent
PLACES_LOOKAHEAD_DAYS = 14
LAST_WEEK = 12  # the search window must end within the API's 90 days
PENDING_REFRESH_SECONDS = 2
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; img-src 'self' data:; "
                               "style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
}

Text = Annotated[str, Form()]
Lang = Annotated[str | None, Form()]
Ticked = Annotated[list[str], Form()]


@cache
def _templates() -> Environment:
    return Environment(loader=FileSystemLoader(WEB_DIR / "templates"), autoescape=True, undefined=StrictUndefined,
                       trim_blocks=True, lstrip_blocks=True)


def _render(template: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _templates().get_template(template).render(
        lang=lang, t=TEXTS[lang], languages=[(code, texts["language_name"]) for code, texts in TEXTS.items()],
        here=context.pop("here", "/"), errors=context.pop("errors", []), refresh=context.pop("refresh", None),
        **context,
    )
    headers = dict(PAGE_HEADERS)
    if status == 503:
        headers["Retry-After"] = "60"
    return HTMLResponse(html, status_code=status, headers=headers)


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303, headers=PAGE_HEADERS)


# --- what a slot looks like on a page -------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotRow:
    slot_id: str
    day: str
    time: str
    place: str


@dataclass(frozen=True)
class Day:
    label: str
    slots: list[SlotRow]


def _place(location: PublicLocation, mode: Mode, lang: str) -> str:
    texts = TEXTS[lang]
    if mode in (Mode.phone, Mode.video):
        return texts[f"mode.{mode.value}"]
    return f"{location.alias} ({texts[f'mode.{mode.value}']})"


def _row(slot: Slot, lang: str, zone: ZoneInfo) -> SlotRow:
    start = slot.start.astimezone(zone)
    return SlotRow(slot.slot_id, format_date(start.date(), TEXTS[lang]["date_pattern"], locale=lang),
                   start.strftime("%H:%M"), _place(slot.location, slot.mode, lang))


def _days(slots: list[Slot], lang: str, zone: ZoneInfo) -> list[Day]:
    days: dict[str, list[SlotRow]] = {}
    for slot in sorted(slots, key=lambda s: s.start):
        row = _row(slot, lang, zone)
        days.setdefault(row.day, []).append(row)
    return [Day(label, rows) for label, rows in days.items()]


def _places(slots: list[Slot], lang: str) -> list[tuple[int, str]]:
    seen: dict[int, tuple[bool, str]] = {}
    for slot in slots:
        remote = slot.location.kind in (Mode.phone, Mode.video)
        seen.setdefault(slot.location.location_id, (remote, _place(slot.location, slot.location.kind, lang)))
    return [(place_id, label) for place_id, (_remote, label) in sorted(seen.items(), key=lambda item: item[1])]


# --- reading form fields ---------------------------------------------------------------------------------------


def _topic(value: str) -> Topic | None:
    return Topic(value) if value in Topic.__members__ else None


def _place_id(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 < int(value) < 2**31 else None


def _week(value: str) -> int:
    return min(int(value), LAST_WEEK) if value.isdigit() and len(value) < 4 else 0


def _today(bookings: BookingService, settings: Settings) -> date:
    return bookings.clock().astimezone(ZoneInfo(settings.timezone)).date()


def _new_key() -> str:
    # A fresh key with every rendered form: pressing the button twice gives one booking, not two.
    return secrets.token_urlsafe(18)


# --- the client's choices about texts --------------------------------------------------------------------------

# The times the form offers; a window set through the API at another time is offered too, so it shows as stored.
HOURS = tuple(f"{hour:02d}:00" for hour in range(8, 22))


@dataclass(frozen=True)
class TextChoices:
    """The "text messages" fieldset as the client filled it in, or as stored: what a page shows again."""

    reminders: bool = True
    days: tuple[str, ...] = ()
    start: str = "10:00"
    end: str = "18:00"

    @classmethod
    def of(cls, preferences: ContactPreferences) -> TextChoices:
        window = preferences.safe_window
        if window is None:
            return cls(reminders=preferences.reminders)
        return cls(preferences.reminders, tuple(window.days), f"{window.start:%H:%M}", f"{window.end:%H:%M}")

    def hours(self) -> list[str]:
        return sorted({*HOURS, *(value for value in (self.start, self.end) if _clock_time(value) is not None)})

    def summary(self, lang: str) -> list[str]:
        texts = TEXTS[lang]
        lines = [texts["prefs_summary_on" if self.reminders else "prefs_summary_off"]]
        if self.days:
            days = ", ".join(texts[f"day.{day}"] for day in self.days)
            lines.append(texts["prefs_summary_window"].format(days=days, start=self.start, end=self.end))
        else:
            lines.append(texts["prefs_summary_any_time"])
        return lines


def _clock_time(value: str) -> time | None:
    try:
        return time.fromisoformat(value) if len(value) == 5 else None
    except ValueError:
        return None


def _read_choices(reminders: str, days: list[str], start: str, end: str
                  ) -> tuple[TextChoices, ContactPreferences | list[str]]:
    """What the form says, kept to show it again, and the preferences it means or the text keys of what is wrong.
    No day ticked means no window: texts may come on any day (the times are then not looked at)."""
    ticked = tuple(day for day in WEEKDAYS if day in days)
    choices = TextChoices(reminders != "no", ticked, start[:5], end[:5])
    if reminders not in ("", "yes", "no") or len(days) != len(ticked):
        return choices, ["prefs_invalid"]
    if not ticked:
        return choices, ContactPreferences(reminders=choices.reminders)
    begins, ends = _clock_time(start), _clock_time(end)
    if begins is None or ends is None:
        return choices, ["prefs_invalid"]
    if ends <= begins:
        return choices, ["prefs_window_order"]
    return choices, ContactPreferences(reminders=choices.reminders,
                                       safe_window=SafeWindow(days=ticked, start=begins, end=ends))


@dataclass(frozen=True)
class Search:
    lang: str
    topic: Topic | None
    place: int | None
    week: int

    def fields(self) -> dict[str, str]:
        return {"lang": self.lang, "topic": self.topic.value if self.topic else "",
                "place": str(self.place or ""), "week": str(self.week)}


def _results(search: Search, slots: SlotClient, bookings: BookingService, settings: Settings,
             errors: list[str] | None = None, chosen: str = "", status: int = 200,
             choices: TextChoices | None = None) -> HTMLResponse:
    zone = ZoneInfo(settings.timezone)
    first = _today(bookings, settings) + timedelta(days=7 * search.week)
    context: dict[str, Any] = {
        "search": search.fields(), "week": search.week, "last_week": LAST_WEEK, "chosen": chosen,
        "key": _new_key(), "place_label": "", "choices": choices or TextChoices(), "weekdays": WEEKDAYS,
        "week_label": TEXTS[search.lang]["week_label"].format(
            day=format_date(first, TEXTS[search.lang]["date_pattern"], locale=search.lang)),
    }
    try:
        found = slots.search(first, first + timedelta(days=6), topic=search.topic, language=search.lang,
                             location_id=search.place)
    except SchedulerUnavailable:
        return _render("results.html", search.lang, 503, errors=["unavailable"], days=None, **context)
    except InvalidSearch:
        found = []  # a week past the booking horizon: nothing to offer there

    if search.place is not None and found:
        context["place_label"] = _place(found[0].location, found[0].location.kind, search.lang)
    return _render("results.html", search.lang, status, errors=errors or [], days=_days(found, search.lang, zone),
                   **context)


def _request_booking(bookings: BookingService, slot_id: str, phone: str, language: str, topic: Topic | None,
                     key: str, preferences: ContactPreferences | list[str]) -> Accepted | list[str]:
    """The booking, or the text keys of what is wrong with the form (the preferences may already be wrong)."""
    wrong = preferences if isinstance(preferences, list) else []
    try:
        body = BookingIn(slot_id=slot_id, phone=phone, language=language, topic=topic)
    except ValidationError as exc:
        fields = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        return [message for field, message in (("slot_id", "choose_slot"), ("phone", "invalid_phone"))
                if field in fields] + wrong or ["choose_slot"]
    if isinstance(preferences, list):
        return wrong
    try:
        accepted = bookings.request(
            NewBooking(slot_id=body.slot_id, phone=body.phone, language=body.language, channel="web",
                       topic=body.topic, preferences=preferences),
            key or None,
        )
    except InvalidPhone:
        return ["invalid_phone"]
    except (IdempotencyConflict, InvalidIdempotencyKey):
        return ["resubmitted"]
    if not accepted.replayed:
        BOOKINGS_ACCEPTED.inc()
    return accepted


# --- the booking page ------------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def index(slots: SlotsDep, bookings: BookingsDep, settings: SettingsDep, lang: str | None = None,
          accept_language: Annotated[str | None, Header()] = None) -> HTMLResponse:
    language = negotiate(lang, accept_language)
    first = _today(bookings, settings)
    errors: list[str] = []
    try:
        offered = slots.search(first, first + timedelta(days=PLACES_LOOKAHEAD_DAYS - 1), language=language)
    except SchedulerUnavailable:
        offered, errors = [], ["unavailable"]
    return _render("index.html", language, errors=errors, topics=[topic.value for topic in Topic],
                   places=_places(offered, language))


@router.post("/", response_class=HTMLResponse)
def search(slots: SlotsDep, bookings: BookingsDep, settings: SettingsDep,
           accept_language: Annotated[str | None, Header()] = None, lang: Lang = None, topic: Text = "",
           place: Text = "", week: Text = "0") -> HTMLResponse:
    found = Search(negotiate(lang, accept_language), _topic(topic), _place_id(place), _week(week))
    return _results(found, slots, bookings, settings)


@router.post("/book", response_model=None)
def book(slots: SlotsDep, bookings: BookingsDep, settings: SettingsDep,
         accept_language: Annotated[str | None, Header()] = None, lang: Lang = None, topic: Text = "",
         place: Text = "", week: Text = "0", slot_id: Text = "", phone: Text = "",
         key: Text = "", reminders: Text = "", days: Ticked = [], start: Text = "",  # noqa: B006 - FastAPI copies it
         end: Text = "") -> Response:
    chosen = Search(negotiate(lang, accept_language), _topic(topic), _place_id(place), _week(week))
    choices, preferences = _read_choices(reminders, days, start, end)
    outcome = _request_booking(bookings, slot_id, phone, chosen.lang, chosen.topic, key, preferences)
    if isinstance(outcome, Accepted):
        return _redirect(f"/m/{outcome.manage_token}")
    return _results(chosen, slots, bookings, settings, errors=outcome, chosen=slot_id, status=422,
                    choices=choices)


# --- the manage page -------------------------------------------------------------------------------------------


def _slot(raw: dict[str, Any] | None) -> Slot | None:
    try:
        return Slot.model_validate(raw) if raw else None
    except ValidationError:
        return None


def _manage(token: str, view: BookingView, lang: str, bookings: BookingService, settings: Settings,
            errors: list[str] | None = None, status: int = 200, choices: TextChoices | None = None,
            saved: bool = False) -> HTMLResponse:
    zone = ZoneInfo(settings.timezone)
    slot = _slot(view.slot)
    now = bookings.clock()
    alternatives = [s for s in (_slot(raw) for raw in view.alternatives) if s is not None and s.start > now]
    texts = TEXTS[lang]
    reason = texts.get(f"reason.{view.reason}", texts["reason.other"]) if view.status == "rejected" else ""
    return _render(
        "manage.html", lang, status, errors=errors or [], here=f"/m/{token}", token=token, state=view.status,
        refresh=PENDING_REFRESH_SECONDS if view.status == "pending" else None,
        slot=_row(slot, lang, zone) if slot else None, reason=reason,
        days=_days(alternatives, lang, zone), chosen="", key=_new_key(), saved=saved,
        current=TextChoices.of(view.preferences).summary(lang), choices=choices or TextChoices.of(view.preferences),
        weekdays=WEEKDAYS,
    )


def _not_found(lang: str) -> HTMLResponse:
    return _render("not_found.html", lang, 404)


@router.get("/m/{token}", response_class=HTMLResponse)
def manage(token: str, bookings: BookingsDep, settings: SettingsDep, lang: str | None = None,
           saved: str | None = None, accept_language: Annotated[str | None, Header()] = None) -> HTMLResponse:
    try:
        view = bookings.view(token)
    except BookingNotFound:
        return _not_found(negotiate(lang, accept_language))
    return _manage(token, view, negotiate(lang, accept_language, view.language), bookings, settings,
                   saved=saved == "1")


@router.post("/m/{token}/preferences", response_model=None)
def change_preferences(token: str, bookings: BookingsDep, settings: SettingsDep,
                       accept_language: Annotated[str | None, Header()] = None, lang: Lang = None,
                       reminders: Text = "", days: Ticked = [], start: Text = "",  # noqa: B006 - FastAPI copies it
                       end: Text = "") -> Response:
    try:
        view = bookings.view(token)
    except BookingNotFound:
        return _not_found(negotiate(lang, accept_language))
    language = negotiate(lang, accept_language, view.language)
    choices, preferences = _read_choices(reminders, days, start, end)
    if isinstance(preferences, list):
        return _manage(token, view, language, bookings, settings, errors=preferences, status=422, choices=choices)
    try:
        bookings.change_preferences(token, preferences)
    except PreferencesNotChangeable:
        return _manage(token, view, language, bookings, settings, errors=["prefs_not_changeable"], status=409)
    # Only a flag in the address: the choices themselves stay in the POST body and the database.
    return _redirect(f"/m/{token}?saved=1" + (f"&lang={lang}" if lang and lang in TEXTS else ""))


@router.post("/m/{token}/book", response_model=None)
def book_alternative(token: str, bookings: BookingsDep, settings: SettingsDep,
                     accept_language: Annotated[str | None, Header()] = None, lang: Lang = None,
                     slot_id: Text = "", phone: Text = "", key: Text = "", reminders: Text = "",
                     days: Ticked = [], start: Text = "", end: Text = "") -> Response:  # noqa: B006 - FastAPI copies
    try:
        view = bookings.view(token)
    except BookingNotFound:
        return _not_found(negotiate(lang, accept_language))
    # The alternatives were found for the first booking's language, so the new booking keeps it.
    choices, preferences = _read_choices(reminders, days, start, end)
    outcome = _request_booking(bookings, slot_id, phone, view.language, None, key, preferences)
    if isinstance(outcome, Accepted):
        return _redirect(f"/m/{outcome.manage_token}")
    return _manage(token, view, negotiate(lang, accept_language, view.language), bookings, settings,
                   errors=outcome, status=422, choices=choices)


@router.get("/m/{token}/cancel", response_model=None)
def confirm_cancel(token: str, bookings: BookingsDep, lang: str | None = None,
                   accept_language: Annotated[str | None, Header()] = None) -> Response:
    try:
        view = bookings.view(token)
    except BookingNotFound:
        return _not_found(negotiate(lang, accept_language))
    if view.status not in ("pending", "confirmed"):
        return _redirect(f"/m/{token}")
    return _render("cancel.html", negotiate(lang, accept_language, view.language), here=f"/m/{token}/cancel",
                   token=token)


@router.post("/m/{token}/cancel", response_model=None)
def cancel(token: str, bookings: BookingsDep, settings: SettingsDep,
           accept_language: Annotated[str | None, Header()] = None, lang: Lang = None) -> Response:
    try:
        bookings.cancel(token)
    except BookingNotFound:
        return _not_found(negotiate(lang, accept_language))
    except NotCancellable:
        view = bookings.view(token)
        return _manage(token, view, negotiate(lang, accept_language, view.language), bookings, settings,
                       errors=["not_cancellable"], status=409)
    return _redirect(f"/m/{token}")


@cache
def _stylesheet() -> bytes:
    return (WEB_DIR / "static" / "site.css").read_bytes()


@router.get("/site.css")
def stylesheet() -> Response:
    return Response(_stylesheet(), media_type="text/css", headers=PAGE_HEADERS)
