"""Who is at a staff page: the session behind the `lotse_staff` cookie (the API's), the page's language, and the
checks every staff form passes (the session's CSRF token in a hidden field, and no POST from another origin).

A page without a session redirects to /login (303) and comes back after sign-in: never a 401 body, never a 500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gateway.api.audit_trail import audited_calendars
from gateway.api.staff_deps import COOKIE_NAME, client_address
from gateway.feeds import FeedTokens
from gateway.settings import GatewaySettings
from gateway.slots import SlotClient
from gateway.staff.accounts import CurrentSession, Staff, StaffAccounts
from gateway.staff.audit import Actor
from gateway.staff.sessions import csrf_matches
from gateway.staff_client import AuditedStaffClient
from gateway.web.staff.catalogs import staff_language
from gateway.web.staff.rendering import LANGUAGE_COOKIE, redirect, render

# Where sign-in may send a person on: a staff or admin page of this site, nothing else (no open redirect).
RETURN_PATH = re.compile(r"^/(staff|admin)(/[A-Za-z0-9/_-]*)?(\?[A-Za-z0-9=&_-]*)?$")
DEFAULT_RETURN = "/staff"


@dataclass(frozen=True)
class Desk:
    """What a staff page works with, all built by the composition root. The scheduler is asked through the same
    audited client as the API's routes, so a page records what the API records (gateway.staff.audit)."""

    accounts: StaffAccounts
    calendars: AuditedStaffClient
    settings: GatewaySettings
    source: str  # the client's address, as the audit log names it (gateway.forwarding)
    slots: SlotClient  # the free times a booking may move to
    feeds: FeedTokens

    def actor(self, staff: Staff) -> Actor:
        """Who acts, for the audit log: pass as `by` to what an admin does to accounts."""
        return Actor(staff.id, staff.username, self.source)


def desk(request: Request) -> Desk:
    gateway = request.app.state.gateway
    return Desk(accounts=request.app.state.staff_accounts, calendars=audited_calendars(request),
                settings=gateway.settings, source=client_address(request), slots=gateway.slots, feeds=gateway.feeds)


def language(request: Request, chosen: str | None = None) -> str:
    return staff_language(chosen or request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE),
                          request.headers.get("accept-language"))


def current_session(request: Request) -> CurrentSession | None:
    token = request.cookies.get(COOKIE_NAME)
    return desk(request).accounts.current(token) if token else None


def enrolling_session(request: Request) -> CurrentSession | None:
    """The session also when it is an admin's that must set up two-factor sign-in first (`must_enrol`): only for the
    set-up page and signing out; every other page asks `current_session`, which does not see such a session."""
    token = request.cookies.get(COOKIE_NAME)
    return desk(request).accounts.current(token, enrolling=True) if token else None


def safe_return(path: str | None) -> str:
    return path if path and RETURN_PATH.match(path) else DEFAULT_RETURN


def to_sign_in(request: Request) -> RedirectResponse:
    """303 to the sign-in page, which comes back here (a GET) or to the page the form was on (a POST)."""
    back = request.url.path if request.method == "GET" else DEFAULT_RETURN
    query = f"?{request.url.query}" if request.method == "GET" and request.url.query else ""
    back = safe_return(back + query)
    return redirect("/login" if back == DEFAULT_RETURN else f"/login?next={quote(back, safe='')}")


def same_origin(request: Request) -> bool:
    """Whether a form POST may come from our own pages: browsers say where it was sent from (Sec-Fetch-Site), and
    one from another site is refused even before sign-in (the session cookie is SameSite=Strict, but the sign-in
    form has no session yet). Our pages send no referrer, so their own POSTs carry `Origin: null`: that header
    decides only when it names another origin."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True  # the CSRF token still guards every signed-in form
    return urlsplit(origin).netloc == request.headers.get("host", "")


def form_refused(request: Request, lang: str, current: CurrentSession | None, csrf: str) -> HTMLResponse | None:
    """The 403 page when the form's token is not this session's (or it came from another origin), else None."""
    if current is not None and same_origin(request) and csrf_matches(current.token, csrf):
        return None
    return render("message.html", lang, 403, here=request.url.path, errors=["form_expired"],
                  staff=current.staff if current else None, csrf=current.csrf_token if current else "",
                  title="Form expired")


def form_session(request: Request, lang: str, csrf: str, enrolling: bool = False) -> CurrentSession | Response:
    """The session a form was posted in, or the answer instead: sign-in without a session, the 403 page for a form
    not of this session (or from another origin). `enrolling`: also an admin's session that must set up two-factor
    sign-in first (for the set-up page and signing out)."""
    current = enrolling_session(request) if enrolling else current_session(request)
    if current is None:
        return to_sign_in(request)
    return form_refused(request, lang, current, csrf) or current


def admin_only(request: Request, lang: str, title: str,
               here: str | None = None) -> tuple[CurrentSession | None, Response | None]:
    """The admin at an admin page, or the answer instead: sign-in without a session, a 403 page for a counsellor.
    `here`: the page the 403 page belongs to (its language switch links there), the request's path by default."""
    current = current_session(request)
    if current is None:
        return None, to_sign_in(request)
    if not current.staff.is_admin:
        return None, render("message.html", lang, 403, here=here or request.url.path, errors=["admins_only"],
                            staff=current.staff, csrf=current.csrf_token, title=title)
    return current, None


def admin_form_session(request: Request, lang: str, csrf: str, title: str,
                       here: str | None = None) -> CurrentSession | Response:
    """The admin who posted an admin page's form, or the answer instead: sign-in, the 403 page for a counsellor, the
    403 page for a form not of this session."""
    current, refused = admin_only(request, lang, title, here)
    if current is None:
        return refused or to_sign_in(request)
    return form_refused(request, lang, current, csrf) or current
