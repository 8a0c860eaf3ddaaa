"""Sign in (`/login`), sign out (`/logout`) and change the password (`/staff/password`) as plain HTML forms.

Signing in is a chain of steps, each ending in either a session or the next step: the password step ends in a
session (`SessionStarted`) or, with two-factor sign-in on, in `CodeNeeded`: the pending sign-in goes into the API's
five-minute `lotse_staff_pending` cookie and `/login/code` asks for the code, which ends in `start_session` too. An
admin's session without two-factor sign-in starts on the set-up page (`two_factor_pages`), the only one it reaches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.api.staff_deps import COOKIE_NAME, PENDING_COOKIE_NAME, client_address, cookie_is_secure
from gateway.errors import Throttled
from gateway.staff.accounts import (
    PENDING_SIGN_IN,
    USED_CODE,
    WRONG_RECOVERY_CODE,
    CodeAwaited,
    SignedIn,
    StaffAccounts,
)
from gateway.staff.errors import CodeRequired, InvalidCredentials, SignInCodeRefused, WeakPassword
from gateway.web.catalogs import N_
from gateway.web.staff.access import (
    DEFAULT_RETURN,
    current_session,
    desk,
    enrolling_session,
    form_session,
    language,
    safe_return,
    same_origin,
    to_sign_in,
)
from gateway.web.staff.rendering import redirect, render, say

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]
# Longer input is refused as the API refuses it (LoginIn, CodeIn), without reading it further.
MAX_USERNAME, MAX_PASSWORD, MAX_CODE = 128, 1024, 32
ENROLMENT_PAGE = "/staff/two-factor"


@dataclass(frozen=True)
class SessionStarted:
    signed_in: SignedIn


@dataclass(frozen=True)
class CodeNeeded:
    awaited: CodeAwaited


PasswordStepResult = SessionStarted | CodeNeeded


def password_step(accounts: StaffAccounts, username: str, password: str, address: str) -> PasswordStepResult:
    """The first step: InvalidCredentials or Throttled (AccountLocked, TooManyAttempts) when it fails."""
    result = accounts.authenticate(username, password, address)
    return CodeNeeded(result) if isinstance(result, CodeAwaited) else SessionStarted(result)


def _secure(request: Request) -> bool:
    return cookie_is_secure(desk(request).settings.public_base_url)


def start_session(request: Request, signed_in: SignedIn, next_path: str, lang: str) -> RedirectResponse:
    """The session cookie exactly as POST /v1/staff/login sets it, and on to the page asked for (an admin who must
    set up two-factor sign-in: to its page, the only one such a session opens)."""
    response = redirect(ENROLMENT_PAGE if signed_in.must_enrol else safe_return(next_path), lang)
    response.set_cookie(COOKIE_NAME, signed_in.token, path="/", httponly=True, samesite="strict",
                        secure=_secure(request))
    if request.cookies.get(PENDING_COOKIE_NAME):
        response.delete_cookie(PENDING_COOKIE_NAME, path="/", httponly=True, samesite="strict",
                               secure=_secure(request))
    return response


def await_code(request: Request, awaited: CodeAwaited, next_path: str, lang: str) -> RedirectResponse:
    """The pending sign-in in the cookie POST /v1/staff/login sets (five minutes), and on to the code form."""
    back = safe_return(next_path)
    response = redirect("/login/code" if back == DEFAULT_RETURN else f"/login/code?next={quote(back, safe='')}",
                        lang)
    response.set_cookie(PENDING_COOKIE_NAME, awaited.token, path="/", httponly=True, samesite="strict",
                        secure=_secure(request), max_age=int(PENDING_SIGN_IN.total_seconds()))
    return response


def _forget_session(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=_secure(request))


def _login_page(request: Request, lang: str, status: int = 200, errors: list[str] | None = None,
                username: str = "", next_path: str = DEFAULT_RETURN, notice: str | None = None,
                headers: dict[str, str] | None = None, throttled: str | None = None) -> HTMLResponse:
    return render("login.html", lang, status, here="/login", errors=errors, username=username,
                  next_path=safe_return(next_path), notice=notice, headers=headers, throttled=throttled)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None, done: str | None = None) -> Response:
    lang = language(request)
    if current_session(request) is not None:
        return redirect(safe_return(next), lang)
    enrolling = enrolling_session(request)
    if enrolling is not None and enrolling.must_enrol:
        return redirect(ENROLMENT_PAGE, lang)
    notice = {"password": "password_changed", "out": "signed_out", "expired": "sign_in_expired",
              "reset": "password_set"}.get(done or "")
    return _login_page(request, lang, next_path=next or DEFAULT_RETURN, notice=notice)


@router.post("/login", response_model=None)
def sign_in(request: Request, username: Field = "", password: Field = "", next: Field = DEFAULT_RETURN,
            lang: Field = "") -> Response:
    lang = language(request, lang)
    if not same_origin(request):
        return render("message.html", lang, 403, here="/login", errors=["form_expired"], title=N_("Form expired"))
    username = username[:MAX_USERNAME]
    missing = [key for key, value in (("username_missing", username.strip()), ("password_missing", password))
               if not value]
    if missing or len(password) > MAX_PASSWORD:
        return _login_page(request, lang, 422, missing or ["wrong_credentials"], username, next)
    try:
        result = password_step(desk(request).accounts, username, password, client_address(request))
    except InvalidCredentials:
        return _login_page(request, lang, 401, ["wrong_credentials"], username, next)
    except Throttled as exc:
        minutes = max(1, math.ceil(exc.retry_after / 60))
        return _login_page(request, lang, exc.status, [], username, next,
                           headers={"Retry-After": str(exc.retry_after)},
                           throttled=say(lang, "throttled", minutes=minutes))
    if isinstance(result, CodeNeeded):
        return await_code(request, result.awaited, next, lang)
    return start_session(request, result.signed_in, next, lang)


def _code_page(request: Request, lang: str, next_path: str, status: int = 200, errors: list[str] | None = None,
               headers: dict[str, str] | None = None, throttled: str | None = None) -> HTMLResponse:
    return render("login_code.html", lang, status, here="/login/code", errors=errors,
                  next_path=safe_return(next_path), headers=headers, throttled=throttled)


def _sign_in_expired(request: Request, lang: str, next_path: str) -> RedirectResponse:
    back = safe_return(next_path)
    query = "" if back == DEFAULT_RETURN else f"&next={quote(back, safe='')}"
    response = redirect(f"/login?done=expired{query}", lang)
    response.delete_cookie(PENDING_COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


# The accounts' refusal of a code, as the page says it (their sentences are the JSON API's).
CODE_REFUSALS = {USED_CODE: "code_used", WRONG_RECOVERY_CODE: "recovery_code_wrong"}


@router.get("/login/code", response_class=HTMLResponse)
def code_form(request: Request, next: str | None = None) -> Response:
    lang = language(request)
    if current_session(request) is not None:
        return redirect(safe_return(next), lang)
    if not request.cookies.get(PENDING_COOKIE_NAME):
        return _sign_in_expired(request, lang, next or DEFAULT_RETURN)
    return _code_page(request, lang, next or DEFAULT_RETURN)


@router.post("/login/code", response_model=None)
def sign_in_with_code(request: Request, code: Field = "", next: Field = DEFAULT_RETURN, lang: Field = "") -> Response:
    """The second step: the pending cookie and a code from the app (or a recovery code) give the session."""
    lang = language(request, lang)
    if not same_origin(request):
        return render("message.html", lang, 403, here="/login/code", errors=["form_expired"],
                      title=N_("Form expired"))
    pending = request.cookies.get(PENDING_COOKIE_NAME)
    if not pending:
        return _sign_in_expired(request, lang, next)
    if not code.strip() or len(code) > MAX_CODE:
        return _code_page(request, lang, next, 422, ["code_missing" if not code.strip() else "code_wrong"])
    try:
        signed_in = desk(request).accounts.complete_sign_in(pending, code, client_address(request))
    except CodeRequired:
        return _sign_in_expired(request, lang, next)
    except SignInCodeRefused as exc:
        return _code_page(request, lang, next, 401, [CODE_REFUSALS.get(exc.message, "code_wrong")])
    except Throttled as exc:
        minutes = max(1, math.ceil(exc.retry_after / 60))
        return _code_page(request, lang, next, exc.status, headers={"Retry-After": str(exc.retry_after)},
                          throttled=say(lang, "throttled", minutes=minutes))
    return start_session(request, signed_in, next, lang)


@router.post("/logout", response_model=None)
def sign_out(request: Request, csrf: Field = "", lang: Field = "") -> Response:
    lang = language(request, lang)
    current = form_session(request, lang, csrf, enrolling=True)  # an admin setting up two-factor may sign out too
    if isinstance(current, Response):
        return current
    desk(request).accounts.sign_out(current, client_address(request))
    response = redirect("/login?done=out", lang)
    _forget_session(request, response)
    return response


def _password_page(request: Request, lang: str, status: int = 200, errors: list[str] | None = None,
                   headers: dict[str, str] | None = None, throttled: str | None = None) -> Response:
    current = current_session(request)
    if current is None:
        return to_sign_in(request)
    return render("password.html", lang, status, here="/staff/password", errors=errors, staff=current.staff,
                  csrf=current.csrf_token, headers=headers, throttled=throttled)


@router.get("/staff/password", response_class=HTMLResponse)
def password_form(request: Request) -> Response:
    return _password_page(request, language(request))


@router.post("/staff/password", response_model=None)
def change_password(request: Request, current_password: Field = "", new_password: Field = "",
                    new_password_again: Field = "", csrf: Field = "", lang: Field = "") -> Response:
    lang = language(request, lang)
    current = form_session(request, lang, csrf)
    if isinstance(current, Response):
        return current
    if new_password != new_password_again:
        return _password_page(request, lang, 422, ["new_mismatch"])
    if not current_password or len(current_password) > MAX_PASSWORD:
        return _password_page(request, lang, 422, ["current_wrong"])
    try:
        desk(request).accounts.change_password(current.staff.id, current_password, new_password,
                                               client_address(request))
    except InvalidCredentials:
        return _password_page(request, lang, 422, ["current_wrong"])
    except WeakPassword:
        return _password_page(request, lang, 422, ["new_weak"])
    except Throttled as exc:
        minutes = max(1, math.ceil(exc.retry_after / 60))
        return _password_page(request, lang, exc.status, headers={"Retry-After": str(exc.retry_after)},
                              throttled=say(lang, "throttled", minutes=minutes))
    # Every session of the account has ended, this one too: sign in again with the new password.
    response = redirect("/login?done=password", lang)
    _forget_session(request, response)
    return response
