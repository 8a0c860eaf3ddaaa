"""A client books, is told the booking is confirmed, opens the link of the confirmation SMS and cancels, in a real
browser (Chromium) on the whole system: by pointer, by keyboard alone, and with JavaScript switched off."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import NewContext
from tests.support.browser import (
    book_first_free_time,
    cancel_appointment,
    choose_first_time,
    open_booking_page,
    say,
    wait_for_status,
)
from tests.support.system import System, book_first_free_slot, poll

CONFIRMED = {"de": "Ihr Termin ist bestätigt.", "en": "Your appointment is confirmed."}
CANCELLED = {"de": "Dieser Termin ist abgesagt.", "en": "This appointment is cancelled."}
LINK = re.compile(r"https?://\S+/m/([A-Za-z0-9_-]+)")


def test_a_client_books_a_free_time_and_sees_it_confirmed(page: Page) -> None:
    path = book_first_free_time(page, "de")

    wait_for_status(page, CONFIRMED["de"])
    assert page.url.endswith(path)
    expect(page).to_have_title("Termin")
    expect(page.locator("html")).to_have_attribute("lang", "de")


def test_a_client_cancels_on_the_manage_page_after_confirming_the_question(page: Page) -> None:
    book_first_free_time(page, "en")
    wait_for_status(page, CONFIRMED["en"])

    cancel_appointment(page, "en")

    wait_for_status(page, CANCELLED["en"])


def test_the_sms_link_opens_the_manage_page_in_the_language_of_the_booking(lotse: System,
                                                                            new_context: NewContext) -> None:
    with httpx.Client(base_url=lotse.url, timeout=10) as client:
        booking = book_first_free_slot(client, "+4915112340001", language="en")
    text = poll(lambda: next((m["body"] for m in lotse.sink() if f"/m/{booking['manage_token']}" in m["body"]),
                             None))
    link = LINK.search(text)
    assert link is not None, "the confirmation SMS carries no manage link"

    # The phone's browser prefers German; the page follows the booking, which was made in English.
    page = new_context(locale="de-DE").new_page()
    page.goto(link.group(0))

    wait_for_status(page, CONFIRMED["en"])
    expect(page.locator("html")).to_have_attribute("lang", "en")


def _tab_to(page: Page, target: Locator, presses: int = 150) -> None:
    """Presses Tab until `target` has the focus (as a person would, never clicking)."""
    for _ in range(presses):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} never got the focus by Tab")


def test_a_client_books_and_cancels_with_the_keyboard_alone(page: Page) -> None:
    open_booking_page(page, "de")
    _tab_to(page, page.get_by_role("button", name=say("de", "Show free times")))
    page.keyboard.press("Enter")
    first_time = page.get_by_role("radio").first
    _tab_to(page, first_time)
    page.keyboard.press("Space")
    expect(first_time).to_be_checked()
    _tab_to(page, page.get_by_role("textbox", name=say("de", "Your mobile number (only for the text message)")))
    page.keyboard.type("0151 12340002")
    _tab_to(page, page.get_by_role("button", name=say("de", "Request appointment")))
    page.keyboard.press("Enter")
    wait_for_status(page, CONFIRMED["de"])

    _tab_to(page, page.get_by_role("link", name=say("de", "Cancel appointment")))
    page.keyboard.press("Enter")
    _tab_to(page, page.get_by_role("button", name=say("de", "Yes, cancel")))
    page.keyboard.press("Enter")

    wait_for_status(page, CANCELLED["de"])


def test_a_client_books_and_cancels_with_javascript_switched_off(new_context: NewContext) -> None:
    page = new_context(java_script_enabled=False, locale="de-DE").new_page()

    book_first_free_time(page, "de", "+4915112340003")
    wait_for_status(page, CONFIRMED["de"])  # the pending page reloads itself without a script
    cancel_appointment(page, "de")

    wait_for_status(page, CANCELLED["de"])


def test_a_time_chosen_without_a_phone_number_is_still_chosen_after_the_error(page: Page) -> None:
    open_booking_page(page, "de")
    page.get_by_role("button", name=say("de", "Show free times")).click()
    choose_first_time(page)
    page.get_by_role("textbox", name=say("de", "Your mobile number (only for the text message)")).fill("12")
    page.get_by_role("button", name=say("de", "Request appointment")).click()

    expect(page.get_by_role("alert")).to_have_text(
        "Diese Handynummer können wir nicht verwenden. Bitte prüfen Sie sie und geben Sie sie neu ein.")
    expect(page.get_by_role("radio").first).to_be_checked()
