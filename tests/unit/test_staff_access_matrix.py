"""Who is let through where: every staff page and staff API route of the gateway's own app (gateway.app.create_app)
against a visitor without a session, counsellor A (Anna, counsellor 1), counsellor B (Bogdan, another counsellor) and an
admin, from ONE table (ROUTES). The routes are collected from the app, so a new /staff, /admin or /v1/staff route
without a row fails here until someone decides who may use it.

"Let through" means the gate was passed: not 401/403 and not sent to sign in. What happens after the gate is the
business of each route's own tests: the scheduler, notifier and health are fakes here, and a change is sent without
a valid body where it could change something another row relies on (a 422 after the gate is a pass). In process,
on SQLite (tests/support/staff_pages).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from gateway.app import create_app
from gateway.settings import GatewaySettings
from gateway.staff.accounts import CodeAwaited, SignedIn

from tests.support.staff_pages import (
    ANNA,
    PASSWORD,
    StaffDesk,
    staff_desk,
    standard_calendar,
    standard_free_times,
    standard_rules,
)
from tests.unit.test_staff_audit import FakeDeliveries, FakeHealth
from tests.unit.test_type_pages import FakePreviews

STAFF_PREFIXES = ("/staff", "/admin", "/v1/staff")
ROLES = ("anonymous", "counsellor", "other_counsellor", "admin")
USERNAMES = {"counsellor": "anna", "other_counsellor": "bogdan", "admin": "admin"}


class Gate(Enum):
    """Who passes. OPEN: everyone (sign-in, one-time links, the style sheet). SIGNED_IN: any staff member.
    CALENDAR: counsellor A, whose calendar or booking the row names, and admins. OWN_CALENDAR: a counsellor, on
    their own calendar; an admin has none (404). ADMIN: admins only. OWN_BOOKING: counsellor A alone, on their own
    booking: a client's number is shown to the counsellor who calls, never to an admin."""

    OPEN = "open"
    SIGNED_IN = "signed in"
    CALENDAR = "A's calendar"
    OWN_CALENDAR = "own calendar"
    ADMIN = "admin"
    OWN_BOOKING = "own booking"


PASS, SIGN_IN, FORBIDDEN, NO_CALENDAR = "let through", "asked to sign in", "403", "404"
EXPECTED: dict[Gate, tuple[str, str, str, str]] = {  # anonymous, counsellor A, counsellor B, admin
    Gate.OPEN: (PASS, PASS, PASS, PASS),
    Gate.SIGNED_IN: (SIGN_IN, PASS, PASS, PASS),
    Gate.CALENDAR: (SIGN_IN, PASS, FORBIDDEN, PASS),
    Gate.OWN_CALENDAR: (SIGN_IN, PASS, PASS, NO_CALENDAR),
    Gate.ADMIN: (SIGN_IN, FORBIDDEN, FORBIDDEN, PASS),
    Gate.OWN_BOOKING: (SIGN_IN, PASS, FORBIDDEN, FORBIDDEN),
}

BOOKING_OF_A = "00000000-0000-0000-0000-000000000003"  # Anna's Wednesday appointment (standard_calendar)
TIME_OF_A = standard_free_times()[0].slot_id  # a free time in Anna's calendar
SPARE = "{spare}"  # the account "dora", made for this test: what admins do to accounts is done to it
CAL = f"/v1/staff/calendars/{ANNA}"
BOOKING = f"/v1/staff/bookings/{BOOKING_OF_A}"

# "METHOD /route/{as}/declared": (gate, the request's path, the body: JSON for the API, form fields for a page).
# A change is sent without a valid body where it would change what other rows rely on: a 422 after the gate is a
# pass. The booking changes are sent whole, since only the scheduler knows whose a booking is.
ROUTES: dict[str, tuple[Gate, str, dict[str, Any] | None]] = {
    # The staff API: sign-in and one-time links (open), the own account (any staff member).
    "POST /v1/staff/login": (Gate.OPEN, "/v1/staff/login", {}),
    "POST /v1/staff/login/code": (Gate.OPEN, "/v1/staff/login/code", {}),
    "POST /v1/staff/password-reset": (Gate.OPEN, "/v1/staff/password-reset", {}),
    "POST /v1/staff/logout": (Gate.SIGNED_IN, "/v1/staff/logout", None),
    "GET /v1/staff/me": (Gate.SIGNED_IN, "/v1/staff/me", None),
    "POST /v1/staff/password": (Gate.SIGNED_IN, "/v1/staff/password", {}),
    "GET /v1/staff/two-factor": (Gate.SIGNED_IN, "/v1/staff/two-factor", None),
    "POST /v1/staff/two-factor/enrolment": (Gate.SIGNED_IN, "/v1/staff/two-factor/enrolment", None),
    "POST /v1/staff/two-factor/enrolment/confirm": (Gate.SIGNED_IN, "/v1/staff/two-factor/enrolment/confirm", {}),
    "POST /v1/staff/two-factor/recovery-codes": (Gate.SIGNED_IN, "/v1/staff/two-factor/recovery-codes", {}),
    "POST /v1/staff/two-factor/disable": (Gate.SIGNED_IN, "/v1/staff/two-factor/disable", {}),
    # Staff accounts (admins).
    "GET /v1/staff/accounts": (Gate.ADMIN, "/v1/staff/accounts", None),
    "POST /v1/staff/accounts": (Gate.ADMIN, "/v1/staff/accounts", {}),
    "POST /v1/staff/accounts/{staff_id}/deactivate": (Gate.ADMIN, f"/v1/staff/accounts/{SPARE}/deactivate", None),
    "POST /v1/staff/accounts/{staff_id}/reactivate": (Gate.ADMIN, f"/v1/staff/accounts/{SPARE}/reactivate", None),
    "POST /v1/staff/accounts/{staff_id}/unlock": (Gate.ADMIN, f"/v1/staff/accounts/{SPARE}/unlock", None),
    "POST /v1/staff/accounts/{staff_id}/password-reset": (Gate.ADMIN, f"/v1/staff/accounts/{SPARE}/password-reset",
                                                          None),
    "POST /v1/staff/accounts/{staff_id}/two-factor/reset": (Gate.ADMIN,
                                                            f"/v1/staff/accounts/{SPARE}/two-factor/reset", None),
    # Calendars and bookings.
    "GET /v1/staff/me/week": (Gate.OWN_CALENDAR, "/v1/staff/me/week", None),
    "GET /v1/staff/calendars/{counsellor_id}/week": (Gate.CALENDAR, f"{CAL}/week", None),
    "GET /v1/staff/calendars/{counsellor_id}/bookings": (Gate.CALENDAR, f"{CAL}/bookings", None),
    "PUT /v1/staff/calendars/{counsellor_id}/rules": (Gate.CALENDAR, f"{CAL}/rules", {}),
    "POST /v1/staff/calendars/{counsellor_id}/exceptions": (Gate.CALENDAR, f"{CAL}/exceptions", {}),
    "DELETE /v1/staff/calendars/{counsellor_id}/exceptions/{exception_id}": (Gate.CALENDAR, f"{CAL}/exceptions/1",
                                                                             None),
    "POST /v1/staff/calendars/{counsellor_id}/feed": (Gate.CALENDAR, f"{CAL}/feed", None),
    "DELETE /v1/staff/calendars/{counsellor_id}/feed": (Gate.CALENDAR, f"{CAL}/feed", None),
    "POST /v1/staff/bookings/{booking_id}/cancel": (Gate.CALENDAR, f"{BOOKING}/cancel", {}),
    "POST /v1/staff/bookings/{booking_id}/no-show": (Gate.CALENDAR, f"{BOOKING}/no-show", None),
    "POST /v1/staff/bookings/{booking_id}/attended": (Gate.CALENDAR, f"{BOOKING}/attended", None),
    "POST /v1/staff/bookings/{booking_id}/move": (Gate.CALENDAR, f"{BOOKING}/move", {"slot_id": TIME_OF_A}),
    # Setup: appointment types are read by every counsellor (the booking pages name them), changed by admins.
    "GET /v1/staff/appointment-types": (Gate.SIGNED_IN, "/v1/staff/appointment-types", None),
    "POST /v1/staff/appointment-types": (Gate.ADMIN, "/v1/staff/appointment-types", {}),
    "PATCH /v1/staff/appointment-types/{type_id}": (Gate.ADMIN, "/v1/staff/appointment-types/1", {}),
    "PATCH /v1/staff/counsellors/{counsellor_id}": (Gate.ADMIN, f"/v1/staff/counsellors/{ANNA}", {}),
    "PATCH /v1/staff/locations/{location_id}": (Gate.ADMIN, "/v1/staff/locations/1", {}),
    # The lists of counsellors and locations, and new ones (admins: no counsellor page needs another's planning).
    "GET /v1/staff/counsellors": (Gate.ADMIN, "/v1/staff/counsellors", None),
    "POST /v1/staff/counsellors": (Gate.ADMIN, "/v1/staff/counsellors", {}),
    "GET /v1/staff/locations": (Gate.ADMIN, "/v1/staff/locations", None),
    "POST /v1/staff/locations": (Gate.ADMIN, "/v1/staff/locations", {}),
    "GET /v1/staff/sms-texts": (Gate.ADMIN, "/v1/staff/sms-texts", None),
    # Audit, health, deliveries (admins).
    "GET /v1/staff/audit": (Gate.ADMIN, "/v1/staff/audit", None),
    "GET /v1/staff/audit.csv": (Gate.ADMIN, "/v1/staff/audit.csv", None),
    "GET /v1/staff/health": (Gate.ADMIN, "/v1/staff/health", None),
    "GET /v1/staff/dead-letters": (Gate.ADMIN, "/v1/staff/dead-letters", None),
    "POST /v1/staff/dead-letters/{letter_id}/requeue": (Gate.ADMIN, "/v1/staff/dead-letters/dl-1/requeue", None),
    "POST /v1/staff/dead-letters/{letter_id}/discard": (Gate.ADMIN, "/v1/staff/dead-letters/dl-1/discard", None),
    "GET /v1/staff/deliveries": (Gate.ADMIN, "/v1/staff/deliveries", None),
    "GET /v1/staff/deliveries/failed": (Gate.ADMIN, "/v1/staff/deliveries/failed", None),
    "POST /v1/staff/deliveries/{delivery_id}/retry": (Gate.ADMIN, "/v1/staff/deliveries/1/retry", None),
    # The pages: the own account and a one-time link.
    "GET /staff.css": (Gate.OPEN, "/staff.css", None),
    "GET /staff/password-reset": (Gate.OPEN, "/staff/password-reset", None),
    "POST /staff/password-reset": (Gate.OPEN, "/staff/password-reset", {}),
    "GET /staff/password": (Gate.SIGNED_IN, "/staff/password", None),
    "POST /staff/password": (Gate.SIGNED_IN, "/staff/password", {}),
    "GET /staff/two-factor": (Gate.SIGNED_IN, "/staff/two-factor", None),
    "POST /staff/two-factor/start": (Gate.SIGNED_IN, "/staff/two-factor/start", None),
    "POST /staff/two-factor/confirm": (Gate.SIGNED_IN, "/staff/two-factor/confirm", {}),
    "POST /staff/two-factor/change": (Gate.SIGNED_IN, "/staff/two-factor/change", {}),
    # A counsellor's day (an admin's /staff is the admin start page) and own calendar.
    "GET /staff": (Gate.SIGNED_IN, "/staff", None),
    "GET /staff/week": (Gate.SIGNED_IN, "/staff/week", None),
    "GET /staff/hours": (Gate.OWN_CALENDAR, "/staff/hours", None),
    "POST /staff/hours": (Gate.OWN_CALENDAR, "/staff/hours", {}),
    "GET /staff/absences": (Gate.OWN_CALENDAR, "/staff/absences", None),
    "POST /staff/absences": (Gate.OWN_CALENDAR, "/staff/absences", {}),
    "POST /staff/absences/{exception_id}/remove": (Gate.OWN_CALENDAR, "/staff/absences/1/remove", None),
    "GET /staff/feed": (Gate.OWN_CALENDAR, "/staff/feed", None),
    "POST /staff/feed": (Gate.OWN_CALENDAR, "/staff/feed", None),
    "POST /staff/feed/revoke": (Gate.OWN_CALENDAR, "/staff/feed/revoke", None),
    # Counsellor A's appointment, changed from a page.
    "POST /staff/appointments/{booking_id}/attended": (Gate.CALENDAR, f"/staff/appointments/{BOOKING_OF_A}/attended",
                                                       None),
    "POST /staff/appointments/{booking_id}/no-show": (Gate.CALENDAR, f"/staff/appointments/{BOOKING_OF_A}/no-show",
                                                      None),
    "GET /staff/appointments/{booking_id}/cancel": (Gate.SIGNED_IN, f"/staff/appointments/{BOOKING_OF_A}/cancel",
                                                    None),  # the reason's form only: nothing of the booking shown
    "POST /staff/appointments/{booking_id}/cancel": (Gate.CALENDAR, f"/staff/appointments/{BOOKING_OF_A}/cancel",
                                                     {}),
    "GET /staff/bookings/{booking_id}/move": (Gate.CALENDAR, f"/staff/bookings/{BOOKING_OF_A}/move", None),
    "POST /staff/bookings/{booking_id}/move": (Gate.CALENDAR, f"/staff/bookings/{BOOKING_OF_A}/move",
                                               {"slot_id": TIME_OF_A}),
    # The client's number of A's appointment, shown once to A (an office one here: refused after the gate).
    "POST /staff/appointments/{booking_id}/number": (Gate.OWN_BOOKING, f"/staff/appointments/{BOOKING_OF_A}/number",
                                                     {}),
    # Admin pages.
    "GET /admin": (Gate.ADMIN, "/admin", None),
    "GET /admin/accounts": (Gate.ADMIN, "/admin/accounts", None),
    "POST /admin/accounts": (Gate.ADMIN, "/admin/accounts", {}),
    "GET /admin/accounts/{staff_id}/{action}": (Gate.ADMIN, f"/admin/accounts/{SPARE}/deactivate", None),
    "POST /admin/accounts/{staff_id}/{action}": (Gate.ADMIN, f"/admin/accounts/{SPARE}/unlock", None),
    "GET /admin/counsellors": (Gate.ADMIN, "/admin/counsellors", None),
    "POST /admin/counsellors": (Gate.ADMIN, "/admin/counsellors", {}),
    "GET /admin/counsellors/{counsellor_id}": (Gate.ADMIN, f"/admin/counsellors/{ANNA}", None),
    "POST /admin/counsellors/{counsellor_id}": (Gate.ADMIN, f"/admin/counsellors/{ANNA}", {}),
    "POST /admin/counsellors/{counsellor_id}/active": (Gate.ADMIN, f"/admin/counsellors/{ANNA}/active", {}),
    "GET /admin/locations": (Gate.ADMIN, "/admin/locations", None),
    "POST /admin/locations": (Gate.ADMIN, "/admin/locations", {}),
    "GET /admin/locations/{location_id}": (Gate.ADMIN, "/admin/locations/1", None),
    "POST /admin/locations/{location_id}": (Gate.ADMIN, "/admin/locations/1", {}),
    "POST /admin/locations/{location_id}/active": (Gate.ADMIN, "/admin/locations/1/active", {}),
    "GET /admin/audit": (Gate.ADMIN, "/admin/audit", None),
    "GET /admin/deliveries": (Gate.ADMIN, "/admin/deliveries", None),
    "POST /admin/deliveries/{delivery_id}/retry": (Gate.ADMIN, "/admin/deliveries/1/retry", {}),
    "GET /admin/health": (Gate.ADMIN, "/admin/health", None),
    "GET /admin/health/dead-letters/{letter_id}/discard": (Gate.ADMIN, "/admin/health/dead-letters/dl-1/discard",
                                                           None),
    "POST /admin/health/dead-letters/{letter_id}/{action}": (Gate.ADMIN, "/admin/health/dead-letters/dl-1/requeue",
                                                             {}),
    "GET /admin/types": (Gate.ADMIN, "/admin/types", None),
    "POST /admin/types": (Gate.ADMIN, "/admin/types", {}),
    "GET /admin/types/{type_id}": (Gate.ADMIN, "/admin/types/1", None),
    "POST /admin/types/{type_id}": (Gate.ADMIN, "/admin/types/1", {}),
    "POST /admin/types/{type_id}/{action}": (Gate.ADMIN, "/admin/types/3/deactivate", {}),  # the inactive one
    "GET /admin/texts": (Gate.ADMIN, "/admin/texts", None),
}


GATEWAY_SETTINGS = GatewaySettings(timezone="Europe/Berlin", gateway_database_url="sqlite://")


def staff_routes() -> set[str]:
    """Every staff route of the gateway's app, as "METHOD path"."""
    app = create_app(SimpleNamespace(settings=GATEWAY_SETTINGS, staff=None))  # type: ignore[arg-type]
    return {f"{method} {route.path}" for route in iter_route_contexts(app.routes)
            if route.path and route.path.startswith(STAFF_PREFIXES) for method in route.methods or ()
            if method != "HEAD"}


@dataclass
class Door:
    """The gateway's app with the fakes, and a session per staff member, signed in again if a row ended it."""

    desk: StaffDesk
    client: TestClient
    spare: int
    sessions: dict[str, SignedIn] = field(default_factory=dict)

    def session(self, role: str) -> SignedIn | None:
        if role == "anonymous":
            return None
        username = USERNAMES[role]
        kept = self.sessions.get(username)
        if kept is not None and self.desk.accounts.current(kept.token) is not None:
            return kept
        signed_in = self.desk.accounts.authenticate(username, PASSWORD, "127.0.0.1")
        if isinstance(signed_in, CodeAwaited):
            signed_in = self.desk.accounts.complete_sign_in(signed_in.token, self.desk.code(username), "127.0.0.1")
        self.sessions[username] = signed_in
        return signed_in

    def ask(self, role: str, method: str, path: str, body: dict[str, Any] | None) -> httpx.Response:
        # Each request meets the calendar as it began: what another row changed does not decide this one.
        calendars = self.desk.calendars
        calendars.bookings, calendars.free = standard_calendar(), standard_free_times()
        calendars.absences, calendars.rules = [], standard_rules()
        signed_in = self.session(role)
        self.client.cookies.clear()
        headers = {}
        if signed_in is not None:
            self.client.cookies.set("lotse_staff", signed_in.token)
            headers["X-Lotse-CSRF"] = signed_in.csrf_token
        url = path.replace(SPARE, str(self.spare))
        if path.startswith("/v1/"):
            response: httpx.Response = self.client.request(method, url, headers=headers, json=body)
            return response
        form = {**(body or {}), "csrf": signed_in.csrf_token if signed_in else ""} if method == "POST" else None
        response = self.client.request(method, url, data=form)
        return response


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    with staff_desk(tmp_path_factory.mktemp("access-matrix")) as desk:
        spare = desk.accounts.create("dora", "Dora", "counsellor", PASSWORD, counsellor_id=7)
        pages_gateway = desk.app.state.gateway
        gateway: Any = SimpleNamespace(settings=pages_gateway.settings, staff=desk.accounts, calendars=desk.calendars,
                                       slots=desk.calendars, feeds=pages_gateway.feeds, deliveries=FakeDeliveries(),
                                       health=FakeHealth(), sms_previews=FakePreviews())
        # Not entered as a context: the app's lifespan would start the gateway's broker and relay threads.
        client = TestClient(create_app(gateway), raise_server_exceptions=False, follow_redirects=False,
                            headers={"Accept-Language": "en"})
        yield Door(desk, client, spare.id)


def outcome(response: httpx.Response, api: bool) -> str:
    """What the gate did: asked to sign in (401 from the API, 303 to /login from a page), refused (403), found no
    calendar of an admin's own (404, said so), or let the request through (anything else, a 5xx
    of a fake included: the request got past the gate)."""
    if response.status_code == 401 and api:
        return SIGN_IN
    if response.status_code == 303 and response.headers["location"].startswith("/login"):
        return SIGN_IN
    if response.status_code == 403:
        return FORBIDDEN
    if response.status_code == 404 and "no calendar of its own" in response.text:  # the page's and API's words
        return NO_CALENDAR
    return PASS  # a 404 of something else (no such absence, no feed) is past the gate


def test_every_staff_route_has_a_row_in_the_table() -> None:
    collected = staff_routes()

    assert sorted(collected - ROUTES.keys()) == [], "a staff route without a row: decide who may use it"
    assert sorted(ROUTES.keys() - collected) == [], "a row for a route the app no longer has"


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_who_is_let_through(door: Door, route: str) -> None:
    gate, path, body = ROUTES[route]
    method = route.split()[0]
    seen = {role: door.ask(role, method, path, body) for role in ROLES}
    found = {role: outcome(response, path.startswith("/v1/")) for role, response in seen.items()}

    assert found == dict(zip(ROLES, EXPECTED[gate], strict=True)), {
        role: (response.status_code, response.headers.get("location")) for role, response in seen.items()}
