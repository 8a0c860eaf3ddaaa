"""`/admin/accounts`: the staff accounts for admins: the list (active, locked, two-factor sign-in), a new account
(its one-time link for the first password shown once), and per account deactivate, reactivate, unlock, a new
password link and resetting two-factor sign-in (a lost phone). Each change is a POST form with the session's CSRF
token; deactivating and resetting two-factor sign-in ask first, on a page of their own."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from gateway.staff.accounts import (
    ROLES,
    USERNAME_PATTERN,
    AccountSummary,
    CurrentSession,
    ResetLink,
    StaffAccounts,
    normalise_username,
)
from gateway.staff.audit import Action, Event
from gateway.staff.errors import AccountInactive, InvalidStaffAccount, OwnAccount, StaffAccountNotFound, UsernameTaken
from gateway.web.catalogs import N_
from gateway.web.staff.access import admin_form_session, admin_only, desk, language, to_sign_in
from gateway.web.staff.password_reset_page import RESET_PAGE
from gateway.web.staff.rendering import redirect, render

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]
PAGE = "/admin/accounts"
TITLE = N_("Staff accounts")
# What each button does, and whether it asks first (its own page) because it ends sessions.
ACTIONS: dict[str, bool] = {"deactivate": True, "reactivate": False, "unlock": False, "password-link": False,
                            "two-factor-reset": True}
DONE = {"deactivate": "account_deactivated", "reactivate": "account_reactivated", "unlock": "account_unlocked",
        "two-factor-reset": "account_two_factor_reset"}
MAX_DISPLAY_NAME = 80


def _admin(request: Request, lang: str) -> tuple[CurrentSession | None, Response | None]:
    return admin_only(request, lang, TITLE, here=PAGE)


def _page(request: Request, lang: str, current: CurrentSession, status: int = 200, errors: list[str] | None = None,
          notice: str | None = None, link: tuple[str, str, ResetLink] | None = None,
          entered: dict[str, str] | None = None) -> HTMLResponse:
    """The list with the form for a new account; `link`: (whose username, which sentence, the link) shown once."""
    here = desk(request)
    accounts = here.accounts.list_accounts()
    here.accounts.audit.record(here.actor(current.staff), Event(Action.ACCOUNTS_READ))  # as the API's list does
    shown = None
    if link is not None:
        base = desk(request).settings.public_base_url.rstrip("/")
        shown = {"username": link[0], "notice": link[1], "url": f"{base}{RESET_PAGE}?token={link[2].token}"}
    return render("accounts.html", lang, status, here=PAGE, errors=errors, staff=current.staff,
                  csrf=current.csrf_token, accounts=accounts, notice=notice, link=shown,
                  entered=entered or {"username": "", "display_name": "", "role": "counsellor", "counsellor_id": ""})


@router.get(PAGE, response_class=HTMLResponse)
def accounts_page(request: Request, done: str | None = None) -> Response:
    lang = language(request)
    current, refused = _admin(request, lang)
    if current is None:
        return refused or to_sign_in(request)
    return _page(request, lang, current, notice=done if done in DONE.values() else None)


def _new_account_errors(username: str, display_name: str, role: str, counsellor_id: str) -> list[str]:
    """What is wrong with the new account's fields, said at each (the accounts' rules, in the page's words)."""
    errors = []
    if not USERNAME_PATTERN.match(normalise_username(username)):
        errors.append("account_username_invalid")
    if len(display_name.strip()) > MAX_DISPLAY_NAME or any(unicodedata.category(c).startswith("C")
                                                           for c in display_name):
        errors.append("account_name_invalid")
    if role not in ROLES:
        errors.append("account_role_invalid")
    elif role == "counsellor" and not (counsellor_id.isdigit() and 1 <= int(counsellor_id) <= 2_000_000_000):
        errors.append("account_counsellor_id_needed")
    elif role == "admin" and counsellor_id.strip():
        errors.append("account_counsellor_id_admin")
    return errors


@router.post(PAGE, response_model=None)
def create_account(request: Request, username: Field = "", display_name: Field = "", role: Field = "",
                   counsellor_id: Field = "", csrf: Field = "", lang: Field = "") -> Response:
    lang = language(request, lang)
    current = admin_form_session(request, lang, csrf, TITLE, here=PAGE)
    if isinstance(current, Response):
        return current
    username, display_name, counsellor_id = username[:64], display_name[:MAX_DISPLAY_NAME + 1], counsellor_id[:12]
    entered = {"username": username, "display_name": display_name, "role": role, "counsellor_id": counsellor_id}
    errors = _new_account_errors(username, display_name, role, counsellor_id)
    if errors:
        return _page(request, lang, current, 422, errors, entered=entered)
    try:
        created = desk(request).accounts.create_with_reset_link(
            username, display_name, role, int(counsellor_id) if role == "counsellor" else None,
            desk(request).actor(current.staff))
    except UsernameTaken:
        return _page(request, lang, current, 409, ["account_username_taken"], entered=entered)
    except InvalidStaffAccount:
        return _page(request, lang, current, 422, ["account_invalid"], entered=entered)
    return _page(request, lang, current, notice="account_created",
                 link=(created.staff.username, "link_for_new_account", created.reset))


def _account(accounts: StaffAccounts, staff_id: str) -> AccountSummary | None:
    if not staff_id.isdigit() or not 1 <= int(staff_id) <= 2_000_000_000:
        return None
    try:
        return accounts.summary(int(staff_id))
    except StaffAccountNotFound:
        return None


def _not_found(lang: str, current: CurrentSession) -> HTMLResponse:
    return render("message.html", lang, 404, here=PAGE, errors=["account_not_found"], staff=current.staff,
                  csrf=current.csrf_token, title=TITLE)


@router.get(PAGE + "/{staff_id}/{action}", response_class=HTMLResponse)
def confirm_action(request: Request, staff_id: str, action: str) -> Response:
    """The question before a change that ends the account's sessions."""
    lang = language(request)
    current, refused = _admin(request, lang)
    if current is None:
        return refused or to_sign_in(request)
    account = _account(desk(request).accounts, staff_id)
    if account is None or not ACTIONS.get(action, False):
        return _not_found(lang, current)
    return render("account_confirm.html", lang, here=f"{PAGE}/{account.staff.id}/{action}", staff=current.staff,
                  csrf=current.csrf_token, account=account, action=action)


@router.post(PAGE + "/{staff_id}/{action}", response_model=None)
def change_account(request: Request, staff_id: str, action: str, csrf: Field = "", lang: Field = "") -> Response:
    lang = language(request, lang)
    current = admin_form_session(request, lang, csrf, TITLE, here=PAGE)
    if isinstance(current, Response):
        return current
    accounts, by = desk(request).accounts, desk(request).actor(current.staff)
    account = _account(accounts, staff_id)
    if account is None or action not in ACTIONS:
        return _not_found(lang, current)
    target = account.staff.id
    try:
        if action == "deactivate":
            accounts.deactivate(target, by=by)
        elif action == "reactivate":
            accounts.reactivate(target, by=by)
        elif action == "unlock":
            accounts.unlock(target, by=by)
        elif action == "two-factor-reset":
            accounts.reset_two_factor(target, by=by)
        else:
            link = accounts.issue_password_reset(target, by=by)
            return _page(request, lang, current, notice="password_link_made",
                         link=(account.staff.username, "link_for_new_password", link))
    except OwnAccount:
        return _page(request, lang, current, 409, ["account_own"])
    except AccountInactive:
        return _page(request, lang, current, 409, ["account_inactive"])
    except StaffAccountNotFound:
        return _not_found(lang, current)
    return redirect(f"{PAGE}?done={DONE[action]}", lang)
