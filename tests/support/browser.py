"""Debian's Chromium driven by Playwright, for tests/browser and scripts/screenshots.py: the launch, the axe-core
audit, a record of every request a page makes, and the steps a client takes on the pages. The steps find each
control by its role and the words a person reads on it (the page's own texts, in the page's language), so they
follow the pages when their markup changes; what a page says, the tests check against sentences written out there."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.web.catalogs import gettext
from playwright.sync_api import Browser, Locator, Page, Playwright, Request, ViewportSize, expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# As root (CI) Chromium runs only without its sandbox. The rest keep it from calling home (updates, sync, field
# trials): this machine's network refuses those connections, many at a time, and a test must not depend on them.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
# A German mobile number of the kind the demo system accepts; it goes only into the phone field, never into a log.
TEST_PHONE = "+4915112345678"


class BrowserMissing(RuntimeError):
    """What the browser tests need is not installed; the message says how to install it."""


def launch(playwright: Playwright) -> Browser:
    if not CHROMIUM.exists():
        raise BrowserMissing(f"{CHROMIUM} is missing: run bash scripts/install-browser.sh (as root it installs "
                             "Debian's chromium with apt)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


@contextmanager
def chromium() -> Iterator[Browser]:
    """One Chromium for as long as the block runs."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


def axe_source() -> str:
    if not AXE.exists():
        raise BrowserMissing(f"{AXE.relative_to(REPO)} is missing: run bash scripts/install-browser.sh (npm ci)")
    return AXE.read_text()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (WCAG 2.x A and AA, and axe's best practices).

    The pages forbid every script (Content-Security-Policy), so the page's context must be opened with
    bypass_csp=True for axe to be injected at all."""
    page.add_script_tag(content=axe_source())
    result: dict[str, Any] = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and node, for an assertion message a person can act on."""
    return "\n".join(f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}"
                     for v in violations for node in v["nodes"])


@dataclass
class AxeAudit:
    """axe-core on each page a walk stops at: `audit("step", page)`; `found` maps each step with violations to them,
    described, and `report()` says them all for the assertion message."""

    found: dict[str, str] = field(default_factory=dict)

    def __call__(self, name: str, page: Page) -> None:
        page.wait_for_load_state()
        violations = axe_violations(page)
        if violations:
            self.found[name] = describe(violations)

    def report(self) -> str:
        return "\n".join(f"{name}:\n{lines}" for name, lines in self.found.items())


@dataclass
class RequestLog:
    """Every request the page's context made (documents, styles, images, fonts, data: and about: left out)."""

    urls: list[str] = field(default_factory=list)
    expected_elsewhere: list[str] = field(default_factory=list)

    def record(self, request: Request) -> None:
        if urlsplit(request.url).scheme in ("http", "https", "ws", "wss"):
            self.urls.append(request.url)

    def expect_elsewhere(self, prefix: str) -> None:
        """A test that follows a link away on purpose (the quick-leave link) names where it goes."""
        self.expected_elsewhere.append(prefix)

    def foreign(self, origin: str) -> list[str]:
        """The requests that went anywhere but `origin` (scheme, host and port) and were not expected to."""
        own = urlsplit(origin)
        return [url for url in self.urls if (urlsplit(url).scheme, urlsplit(url).netloc) != (own.scheme, own.netloc)
                and not url.startswith(tuple(self.expected_elsewhere))]


# --- what a person reads -----------------------------------------------------------------------------------------

def say(lang: str, english: str) -> str:
    """The page's words in `lang` for what reads `english` on the English page (the pages' gettext catalogues)."""
    return gettext(lang, english)


def exactly(text: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


# --- the steps of a client ---------------------------------------------------------------------------------------

def open_booking_page(page: Page, lang: str) -> None:
    page.goto(f"/?lang={lang}")


def show_free_times(page: Page, lang: str) -> None:
    page.get_by_role("button", name=say(lang, "Show free times")).click()


def _form_under(page: Page, lang: str, heading: str) -> Locator:
    return page.locator("form").filter(has=page.get_by_role("heading", name=say(lang, heading)))


def choose_first_day(page: Page, lang: str) -> None:
    """On the week's free days: the first day, whose times come next."""
    _form_under(page, lang, "Choose a day").get_by_role("button").first.click()


def take_first_free_time(page: Page, lang: str) -> None:
    """On the week's free days: the first free time, which comes chosen on its day's times."""
    first = _form_under(page, lang, "First free time").get_by_role("button")
    nothing = page.get_by_text(say(lang, "Nothing is free this week. Please look at another week."))
    expect(first.or_(nothing)).to_be_visible()
    if nothing.is_visible():
        raise AssertionError(f"no free time this week for a client who chose {lang}")
    first.click()
    expect(chosen_time(page)).to_be_visible()


def chosen_time(page: Page) -> Locator:
    """The time chosen on a day's times (the times come before the choices about texts, also radio buttons)."""
    return page.get_by_role("radio", checked=True).first


def choose_first_time(page: Page) -> None:
    """On a day's times (or a refusal's alternatives): the first time offered."""
    page.get_by_role("radio").first.check()


def give_phone(page: Page, lang: str, phone: str = TEST_PHONE) -> None:
    page.get_by_role("textbox", name=say(lang, "Your mobile number (only for the text message)")).fill(phone)


def request_appointment(page: Page, lang: str) -> None:
    page.get_by_role("button", name=say(lang, "Request appointment")).click()


def choose_a_language_mediator(page: Page, lang: str) -> None:
    """On the booking page: the conversation in German or English with a language mediator."""
    page.get_by_role("radio", name=say(lang, "In German or English with a language mediator")).check()


def book_first_free_time(page: Page, lang: str, phone: str = TEST_PHONE, mediator: bool = False) -> str:
    """From the booking page to the manage page of a new booking; returns the manage page's path."""
    open_booking_page(page, lang)
    if mediator:
        choose_a_language_mediator(page, lang)
    show_free_times(page, lang)
    take_first_free_time(page, lang)
    give_phone(page, lang, phone)
    request_appointment(page, lang)
    page.wait_for_url(re.compile(r"/m/[A-Za-z0-9_-]+(\?.*)?$"))
    return urlsplit(page.url).path


def wait_for_status(page: Page, lang: str, sentence: str, seconds: float = 30) -> None:
    """The manage page's status says `sentence` (written out by the test), asking again with the page's own
    "check again" link while the booking is pending."""
    status = page.get_by_role("status").filter(has_text=exactly(sentence))
    check_again = page.get_by_role("link", name=say(lang, "Check again"))
    deadline = time.monotonic() + seconds
    while not status.is_visible():
        if time.monotonic() > deadline:
            said = page.get_by_role("status").all_inner_texts()
            raise AssertionError(f"the page never said {sentence!r}; it says {said}")
        if check_again.is_visible():
            page.wait_for_timeout(200)
            check_again.click()
        else:
            page.wait_for_timeout(100)


def cancel_appointment(page: Page, lang: str) -> None:
    """From the manage page of a confirmed booking through the confirmation step."""
    page.get_by_role("link", name=say(lang, "Cancel appointment")).click()
    page.get_by_role("button", name=say(lang, "Yes, cancel")).click()


def leave_quickly(page: Page, lang: str) -> None:
    page.get_by_role("link", name=say(lang, "Leave quickly")).click()
