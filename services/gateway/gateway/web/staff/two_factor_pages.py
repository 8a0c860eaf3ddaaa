"""`/staff/two-factor`: setting up two-factor sign-in (a QR code drawn by the gateway, the key to type, the first
code, then the ten recovery codes shown once), new recovery codes, and turning it off (counsellors only: admins
must keep it; a lost phone is another admin's reset on the accounts page).

An admin without it signs in to this page and reaches no other (`enrolling_session` sees that session, every
other page's `current_session` does not). Secrets and recovery codes appear only in the answer to a POST, no-store.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from gateway.api.staff_deps import client_address
from gateway.errors import Throttled
from gateway.staff.accounts import CurrentSession, Enrolment
from gateway.staff.errors import TwoFactorState, WrongCode
from gateway.web.staff.access import desk, enrolling_session, form_session, language, to_sign_in
from gateway.web.staff.rendering import redirect, render, say
from gateway.web.staff.signin import CODE_REFUSALS, ENROLMENT_PAGE, MAX_CODE

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]
PAGE = ENROLMENT_PAGE


def _page(request: Request, lang: str, current: CurrentSession, status: int = 200, errors: list[str] | None = None,
          enrolment: Enrolment | None = None, notice: str | None = None, headers: dict[str, str] | None = None,
          throttled: str | None = None) -> HTMLResponse:
    state = desk(request).accounts.two_factor_status(current.staff.id)
    must_enrol = state.required and not state.enabled
    secret = " ".join(enrolment.secret[i:i + 4] for i in range(0, len(enrolment.secret), 4)) if enrolment else ""
    # A session that must enrol gets no navigation: every link would lead back here.
    return render("two_factor.html", lang, status, here=PAGE, errors=errors,
                  staff=None if must_enrol else current.staff, csrf=current.csrf_token, state=state,
                  must_enrol=must_enrol, enrolment=enrolment, secret=secret,
                  notice=notice, headers=headers, throttled=throttled)


def _code_refused(request: Request, lang: str, current: CurrentSession, exc: WrongCode | Throttled) -> HTMLResponse:
    if isinstance(exc, Throttled):
        minutes = max(1, math.ceil(exc.retry_after / 60))
        return _page(request, lang, current, exc.status, headers={"Retry-After": str(exc.retry_after)},
                     throttled=say(lang, "throttled", minutes=minutes))
    return _page(request, lang, current, 422, [CODE_REFUSALS.get(exc.message, "code_wrong")])


@router.get(PAGE, response_class=HTMLResponse)
def two_factor(request: Request, done: str | None = None) -> Response:
    current = enrolling_session(request)
    if current is None:
        return to_sign_in(request)
    return _page(request, language(request), current,
                 notice={"off": "two_factor_off"}.get(done or ""))


@router.post(f"{PAGE}/start", response_model=None)
def start(request: Request, csrf: Field = "", lang: Field = "") -> Response:
    """A new secret (replacing one not yet confirmed) and its QR code; on only when its first code confirms it."""
    lang = language(request, lang)
    current = form_session(request, lang, csrf, enrolling=True)  # an admin's first set-up too
    if isinstance(current, Response):
        return current
    try:
        enrolment = desk(request).accounts.begin_enrolment(current.staff.id, client_address(request))
    except TwoFactorState:
        return redirect(PAGE, lang)  # on already (set up in another tab): the page says so
    return _page(request, lang, current, enrolment=enrolment)


@router.post(f"{PAGE}/confirm", response_model=None)
def confirm(request: Request, code: Field = "", csrf: Field = "", lang: Field = "") -> Response:
    lang = language(request, lang)
    current = form_session(request, lang, csrf, enrolling=True)  # an admin's first set-up too
    if isinstance(current, Response):
        return current
    if not code.strip() or len(code) > MAX_CODE:
        return _page(request, lang, current, 422, ["code_missing" if not code.strip() else "code_wrong"])
    try:
        codes = desk(request).accounts.confirm_enrolment(current.staff.id, code, client_address(request))
    except (WrongCode, Throttled) as exc:
        return _code_refused(request, lang, current, exc)
    except TwoFactorState:
        return _page(request, lang, current, 409, ["two_factor_not_started"])
    return _recovery_codes(lang, current, codes, "two_factor_on")


def _recovery_codes(lang: str, current: CurrentSession, codes: list[str], notice: str) -> HTMLResponse:
    return render("recovery_codes.html", lang, here=PAGE, staff=current.staff, csrf=current.csrf_token, codes=codes,
                  notice=notice, onward="/admin" if current.staff.is_admin else "/staff")


@router.post(f"{PAGE}/change", response_model=None)
def change(request: Request, code: Field = "", action: Field = "", csrf: Field = "", lang: Field = "") -> Response:
    """With a current code (or a recovery code): ten new recovery codes, or two-factor sign-in off."""
    lang = language(request, lang)
    current = form_session(request, lang, csrf, enrolling=True)  # an admin's first set-up too
    if isinstance(current, Response):
        return current
    accounts = desk(request).accounts
    if action == "off" and current.staff.is_admin:
        return _page(request, lang, current, 403, ["admins_keep_two_factor"])
    if action not in ("off", "renew"):
        return _page(request, lang, current, 400, ["form_expired"])
    if not code.strip() or len(code) > MAX_CODE:
        return _page(request, lang, current, 422, ["code_missing" if not code.strip() else "code_wrong"])
    try:
        if action == "renew":
            codes = accounts.new_recovery_codes(current.staff.id, code, client_address(request))
        else:
            accounts.disable_two_factor(current.staff.id, code, client_address(request))
    except (WrongCode, Throttled) as exc:
        return _code_refused(request, lang, current, exc)
    except TwoFactorState:
        return redirect(PAGE, lang)  # off already: the page says so
    if action == "renew":
        return _recovery_codes(lang, current, codes, "recovery_codes_new")
    return redirect(f"{PAGE}?done=off", lang)

