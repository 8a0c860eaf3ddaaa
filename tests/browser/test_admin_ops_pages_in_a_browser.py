"""An admin in Chromium on the delivery dashboard and the health page: the chart is an image with a name, a failed
text is sent again, a dead letter asks before it is discarded; axe-core finds no violation on any of these pages,
and none asks another origin for anything.

The staff pages in process (tests/support/staff_pages) with the notifier's answers faked as in
tests/unit/test_delivery_pages and the real SystemHealth on the embedded broker, served by uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.browser import DESKTOP, AxeAudit, RequestLog
from tests.support.dead_letters import take_dead_letters
from tests.support.server import serving
from tests.support.staff_pages import PASSWORD, StaffDesk, staff_desk
from tests.unit.test_delivery_pages import FakeDeliveries
from tests.unit.test_health_pages import a_dead_letter, health_service


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[StaffDesk]:
    with staff_desk(tmp_path) as made:
        made.app.state.gateway.deliveries = FakeDeliveries(banner=True)
        made.app.state.gateway.health = health = health_service(tmp_path)
        a_dead_letter(health.settings, "handler failed: ValueError")
        yield made
        take_dead_letters(health.settings)


def test_an_admin_reads_the_delivery_dashboard_retries_a_text_and_discards_a_dead_letter(
        chrome: Browser, desk: StaffDesk) -> None:
    requests = RequestLog()
    audit = AxeAudit()

    with serving(desk.app) as url:
        # axe-core is a script: the page's context must be allowed to run it despite the pages' CSP.
        context = chrome.new_context(base_url=url, viewport=DESKTOP, locale="de-DE", bypass_csp=True)
        context.set_default_timeout(15_000)
        context.on("request", requests.record)
        try:
            page = context.new_page()
            page.goto("/admin")
            page.get_by_label("Benutzername").fill("admin")
            page.get_by_label("Passwort").fill(PASSWORD)
            page.get_by_role("button", name="Anmelden").click()
            page.get_by_label("Code").fill(desk.code("admin"))
            page.get_by_role("button", name="Anmelden").click()

            page.get_by_role("link", name="Zustellung der SMS").click()
            expect(page.get_by_role("img", name="SMS pro Tag, vom 2025-03-25 bis 2025-03-31")).to_be_visible()
            expect(page.get_by_role("alert")).to_contain_text("SMS wegen des SMS-Kontos abgelehnt")
            audit("delivery dashboard", page)
            page.get_by_role("button", name="Erneut senden").click()
            expect(page.get_by_role("status")).to_contain_text("Die SMS wird noch einmal gesendet.")
            audit("retried", page)

            page.goto("/admin")
            page.get_by_role("link", name="Systemzustand und unzustellbare Nachrichten").click()
            expect(page.get_by_role("cell", name="handler failed: ValueError")).to_be_visible()
            audit("health", page)
            page.get_by_role("link", name="Verwerfen …").click()
            audit("discard question", page)
            page.get_by_role("button", name="Ja, verwerfen").click()
            expect(page.get_by_role("status")).to_have_text("Die unzustellbare Nachricht ist verworfen.")
            expect(page.get_by_text("Keine unzustellbaren Nachrichten.")).to_be_visible()
        finally:
            context.close()

    assert ("retry", 7) in desk.app.state.gateway.deliveries.asked
    assert audit.found == {}, audit.report()
    assert requests.foreign(url) == [], "a page asked another origin"
