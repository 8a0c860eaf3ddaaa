"""Who is asking: the staff session behind the `lotse_staff` cookie, CSRF for writes, admin and calendar checks.

Later staff routes take `CurrentStaff` (any signed-in staff member), `AdminStaff`, or `CalendarStaff` (a route with
a `{counsellor_id}` path parameter: that counsellor or an admin). A state-changing request (anything but GET, HEAD,
OPTIONS) must also carry the header X-Lotse-CSRF with the token given at sign-in (and by GET /v1/staff/me).

An admin's session without two-factor sign-in passes only `EnrollingStaffSession` (me, sign-out, the enrolment);
every other dependency here answers it 403 `two_factor_enrolment_required`, so a new route is closed by default.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Cookie, Depends, Header, Request, Response
from starlette.concurrency import run_in_threadpool

from gateway.api.deps import client_address as public_client_address
from gateway.api.schemas import IdPath
from gateway.staff.accounts import CurrentSession, Staff, StaffAccounts, ensure_admin, ensure_calendar_access
from gateway.staff.audit import Action, Actor, Event, Outcome, TargetKind
from gateway.staff.errors import CsrfRejected, NotSignedIn, TwoFactorEnrolmentRequired
from gateway.staff.sessions import csrf_matches

COOKIE_NAME = "lotse_staff"
CSRF_HEADER = "X-Lotse-CSRF"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def no_store(response: Response) -> None:
    """Staff answers hold personal data or configuration: never kept by a browser or proxy."""
    response.headers["Cache-Control"] = "no-store"


def cookie_is_secure(public_base_url: str) -> bool:
    """Secure everywhere except the embedded default on this machine's loopback over plain http.

    There is no TLS on http://127.0.0.1:8000, and a Secure cookie is not sent over plain http by every client
    (Safari, curl, httpx), so sign-in would silently fail there; loopback traffic never leaves the machine. Any
    other PUBLIC_BASE_URL, even a mistaken http:// one, gets Secure: staff sign-in then fails closed instead of
    sending the session over the network in clear.
    """
    parts = urlsplit(public_base_url)
    return not (parts.scheme == "http" and parts.hostname in LOCAL_HOSTS)


async def _staff_accounts(request: Request) -> StaffAccounts:
    # Built once by the composition root (gateway.app.create_app), with the gateway's engine and clock.
    accounts: StaffAccounts = request.app.state.staff_accounts
    return accounts


StaffAccountsDep = Annotated[StaffAccounts, Depends(_staff_accounts)]


def _enrolling_session(
    request: Request,
    accounts: StaffAccountsDep,
    token: Annotated[str | None, Cookie(alias=COOKIE_NAME, include_in_schema=False)] = None,
    csrf: Annotated[str | None, Header(alias=CSRF_HEADER, include_in_schema=False)] = None,
) -> CurrentSession:
    current = accounts.current(token, enrolling=True) if token else None
    if current is None:
        raise NotSignedIn()
    if request.method not in SAFE_METHODS and not csrf_matches(current.token, csrf):
        raise CsrfRejected()
    return current


EnrollingStaffSession = Annotated[CurrentSession, Depends(_enrolling_session)]


async def _current_session(current: EnrollingStaffSession) -> CurrentSession:
    if current.must_enrol:
        raise TwoFactorEnrolmentRequired()
    return current


CurrentStaffSession = Annotated[CurrentSession, Depends(_current_session)]


async def _current_staff(current: CurrentStaffSession) -> Staff:
    return current.staff


CurrentStaff = Annotated[Staff, Depends(_current_staff)]


async def require_admin(request: Request, staff: CurrentStaff) -> Staff:
    if not staff.is_admin:
        await _record_refusal(request, staff, None)
    ensure_admin(staff)
    return staff


async def require_counsellor_or_admin(request: Request, counsellor_id: IdPath, staff: CurrentStaff) -> Staff:
    """For routes with a `{counsellor_id}` path parameter: only that counsellor, or an admin."""
    if not staff.may_access_calendar(counsellor_id):
        await _record_refusal(request, staff, counsellor_id)
    ensure_calendar_access(staff, counsellor_id)
    return staff


async def _record_refusal(request: Request, staff: Staff, counsellor_id: int | None) -> None:
    """A signed-in staff member refused a route (an admin's, another counsellor's calendar) goes to the audit log:
    the method and path (staff paths hold ids only), not what the request carried."""
    accounts: StaffAccounts = request.app.state.staff_accounts
    event = Event(Action.ACCESS_REFUSED, Outcome.REFUSED,
                  TargetKind.COUNSELLOR if counsellor_id is not None else None, counsellor_id,
                  {"method": request.method, "path": request.url.path[:200]})
    await run_in_threadpool(accounts.audit.record, staff_actor(request, staff), event)


def staff_actor(request: Request, staff: Staff) -> Actor:
    """The staff member behind a request as the audit log names them: account, username, and where from."""
    return Actor(staff.id, staff.username, client_address(request))


AdminStaff = Annotated[Staff, Depends(require_admin)]
CalendarStaff = Annotated[Staff, Depends(require_counsellor_or_admin)]


PENDING_COOKIE_NAME = "lotse_staff_pending"  # the pending sign-in between password and code; never a session


def client_address(request: Request) -> str:
    """The peer, or the client a proxy named in FORWARDED_ALLOW_IPS says it forwards (gateway.forwarding)."""
    return public_client_address(request)
