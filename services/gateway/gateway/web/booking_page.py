"""The booking page `/`: choose a topic and place; then a day of the week (the first free time on top); then a time
of that day, grouped by place, at most MAX_CHOICES at once; book it with a phone number. Plain forms, no script.

The booking POST waits a few seconds (BOOKING_WAIT_SECONDS) for the scheduler's decision, so the client mostly sees
the answer at once; a page never reloads itself.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Header
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from gateway.api.deps import BookingsDep, ClientAddress, LimitsDep, SettingsDep, SlotsDep
from gateway.api.schemas import BookingIn
from gateway.bookings import Accepted, BookingService, NewBooking
from gateway.errors import (
    IdempotencyConflict,
    InvalidIdempotencyKey,
    InvalidPhone,
    InvalidSearch,
    RefusedPhone,
    SchedulerUnavailable,
    Throttled,
    TooManyAppointments,
)
from gateway.limits import ClientLimits
from gateway.metrics import BOOKINGS_ACCEPTED
from gateway.settings import GatewaySettings
from gateway.slots import SlotClient
from gateway.web.catalogs import gettext, language_names
from gateway.web.rendering import phone_hint, redirect, render
from gateway.web.slot_rows import (
    day_label,
    days_with_times,
    groups_by_place,
    local_day,
    parts_of_day,
    place_label,
    places_of,
    slot_row,
)
from gateway.web.text_choices import TextChoices, read_choices
from gateway.web.texts import FALLBACK_LANGUAGE, negotiate, page_language, text
from shared.contracts import ContactPreferences, Conversation, Topic
from shared.contracts.contacts import WEEKDAYS

router = APIRouter(include_in_schema=False)

PLACES_LOOKAHEAD_DAYS = 14
LAST_WEEK = 12  # the search window must end within the API's 90 days

Text = Annotated[str, Form()]
Lang = Annotated[str | None, Form()]
Ticked = Annotated[list[str], Form()]


def topic_of(value: str) -> Topic | None:
    return Topic(value) if value in Topic.__members__ else None


def conversation_of(value: str) -> Conversation | None:
    """The conversation chosen on the search form; a form without the field (a page from before the choice) means
    own_language, anything else is no choice at all (None: the form is shown again with the error at the field)."""
    if value in ("", "own_language"):
        return "own_language"
    return "mediator" if value == "mediator" else None


def place_id_of(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 < int(value) < 2**31 else None


def week_of(value: str) -> int:
    return min(int(value), LAST_WEEK) if value.isdigit() and len(value) < 4 else 0


def day_of(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def part_of(value: str) -> int:
    return int(value) if value.isdigit() and len(value) < 3 else 0


def today(bookings: BookingService, settings: GatewaySettings) -> date:
    return bookings.clock().astimezone(ZoneInfo(settings.timezone)).date()


def new_key() -> str:
    # A fresh key with every rendered form: pressing the button twice gives one booking, not two.
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class Search:
    lang: str
    topic: Topic | None
    place: int | None
    week: int
    day: date | None = None  # None: the choice of a day
    part: int = 0  # which screen of the day's times
    # The language of the conversation is a choice apart from the page's: with a mediator every counsellor's times
    # are offered (the talk is in German or English), and the texts still come in the page's language.
    conversation: Conversation = "own_language"

    def fields(self) -> dict[str, str]:
        return {"lang": self.lang, "topic": self.topic.value if self.topic else "",
                "place": str(self.place or ""), "week": str(self.week),
                "day": self.day.isoformat() if self.day else "", "part": str(self.part),
                "conversation": self.conversation}

    def spoken(self) -> str | None:
        """The language the counsellor must speak: none with a mediator (as GET /v1/slots?conversation=mediator)."""
        return None if self.conversation == "mediator" else self.lang


@dataclass(frozen=True)
class Searcher:
    """What a page needs to search: the scheduler's slots, and the search limit of the client's address."""

    slots: SlotClient
    limits: ClientLimits
    client: str


def throttle_key(refusal: Throttled) -> str:
    return "too_many_appointments" if isinstance(refusal, TooManyAppointments) else "too_many"


def results(search: Search, searcher: Searcher, bookings: BookingService, settings: GatewaySettings,
            errors: list[str] | None = None, chosen: str = "", status: int = 200,
            choices: TextChoices | None = None, retry_after: int | None = None) -> HTMLResponse:
    """The week's days with free times, or (`search.day`, or the day of the `chosen` time) that day's times."""
    zone = ZoneInfo(settings.timezone)
    first = today(bookings, settings) + timedelta(days=7 * search.week)
    context: dict[str, Any] = {
        "search": search.fields(), "week": search.week, "last_week": LAST_WEEK, "chosen": chosen,
        "key": new_key(), "place_label": "", "choices": choices or TextChoices(), "weekdays": WEEKDAYS,
        "week_label": text(search.lang, "week_label").format(day=day_label(first, search.lang)),
        "phone_hint": phone_hint(search.lang, settings.allowed_countries),
    }
    try:
        searcher.limits.take_search(searcher.client)
        found = searcher.slots.search(first, first + timedelta(days=6), topic=search.topic,
                                      language=search.spoken(), location_id=search.place)
    except Throttled as refusal:
        return render("days.html", search.lang, 429, errors=[*(errors or []), "too_many"], days=None,
                      retry_after=max(refusal.retry_after, retry_after or 0), **context)
    except SchedulerUnavailable:
        # A refusal for a limit stays the answer (429 and its wait); the calendar's silence is said as well.
        refused = status == 429
        return render("days.html", search.lang, 429 if refused else 503,
                      errors=[*(errors or []), "unavailable"] if refused else ["unavailable"], days=None,
                      retry_after=retry_after, **context)
    except InvalidSearch:
        found = []  # a week past the booking horizon: nothing to offer there

    if search.place is not None and found:
        context["place_label"] = place_label(found[0].location, found[0].location.kind, search.lang)
    by_id = {slot.slot_id: slot for slot in found}
    day = search.day
    if chosen in by_id:
        day = local_day(by_id[chosen], zone)  # the time picked (first free, or sent back with an error) shows
    parts = parts_of_day(found, day, zone) if day else []
    if day is None or not parts:
        ordered = sorted(found, key=lambda s: (s.start, s.slot_id))
        return render("days.html", search.lang, status, errors=errors or [],
                      days=days_with_times(found, search.lang, zone),
                      first_free=slot_row(ordered[0], search.lang, zone) if ordered else None,
                      retry_after=retry_after, **context)
    part = min(search.part, len(parts) - 1)
    if chosen in by_id:
        part = next(index for index, screen in enumerate(parts) if by_id[chosen] in screen)
    context["search"] = replace(search, day=day, part=part).fields()
    return render("times.html", search.lang, status, errors=errors or [], day_label=day_label(day, search.lang),
                  groups=groups_by_place(parts[part], search.lang, zone), part=part, last_part=len(parts) - 1,
                  retry_after=retry_after, **context)


def request_booking(bookings: BookingService, slot_id: str, phone: str, language: str, topic: Topic | None,
                    key: str, preferences: ContactPreferences | list[str], client: str,
                    conversation: Conversation = "own_language") -> Accepted | list[str]:
    """The booking, or the text keys of what is wrong with the form (the preferences may already be wrong).
    Throttled (a limit of gateway.limits) is left to the page: it answers 429 with Retry-After."""
    wrong = preferences if isinstance(preferences, list) else []
    try:
        body = BookingIn(slot_id=slot_id, phone=phone, language=language, topic=topic, conversation=conversation)
    except ValidationError as exc:
        fields = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        return [message for field, message in (("slot_id", "choose_slot"), ("phone", "invalid_phone"))
                if field in fields] + wrong or ["choose_slot"]
    if isinstance(preferences, list):
        return wrong
    try:
        accepted = bookings.request(
            NewBooking(slot_id=body.slot_id, phone=body.phone, language=body.language, channel="web",
                       topic=body.topic, preferences=preferences, conversation=body.conversation),
            key or None,
            client,
        )
    except RefusedPhone:
        return ["phone_not_accepted"]
    except InvalidPhone:
        return ["invalid_phone"]
    except (IdempotencyConflict, InvalidIdempotencyKey):
        return ["resubmitted"]
    if not accepted.replayed:
        BOOKINGS_ACCEPTED.inc()
    return accepted


# A waiting booking holds one of the server's request threads: when the scheduler is slow, at most this many wait,
# the others go straight to the page with the "check again" link, and searches keep their threads.
WAITING_BOOKINGS = threading.BoundedSemaphore(8)


def wait_for_decision(bookings: BookingService, token: str, seconds: float, *, interval: float = 0.1,
                      sleep: Callable[[float], None] = time.sleep,
                      waiters: threading.Semaphore = WAITING_BOOKINGS) -> str:
    """The booking's status once the scheduler decided, or "pending" after `seconds` (at once when too many are
    waiting already): the manage page then shows the decision, or a "check again" link, and never reloads itself."""
    if seconds <= 0 or not waiters.acquire(blocking=False):
        return "pending"
    try:
        deadline = time.monotonic() + seconds
        while True:
            status = bookings.view(token).status
            if status != "pending" or time.monotonic() >= deadline:
                return status
            sleep(min(interval, max(deadline - time.monotonic(), 0)))
    finally:
        waiters.release()


def language_choice(here: str) -> HTMLResponse:
    """Every language in its own name, for a visitor whose address and browser name none the pages speak."""
    choices = [(code, name, gettext(code, "Choose your language")) for code, name in language_names()]
    return render("languages.html", FALLBACK_LANGUAGE, here=here, choices=choices)


# --- the page ----------------------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def index(slots: SlotsDep, bookings: BookingsDep, settings: SettingsDep, limits: LimitsDep, client: ClientAddress,
          lang: str | None = None, accept_language: Annotated[str | None, Header()] = None) -> HTMLResponse:
    language = negotiate(lang, accept_language)
    if language is None:
        return language_choice("/")
    return search_form(Searcher(slots, limits, client), bookings, settings, language)


def search_form(searcher: Searcher, bookings: BookingService, settings: GatewaySettings, language: str,
                errors: list[str] | None = None, status: int = 200) -> HTMLResponse:
    """The first form: language, topic, place and the language of the conversation (`errors`: said at the field)."""
    first = today(bookings, settings)
    errors = list(errors or [])
    retry_after = None
    try:
        searcher.limits.take_search(searcher.client)
        # Every place, not only those with someone speaking the page's language: a mediator can come to any.
        offered = searcher.slots.search(first, first + timedelta(days=PLACES_LOOKAHEAD_DAYS - 1), language=None)
    except Throttled as refusal:
        offered, status, retry_after = [], 429, refusal.retry_after
        errors.append("too_many")
    except SchedulerUnavailable:
        # The form still shows (a search may work a moment later), but the status and Retry-After say it is not.
        offered, status = [], 503
        errors.append("unavailable")
    return render("index.html", language, status, errors=errors, topics=[topic.value for topic in Topic],
                  places=places_of(offered, language), retry_after=retry_after)


@router.post("/", response_class=HTMLResponse)
def search(slots: SlotsDep, bookings: BookingsDep, settings: SettingsDep, limits: LimitsDep, client: ClientAddress,
           accept_language: Annotated[str | None, Header()] = None, lang: Lang = None, topic: Text = "",
           place: Text = "", week: Text = "0", day: Text = "", part: Text = "0", first: Text = "",
           conversation: Text = "") -> HTMLResponse:
    """The days of a week; with `day`, that day's times (screen `part`); with `first`, the day of that time."""
    language = page_language(lang, accept_language)
    talk = conversation_of(conversation)
    if talk is None:
        return search_form(Searcher(slots, limits, client), bookings, settings, language,
                           errors=["choose_conversation"], status=422)
    found = Search(language, topic_of(topic), place_id_of(place), week_of(week), day_of(day), part_of(part), talk)
    return results(found, Searcher(slots, limits, client), bookings, settings, chosen=first[:200])


@router.post("/book", response_model=None)
def book(slots: SlotsDep, bookings: BookingsDep, settings: SettingsDep, limits: LimitsDep, client: ClientAddress,
         accept_language: Annotated[str | None, Header()] = None, lang: Lang = None, topic: Text = "",
         place: Text = "", week: Text = "0", day: Text = "", part: Text = "0", slot_id: Text = "", phone: Text = "",
         key: Text = "", reminders: Text = "", days: Ticked = [], start: Text = "",  # noqa: B006 - FastAPI copies it
         end: Text = "", conversation: Text = "") -> Response:
    language = page_language(lang, accept_language)
    searcher = Searcher(slots, limits, client)
    talk = conversation_of(conversation)
    if talk is None:
        # The choice is made on the first form: asked again there, nothing booked.
        return search_form(searcher, bookings, settings, language, errors=["choose_conversation"], status=422)
    chosen = Search(language, topic_of(topic), place_id_of(place), week_of(week), day_of(day), part_of(part), talk)
    choices, preferences = read_choices(reminders, days, start, end)
    try:
        outcome = request_booking(bookings, slot_id, phone, chosen.lang, chosen.topic, key, preferences, client,
                                  chosen.conversation)
    except Throttled as refusal:
        return results(chosen, searcher, bookings, settings, errors=[throttle_key(refusal)], chosen=slot_id,
                       status=429, choices=choices, retry_after=refusal.retry_after)
    if isinstance(outcome, Accepted):
        wait_for_decision(bookings, outcome.manage_token, settings.booking_wait_seconds)
        return redirect(f"/m/{outcome.manage_token}")
    return results(chosen, searcher, bookings, settings, errors=outcome, chosen=slot_id[:200], status=422,
                   choices=choices)
