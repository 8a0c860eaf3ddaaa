"""Staff accounts, for admins: GET /v1/staff/accounts, POST /v1/staff/accounts (answers a one-time link for the
first password), and per account POST .../deactivate, .../reactivate, .../unlock, .../password-reset (a new
one-time link) and .../two-factor/reset (a lost phone).

A link is answered once and stored only as a hash; it leads to the page that sets the password
(`/staff/password-reset?token=...`) and is used with POST /v1/staff/password-reset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.audit_trail import AuditTrailDep
from gateway.api.deps import SettingsDep
from gateway.api.schemas import IdPath, problems
from gateway.api.staff_auth import StaffOut
from gateway.api.staff_deps import AdminStaff, StaffAccountsDep, no_store, staff_actor
from gateway.staff.accounts import AccountSummary, ResetLink
from gateway.staff.audit import Action, Event

router = APIRouter(prefix="/v1/staff/accounts", tags=["staff"])

_ERRORS = problems(400, 401, 403, 413, 422, 503)
RESET_PAGE = "/staff/password-reset"


class AccountOut(StaffOut):
    username: str
    active: bool
    locked: bool = Field(description="sign-in refused for now after too many failures; see locked_until")
    two_factor: bool = Field(description="two-factor sign-in is on")
    failed_logins: int
    locked_until: datetime | None

    @classmethod
    def of_summary(cls, a: AccountSummary) -> AccountOut:
        return cls(id=a.staff.id, username=a.staff.username, name=a.staff.name, role=a.staff.role,
                   counsellor_id=a.staff.counsellor_id, active=a.active, locked=a.locked, two_factor=a.two_factor,
                   failed_logins=a.failed_logins, locked_until=a.locked_until)


class AccountList(BaseModel):
    accounts: list[AccountOut]


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=2, max_length=64)
    name: str = Field(default="", max_length=80)
    role: Literal["counsellor", "admin"]
    counsellor_id: int | None = Field(default=None, ge=1, le=2_000_000_000,
                                      description="the calendar's counsellor id; required for a counsellor")


class PasswordLinkOut(BaseModel):
    password_link: str = Field(description="one-time link for setting a password; shown only in this answer")
    expires_at: datetime


class CreatedAccountOut(PasswordLinkOut):
    account: AccountOut


def _link(settings_base_url: str, reset: ResetLink) -> PasswordLinkOut:
    return PasswordLinkOut(password_link=f"{settings_base_url.rstrip('/')}{RESET_PAGE}?token={reset.token}",
                           expires_at=reset.expires_at)


@router.get("", responses=_ERRORS)
def list_accounts(_admin: AdminStaff, accounts: StaffAccountsDep, response: Response,
                  trail: AuditTrailDep) -> AccountList:
    trail.record(Event(Action.ACCOUNTS_READ))
    no_store(response)
    return AccountList(accounts=[AccountOut.of_summary(a) for a in accounts.list_accounts()])


@router.post("", status_code=201, responses={**_ERRORS, **problems(409)})
def create_account(body: AccountIn, request: Request, admin: AdminStaff, accounts: StaffAccountsDep,
                   settings: SettingsDep, response: Response) -> CreatedAccountOut:
    """The new account's owner sets the first password with the link (24 h, one use); an admin account must then
    set up two-factor sign-in before anything else."""
    no_store(response)
    created = accounts.create_with_reset_link(body.username, body.name, body.role, body.counsellor_id,
                                              staff_actor(request, admin))
    link = _link(settings.public_base_url, created.reset)
    return CreatedAccountOut(account=AccountOut.of_summary(accounts.summary(created.staff.id)),
                             password_link=link.password_link, expires_at=link.expires_at)


@router.post("/{staff_id}/deactivate", responses={**_ERRORS, **problems(404, 409)})
def deactivate(staff_id: IdPath, request: Request, admin: AdminStaff, accounts: StaffAccountsDep,
               response: Response) -> AccountOut:
    """Ends the account's sessions at once; it cannot sign in until reactivated. Not your own account."""
    no_store(response)
    return AccountOut.of_summary(accounts.deactivate(staff_id, by=staff_actor(request, admin)))


@router.post("/{staff_id}/reactivate", responses={**_ERRORS, **problems(404)})
def reactivate(staff_id: IdPath, request: Request, admin: AdminStaff, accounts: StaffAccountsDep,
               response: Response) -> AccountOut:
    no_store(response)
    return AccountOut.of_summary(accounts.reactivate(staff_id, by=staff_actor(request, admin)))


@router.post("/{staff_id}/unlock", responses={**_ERRORS, **problems(404)})
def unlock(staff_id: IdPath, request: Request, admin: AdminStaff, accounts: StaffAccountsDep,
           response: Response) -> AccountOut:
    """Forgets the account's failed sign-ins, so a lock ends now."""
    no_store(response)
    return AccountOut.of_summary(accounts.unlock(staff_id, by=staff_actor(request, admin)))


@router.post("/{staff_id}/password-reset", status_code=201, responses={**_ERRORS, **problems(404, 409)})
def password_reset(staff_id: IdPath, request: Request, admin: AdminStaff, accounts: StaffAccountsDep,
                   settings: SettingsDep, response: Response) -> PasswordLinkOut:
    """A one-time link for a new password (24 h); an earlier link for the account stops working. The password
    stays as it is until the link is used."""
    no_store(response)
    return _link(settings.public_base_url, accounts.issue_password_reset(staff_id,
                                                                          by=staff_actor(request, admin)))


@router.post("/{staff_id}/two-factor/reset", responses={**_ERRORS, **problems(404, 409)})
def reset_two_factor(staff_id: IdPath, request: Request, admin: AdminStaff, accounts: StaffAccountsDep,
                     response: Response) -> AccountOut:
    """Turns another account's two-factor sign-in off (a lost phone) and ends its sessions; an admin account must
    set it up again at its next sign-in."""
    no_store(response)
    return AccountOut.of_summary(accounts.reset_two_factor(staff_id, by=staff_actor(request, admin)))
