"""Screenshots of every step of a booking and of the staff pages, for people to look at: starts the whole system on
the embedded default with the demo calendar (in a temporary folder), walks through the pages in Debian's Chromium at
phone width (360 px) and on a desktop, and writes one PNG per step to var/screenshots/ (emptied first). The staff
pages are shot as counsellor Anna (demo counsellor 1), who has the bookings the client walk made, and as an admin.

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
import pyotp  # noqa: E402
from playwright.sync_api import Page, Route  # noqa: E402

from tests.support.browser import (  # noqa: E402
    DESKTOP,
    PHONE,
    choose_first_day,
    choose_first_time,
    chosen_time,
    chromium,
    give_phone,
    leave_quickly,
    open_booking_page,
    request_appointment,
    say,
    show_free_times,
    take_first_free_time,
    wait_for_status,
)
from tests.support.staff import PASSWORD, create_staff  # noqa: E402
from tests.support.system import poll, running_system_in_own_dir  # noqa: E402


def walk(page: Page, lang: str, shoot: Callable[[str, Page], None], base_url: str) -> None:
    """Every page of one client's booking, a screenshot after each step."""
    open_booking_page(page, lang)
    shoot("booking-page", page)
    show_free_times(page, lang)
    shoot("free-days", page)
    choose_first_day(page, lang)
    shoot("times-of-a-day", page)
    choose_first_time(page)
    give_phone(page, lang, "12")
    request_appointment(page, lang)
    shoot("number-refused", page)
    give_phone(page, lang, "+4915112349999")
    request_appointment(page, lang)
    page.wait_for_url("**/m/*")
    wait_for_status(page, lang, say(lang, "Your appointment is confirmed."))
    manage = page.url
    shoot("manage-confirmed", page)
    page.get_by_role("link", name=say(lang, "Change the time")).click()
    shoot("another-time-days", page)
    choose_first_day(page, lang)
    shoot("another-time-times", page)
    choose_first_time(page)
    page.get_by_role("button", name=say(lang, "Move my appointment to this time")).click()
    wait_for_status(page, lang, say(lang, "Your appointment was moved. The new time is shown above."))
    shoot("moved", page)
    page.get_by_role("link", name=say(lang, "Cancel appointment")).click()
    shoot("cancel-question", page)
    page.get_by_role("button", name=say(lang, "Yes, cancel")).click()
    shoot("cancelled", page)
    page.get_by_role("link", name=say(lang, "Delete my data")).click()
    shoot("erase-question", page)
    page.get_by_role("button", name=say(lang, "Yes, delete everything")).click()
    shoot("erased", page)
    page.goto(manage)
    shoot("unknown-link", page)
    # A booking before the decision, opened at once; then the same time asked for on the page: refused, with
    # other times.
    open_booking_page(page, lang)
    show_free_times(page, lang)
    take_first_free_time(page, lang)
    shoot("first-free-time-chosen", page)
    taken = chosen_time(page).get_attribute("value")
    with httpx.Client(base_url=base_url, timeout=10) as client:
        answer = client.post("/v1/bookings", json={"slot_id": taken, "phone": "+4915112349998", "language": lang,
                                                   "channel": "web"})
        answer.raise_for_status()
        token = answer.json()["manage_token"]
        other = page.context.new_page()
        other.goto(f"/m/{token}")
        shoot("manage-pending-or-just-decided", other)
        poll(lambda: client.get(f"/v1/bookings/{token}").json()["status"] == "confirmed")
        other.close()
    give_phone(page, lang, "+4915112349997")
    request_appointment(page, lang)
    wait_for_status(page, lang, say(lang, "Sorry, this time did not work out."))
    shoot("refused-with-alternatives", page)
    leave_quickly(page, lang)
    page.wait_for_url(lambda url: not url.startswith(base_url))
    shoot("left-quickly", page)
    page.go_back()
    shoot("back-after-leaving", page)


def walk_staff(page: Page, lang: str, shoot: Callable[[str, Page], None], recovery_codes: list[str]) -> None:
    """The staff pages: sign-in (refused, then right), a counsellor's day, week and cancel question, the password
    form, the 403 of /admin; then the admin's two-factor set-up (or code step) and admin pages. In German unless
    the shots are in English. `recovery_codes`: the admin's, kept from the first walk for the next."""
    staff_lang = "en" if lang == "en" else "de"
    words = {"de": ("Benutzername", "Passwort", "Anmelden", "Abmelden", "Absagen …"),
             "en": ("Username", "Password", "Sign in", "Sign out", "Cancel…")}[staff_lang]
    username, password, sign_in, sign_out, cancel = words

    def enter(who: str, secret: str) -> None:
        page.get_by_label(username).fill(who)
        page.get_by_label(password).fill(secret)
        page.get_by_role("button", name=sign_in).click()

    page.goto(f"/login?lang={staff_lang}")
    shoot("staff-sign-in", page)
    enter("anna", "not the password")
    shoot("staff-sign-in-refused", page)
    enter("anna", PASSWORD)
    page.wait_for_url("**/staff")
    shoot("staff-my-day", page)
    page.goto("/staff/week")
    shoot("staff-my-week", page)
    page.get_by_role("link", name={"de": "Nächste Woche", "en": "Next week"}[staff_lang]).click()
    shoot("staff-next-week", page)
    cancel_link = page.get_by_role("link", name=cancel).first
    if cancel_link.count():
        cancel_link.click()
        shoot("staff-cancel-question", page)
    page.goto("/staff/password")
    shoot("staff-password", page)
    page.goto("/admin")
    shoot("staff-admin-refused", page)
    page.get_by_role("button", name=sign_out).click()
    shoot("staff-signed-out", page)
    enter("admin", PASSWORD)
    page.wait_for_url(lambda url: "/staff/two-factor" in url or "/login/code" in url)
    if "/login/code" in page.url:  # set up on an earlier walk: a recovery code (the app's code may be used up)
        shoot("staff-admin-code", page)
        page.locator("input[name=code]").fill(recovery_codes.pop())
        page.locator("form[action='/login/code'] button[type=submit]").click()
    else:  # an admin's first sign-in: two-factor set-up before anything else
        shoot("staff-admin-two-factor", page)
        page.locator("form[action='/staff/two-factor/start'] button[type=submit]").click()
        shoot("staff-admin-two-factor-qr", page)
        secret = page.locator("code.secret").inner_text().replace(" ", "")
        page.locator("input[name=code]").fill(pyotp.TOTP(secret).now())
        page.locator("form[action='/staff/two-factor/confirm'] button[type=submit]").click()
        page.locator(".codes li").first.wait_for()
        shoot("staff-admin-recovery-codes", page)
        recovery_codes.extend(page.locator(".codes li").all_inner_texts())
    page.goto("/admin")
    shoot("staff-admin-start", page)
    for area in ("accounts", "counsellors", "counsellors/1", "locations", "locations/1", "types", "types/1", "texts",
                 "deliveries", "health", "audit"):
        page.goto(f"/admin/{area}")
        shoot(f"staff-admin-{area.replace('/', '-')}", page)
    page.get_by_role("button", name=sign_out).click()


def neutral_site(route: Route) -> None:
    route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>Search</title><h1>Search</h1>")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lang", default="de", help="the pages' language (default de)")
    parser.add_argument("--out", type=Path, default=REPO / "var" / "screenshots", help="where the PNGs go")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    with running_system_in_own_dir("lotse-screenshots-") as system, chromium() as browser:
        create_staff(system, "create-admin", "--username", "admin")
        admin_recovery_codes: list[str] = []
        create_staff(system, "create-staff", "--username", "anna", "--role", "counsellor", "--counsellor-id", "1")
        for width, viewport in (("360px", PHONE), ("desktop", DESKTOP)):
            step = 0
            # A browser that names no language the pages speak is asked to choose one.
            stranger = browser.new_context(base_url=system.url, viewport=viewport, locale="zh-CN")
            chooser = stranger.new_page()
            chooser.goto("/")
            context = browser.new_context(base_url=system.url, viewport=viewport, locale=f"{args.lang}-DE")
            context.set_default_timeout(15_000)
            # The quick-leave link's neutral site is answered here: nothing leaves this machine.
            context.route(lambda url: not url.startswith(system.url), neutral_site)
            page = context.new_page()

            def shoot(name: str, on: Page, width: str = width) -> None:
                nonlocal step
                step += 1
                path = args.out / f"{width}-{step:02d}-{name}.png"
                on.screenshot(path=str(path), full_page=True)
                print(path.relative_to(REPO) if path.is_relative_to(REPO) else path, flush=True)

            shoot("language-choice", chooser)
            stranger.close()
            walk(page, args.lang, shoot, system.url)
            walk_staff(page, args.lang, shoot, admin_recovery_codes)
            context.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
