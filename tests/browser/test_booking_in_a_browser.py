"""A client books, is told the booking is confirmed, opens the link of the confirmation SMS and cancels, in a real
browser (Chromium) on the whole system: in German, Romanian and Thai, by pointer, by keyboard alone, with
JavaScript switched off; and the quick-leave link leaves no way back to the page."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests.browser.conftest import NewContext
from tests.support.browser import (
    RequestLog,
    book_first_free_time,
    cancel_appointment,
    choose_first_day,
    choose_first_time,
    exactly,
    give_phone,
    leave_quickly,
    open_booking_page,
    request_appointment,
    say,
    show_free_times,
    wait_for_status,
)
from tests.support.system import System, book_first_free_slot, poll

CONFIRMED = {"de": "Ihr Termin ist bestätigt.", "en": "Your appointment is confirmed.",
             "ro": "Programarea dvs. este confirmată.", "th": "นัดหมายของคุณได้รับการยืนยันแล้ว"}
CANCELLED = {"de": "Dieser Termin ist abgesagt.", "en": "This appointment is cancelled.",
             "ro": "Această programare este anulată.", "th": "นัดหมายนี้ถูกยกเลิกแล้ว"}
PHONES = {"de": "+4915112340020", "ro": "+4915112340021", "th": "+4915112340022"}
LINK = re.compile(r"https?://\S+/m/[A-Za-z0-9_-]+\S*")
# The gateway's default QUICK_EXIT_URL; the browser never reaches it: the test answers for it.
QUICK_EXIT = "https://www.google.com/"


@pytest.mark.parametrize("lang", ["de", "ro", "th"])
def test_a_client_books_a_free_time_in_their_language_and_sees_it_confirmed(lang: str, new_context: NewContext
                                                                             ) -> None:
    page = new_context(locale="en-GB").new_page()  # the page's language is chosen, not the browser's
    # Nobody in the demo calendar speaks Thai: a Thai speaker books a talk with a language mediator.
    mediator = lang == "th"
    path = book_first_free_time(page, lang, PHONES[lang], mediator=mediator)

    wait_for_status(page, lang, CONFIRMED[lang])
    assert page.url.split("?")[0].endswith(path)
    expect(page).to_have_title(say(lang, "Appointment"))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    if mediator:
        expect(page.locator("dd").filter(has_text=say(lang, "In German or English with a language mediator"))) \
            .to_be_visible()


def test_a_client_cancels_on_the_manage_page_after_confirming_the_question(page: Page) -> None:
    book_first_free_time(page, "en")
    wait_for_status(page, "en", CONFIRMED["en"])

    cancel_appointment(page, "en")

    wait_for_status(page, "en", CANCELLED["en"])


def test_the_sms_link_opens_the_manage_page_in_the_language_of_the_booking(lotse: System,
                                                                            new_context: NewContext) -> None:
    with httpx.Client(base_url=lotse.url, timeout=10) as client:
        booking = book_first_free_slot(client, "+4915112340001", language="ro")
    text = poll(lambda: next((m["body"] for m in lotse.sink() if f"/m/{booking['manage_token']}" in m["body"]),
                             None))
    link = LINK.search(text)
    assert link is not None, "the confirmation SMS carries no manage link"

    # The phone's browser prefers German; the page follows the booking, which was made in Romanian.
    page = new_context(locale="de-DE").new_page()
    page.goto(link.group(0))

    wait_for_status(page, "ro", CONFIRMED["ro"])
    expect(page.locator("html")).to_have_attribute("lang", "ro")


def _when(page: Page) -> str:
    """What the manage page says under "when" (a term and its description)."""
    return page.locator("dt").filter(has_text=exactly(say("de", "When"))).locator("xpath=following-sibling::dd[1]") \
        .inner_text()


def test_a_client_moves_the_appointment_to_another_time_on_the_manage_page(page: Page) -> None:
    book_first_free_time(page, "de", "+4915112340005")
    wait_for_status(page, "de", CONFIRMED["de"])
    before = _when(page)

    page.get_by_role("link", name=say("de", "Change the time")).click()
    choose_first_day(page, "de")
    # Another hour than the one booked, so the page shows the change (the same hour may be free at another place).
    hour = before.rsplit(", ", 1)[1]
    other = page.locator("label").filter(has=page.get_by_role("radio")).filter(has_not_text=hour).first
    new_hour = other.locator("strong").inner_text()
    other.get_by_role("radio").check()
    page.get_by_role("button", name=say("de", "Move my appointment to this time")).click()

    wait_for_status(page, "de", "Ihr Termin wurde verschoben. Die neue Zeit steht oben.")
    expect(page.get_by_role("status").first).to_have_text(CONFIRMED["de"])
    assert _when(page).endswith(f", {new_hour}")


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
    days = page.locator("form").filter(has=page.get_by_role("heading", name=say("de", "Choose a day")))
    _tab_to(page, days.get_by_role("button").first)
    page.keyboard.press("Enter")
    first_time = page.get_by_role("radio").first
    _tab_to(page, first_time)
    page.keyboard.press("Space")
    expect(first_time).to_be_checked()
    _tab_to(page, page.get_by_role("textbox", name=say("de", "Your mobile number (only for the text message)")))
    page.keyboard.type("0151 12340002")
    _tab_to(page, page.get_by_role("button", name=say("de", "Request appointment")))
    page.keyboard.press("Enter")
    wait_for_status(page, "de", CONFIRMED["de"])

    _tab_to(page, page.get_by_role("link", name=say("de", "Cancel appointment")))
    page.keyboard.press("Enter")
    _tab_to(page, page.get_by_role("button", name=say("de", "Yes, cancel")))
    page.keyboard.press("Enter")

    wait_for_status(page, "de", CANCELLED["de"])


def test_a_client_books_and_cancels_with_javascript_switched_off(new_context: NewContext) -> None:
    page = new_context(java_script_enabled=False, locale="de-DE").new_page()

    book_first_free_time(page, "de", "+4915112340003")
    wait_for_status(page, "de", CONFIRMED["de"])
    cancel_appointment(page, "de")

    wait_for_status(page, "de", CANCELLED["de"])


def test_a_refused_number_is_said_at_its_field_and_the_chosen_time_stays_chosen(page: Page) -> None:
    open_booking_page(page, "de")
    show_free_times(page, "de")
    choose_first_day(page, "de")
    choose_first_time(page)
    give_phone(page, "de", "12")
    request_appointment(page, "de")

    phone = page.get_by_role("textbox", name=say("de", "Your mobile number (only for the text message)"))
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_be_focused()
    expect(phone).to_have_accessible_description(re.compile(
        r"^Diese Handynummer können wir nicht verwenden\. Bitte prüfen Sie sie und geben Sie sie neu ein\."))
    expect(page.get_by_role("radio").first).to_be_checked()


def _answer_for_the_neutral_site(route: Route) -> None:
    route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>Search</title><p>Search</p>")


@pytest.mark.parametrize("where", ["booking page", "manage page", "booking page, Escape pressed twice"])
def test_leaving_quickly_leaves_no_way_back_to_the_page(where: str, new_context: NewContext, lotse: System,
                                                        requests_made: RequestLog) -> None:
    requests_made.expect_elsewhere(QUICK_EXIT)
    context = new_context(locale="de-DE")
    context.route(f"{QUICK_EXIT}**", _answer_for_the_neutral_site)
    page = context.new_page()
    if where.startswith("booking page"):
        open_booking_page(page, "de")
    else:
        # As from the SMS: the manage page is the first page of its tab.
        with httpx.Client(base_url=lotse.url, timeout=10) as client:
            booking = book_first_free_slot(client, "+4915112340004", language="de")
        page.goto(f"/m/{booking['manage_token']}")
    left = page.url

    if where.endswith("Escape pressed twice"):
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")
    else:
        leave_quickly(page, "de")
    page.wait_for_url(f"{QUICK_EXIT}**")
    page.go_back()

    assert page.url != left
    assert not page.url.startswith(lotse.url)


def test_the_quick_leave_link_leaves_without_javascript_too(new_context: NewContext,
                                                            requests_made: RequestLog) -> None:
    requests_made.expect_elsewhere(QUICK_EXIT)
    context = new_context(java_script_enabled=False, locale="de-DE")
    context.route(f"{QUICK_EXIT}**", _answer_for_the_neutral_site)
    page = context.new_page()
    open_booking_page(page, "de")

    leave_quickly(page, "de")

    page.wait_for_url(f"{QUICK_EXIT}**")  # a plain link: without a script, Back still returns to the page
