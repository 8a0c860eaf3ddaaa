"""`/staff/password-reset?token=…`: the page of the one-time link an admin makes (a new account's first password, a
forgotten one). No session is needed or given: afterwards the person signs in with the new password. A link that is
used, expired or unknown is a 410 page that says to ask an admin for a new one.

Like the sign-in form there is no session whose CSRF token the form could carry: the link's token in it is the
secret, and a POST from another site is refused (`same_origin`)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from gateway.staff.errors import ResetLinkInvalid, WeakPassword
from gateway.web.catalogs import N_
from gateway.web.staff.access import desk, language, same_origin
from gateway.web.staff.rendering import redirect, render
from gateway.web.staff.signin import MAX_PASSWORD

router = APIRouter(include_in_schema=False)
Field = Annotated[str, Form()]
MAX_TOKEN = 128  # as the API's PasswordResetIn
# Where the API's one-time links lead (gateway.api.staff_accounts.RESET_PAGE, a test keeps them equal); not imported
# from there: the API's modules import the pages' error handling, which imports these pages.
RESET_PAGE = "/staff/password-reset"


def _link_invalid(lang: str) -> HTMLResponse:
    return render("message.html", lang, 410, here=RESET_PAGE, errors=["reset_link_invalid"],
                  title=N_("Link no longer valid"))


def _form(lang: str, token: str, status: int = 200, errors: list[str] | None = None) -> HTMLResponse:
    # The language switch keeps the token (a valid one, or the form would not show): the link still works after it.
    return render("password_reset.html", lang, status, here=f"{RESET_PAGE}?token={quote(token, safe='')}",
                  errors=errors, token=token)


@router.get(RESET_PAGE, response_class=HTMLResponse)
def reset_form(request: Request, token: str = "") -> Response:
    lang = language(request)
    if not token or len(token) > MAX_TOKEN or not desk(request).accounts.password_reset_is_valid(token):
        return _link_invalid(lang)
    return _form(lang, token)


@router.post(RESET_PAGE, response_model=None)
def set_password(request: Request, token: Field = "", new_password: Field = "", new_password_again: Field = "",
                 lang: Field = "") -> Response:
    lang = language(request, lang)
    if not same_origin(request):
        return render("message.html", lang, 403, here=RESET_PAGE, errors=["form_expired"], title=N_("Form expired"))
    if not token or len(token) > MAX_TOKEN:
        return _link_invalid(lang)
    if new_password != new_password_again:
        return _form(lang, token, 422, ["new_mismatch"])
    if len(new_password) > MAX_PASSWORD:
        return _form(lang, token, 422, ["new_weak"])
    try:
        desk(request).accounts.reset_password(token, new_password, desk(request).source)
    except ResetLinkInvalid:
        return _link_invalid(lang)
    except WeakPassword:
        return _form(lang, token, 422, ["new_weak"])
    return redirect("/login?done=reset", lang)
