"""axe-core finds no violation (WCAG 2 A/AA and its best practices) on any page a client meets, on a phone 360 px
wide and on a desktop; and no page asks anything of another origin than the gateway's."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, ViewportSize

from tests.browser.conftest import NewContext
from tests.support.browser import (
    DESKTOP,
    PHONE,
    RequestLog,
    axe_violations,
    cancel_appointment,
    choose_first_time,
    describe,
    give_phone,
    open_booking_page,
    request_appointment,
    say,
    show_free_times,
    wait_for_status,
)
from tests.support.system import System, poll

CONFIRMED = "Ihr Termin ist bestätigt."
PENDING = "Wir prüfen, ob die Uhrzeit noch frei ist. Diese Seite aktualisiert sich von selbst."
REJECTED = "Diese Uhrzeit hat leider nicht geklappt."
CANCELLED = "Dieser Termin ist abgesagt."
# What main's pages are known to fail, page by page, until the pages' rework of issue 11 lands: the pending page
# reloads itself every 2 s (<meta http-equiv="refresh">). Listed, not skipped: any other violation fails.
KNOWN: dict[str, set[str]] = {"manage page, pending": {"meta-refresh"}}


class Audit:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.found: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, name: str) -> None:
        self.page.wait_for_load_state()
        known = KNOWN.get(name, set())
        self.found[name] = [v for v in axe_violations(self.page) if v["id"] not in known]

    def report(self) -> str:
        return "\n".join(f"{name}:\n{describe(found)}" for name, found in self.found.items() if found)


def _status(page: Page) -> str:
    return page.get_by_role("status").first.inner_text().strip()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360px", "desktop"])
def test_every_page_of_a_booking_passes_axe(viewport: ViewportSize, lotse: System,
                                            new_context: NewContext, requests_made: RequestLog) -> None:
    page = new_context(viewport=viewport, bypass_csp=True, locale="de-DE").new_page()  # axe is a script
    audit = Audit(page)

    open_booking_page(page, "de")
    audit("booking page")
    show_free_times(page, "de")
    audit("free times")
    choose_first_time(page)
    give_phone(page, "de", "12")
    request_appointment(page, "de")
    audit("free times, the number refused")
    give_phone(page, "de", "+4915112340010")
    request_appointment(page, "de")
    page.wait_for_url("**/m/*")
    manage = page.url
    # The decision may already have arrived: the page is audited in whichever state it shows.
    audit("manage page, pending" if _status(page) == PENDING else "manage page, confirmed at once")
    wait_for_status(page, CONFIRMED)
    audit("manage page, confirmed")
    page.get_by_role("link", name=say("de", "Cancel appointment")).click()
    audit("cancel question")
    page.get_by_role("button", name=say("de", "Yes, cancel")).click()
    wait_for_status(page, CANCELLED)
    audit("manage page, cancelled")
    page.get_by_role("link", name=say("de", "Delete my data")).click()
    audit("erase question")
    page.get_by_role("button", name=say("de", "Yes, delete everything")).click()
    audit("data erased")
    page.goto(manage)
    audit("manage page, unknown link")

    # A time someone else takes between the list and the request: refused, with other times to book.
    show_other = new_context(viewport=viewport, bypass_csp=True).new_page()
    open_booking_page(show_other, "de")
    show_free_times(show_other, "de")
    taken = show_other.get_by_role("radio").first.get_attribute("value")
    with httpx.Client(base_url=lotse.url, timeout=10) as client:
        booked = client.post("/v1/bookings", json={"slot_id": taken, "phone": "+4915112340011", "language": "de",
                                                   "channel": "web"}).json()
        poll(lambda: client.get(f"/v1/bookings/{booked['manage_token']}").json()["status"] == "confirmed")
    choose_first_time(show_other)
    give_phone(show_other, "de", "+4915112340012")
    request_appointment(show_other, "de")
    wait_for_status(show_other, REJECTED)
    audit.page = show_other
    audit("manage page, refused with alternatives")
    choose_first_time(show_other)
    give_phone(show_other, "de", "+4915112340012")
    request_appointment(show_other, "de")
    wait_for_status(show_other, CONFIRMED)
    cancel_appointment(show_other, "de")
    wait_for_status(show_other, CANCELLED)

    assert audit.report() == ""
    assert requests_made.urls, "no request was recorded"
    assert requests_made.foreign(lotse.url) == []
