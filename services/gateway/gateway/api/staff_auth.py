"""Staff sign-in: POST /v1/staff/login (and /login/code, its second step with two-factor sign-in on), POST
/v1/staff/logout, GET /v1/staff/me, POST /v1/staff/password, POST /v1/staff/password-reset (a one-time link's).

The session travels only in the `lotse_staff` cookie (HttpOnly, SameSite=Strict, Path=/, Secure unless the gateway
runs on loopback over http; no Max-Age, so it ends with the browser, and the server ends it after 12 h or an idle
hour). Writes made with the cookie need the header X-Lotse-CSRF with the `csrf_token` of the login answer.
With two-factor sign-in on, the password's answer is 202 and the cookie `lotse_staff_pending` (same attributes,
five minutes): no session yet, only the right to send the code once it is right.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Cookie, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.deps import SettingsDep
from gateway.api.errors import problem
from gateway.api.schemas import problems
from gateway.api.staff_deps import (
    COOKIE_NAME,
    PENDING_COOKIE_NAME,
    CurrentStaffSession,
    EnrollingStaffSession,
    StaffAccountsDep,
    client_address,
    cookie_is_secure,
    no_store,
)
from gateway.errors import Throttled
from gateway.staff.accounts import CodeAwaited, SignedIn, Staff
from gateway.staff.errors import CodeRequired

router = APIRouter(prefix="/v1/staff", tags=["staff"])

_ERRORS = problems(400, 401, 403, 413, 422, 503)


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=32, description="the authenticator app's 6 digits, or a recovery code")


class PasswordResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=128, description="the token of the link an admin made")
    new_password: str = Field(min_length=1, max_length=1024)


class CodeAwaitedOut(BaseModel):
    """The password was right; send the code to /v1/staff/login/code before `expires_at`."""

    code_required: bool = True
    expires_at: datetime


class StaffOut(BaseModel):
    id: int
    name: str
    role: str
    counsellor_id: int | None

    @classmethod
    def of(cls, staff: Staff) -> StaffOut:
        return cls(id=staff.id, name=staff.name, role=staff.role, counsellor_id=staff.counsellor_id)


class StaffSessionOut(BaseModel):
    staff: StaffOut
    csrf_token: str
    # An admin without two-factor sign-in: this session may only set it up (/v1/staff/two-factor/...).
    two_factor_enrolment_required: bool = False


def _forget_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", secure=secure, httponly=True, samesite="strict")


def _signed_in(signed_in: SignedIn, response: Response, secure: bool) -> StaffSessionOut:
    # No Max-Age: the cookie ends with the browser session; the server ends the session after 12 h in any case.
    response.set_cookie(COOKIE_NAME, signed_in.token, path="/", secure=secure, httponly=True, samesite="strict")
    no_store(response)
    return StaffSessionOut(staff=StaffOut.of(signed_in.staff), csrf_token=signed_in.csrf_token,
                           two_factor_enrolment_required=signed_in.must_enrol)


@router.post("/login", response_model=StaffSessionOut, responses={
    **_ERRORS, **problems(423, 429),
    202: {"model": CodeAwaitedOut, "description": "the password was right; two-factor sign-in asks for the code"}})
def login(body: LoginIn, request: Request, response: Response, accounts: StaffAccountsDep,
          settings: SettingsDep) -> StaffSessionOut | JSONResponse:
    try:
        result = accounts.authenticate(body.username, body.password, client_address(request))
    except Throttled as exc:
        return problem(exc.status, exc.code, exc.message,
                       {"Retry-After": str(exc.retry_after), "Cache-Control": "no-store"})
    secure = cookie_is_secure(settings.public_base_url)
    if isinstance(result, CodeAwaited):
        awaited = JSONResponse(CodeAwaitedOut(expires_at=result.expires_at).model_dump(mode="json"),
                               status_code=202, headers={"Cache-Control": "no-store"})
        awaited.set_cookie(PENDING_COOKIE_NAME, result.token, path="/", secure=secure, httponly=True,
                           samesite="strict")
        return awaited
    return _signed_in(result, response, secure)


@router.post("/login/code", response_model=StaffSessionOut, responses={**_ERRORS, **problems(423, 429)})
def login_code(body: CodeIn, request: Request, response: Response, accounts: StaffAccountsDep,
               settings: SettingsDep,
               pending: Annotated[str | None, Cookie(alias=PENDING_COOKIE_NAME, include_in_schema=False)] = None,
               ) -> StaffSessionOut | JSONResponse:
    """The second step of a sign-in with two-factor sign-in: the code for the pending sign-in of the password step.
    401 `sign_in_expired` without one (or after five minutes), 401 `wrong_code` for a wrong or used code."""
    secure = cookie_is_secure(settings.public_base_url)
    try:
        if not pending:
            raise CodeRequired()
        signed_in = accounts.complete_sign_in(pending, body.code, client_address(request))
    except Throttled as exc:
        return problem(exc.status, exc.code, exc.message,
                       {"Retry-After": str(exc.retry_after), "Cache-Control": "no-store"})
    except CodeRequired as exc:
        refused = problem(exc.status, exc.code, exc.message, {"Cache-Control": "no-store"})
        refused.delete_cookie(PENDING_COOKIE_NAME, path="/", secure=secure, httponly=True, samesite="strict")
        return refused
    response.delete_cookie(PENDING_COOKIE_NAME, path="/", secure=secure, httponly=True, samesite="strict")
    return _signed_in(signed_in, response, secure)


@router.post("/logout", status_code=204, responses=_ERRORS)
def logout(current: EnrollingStaffSession, request: Request, accounts: StaffAccountsDep,
           settings: SettingsDep) -> Response:
    accounts.sign_out(current, client_address(request))
    response = Response(status_code=204)
    _forget_cookie(response, cookie_is_secure(settings.public_base_url))
    return response


@router.get("/me", responses=_ERRORS)
def me(current: EnrollingStaffSession, response: Response) -> StaffSessionOut:
    no_store(response)
    return StaffSessionOut(staff=StaffOut.of(current.staff), csrf_token=current.csrf_token,
                           two_factor_enrolment_required=current.must_enrol)


@router.post("/password", status_code=204, responses={**_ERRORS, **problems(423, 429)})
def change_password(body: PasswordChangeIn, request: Request, current: CurrentStaffSession,
                    accounts: StaffAccountsDep, settings: SettingsDep) -> Response:
    """Every session of the account ends, this one included: sign in again with the new password."""
    try:
        accounts.change_password(current.staff.id, body.current_password, body.new_password, client_address(request))
    except Throttled as exc:
        return problem(exc.status, exc.code, exc.message, {"Retry-After": str(exc.retry_after)})
    response = Response(status_code=204)
    _forget_cookie(response, cookie_is_secure(settings.public_base_url))
    return response


@router.post("/password-reset", status_code=204, responses={**_ERRORS, **problems(410)})
def reset_password(body: PasswordResetIn, request: Request, accounts: StaffAccountsDep) -> Response:
    """Sets a new password with the token of a one-time link an admin made (24 h). No session is needed or given:
    sign in with the new password afterwards. 410 if the link is unknown, used, expired or its account inactive."""
    accounts.reset_password(body.token, body.new_password, client_address(request))
    return Response(status_code=204, headers={"Cache-Control": "no-store"})
