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
    choose_first_day,
    choose_first_time,
    chosen_time,
    describe,
    give_phone,
    open_booking_page,
    request_appointment,
    say,
    show_free_times,
    take_first_free_time,
    wait_for_status,
)
from tests.support.system import System, poll

CONFIRMED = "Ihr Termin ist bestätigt."
PENDING = "Wir prüfen, ob die Uhrzeit noch frei ist. Das dauert meist nur ein paar Sekunden."
REJECTED = "Diese Uhrzeit hat leider nicht geklappt."
CANCELLED = "Dieser Termin ist abgesagt."


class Audit:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.found: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, name: str) -> None:
        self.page.wait_for_load_state()
        self.found[name] = axe_violations(self.page)

    def report(self) -> str:
        return "\n".join(f"{name}:\n{describe(found)}" for name, found in self.found.items() if found)


def _book_by_api(url: str, slot_id: str, phone: str) -> str:
    with httpx.Client(base_url=url, timeout=10) as client:
        answer = client.post("/v1/bookings", json={"slot_id": slot_id, "phone": phone, "language": "de",
                                                   "channel": "web"})
        answer.raise_for_status()
        return str(answer.json()["manage_token"])


def _confirmed(url: str, token: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        poll(lambda: client.get(f"/v1/bookings/{token}").json()["status"] == "confirmed")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["360px", "desktop"])
def test_every_page_of_a_booking_passes_axe(viewport: ViewportSize, lotse: System,
                                            new_context: NewContext, requests_made: RequestLog) -> None:
    page = new_context(viewport=viewport, bypass_csp=True, locale="de-DE").new_page()  # axe is a script
    audit = Audit(page)

    # A browser that names no language the pages speak: the language choice.
    chooser = new_context(viewport=viewport, bypass_csp=True, locale="zh-CN").new_page()
    chooser.goto("/")
    audit.page = chooser
    audit("language choice")
    audit.page = page
    open_booking_page(page, "de")
    audit("booking page")
    show_free_times(page, "de")
    audit("free days of a week")
    choose_first_day(page, "de")
    audit("times of a day")
    choose_first_time(page)
    give_phone(page, "de", "12")
    request_appointment(page, "de")
    audit("times of a day, the number refused")
    give_phone(page, "de", "+4915112340010")
    request_appointment(page, "de")
    page.wait_for_url("**/m/*")
    wait_for_status(page, "de", CONFIRMED)
    manage = page.url
    audit("manage page, confirmed")
    page.get_by_role("link", name=say("de", "Change the time")).click()
    audit("another time: free days")
    choose_first_day(page, "de")
    audit("another time: times of a day")
    page.get_by_role("link", name=say("de", "Keep my appointment as it is")).click()
    page.get_by_role("link", name=say("de", "Cancel appointment")).click()
    audit("cancel question")
    page.get_by_role("button", name=say("de", "Yes, cancel")).click()
    wait_for_status(page, "de", CANCELLED)
    audit("manage page, cancelled")
    page.get_by_role("link", name=say("de", "Delete my data")).click()
    audit("erase question")
    page.get_by_role("button", name=say("de", "Yes, delete everything")).click()
    audit("data erased")
    page.goto(manage)
    audit("manage page, unknown link")

    # A booking's page before the decision: opened (in another tab) at once after the API accepted it, while the
    # page's own POST would wait for the decision; mostly still pending, audited in whichever state it shows.
    open_booking_page(page, "de")
    show_free_times(page, "de")
    take_first_free_time(page, "de")
    token = _book_by_api(lotse.url, str(chosen_time(page).get_attribute("value")), "+4915112340011")
    audit.page = page.context.new_page()
    audit.page.goto(f"/m/{token}")
    audit("manage page, pending" if audit.page.get_by_role("status").first.inner_text().strip() == PENDING
          else "manage page, decided before it was shown")
    audit.page = page
    # A time someone else took between the list and the request: refused, with other times to book.
    _confirmed(lotse.url, token)
    give_phone(page, "de", "+4915112340012")
    request_appointment(page, "de")
    wait_for_status(page, "de", REJECTED)
    audit("manage page, refused with alternatives")
    choose_first_time(page)
    give_phone(page, "de", "+4915112340012")
    request_appointment(page, "de")
    wait_for_status(page, "de", CONFIRMED)
    cancel_appointment(page, "de")
    wait_for_status(page, "de", CANCELLED)

    assert audit.report() == ""
    assert requests_made.urls, "no request was recorded"
    assert requests_made.foreign(lotse.url) == []
