"""Staff sign-in: POST /v1/staff/login, POST /v1/staff/logout, GET /v1/staff/me, POST /v1/staff/password,
GET /v1/staff/accounts (admins).

The session travels only in the `lotse_staff` cookie (HttpOnly, SameSite=Strict, Path=/, Secure unless the gateway
runs on loopback over http; no Max-Age, so it ends with the browser, and the server ends it after 12 h or an idle
hour). Writes made with the cookie need the header X-Lotse-CSRF with the `csrf_token` of the login answer.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.audit_trail import AuditTrailDep
from gateway.api.deps import SettingsDep
from gateway.api.errors import problem
from gateway.api.schemas import problems
from gateway.api.staff_deps import (
    COOKIE_NAME,
    AdminStaff,
    CurrentStaffSession,
    StaffAccountsDep,
    client_address,
    cookie_is_secure,
)
from gateway.errors import Throttled
from gateway.staff.accounts import Staff
from gateway.staff.audit import Action, Event

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


class AccountOut(StaffOut):
    username: str
    active: bool
    failed_logins: int
    locked_until: datetime | None


class AccountList(BaseModel):
    accounts: list[AccountOut]


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


def _forget_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", secure=secure, httponly=True, samesite="strict")


@router.post("/login", response_model=StaffSessionOut, responses={
    **_ERRORS, **problems(423, 429)})
def login(body: LoginIn, request: Request, response: Response, accounts: StaffAccountsDep,
          settings: SettingsDep) -> StaffSessionOut | JSONResponse:
    try:
        signed_in = accounts.authenticate(body.username, body.password, client_address(request))
    except Throttled as exc:
        return problem(exc.status, exc.code, exc.message,
                       {"Retry-After": str(exc.retry_after), "Cache-Control": "no-store"})
    # No Max-Age: the cookie ends with the browser session; the server ends the session after 12 h in any case.
    response.set_cookie(COOKIE_NAME, signed_in.token, path="/", secure=cookie_is_secure(settings.public_base_url),
                        httponly=True, samesite="strict")
    _no_store(response)
    return StaffSessionOut(staff=StaffOut.of(signed_in.staff), csrf_token=signed_in.csrf_token)


@router.post("/logout", status_code=204, responses=_ERRORS)
def logout(current: CurrentStaffSession, request: Request, accounts: StaffAccountsDep,
           settings: SettingsDep) -> Response:
    accounts.sign_out(current, client_address(request))
    response = Response(status_code=204)
    _forget_cookie(response, cookie_is_secure(settings.public_base_url))
    return response


@router.get("/me", responses=_ERRORS)
def me(current: CurrentStaffSession, response: Response) -> StaffSessionOut:
    _no_store(response)
    return StaffSessionOut(staff=StaffOut.of(current.staff), csrf_token=current.csrf_token)


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


@router.get("/accounts", responses=_ERRORS)
def list_accounts(_admin: AdminStaff, accounts: StaffAccountsDep, response: Response,
                  trail: AuditTrailDep) -> AccountList:
    trail.record(Event(Action.ACCOUNTS_READ))
    _no_store(response)
    return AccountList(accounts=[
        AccountOut(id=a.staff.id, username=a.staff.username, name=a.staff.name, role=a.staff.role,
                   counsellor_id=a.staff.counsellor_id, active=a.active, failed_logins=a.failed_logins,
                   locked_until=a.locked_until)
        for a in accounts.list_accounts()
    ])
