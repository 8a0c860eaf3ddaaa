"""Screenshots of every step of a booking, for people to look at: starts the whole system on the embedded default
with the demo calendar (in a temporary folder), walks through the pages in Debian's Chromium at phone width (360 px)
and on a desktop, and writes one PNG per step to var/screenshots/ (emptied first).

    .venv/bin/python scripts/screenshots.py [--lang de] [--out var/screenshots]

Needs what the browser tests need: bash scripts/install-browser.sh (Chromium, axe-core) after bash scripts/install.sh.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from playwright.sync_api import Page  # noqa: E402

from tests.support.browser import (  # noqa: E402
    DESKTOP,
    PHONE,
    choose_first_time,
    chromium,
    give_phone,
    open_booking_page,
    request_appointment,
    say,
    show_free_times,
)
from tests.support.system import poll, running_system_in_own_dir  # noqa: E402


def walk(page: Page, lang: str, shoot: Callable[[str], None], base_url: str) -> None:
    """Every page of one client's booking, a screenshot after each step."""
    open_booking_page(page, lang)
    shoot("booking-page")
    show_free_times(page, lang)
    shoot("free-times")
    choose_first_time(page)
    give_phone(page, lang, "12")
    request_appointment(page, lang)
    shoot("number-refused")
    give_phone(page, lang, "+4915112349999")
    request_appointment(page, lang)
    page.wait_for_url("**/m/*")
    shoot("manage-just-booked")
    page.get_by_role("status").filter(has_text=say(lang, "Your appointment is confirmed.")).wait_for(timeout=30_000)
    manage = page.url
    shoot("manage-confirmed")
    page.get_by_role("link", name=say(lang, "Cancel appointment")).click()
    shoot("cancel-question")
    page.get_by_role("button", name=say(lang, "Yes, cancel")).click()
    shoot("cancelled")
    page.get_by_role("link", name=say(lang, "Delete my data")).click()
    shoot("erase-question")
    page.get_by_role("button", name=say(lang, "Yes, delete everything")).click()
    shoot("erased")
    page.goto(manage)
    shoot("unknown-link")
    # A time someone else took between the list and the request: refused, with other times.
    open_booking_page(page, lang)
    show_free_times(page, lang)
    taken = page.get_by_role("radio").first.get_attribute("value")
    with httpx.Client(base_url=base_url, timeout=10) as client:
        answer = client.post("/v1/bookings", json={"slot_id": taken, "phone": "+4915112349998", "language": lang,
                                                   "channel": "web"})
        answer.raise_for_status()
        token = answer.json()["manage_token"]
        poll(lambda: client.get(f"/v1/bookings/{token}").json()["status"] == "confirmed")
    choose_first_time(page)
    give_phone(page, lang, "+4915112349997")
    request_appointment(page, lang)
    page.get_by_role("radio").first.wait_for(timeout=30_000)
    shoot("refused-with-alternatives")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", default="de", help="the pages' language (default de)")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "screenshots", help="where the PNGs go")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    with running_system_in_own_dir("lotse-screenshots-") as system, chromium() as browser:
        for width, viewport in (("360px", PHONE), ("desktop", DESKTOP)):
            context = browser.new_context(base_url=system.url, viewport=viewport, locale=f"{args.lang}-DE")
            context.set_default_timeout(15_000)
            page = context.new_page()
            step = 0

            def shoot(name: str, page: Page = page, width: str = width) -> None:
                nonlocal step
                step += 1
                path = args.out / f"{width}-{step:02d}-{name}.png"
                page.screenshot(path=str(path), full_page=True)
                print(path.relative_to(REPO) if path.is_relative_to(REPO) else path, flush=True)

            walk(page, args.lang, shoot, system.url)
            context.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
