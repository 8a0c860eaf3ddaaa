"""The manage page `/m/{token}`: the booking's state, another time after a refusal, the choices about texts,
cancelling. The token is the only key; a wrong one shows the same page as an expired one."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from gateway.api.deps import BookingsDep, ClientAddress, SettingsDep
from gateway.booking_views import BookingView
from gateway.bookings import Accepted, BookingService
from gateway.errors import BookingNotFound, NotCancellable, NotErasableYet, PreferencesNotChangeable, Throttled
from gateway.settings import GatewaySettings
from gateway.web.booking_page import (
    Lang,
    Text,
    Ticked,
    conversation_of,
    new_key,
    request_booking,
    throttle_key,
    wait_for_decision,
)
from gateway.web.rendering import phone_hint, redirect, render
from gateway.web.slot_rows import groups_by_day, slot_row
from gateway.web.text_choices import TextChoices, read_choices
from gateway.web.texts import TEXTS, page_language, supported, text
from shared.contracts import Slot
from shared.contracts.contacts import WEEKDAYS

router = APIRouter(include_in_schema=False)

def _slot(raw: dict[str, Any] | None) -> Slot | None:
    try:
        return Slot.model_validate(raw) if raw else None
    except ValidationError:
        return None


def _manage(token: str, view: BookingView, lang: str, bookings: BookingService, settings: GatewaySettings,
            errors: list[str] | None = None, status: int = 200, choices: TextChoices | None = None,
            saved: bool = False, retry_after: int | None = None) -> HTMLResponse:
    zone = ZoneInfo(settings.timezone)
    slot = _slot(view.slot)
    now = bookings.clock()
    alternatives = [s for s in (_slot(raw) for raw in view.alternatives) if s is not None and s.start > now]
    reason_key = f"reason.{view.reason}" if f"reason.{view.reason}" in TEXTS else "reason.other"
    reason = text(lang, reason_key) if view.status == "rejected" else ""
    return render(
        "manage_meeting.html", lang, status, errors=errors or [], here=f"/m/{token}", token=token,
        state=view.status, meeting=view.meeting if view.status == "confirmed" else None, move=view.move,
        mediator=view.conversation == "mediator",
        slot=slot_row(slot, lang, zone) if slot else None, reason=reason,
        groups=groups_by_day(alternatives, lang, zone), chosen="", key=new_key(), saved=saved,
        current=TextChoices.of(view.preferences).summary(lang), choices=choices or TextChoices.of(view.preferences),
        weekdays=WEEKDAYS, retry_after=retry_after, phone_hint=phone_hint(lang, settings.allowed_countries),
    )


def _not_found(lang: str) -> HTMLResponse:
    return render("not_found.html", lang, 404)


@router.get("/m/{token}", response_class=HTMLResponse)
def manage(token: str, bookings: BookingsDep, settings: SettingsDep, lang: str | None = None,
           saved: str | None = None, accept_language: Annotated[str | None, Header()] = None) -> HTMLResponse:
    try:
        view = bookings.view(token)
    except BookingNotFound:
        return _not_found(page_language(lang, accept_language))
    return _manage(token, view, page_language(lang, accept_language, view.language), bookings, settings,
                   saved=saved == "1")


@router.post("/m/{token}/preferences", response_model=None)
def change_preferences(token: str, bookings: BookingsDep, settings: SettingsDep,
                       accept_language: Annotated[str | None, Header()] = None, lang: Lang = None,
                       reminders: Text = "", days: Ticked = [], start: Text = "",  # noqa: B006 - FastAPI copies it
                       end: Text = "") -> Response:
    try:
        view = bookings.view(token)
    except BookingNotFound:
        return _not_found(page_language(lang, accept_language))
    language = page_language(lang, accept_language, view.language)
    choices, preferences = read_choices(reminders, days, start, end)
    if isinstance(preferences, list):
        return _manage(token, view, language, bookings, settings, errors=preferences, status=422, choices=choices)
    try:
        bookings.change_preferences(token, preferences)
    except PreferencesNotChangeable:
        return _manage(token, view, language, bookings, settings, errors=["prefs_not_changeable"], status=409)
    # Only a flag in the address: the choices themselves stay in the POST body and the database.
    return redirect(f"/m/{token}?saved=1" + (f"&lang={lang}" if supported(lang) else ""))


@router.post("/m/{token}/book", response_model=None)
def book_alternative(token: str, bookings: BookingsDep, settings: SettingsDep, client: ClientAddress,
                     accept_language: Annotated[str | None, Header()] = None, lang: Lang = None,
                     slot_id: Text = "", phone: Text = "", key: Text = "", reminders: Text = "",
                     days: Ticked = [], start: Text = "", end: Text = "") -> Response:  # noqa: B006 - FastAPI copies
    try:
        view = bookings.view(token)
    except BookingNotFound:
        return _not_found(page_language(lang, accept_language))
    # The alternatives were found for the first booking's language and conversation, so the new booking keeps both.
    choices, preferences = read_choices(reminders, days, start, end)
    try:
        outcome = request_booking(bookings, slot_id, phone, view.language, None, key, preferences, client,
                                  conversation_of(view.conversation) or "own_language")
    except Throttled as refusal:
        return _manage(token, view, page_language(lang, accept_language, view.language), bookings, settings,
                       errors=[throttle_key(refusal)], status=429, choices=choices, retry_after=refusal.retry_after)
    if isinstance(outcome, Accepted):
        wait_for_decision(bookings, outcome.manage_token, settings.booking_wait_seconds)
        return redirect(f"/m/{outcome.manage_token}")
    return _manage(token, view, page_language(lang, accept_language, view.language), bookings, settings,
                   errors=outcome, status=422, choices=choices)


@router.get("/m/{token}/cancel", response_model=None)
def confirm_cancel(token: str, bookings: BookingsDep, lang: str | None = None,
                   accept_language: Annotated[str | None, Header()] = None) -> Response:
    try:
        view = bookings.view(token)
    except BookingNotFound:
        return _not_found(page_language(lang, accept_language))
    if view.status not in ("pending", "confirmed"):
        return redirect(f"/m/{token}")
    return render("cancel.html", page_language(lang, accept_language, view.language), here=f"/m/{token}/cancel",
                  token=token)


@router.post("/m/{token}/cancel", response_model=None)
def cancel(token: str, bookings: BookingsDep, settings: SettingsDep, client: ClientAddress,
           accept_language: Annotated[str | None, Header()] = None, lang: Lang = None) -> Response:
    try:
        bookings.cancel(token, client)
    except Throttled as refusal:
        view = bookings.view(token)
        return _manage(token, view, page_language(lang, accept_language, view.language), bookings, settings,
                       errors=["too_many"], status=429, retry_after=refusal.retry_after)
    except BookingNotFound:
        return _not_found(page_language(lang, accept_language))
    except NotCancellable:
        view = bookings.view(token)
        return _manage(token, view, page_language(lang, accept_language, view.language), bookings, settings,
                       errors=["not_cancellable"], status=409)
    return redirect(f"/m/{token}")


@router.get("/m/{token}/erase", response_model=None)
def confirm_erase(token: str, bookings: BookingsDep, lang: str | None = None,
                  accept_language: Annotated[str | None, Header()] = None) -> Response:
    """The confirmation step before a client deletes their data."""
    try:
        view = bookings.view(token)
    except BookingNotFound:
        return _not_found(page_language(lang, accept_language))
    if view.status == "pending":
        return redirect(f"/m/{token}")
    return render("erase.html", page_language(lang, accept_language, view.language), here=f"/m/{token}/erase",
                  token=token)


@router.post("/m/{token}/erase", response_model=None)
def erase(token: str, bookings: BookingsDep, settings: SettingsDep,
          accept_language: Annotated[str | None, Header()] = None, lang: Lang = None) -> Response:
    """Delete the client's data; the answer says so once, and the link shows the not-found page from then on."""
    try:
        view = bookings.view(token)
        language = page_language(lang, accept_language, view.language)
        bookings.erase(token)
    except BookingNotFound:
        return _not_found(page_language(lang, accept_language))
    except NotErasableYet:
        return _manage(token, view, language, bookings, settings, errors=["not_erasable_yet"], status=409)
    return render("erased.html", language)
