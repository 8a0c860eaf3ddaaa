"""A counsellor in Chromium: signs in, sees their week, marks an appointment as attended; axe-core finds no
violation on any page on the way, and no page asks another origin for anything.

The staff pages in process (tests/support/staff_pages: real sign-in on SQLite, the scheduler a fake of our
StaffClient port, so an appointment has begun at a fixed time) served by uvicorn: no whole system is started."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import DESKTOP, RequestLog, axe_violations, describe
from tests.support.server import serving
from tests.support.staff_pages import PASSWORD, StaffDesk, staff_desk


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[StaffDesk]:
    with staff_desk(tmp_path) as made:
        yield made


def test_a_counsellor_signs_in_sees_the_week_and_marks_an_appointment_attended(chrome: Browser, desk: StaffDesk
                                                                                ) -> None:
    requests = RequestLog()
    found: dict[str, str] = {}

    def audit(name: str, page: Page) -> None:
        page.wait_for_load_state()
        violations = axe_violations(page)
        if violations:
            found[name] = describe(violations)

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
    assert found == {}, "\n".join(f"{name}:\n{lines}" for name, lines in found.items())
    assert requests.foreign(url) == [], "a page asked another origin"
