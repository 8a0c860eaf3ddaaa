"""Moving an appointment from the manage page: `GET /m/{token}/move` shows the days with free times (the first free
time on top), `POST` with a day its times by place (at most MAX_CHOICES at once), `POST` with a time asks the
scheduler to move the booking (it holds the new time before it releases the old one, or keeps the old one) and goes
back to the manage page, which says what happened. Every choice travels in a POST body; plain forms, no script."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from gateway.api.deps import BookingsDep, ClientAddress, LimitsDep, SettingsDep, SlotsDep
from gateway.api.schemas import MoveIn
from gateway.booking_views import BookingView
from gateway.bookings import BookingService
from gateway.errors import BookingNotFound, InvalidSearch, NotMovable, SchedulerUnavailable, Throttled
from gateway.limits import ClientLimits
from gateway.settings import GatewaySettings
from gateway.slots import SlotClient
from gateway.web.booking_page import LAST_WEEK, Lang, Text, today
from gateway.web.rendering import redirect, render
from gateway.web.slot_rows import (
    day_label,
    picker_screen,
    slot_row,
)
from gateway.web.texts import page_language, supported, text
from shared.contracts import Slot

router = APIRouter(include_in_schema=False)


def choice_number(value: str, highest: int) -> int:
    """A week or screen number from a form or address: 0 when it is none, `highest` at most."""
    return min(max(int(value), 0), highest) if value.isdigit() and len(value) <= 3 else 0


def choice_day(value: str) -> date | None:
    """An ISO day from a form or address; None when it is none."""
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _current(view: BookingView, lang: str, zone: ZoneInfo) -> Any:
    try:
        return slot_row(Slot.model_validate(view.slot), lang, zone) if view.slot else None
    except ValidationError:
        return None


def _choices(token: str, view: BookingView, lang: str, week: int, day: date | None, part: int, chosen: str,
             slots: SlotClient, limits: ClientLimits, client: str, bookings: BookingService,
             settings: GatewaySettings, errors: list[str] | None = None, status: int = 200) -> HTMLResponse:
    zone = ZoneInfo(settings.timezone)
    first = today(bookings, settings) + timedelta(days=7 * week)
    context: dict[str, Any] = {
        "here": f"/m/{token}/move", "token": token, "week": week, "last_week": LAST_WEEK, "chosen": chosen,
        "current": _current(view, lang, zone), "groups": [], "days": None, "first_free": None,
        "week_label": text(lang, "week_label").format(day=day_label(first, lang)),
    }
    try:
        limits.take_search(client)
        found = slots.search(first, first + timedelta(days=6), for_booking=view.booking_id)
    except Throttled as refusal:
        return render("move.html", lang, 429, errors=["too_many"], retry_after=refusal.retry_after, **context)
    except SchedulerUnavailable:
        return render("move.html", lang, 503, errors=["unavailable"], **context)
    except InvalidSearch:
        found = []  # past the booking horizon, or the booking was cancelled meanwhile: nothing to offer
    context.update(picker_screen(found, day, part, chosen, lang, zone))
    return render("move.html", lang, status, errors=errors or [], **context)


def _view(bookings: BookingService, token: str) -> BookingView | None:
    try:
        return bookings.view(token)
    except BookingNotFound:
        return None


@router.get("/m/{token}/move", response_model=None)
def move_days(token: str, bookings: BookingsDep, slots: SlotsDep, limits: LimitsDep, settings: SettingsDep,
              client: ClientAddress, lang: str | None = None,
              accept_language: Annotated[str | None, Header()] = None) -> Response:
    view = _view(bookings, token)
    if view is None:
        return render("not_found.html", page_language(lang, accept_language), 404)
    if view.status != "confirmed":
        return redirect(f"/m/{token}")
    language = page_language(lang, accept_language, view.language)
    return _choices(token, view, language, 0, None, 0, "", slots, limits, client, bookings, settings)


@router.post("/m/{token}/move", response_model=None)
def move(token: str, bookings: BookingsDep, slots: SlotsDep, limits: LimitsDep, settings: SettingsDep,
         client: ClientAddress, accept_language: Annotated[str | None, Header()] = None, lang: Lang = None,
         week: Text = "0", day: Text = "", part: Text = "0", first: Text = "", slot_id: Text = "") -> Response:
    view = _view(bookings, token)
    if view is None:
        return render("not_found.html", page_language(lang, accept_language), 404)
    language = page_language(lang, accept_language, view.language)
    back = f"/m/{token}" + (f"?lang={lang}" if supported(lang) else "")
    if view.status != "confirmed":
        return redirect(back)
    weeks, chosen_day, screen = choice_number(week, LAST_WEEK), choice_day(day), choice_number(part, 99)
    if first:  # "first free time": its day opens with it chosen
        return _choices(token, view, language, weeks, None, 0, first, slots, limits, client, bookings, settings)
    if not slot_id:
        return _choices(token, view, language, weeks, chosen_day, screen, "", slots, limits, client, bookings,
                        settings)
    try:
        MoveIn(slot_id=slot_id)
        bookings.move(token, slot_id, client)
    except ValidationError:
        return _choices(token, view, language, weeks, chosen_day, screen, "", slots, limits, client, bookings,
                        settings, errors=["choose_slot"], status=422)
    except Throttled as refusal:
        return render("move.html", language, 429, errors=["too_many"], retry_after=refusal.retry_after,
                      here=f"/m/{token}/move", token=token, week=weeks, last_week=LAST_WEEK, chosen="",
                      current=_current(view, language, ZoneInfo(settings.timezone)), groups=[], days=None,
                      first_free=None, week_label="")
    except NotMovable:
        return redirect(back)
    _wait_for_move(bookings, token, settings.booking_wait_seconds)
    return redirect(back)


def _wait_for_move(bookings: BookingService, token: str, seconds: float, interval: float = 0.1) -> None:
    """Until the scheduler decided the move (or `seconds` passed): the manage page then shows the new time or why
    not, or says it is still being checked with a "check again" link; it never reloads itself."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        move = bookings.view(token).move
        if move is None or move.status != "pending":
            return
        time.sleep(interval)
