"""Sign in (`/login`), sign out (`/logout`) and change the password (`/staff/password`) as plain HTML forms.

Signing in is a chain of steps, each ending in either a session or the next step: today the password is the only
step, and `password_step` returns `SessionStarted`. A second factor adds its own result (a code still needed, with
a short-lived pending token) to `PasswordStepResult`, a branch in `sign_in` that shows the code form, and a code
route that ends in `start_session` like the password step does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.api.staff_deps import COOKIE_NAME, client_address, cookie_is_secure
from gateway.errors import Throttled
from gateway.staff.accounts import SignedIn, StaffAccounts
from gateway.staff.errors import InvalidCredentials, WeakPassword
from gateway.web.catalogs import N_
from gateway.web.staff.access import (
    DEFAULT_RETURN,
    current_session,
    desk,
    form_refused,
    language,
    safe_return,
    same_origin,
    to_sign_in,
)
from gateway.web.staff.rendering import redirect, render, say

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]
# Longer input is refused as the API refuses it (LoginIn), without reading it further.
MAX_USERNAME, MAX_PASSWORD = 128, 1024


@dataclass(frozen=True)
class SessionStarted:
    signed_in: SignedIn


PasswordStepResult = SessionStarted


def password_step(accounts: StaffAccounts, username: str, password: str, address: str) -> PasswordStepResult:
    """The first step: InvalidCredentials or Throttled (AccountLocked, TooManyAttempts) when it fails."""
    return SessionStarted(accounts.authenticate(username, password, address))


def start_session(request: Request, signed_in: SignedIn, next_path: str, lang: str) -> RedirectResponse:
    """The session cookie exactly as POST /v1/staff/login sets it, and on to the page asked for."""
    response = redirect(safe_return(next_path), lang)
    response.set_cookie(COOKIE_NAME, signed_in.token, path="/", httponly=True, samesite="strict",
                        secure=cookie_is_secure(desk(request).settings.public_base_url))
    return response


def _forget_session(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict",
                           secure=cookie_is_secure(desk(request).settings.public_base_url))


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
    notice = {"password": "password_changed", "out": "signed_out"}.get(done or "")
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
    return start_session(request, result.signed_in, next, lang)


@router.post("/logout", response_model=None)
def sign_out(request: Request, csrf: Field = "", lang: Field = "") -> Response:
    lang = language(request, lang)
    current = current_session(request)
    if current is None:
        return to_sign_in(request)
    refused = form_refused(request, lang, current, csrf)
    if refused is not None:
        return refused
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
    current = current_session(request)
    if current is None:
        return to_sign_in(request)
    refused = form_refused(request, lang, current, csrf)
    if refused is not None:
        return refused
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
