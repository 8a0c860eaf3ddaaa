"""`/admin/health`: the system's health as a page (gateway.system_health, asked in process): queues, the dead
letters (what each is, never what it holds) with requeue and discard (discard asks first, on a page of its own),
the outbox backlog per service, the dispatcher's lag, beat's last tick and every role's heartbeat in words.

With the broker away the page still answers and says so: the heartbeats tell what each process last saw. A dead
letter may hold personal data (sealed), so its list, requeue and discard go to the staff audit log, as the API's do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from kombu.exceptions import OperationalError as BrokerUnreachable

from gateway.api.audit_trail import AuditTrail
from gateway.staff.accounts import CurrentSession
from gateway.staff.audit import Action, Event, TargetKind
from gateway.system_health.report import DeadLetterNotFound, DeadLetterOut, SystemHealth
from gateway.web.catalogs import N_
from gateway.web.staff.access import admin_form_session, admin_only, language
from gateway.web.staff.rendering import redirect, render

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]
PAGE = "/admin/health"
TITLE = N_("Health and dead letters")
LETTER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# What not reaching the broker raises here (kombu's error, or the socket's own).
AWAY = (BrokerUnreachable, ConnectionError, OSError)
DONE = {"requeue": "letter_requeued", "discard": "letter_discarded"}


def _health(request: Request) -> SystemHealth:
    health: SystemHealth = request.app.state.gateway.health
    return health


def _when(request: Request, lang: str) -> Callable[[datetime | None], str]:
    zone = ZoneInfo(request.app.state.gateway.settings.timezone)

    def when(moment: datetime | None) -> str:
        return "" if moment is None else format_datetime(moment.astimezone(zone), "short", locale=lang)
    return when


def _letters(request: Request, current: CurrentSession) -> list[DeadLetterOut]:
    """The dead letters (an audited read); raises one of AWAY when the broker cannot be asked."""
    with AuditTrail.of(request, current.staff).recording(Event(Action.DEAD_LETTERS_READ)):
        return _health(request).dead_letters()


def _page(request: Request, lang: str, current: CurrentSession, status: int = 200, errors: list[str] | None = None,
          notice: str | None = None) -> HTMLResponse:
    report = _health(request).report()
    letters: list[DeadLetterOut] | None = None
    if report.broker.reachable:
        try:
            letters = _letters(request, current)
        except AWAY:
            pass  # said on the page
    away = not report.broker.reachable or letters is None
    return render("health.html", lang, status, here=PAGE, errors=(["broker_away"] if away else []) + (errors or []),
                  staff=current.staff, csrf=current.csrf_token, notice=notice, report=report, letters=letters,
                  when=_when(request, lang))


@router.get(PAGE, response_class=HTMLResponse)
def health_page(request: Request, done: str | None = None) -> Response:
    lang = language(request)
    current, refused = admin_only(request, lang, TITLE)
    if current is None:
        return refused or Response(status_code=403)
    return _page(request, lang, current, notice=done if done in DONE.values() else None)


@router.get(PAGE + "/dead-letters/{letter_id}/discard", response_class=HTMLResponse)
def discard_question(request: Request, letter_id: str) -> Response:
    lang = language(request)
    current, refused = admin_only(request, lang, TITLE)
    if current is None:
        return refused or Response(status_code=403)
    if not LETTER_ID.match(letter_id):
        return _page(request, lang, current, 404, ["letter_gone"])
    try:
        letter = next((d for d in _letters(request, current) if d.id == letter_id), None)
    except AWAY:
        return _broker_away(request, lang, current)
    if letter is None:
        return _page(request, lang, current, 404, ["letter_gone"])
    return render("dead_letter_discard.html", lang, here=request.url.path, staff=current.staff,
                  csrf=current.csrf_token, letter=letter, when=_when(request, lang))


def _broker_away(request: Request, lang: str, current: CurrentSession) -> HTMLResponse:
    return render("message.html", lang, 503, here=request.url.path, errors=["broker_away_change"],
                  staff=current.staff, csrf=current.csrf_token, title=N_("Broker not available"),
                  headers={"Retry-After": "60"}, again=PAGE)


@router.post(PAGE + "/dead-letters/{letter_id}/{action}", response_model=None)
def change_letter(request: Request, letter_id: str, action: str, csrf: Field = "", lang: Field = "") -> Response:
    lang = language(request, lang)
    current = admin_form_session(request, lang, csrf, TITLE)
    if isinstance(current, Response):
        return current
    if action not in DONE or not LETTER_ID.match(letter_id):
        return _page(request, lang, current, 404, ["letter_gone"])
    health = _health(request)
    kind = Action.DEAD_LETTER_REQUEUED if action == "requeue" else Action.DEAD_LETTER_DISCARDED
    try:
        with AuditTrail.of(request, current.staff).recording(Event(kind, target_kind=TargetKind.DEAD_LETTER,
                                                                   target_id=letter_id)):
            if action == "requeue":
                health.requeue(letter_id)
            else:
                health.discard(letter_id)
    except DeadLetterNotFound:
        return _page(request, lang, current, 404, ["letter_gone"])
    except AWAY:
        return _broker_away(request, lang, current)
    return redirect(f"{PAGE}?done={DONE[action]}", lang)
