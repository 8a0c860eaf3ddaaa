"""A counsellor's private calendar feed (`/staff/feed`): issue a new URL, shown on the answer page only (the
gateway keeps its hash), or revoke it. Issuing again replaces the URL, so a lost phone is dealt with either way."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from gateway.api.audit_trail import AuditTrail
from gateway.errors import SchedulerUnavailable
from gateway.staff.accounts import CurrentSession
from gateway.staff.audit import Action, Event, TargetKind
from gateway.staff_client import CalendarRefused
from gateway.web.catalogs import N_
from gateway.web.staff.access import current_session, desk, form_session, language, to_sign_in
from gateway.web.staff.calendar_pages import local_today
from gateway.web.staff.rendering import redirect, render
from shared.contracts.staff import WeekAction, WeekAnswer

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]
TITLE = N_("Calendar feed")
DONE = {"revoked": "done.feed_revoked", "none": "feed.none"}


def _message(request: Request, lang: str, current: CurrentSession, status: int, key: str) -> HTMLResponse:
    return render("message.html", lang, status, here="/staff/feed", errors=[key], staff=current.staff,
                  csrf=current.csrf_token, title=TITLE, headers={"Retry-After": "60"} if status == 503 else None)


@router.get("/staff/feed", response_class=HTMLResponse)
def feed(request: Request, done: str | None = None) -> Response:
    current = current_session(request)
    if current is None:
        return to_sign_in(request)
    lang = language(request)
    if current.staff.counsellor_id is None:
        return _message(request, lang, current, 404, "no_calendar")
    return render("feed.html", lang, here="/staff/feed", staff=current.staff, csrf=current.csrf_token,
                  notice=DONE.get(done or ""), feed_url=None)


def _checked(request: Request, csrf: str, lang: str) -> tuple[CurrentSession, int] | Response:
    """The session a feed form was posted in and its calendar, or the answer instead."""
    current = form_session(request, lang, csrf)
    if isinstance(current, Response):
        return current
    if current.staff.counsellor_id is None:
        return _message(request, lang, current, 404, "no_calendar")
    return current, current.staff.counsellor_id


@router.post("/staff/feed", response_model=None)
def issue(request: Request, csrf: Field = "", lang: Field = "") -> Response:
    lang = language(request, lang)
    checked = _checked(request, csrf, lang)
    if isinstance(checked, Response):
        return checked
    current, counsellor_id = checked
    try:  # the scheduler confirms the calendar exists and is this person's, as the API has it confirmed
        desk(request).calendars.ask(current.staff, WeekAction(counsellor_id=counsellor_id,
                                                              week_start=local_today(request)[1]), WeekAnswer)
    except SchedulerUnavailable:
        return _message(request, lang, current, 503, "scheduler_away")
    except CalendarRefused:
        return _message(request, lang, current, 404, "no_calendar")
    trail = AuditTrail.of(request, current.staff)
    token = desk(request).feeds.issue(counsellor_id, current.staff.id, audit=trail.within(
        Event(Action.FEED_ISSUED, target_kind=TargetKind.COUNSELLOR, target_id=counsellor_id)))
    url = f"{str(desk(request).settings.public_base_url).rstrip('/')}/v1/feeds/{token}.ics"
    return render("feed.html", lang, here="/staff/feed", staff=current.staff, csrf=current.csrf_token,
                  feed_url=url)


@router.post("/staff/feed/revoke", response_model=None)
def revoke(request: Request, csrf: Field = "", lang: Field = "") -> Response:
    lang = language(request, lang)
    checked = _checked(request, csrf, lang)
    if isinstance(checked, Response):
        return checked
    current, counsellor_id = checked
    revoked = desk(request).feeds.revoke(counsellor_id, audit=AuditTrail.of(request, current.staff).within(
        Event(Action.FEED_REVOKED, target_kind=TargetKind.COUNSELLOR, target_id=counsellor_id)))
    return redirect(f"/staff/feed?done={'revoked' if revoked else 'none'}", lang)
