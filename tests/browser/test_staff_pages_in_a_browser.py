"""A counsellor in Chromium: signs in, sees their week, marks an appointment as attended; an admin signs in with the
code of an authenticator app (pyotp), makes an account whose one-time link a new colleague uses, who then sets up
two-factor sign-in; a counsellor sets an absence over a booked day and moves the booking with the picker, which the
client's manage page then shows. axe-core finds no violation on any page on the way, and no page asks another
origin for anything.

The first two tests have the staff pages in process (tests/support/staff_pages: real sign-in on SQLite, the
scheduler a fake of our StaffClient port, so an appointment has begun at a fixed time) served by uvicorn; the last
needs the real scheduler and client pages and uses the browser tests' running system (tests/browser/conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pyotp
import pytest
from gateway.settings import GatewaySettings
from gateway.staff.accounts import StaffAccounts
from playwright.sync_api import Browser, expect

from shared.db import make_engine
from tests.browser.conftest import NewContext
from tests.support.browser import DESKTOP, AxeAudit, RequestLog
from tests.support.server import serving
from tests.support.staff_pages import CHEAP, PASSWORD, StaffDesk, staff_desk
from tests.support.system import System, wait_for_status


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[StaffDesk]:
    with staff_desk(tmp_path) as made:
        yield made


def test_a_counsellor_signs_in_sees_the_week_and_marks_an_appointment_attended(chrome: Browser, desk: StaffDesk
                                                                                ) -> None:
    requests = RequestLog()
    audit = AxeAudit()

    with serving(desk.app) as url:
        # axe-core is a script: the page's context must be allowed to run it despite the pages' CSP.
        context = chrome.new_context(base_url=url, viewport=DESKTOP, locale="de-DE", bypass_csp=True)
        context.set_default_timeout(15_000)
        context.on("request", requests.record)
        try:
            page = context.new_page()
            page.goto("/staff/week")
            expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
            audit("sign in", page)

            page.get_by_label("Benutzername").fill("anna")
            page.get_by_label("Passwort").fill("not the password")
            page.get_by_role("button", name="Anmelden").click()
            expect(page.get_by_text("Benutzername oder Passwort stimmen nicht.")).to_be_visible()
            expect(page.get_by_label("Passwort")).to_be_focused()
            audit("sign in refused", page)

            page.get_by_label("Passwort").fill(PASSWORD)
            page.get_by_role("button", name="Anmelden").click()
            expect(page.get_by_role("heading", name="Meine Woche", level=1)).to_be_visible()
            audit("my week", page)

            first = page.get_by_role("article").filter(
                has=page.get_by_role("heading", name="10:00–11:00, Rostock 1"))
            expect(first).to_contain_text("bestätigt")
            first.get_by_role("button", name="Person ist gekommen").click()

            expect(page.get_by_role("status")).to_have_text("Eingetragen: Die Person ist gekommen.")
            expect(first).to_contain_text("gekommen")
            expect(first.get_by_role("button")).to_have_count(0)
            audit("my week after the change", page)
        finally:
            context.close()

    assert desk.calendars.status_of(1) == "attended"
    assert audit.found == {}, audit.report()
    assert requests.foreign(url) == [], "a page asked another origin"


def test_an_admin_signs_in_with_a_code_and_manages_accounts_and_a_new_colleague_sets_up_two_factor_sign_in(
        chrome: Browser, desk: StaffDesk) -> None:
    requests = RequestLog()
    audit = AxeAudit()

    def app_code(secret: str) -> str:
        desk.clock.advance(seconds=30)  # a step no code was used in yet
        return pyotp.TOTP(secret).at(int(desk.clock().timestamp()))

    with serving(desk.app) as url:
        context = chrome.new_context(base_url=url, viewport=DESKTOP, locale="de-DE", bypass_csp=True)
        context.set_default_timeout(15_000)
        context.on("request", requests.record)
        try:
            page = context.new_page()
            page.goto("/admin/accounts")
            page.get_by_label("Benutzername").fill("admin")
            page.get_by_label("Passwort").fill(PASSWORD)
            page.get_by_role("button", name="Anmelden").click()
            expect(page.get_by_role("heading", name="Anmeldecode")).to_be_visible()
            audit("code step", page)
            page.get_by_label("Code").fill(app_code(desk.secrets["admin"]))
            page.get_by_role("button", name="Anmelden").click()

            expect(page.get_by_role("heading", name="Konten der Mitarbeitenden", level=1)).to_be_visible()
            audit("accounts", page)
            page.get_by_label("Benutzername").fill("carla")
            page.get_by_label("Name, den Kolleginnen und Kollegen sehen").fill("Carla")
            page.get_by_label("Nummer der Beratungsperson im Kalender (nur für die Beratung)").fill("7")
            page.get_by_role("button", name="Konto anlegen").click()
            expect(page.get_by_role("heading", name="Einmal-Link für carla")).to_be_visible()
            audit("account created", page)
            link = urlsplit(page.locator("code.link").inner_text())  # PUBLIC_BASE_URL's, not the test server's

            page.get_by_role("row").filter(has_text="anna").get_by_role("link", name="Deaktivieren …").click()
            expect(page.get_by_role("heading", name="anna deaktivieren?")).to_be_visible()
            audit("deactivate question", page)
            page.get_by_role("link", name="Nein, zurück zu den Konten").click()
            page.goto("/staff/two-factor")
            expect(page.get_by_text("Verbleibende Wiederherstellungscodes: 10.")).to_be_visible()
            audit("two-factor sign-in on", page)
            page.get_by_role("button", name="Abmelden").click()

            page.goto(f"{link.path}?{link.query}")
            expect(page.get_by_role("heading", name="Neues Passwort setzen")).to_be_visible()
            audit("new password from a link", page)
            page.get_by_label("Neues Passwort (mindestens 12 Zeichen)").fill("seven unrelated words make it")
            page.get_by_label("Neues Passwort noch einmal").fill("seven unrelated words make it")
            page.get_by_role("button", name="Passwort setzen").click()
            page.get_by_label("Benutzername").fill("carla")
            page.get_by_label("Passwort").fill("seven unrelated words make it")
            page.get_by_role("button", name="Anmelden").click()
            expect(page.get_by_role("heading", name="Mein Tag")).to_be_visible()

            page.goto("/staff/two-factor")
            page.get_by_role("button", name="Zwei-Faktor-Anmeldung einrichten").click()
            expect(page.get_by_role("img", name="QR-Code für Ihre Authenticator-App")).to_be_visible()
            audit("set-up with the QR code", page)
            secret = page.locator("code.secret").inner_text().replace(" ", "")
            page.get_by_label("Code aus Ihrer App").fill(app_code(secret))
            page.get_by_role("button", name="Zwei-Faktor-Anmeldung einschalten").click()
            expect(page.get_by_role("heading", name="Wiederherstellungscodes")).to_be_visible()
            expect(page.locator(".codes li")).to_have_count(10)
            audit("recovery codes", page)
        finally:
            context.close()

    assert audit.found == {}, audit.report()
    assert requests.foreign(url) == [], "a page asked another origin"


def counsellor_account(system: System, username: str, counsellor_id: int) -> None:
    """A counsellor's account on the running system's gateway database, made in process with cheap hashing: the
    operator's command (tests/support/staff.py) would cost seconds of a new interpreter and full argon2."""
    engine = make_engine(GatewaySettings(var_dir=system.var_dir).gateway_database_url)
    try:
        StaffAccounts(engine, hasher=CHEAP).create(username, username.title(), "counsellor", PASSWORD,
                                                   counsellor_id=counsellor_id)
    finally:
        engine.dispose()


def test_a_counsellor_sets_an_absence_over_a_booked_day_and_moves_the_booking_with_the_picker(
        lotse: System, new_context: NewContext) -> None:
    """On the whole system (the browser tests' running one): the client's manage page shows the new time. Then
    the absence is removed again (the system is shared), the weekly hours previewed (not saved) and a calendar feed
    issued, axe-core on each page."""
    counsellor_account(lotse, "anna", 1)  # Anna of the demo calendar
    with httpx.Client(base_url=lotse.url, timeout=10) as client:
        slot = client.get("/v1/slots", params={"language": "de", "counsellor": "Anna"}).json()["slots"][0]
        booked = client.post("/v1/bookings", json={"slot_id": slot["slot_id"], "phone": "+4915112340031",
                                                   "language": "de", "channel": "web"})
        assert booked.status_code == 202, booked.text
        token = booked.json()["manage_token"]
        wait_for_status(client, token, "confirmed")
    booked_at = datetime.fromisoformat(slot["start"]).astimezone(ZoneInfo("Europe/Berlin"))
    booked_day = booked_at.date().isoformat()
    audit = AxeAudit()

    # axe-core is a script: the page's context must be allowed to run it despite the pages' CSP.
    page = new_context(locale="de-DE", viewport=DESKTOP, bypass_csp=True).new_page()
    page.goto("/staff/absences")
    page.get_by_label("Benutzername").fill("anna")
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page.get_by_role("heading", name="Abwesenheiten", level=1)).to_be_visible()
    audit("absences", page)

    page.get_by_label("Erster Tag").fill(booked_day)
    page.get_by_label("Grund (für den Kalender, freiwillig)").fill("Fortbildung")
    page.get_by_role("button", name="Abwesenheit eintragen").click()
    expect(page.get_by_role("status")).to_have_text("Die Abwesenheit ist gespeichert.")
    expect(page.get_by_role("heading", name="Termine in dieser Abwesenheit")).to_be_visible()
    audit("absence added", page)
    # Other tests of the shared system may have booked Anna that day too: this booking is the one at its time.
    links = page.locator("ul.areas li", has_text=booked_at.strftime("%H:%M")).get_by_role("link", name="Verschieben …")
    expect(links).to_have_count(1)
    links.click()

    expect(page.get_by_role("heading", name="Termin verschieben", level=1)).to_be_visible()
    audit("move: days", page)
    first_free = page.get_by_role("link", name=re.compile("^Erste freie Uhrzeit"))
    for _week in range(4):  # the absence may have emptied this week
        if first_free.count():
            break
        page.get_by_role("link", name="Spätere Woche").click()
    first_free.click()
    chosen = page.get_by_role("radio", checked=True)
    expect(chosen).to_have_count(1)
    audit("move: times", page)
    new_day = page.get_by_role("heading", level=2).first.inner_text()
    new_time = page.locator("label.slot", has=chosen).inner_text().strip()
    page.get_by_role("button", name="Termin auf diese Uhrzeit verschieben").click()

    expect(page.get_by_role("status")).to_have_text("Der Termin ist verschoben; die Person wird benachrichtigt.")
    # The week may hold other appointments at that time (the system is shared); the client's page below is the proof.
    expect(page.get_by_role("heading", name=re.compile(f"^{new_time}–")).first).to_be_visible()
    audit("week after the move", page)

    client_page = new_context(locale="de-DE").new_page()
    when = client_page.locator("dd").first
    for _try in range(50):  # the gateway learns of the move from the scheduler's event
        client_page.goto(f"/m/{token}")
        if when.inner_text() == f"{new_day}, {new_time}":
            break
        client_page.wait_for_timeout(200)
    expect(when).to_have_text(f"{new_day}, {new_time}")

    page.goto(f"/staff/absences?start={booked_day}")  # the absence goes again: the system is shared
    page.get_by_role("button", name="Entfernen").first.click()
    expect(page.get_by_role("status")).to_have_text("Die Abwesenheit ist entfernt.")

    page.get_by_role("link", name="Wochenzeiten").click()
    expect(page.get_by_role("heading", name="Wochenzeiten", level=1)).to_be_visible()
    expect(page.get_by_label("Von (1)").first).to_have_value("09:00")  # the demo's Anna: Mondays 09:00-16:00
    audit("weekly hours", page)
    page.get_by_role("button", name="Erst die Woche zeigen").click()
    expect(page.get_by_role("heading", name="Die Woche mit diesen Zeiten (noch nicht gespeichert)")).to_be_visible()
    audit("weekly hours previewed", page)

    page.get_by_role("link", name="Kalender-Feed").click()
    audit("feed", page)
    page.get_by_role("button", name="Neue Feed-Adresse erstellen").click()
    expect(page.locator("code")).to_contain_text("/v1/feeds/")
    audit("feed address shown", page)
    assert audit.found == {}, audit.report()
