"""An admin in Chromium sets Lotse up (issue 12): signs in with a code, adds a location (an alias with a '+' first,
said at the field, which takes the focus, then a right one), opens and deactivates it, adds a counsellor serving it,
changes an appointment type's reminders and reads them in words, and reads one kind of SMS text in one language; a
counsellor shows a phone appointment's number once, as a tel: link on a page no cache keeps and no URL holds. axe-core
finds no violation on any of these pages, and none asks another origin for anything.

The staff pages in process (tests/support/staff_pages: real sign-in on SQLite) served by uvicorn; the scheduler the
fakes of our StaffClient port (tests/support/staff_setup for counsellors and locations over staff_pages'
FakeCalendars for types and the calendar), the notifier the fakes of the SMS previews and of the number source that
the unit tests use at the same gateway ports."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway.staff.accounts import Staff
from playwright.sync_api import Browser, BrowserContext, Page, expect
from playwright.sync_api import Error as PlaywrightError

from shared.contracts.staff import StaffAction, TypesAction
from tests.support.browser import DESKTOP, AxeAudit, RequestLog
from tests.support.server import serving
from tests.support.staff_pages import PASSWORD, StaffDesk, staff_desk
from tests.support.staff_setup import FakeSetup
from tests.unit.test_contact_number_reveal import PHONE, PHONE_BOOKING, FakeNumbers
from tests.unit.test_type_pages import FakePreviews

ALIAS_WRONG = "Der Alias muss 2 bis 40 Zeichen haben"


class SetupWithTypes(FakeSetup):
    """The setup fake, but the appointment types are the calendar fake's, so that a type changed on /admin/types
    is the one the list shows (FakeSetup answers fixed types of its own)."""

    def ask(self, staff: Staff, action: StaffAction, expected: type[Any]) -> Any:
        if isinstance(action, TypesAction):
            return self.fallback.ask(staff, action, expected)
        return super().ask(staff, action, expected)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[StaffDesk]:
    with staff_desk(tmp_path) as made:
        made.app.state.gateway.calendars = SetupWithTypes(made.calendars)
        made.app.state.gateway.sms_previews = FakePreviews()
        made.app.state.gateway.contact_numbers = FakeNumbers()
        yield made


def open_context(chrome: Browser, url: str, requests: RequestLog) -> BrowserContext:
    # axe-core is a script: the page's context must be allowed to run it despite the pages' CSP.
    context = chrome.new_context(base_url=url, viewport=DESKTOP, locale="de-DE", bypass_csp=True)
    context.set_default_timeout(15_000)
    context.on("request", requests.record)
    return context


def sign_in(page: Page, username: str) -> None:
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()


def test_an_admin_adds_a_location_and_a_counsellor_changes_reminders_and_reads_the_texts(
        chrome: Browser, desk: StaffDesk) -> None:
    requests, audit = RequestLog(), AxeAudit()
    setup: FakeSetup = desk.app.state.gateway.calendars

    with serving(desk.app) as url:
        context = open_context(chrome, url, requests)
        try:
            page = context.new_page()
            page.goto("/admin")
            sign_in(page, "admin")
            page.get_by_label("Code").fill(desk.code("admin"))
            page.get_by_role("button", name="Anmelden").click()

            expect(page.get_by_role("heading", name="Verwaltung", level=1)).to_be_visible()
            audit("admin", page)

            # --- a location: wrong alias first, said at the field, then right ---
            page.get_by_role("link", name="Orte", exact=True).last.click()
            expect(page.get_by_role("heading", name="Orte", level=1)).to_be_visible()
            audit("locations", page)
            page.get_by_label("Stadt (für die Fahrzeit zwischen Orten)").fill("Güstrow")
            page.get_by_label("Art", exact=True).select_option("office")
            alias = page.get_by_label("Alias (steht in SMS)")
            alias.fill("Güstrow +49 3843")
            page.get_by_label("Adresse").fill("Markt 1, 18273 Güstrow")
            page.get_by_role("button", name="Ort anlegen").click()
            # Said at the field, which takes the focus: a screen reader reads its name, "invalid" and the sentence.
            expect(alias).to_have_attribute("aria-invalid", "true")
            expect(alias).to_have_accessible_description(re.compile(ALIAS_WRONG))
            expect(alias).to_be_focused()
            expect(alias).to_have_value("Güstrow +49 3843")  # what was typed stays, to be corrected
            expect(page.get_by_label("Adresse")).to_have_value("Markt 1, 18273 Güstrow")
            audit("location refused", page)
            alias.fill("Güstrow 2")
            page.get_by_role("button", name="Ort anlegen").click()
            expect(page.get_by_role("status")).to_contain_text("Der Ort ist angelegt.")
            row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Güstrow 2"))
            expect(row).to_contain_text("aktiv")
            audit("location added", page)
            row.get_by_role("link", name="Güstrow 2 ändern").click()
            expect(page.get_by_role("heading", name="Ort: Güstrow 2", level=1)).to_be_visible()
            expect(page.get_by_label("Adresse")).to_have_value("Markt 1, 18273 Güstrow")
            audit("location edit page", page)
            page.get_by_role("button", name="Ort deaktivieren").click()
            expect(page.get_by_role("status")).to_contain_text("Der Ort ist deaktiviert")
            audit("location deactivated", page)
            place = next(p for p in setup.locations if p.alias == "Güstrow 2")
            assert (place.town, place.kind, place.active) == ("Güstrow", "office", False)

            # --- a counsellor serving it ---
            page.goto("/admin")
            page.get_by_role("link", name="Beraterinnen und Berater").click()
            expect(page.get_by_role("heading", name="Beraterinnen und Berater", level=1)).to_be_visible()
            audit("counsellors", page)
            page.get_by_label("Name, den Ratsuchende sehen (ein Vorname oder ein anderer Alias)").fill("Clara")
            places = page.get_by_role("group", name="Orte")
            places.get_by_label("Güstrow 2 (vor Ort), deaktiviert").check()
            page.get_by_role("button", name="Beraterin oder Berater anlegen").click()  # no language ticked
            languages = page.get_by_role("group", name="Sprachen")
            first_language = languages.get_by_role("checkbox").first
            expect(first_language).to_be_focused()  # the group's first box, described by the sentence
            expect(first_language).to_have_accessible_description("Bitte kreuzen Sie mindestens eine Sprache an.")
            expect(places.get_by_label("Güstrow 2 (vor Ort), deaktiviert")).to_be_checked()  # kept as ticked
            audit("counsellor refused", page)
            languages.get_by_label("Deutsch").check()
            page.get_by_role("button", name="Beraterin oder Berater anlegen").click()
            expect(page.get_by_role("status")).to_contain_text("Die Beraterin oder der Berater ist angelegt.")
            clara = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Clara"))
            expect(clara).to_contain_text("Güstrow 2")
            audit("counsellor added", page)
            clara.get_by_role("link", name="Clara ändern").click()
            expect(page.get_by_role("heading", name="Beratung: Clara", level=1)).to_be_visible()
            audit("counsellor edit page", page)
            made = next(c for c in setup.counsellors if c.alias == "Clara")
            assert made.location_ids == [place.location_id] and made.languages == ["de"]

            # --- an appointment type's reminders, said in words ---
            page.goto("/admin")
            page.get_by_role("link", name="Terminarten und Erinnerungen").click()
            expect(page.get_by_role("heading", name="Terminarten und Erinnerungen", level=1)).to_be_visible()
            audit("types", page)
            health = page.get_by_role("row").filter(has_text="(health)")
            expect(health).to_contain_text("keine Erinnerungen")
            health.get_by_role("link", name=re.compile("^Ändern")).click()
            expect(page.get_by_role("heading", name=re.compile("^Terminart .* ändern$"), level=1)).to_be_visible()
            audit("type edit page", page)
            page.get_by_label("Erinnerung 1", exact=True).fill("2")
            page.get_by_label("Einheit von Erinnerung 1").select_option("days")
            page.get_by_label("Erinnerung 2", exact=True).fill("10")
            page.get_by_label("Einheit von Erinnerung 2").select_option("minutes")
            page.get_by_role("button", name="Änderungen speichern").click()
            reminders_wrong = "Jede Erinnerung muss 15 Minuten bis 14 Tage vor dem Beginn liegen."
            first_reminder = page.get_by_label("Erinnerung 1", exact=True)
            expect(first_reminder).to_be_focused()
            expect(first_reminder).to_have_accessible_description(reminders_wrong)
            expect(page.get_by_label("Erinnerung 2", exact=True)).to_have_value("10")
            audit("type refused", page)
            page.get_by_label("Erinnerung 2", exact=True).fill("3")
            page.get_by_label("Einheit von Erinnerung 2").select_option("hours")
            page.get_by_role("button", name="Änderungen speichern").click()
            expect(page.get_by_role("status")).to_contain_text("Die Terminart ist gespeichert.")
            expect(page.get_by_role("row").filter(has_text="(health)")).to_contain_text("2 Tage und 3 Stunden vor")
            audit("type saved", page)
            assert next(t for t in desk.calendars.types if t.topic == "health").reminder_offsets_minutes == [
                2880, 180]

            # --- the SMS texts, one kind in one language ---
            page.goto("/admin")
            page.get_by_role("link", name="SMS-Texte in allen Sprachen").click()
            expect(page.get_by_role("heading", name="SMS-Texte in allen Sprachen", level=1)).to_be_visible()
            audit("texts", page)
            page.get_by_label("Art des Textes").select_option("reminder")
            page.get_by_label("Sprache der Person").select_option("th")
            page.get_by_role("button", name="Anzeigen").click()
            expect(page).to_have_url(re.compile(r"/admin/texts\?.*kind=reminder.*language=th"))
            expect(page.locator("article.sms")).to_have_count(1)
            expect(page.get_by_role("alert")).to_contain_text(  # the fake's Thai reminder comes in English
                "Es gibt keinen brauchbaren Text auf Thailändisch")
            audit("texts: the Thai reminder", page)
        finally:
            context.close()

    assert audit.found == {}, audit.report()
    assert requests.foreign(url) == [], "a page asked another origin"


def test_a_counsellor_sees_a_phone_appointments_number_once_and_nowhere_else(chrome: Browser, desk: StaffDesk
                                                                             ) -> None:
    requests, audit = RequestLog(), AxeAudit()
    numbers: FakeNumbers = desk.app.state.gateway.contact_numbers

    with serving(desk.app) as url:
        context = open_context(chrome, url, requests)
        try:
            page = context.new_page()
            page.goto("/staff")
            sign_in(page, "anna")
            expect(page.get_by_role("heading", name="Mein Tag", level=1)).to_be_visible()
            phone_call = page.get_by_role("article").filter(has=page.get_by_role("heading", name=re.compile(
                "^14:00–15:00")))
            audit("my day", page)
            with page.expect_response(re.compile(r"/number$")) as shown:
                phone_call.get_by_role("button", name="Nummer der Person zeigen").click()
            expect(page.get_by_role("heading", name="Die Nummer der Person", level=1)).to_be_visible()
            number = page.get_by_role("link", name=PHONE)
            expect(number).to_have_attribute("href", f"tel:{PHONE}")
            expect(page.get_by_text("Telefontermin am Montag, 31. März um 14:00–15:00.")).to_be_visible()
            assert "no-store" in shown.value.headers["cache-control"]
            audit("the number", page)
            assert numbers.asked == [PHONE_BOOKING]

            # In no URL: not the page's, not any request's, not a step of the tab's history.
            assert PHONE not in page.url and PHONE[3:] not in page.url
            assert not [u for u in requests.urls if PHONE[3:] in u]
            page.get_by_role("link", name="Zurück zum Kalender").click()
            expect(page.get_by_role("heading", name="Mein Tag", level=1)).to_be_visible()
            expect(page.get_by_text(PHONE)).to_have_count(0)
            # Back to the number page: a form post kept in no cache, so Chromium will not show it again unasked.
            with pytest.raises(PlaywrightError, match="ERR_CACHE_MISS"):
                page.go_back()
            page.wait_for_load_state()
            expect(page.get_by_text(PHONE[3:])).to_have_count(0)
            history = [page.url]
            while page.go_back() is not None:
                history.append(page.url)
            assert all(PHONE[3:] not in step for step in history), history

            # From the week, while the text service is away: a sentence in place of the number, and back to the week.
            numbers.down = True
            page.goto("/staff/week")
            expect(page.get_by_role("heading", name="Meine Woche", level=1)).to_be_visible()
            audit("my week", page)
            page.get_by_role("button", name="Nummer der Person zeigen").click()
            expect(page.get_by_role("alert")).to_contain_text("Der SMS-Dienst antwortet gerade nicht")
            expect(page.get_by_role("link", name=PHONE)).to_have_count(0)
            audit("the number refused", page)
            page.get_by_role("link", name="Zurück zum Kalender").click()
            expect(page.get_by_role("heading", name="Meine Woche", level=1)).to_be_visible()
            assert numbers.asked == [PHONE_BOOKING, PHONE_BOOKING]
        finally:
            context.close()

    assert audit.found == {}, audit.report()
    assert requests.foreign(url) == [], "a page asked another origin"
