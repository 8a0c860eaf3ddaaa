"""The staff pages as a browser without JavaScript sees them: sign in, a counsellor's day and week, marking an
appointment, cancelling with a reason, changing the password, signing out, the admin start page; and every way each
can fail (wrong password, throttled, CSRF token missing or wrong, no session, a counsellor on /admin, the calendar
away). The real StaffAccounts on SQLite; the scheduler is a fake of our StaffClient port (tests/support)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from gateway.web.catalogs import LANGUAGES, LOCALE_DIR, read_catalogs
from gateway.web.staff import admin_pages
from gateway.web.staff.catalogs import STAFF_LANGUAGES, STAFF_LOCALE_DIR
from gateway.web.staff.texts import TEXTS
from sqlalchemy import create_engine

from shared.contracts.staff import CancelAction
from tests.support.pages import visible_text
from tests.support.staff_pages import PASSWORD, StaffDesk, staff_desk, standard_calendar

BEGUN, LATER, WEDNESDAY = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002", \
    "00000000-0000-0000-0000-000000000003"
BOGDANS = "00000000-0000-0000-0000-000000000009"
WRONG_CREDENTIALS = "Benutzername oder Passwort stimmen nicht."
FORM_EXPIRED = ("Dieses Formular gilt nicht mehr (es stammt aus einer älteren Sitzung oder von einer anderen Seite). "
                "Es wurde nichts geändert.")
CALENDAR_AWAY = "Der Kalender antwortet gerade nicht. Es wurde nichts geändert."


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffDesk]:
    with staff_desk(tmp_path_factory.mktemp("staff-pages")) as made:
        yield made


@pytest.fixture
def browser(desk: StaffDesk) -> Iterator[TestClient]:
    """A fresh browser (no cookies) with German as its language, on a calendar as it starts."""
    desk.calendars.bookings = standard_calendar()
    desk.calendars.down = desk.calendars.broken = False
    desk.calendars.asked.clear()
    with TestClient(desk.app, raise_server_exceptions=False, follow_redirects=False,
                    headers={"Accept-Language": "de-DE,de;q=0.9"}) as client:
        yield client


def sign_in(browser: TestClient, username: str = "anna", password: str = PASSWORD) -> str:
    """Signs in with the form; returns the CSRF token the next page's forms carry."""
    response = browser.post("/login", data={"username": username, "password": password})
    assert response.status_code == 303, response.text
    return csrf_of(browser.get("/staff/password").text)


def csrf_of(page: str) -> str:
    return str(re.findall(r'name="csrf" value="([^"]+)"', page)[0])


def seen(response: Any) -> str:
    assert_page_rules(response)
    return visible_text(response.text)


def assert_page_rules(response: Any) -> None:
    """What every staff page keeps to: not cached, strict CSP, nothing inline or from elsewhere."""
    assert response.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "<script" not in response.text and "style=" not in response.text
    assert not re.search(r'(src|href)="(https?:)?//', response.text)


# --- no session ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "back"), [
    ("GET", "/staff", "/login"),
    ("GET", "/staff/week?start=2025-03-24", "/login?next=%2Fstaff%2Fweek%3Fstart%3D2025-03-24"),
    ("GET", "/staff/password", "/login?next=%2Fstaff%2Fpassword"),
    ("GET", "/admin", "/login?next=%2Fadmin"),
    ("GET", f"/staff/appointments/{LATER}/cancel", f"/login?next=%2Fstaff%2Fappointments%2F{LATER}%2Fcancel"),
    ("POST", f"/staff/appointments/{BEGUN}/attended", "/login"),
    ("POST", f"/staff/appointments/{LATER}/cancel", "/login"),
    ("POST", "/staff/password", "/login"),
    ("POST", "/logout", "/login"),
])
def test_without_a_session_every_staff_page_sends_to_sign_in(browser: TestClient, desk: StaffDesk, method: str,
                                                            path: str, back: str) -> None:
    response = browser.request(method, path, data={"csrf": "x"} if method == "POST" else None)
    assert response.status_code == 303 and response.headers["location"] == back
    assert desk.calendars.asked == []


def test_a_signed_in_counsellor_is_sent_back_where_they_were_going(browser: TestClient) -> None:
    page = browser.get("/login?next=%2Fstaff%2Fweek%3Fstart%3D2025-03-24")
    assert 'name="next" value="/staff/week?start=2025-03-24"' in page.text
    response = browser.post("/login", data={"username": "anna", "password": PASSWORD,
                                            "next": "/staff/week?start=2025-03-24"})
    assert response.status_code == 303 and response.headers["location"] == "/staff/week?start=2025-03-24"


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/staff", "/staff/../../x", "/m/abc"])
def test_sign_in_never_sends_anywhere_but_a_staff_page(browser: TestClient, elsewhere: str) -> None:
    response = browser.post("/login", data={"username": "anna", "password": PASSWORD, "next": elsewhere})
    assert response.status_code == 303 and response.headers["location"] == "/staff"


# --- signing in ------------------------------------------------------------------------------------------------------

def test_sign_in_sets_the_session_cookie_as_the_api_does(browser: TestClient) -> None:
    page = browser.get("/login")
    assert page.status_code == 200 and '<html lang="de">' in page.text
    assert seen(page) == "Anmelden – Mitarbeitende English Anmelden Benutzername Passwort Anmelden"

    response = browser.post("/login", data={"username": "Anna", "password": PASSWORD})

    assert response.status_code == 303 and response.headers["location"] == "/staff"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("lotse_staff="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Max-Age" not in cookie and "expires" not in cookie.lower()  # ends with the browser
    assert browser.get("/staff").status_code == 200


def test_the_pages_speak_english_when_the_browser_or_the_switch_asks(browser: TestClient) -> None:
    english = browser.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"})
    assert '<html lang="en">' in english.text and "Username" in seen(english)
    switched = browser.get("/login?lang=en")
    assert '<html lang="en">' in switched.text
    # The choice is remembered: the next page without ?lang= is English for a German browser too.
    assert '<html lang="en">' in browser.get("/login").text
    assert '<html lang="de">' in browser.get("/login?lang=de").text


def test_a_browser_in_neither_language_gets_german(browser: TestClient) -> None:
    assert '<html lang="de">' in browser.get("/login", headers={"Accept-Language": "th,ro;q=0.8"}).text


def test_a_wrong_password_is_said_at_the_field_which_takes_the_focus(browser: TestClient) -> None:
    response = browser.post("/login", data={"username": "anna", "password": "not the password at all"})

    assert response.status_code == 401
    assert "lotse_staff=" not in response.headers.get("set-cookie", "")
    assert ('<input id="password" name="password" type="password" value="" autocomplete="current-password" '
            'aria-invalid="true" aria-describedby="password-error" autofocus>') in response.text
    assert f'<p class="field-error" id="password-error">{WRONG_CREDENTIALS}</p>' in response.text
    assert 'id="username" name="username" type="text" value="anna"' in response.text  # kept; the password not
    assert seen(response).count(WRONG_CREDENTIALS) == 1


def test_empty_fields_are_said_at_each(browser: TestClient) -> None:
    response = browser.post("/login", data={"username": " ", "password": ""})
    assert response.status_code == 422
    assert 'aria-invalid="true" aria-describedby="username-error" autofocus>' in response.text
    assert 'aria-invalid="true" aria-describedby="password-error">' in response.text
    assert "Bitte geben Sie Ihren Benutzernamen ein." in seen(response)
    assert "Bitte geben Sie Ihr Passwort ein." in seen(response)


def test_after_too_many_wrong_passwords_the_page_says_how_long_to_wait(browser: TestClient) -> None:
    for _ in range(5):
        assert browser.post("/login", data={"username": "nobody-here", "password": "wrong"}).status_code == 401
    response = browser.post("/login", data={"username": "nobody-here", "password": "wrong"})
    assert response.status_code == 423 and response.headers["retry-after"] == "900"
    assert ("Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie 15 Minuten und versuchen Sie es dann noch "
            "einmal.") in seen(response)


@pytest.mark.parametrize("sent_from", [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                                       {"Sec-Fetch-Site": "same-site", "Origin": "null"}])
def test_a_sign_in_posted_from_another_site_is_refused(browser: TestClient, sent_from: dict[str, str]) -> None:
    response = browser.post("/login", data={"username": "anna", "password": PASSWORD}, headers=sent_from)
    assert response.status_code == 403 and FORM_EXPIRED in seen(response)
    assert "lotse_staff=" not in response.headers.get("set-cookie", "")


def test_our_own_pages_post_with_origin_null(browser: TestClient) -> None:
    """Referrer-Policy: no-referrer makes a browser send `Origin: null` with our forms: they still work."""
    response = browser.post("/login", data={"username": "anna", "password": PASSWORD},
                            headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 303


# --- a counsellor's day and week -------------------------------------------------------------------------------------

def test_my_day_lists_todays_appointments_with_what_the_counsellor_needs(browser: TestClient) -> None:
    sign_in(browser)
    page = seen(browser.get("/staff"))

    assert "Mein Tag Kalender von Anna. Uhrzeiten in Ortszeit (Europe/Berlin). Montag, 31. März" in page
    assert ("10:00–11:00, Rostock 1 Stand bestätigt Form vor Ort Art Arbeit und Zukunft, 60 min "
            "Sprache Deutsch, in der Sprache der Person Person ist gekommen Person ist nicht gekommen") in page
    assert ("14:00–15:00, Telefon Stand bestätigt Form am Telefon Art Arbeit und Zukunft, 60 min "
            "Sprache Thailändisch, mit Sprachmittlung Absagen …") in page
    assert "09:00" not in page and "11:00–12:00" not in page  # Wednesday's, and Bogdan's at 11:00


def test_my_week_shows_berlin_times_on_both_sides_of_the_clock_change(browser: TestClient) -> None:
    sign_in(browser)
    page = seen(browser.get("/staff/week?start=2025-03-26"))  # any day of the week
    assert "Samstag, 29. März 10:00–11:00, Rostock 1" in page  # 09:00 UTC, winter time
    assert "Sonntag, 30. März 11:00–12:00, Rostock 1" in page  # 09:00 UTC, summer time
    assert "Montag, 24. März Keine Termine." in page

    this_week = seen(browser.get("/staff/week"))
    assert "Mittwoch, 2. April 09:00–10:00, Rostock 1" in this_week


def test_a_week_that_is_no_date_is_a_400_page(browser: TestClient) -> None:
    sign_in(browser)
    for start in ("tomorrow", "2025-02-30", "1999-01-01"):
        response = browser.get(f"/staff/week?start={start}")
        assert response.status_code == 400
        assert "Diese Woche kann der Kalender nicht zeigen." in seen(response)


def test_marking_an_appointment_attended_says_so_on_the_day(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    response = browser.post(f"/staff/appointments/{BEGUN}/attended", data={"csrf": csrf, "view": "day"})

    assert response.status_code == 303 and response.headers["location"] == "/staff?done=attended"
    assert desk.calendars.status_of(1) == "attended"
    page = seen(browser.get(response.headers["location"]))
    assert "Eingetragen: Die Person ist gekommen." in page
    assert "10:00–11:00, Rostock 1 Stand gekommen" in page


def test_a_no_show_from_the_week_goes_back_to_that_week(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    response = browser.post("/staff/appointments/00000000-0000-0000-0000-000000000004/no-show",
                            data={"csrf": csrf, "view": "week", "start": "2025-03-24"})
    assert response.headers["location"] == "/staff/week?start=2025-03-24&done=no_show"
    assert desk.calendars.status_of(4) == "no_show"
    assert "Eingetragen: Die Person ist nicht gekommen." in seen(browser.get(response.headers["location"]))


@pytest.mark.parametrize("csrf", ["", "not-the-token", "from-another-session"])
def test_a_form_without_the_sessions_token_changes_nothing(browser: TestClient, desk: StaffDesk, csrf: str) -> None:
    if csrf == "from-another-session":
        with TestClient(desk.app, follow_redirects=False) as other:
            csrf = sign_in(other, "bogdan")
    sign_in(browser)
    for path in (f"/staff/appointments/{BEGUN}/attended", f"/staff/appointments/{BEGUN}/no-show",
                 f"/staff/appointments/{LATER}/cancel", "/logout", "/staff/password"):
        response = browser.post(path, data={"csrf": csrf, "current_password": PASSWORD,
                                            "new_password": "a new and long password", "new_password_again":
                                            "a new and long password"})
        assert response.status_code == 403, path
        assert FORM_EXPIRED in seen(response)
    assert desk.calendars.asked == []
    assert browser.get("/staff").status_code == 200  # still signed in, password unchanged


def test_cancelling_asks_first_and_passes_the_reason(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    question = browser.get(f"/staff/appointments/{LATER}/cancel?view=day")
    assert "Möchten Sie diesen Termin wirklich absagen? Die Person wird per SMS benachrichtigt." in seen(question)
    assert desk.calendars.asked == []

    response = browser.post(f"/staff/appointments/{LATER}/cancel",
                            data={"csrf": csrf, "view": "day", "reason": "Krank"})

    assert response.status_code == 303 and response.headers["location"] == "/staff?done=cancelled"
    assert desk.calendars.asked[-1] == CancelAction(booking_id=desk.calendars.bookings[1][1].booking_id,
                                                    reason="Krank")
    assert "Der Termin ist abgesagt; die Person wird benachrichtigt." in seen(browser.get("/staff?done=cancelled"))


def test_a_reason_holding_a_phone_number_is_said_at_the_field(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    response = browser.post(f"/staff/appointments/{LATER}/cancel",
                            data={"csrf": csrf, "view": "day", "reason": "call +49 151 1234567"})
    assert response.status_code == 422
    assert 'aria-invalid="true" aria-describedby="reason-error"' in response.text
    assert "Der Grund darf höchstens 200 Zeichen, höchstens vier Ziffern" in seen(response)
    assert desk.calendars.asked == []


def test_a_refused_change_is_said_on_the_day(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    response = browser.post(f"/staff/appointments/{LATER}/attended", data={"csrf": csrf, "view": "day"})
    assert response.status_code == 409
    assert "Der Termin hat noch nicht begonnen" in seen(response)
    other = browser.post(f"/staff/appointments/{BOGDANS}/attended", data={"csrf": csrf, "view": "day"})
    assert other.status_code == 403 and "im Kalender einer anderen Beratungsperson" in seen(other)
    broken = browser.post("/staff/appointments/not-a-booking/attended", data={"csrf": csrf})
    assert broken.status_code == 404 and "Diesen Termin gibt es nicht (mehr)." in seen(broken)
    assert desk.calendars.status_of(2) == "confirmed"


def test_when_the_calendar_does_not_answer_the_page_says_so(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    desk.calendars.down = True
    page = browser.get("/staff")
    assert page.status_code == 503 and page.headers["retry-after"] == "60"
    assert CALENDAR_AWAY in seen(page)
    change = browser.post(f"/staff/appointments/{BEGUN}/attended", data={"csrf": csrf})
    assert change.status_code == 503
    assert "Die Änderung kann trotzdem ausgeführt worden sein" in seen(change)


def test_a_bug_behind_a_staff_page_is_a_500_staff_page(browser: TestClient, desk: StaffDesk) -> None:
    csrf = sign_in(browser)
    desk.calendars.broken = True
    page = browser.get("/staff/week")
    assert page.status_code == 500
    assert "Bei uns ist etwas schiefgegangen. Es wurde nichts geändert." in seen(page)
    assert 'href="/staff/week">Noch einmal versuchen' in page.text
    change = browser.post(f"/staff/appointments/{BEGUN}/attended", data={"csrf": csrf})
    assert change.status_code == 500 and 'href="/staff">Noch einmal versuchen' in change.text


# --- admins ------------------------------------------------------------------------------------------------------

def test_an_admin_lands_on_the_admin_start_page(browser: TestClient, desk: StaffDesk) -> None:
    password_step = browser.post("/login", data={"username": "admin", "password": PASSWORD})
    assert password_step.status_code == 303 and password_step.headers["location"] == "/login/code"
    assert browser.post("/login/code", data={"code": desk.code("admin")}).status_code == 303
    for path in ("/staff", "/admin"):
        page = browser.get(path)
        assert page.status_code == 200
        assert "Verwaltung Angemeldet als Admin. Konten der Mitarbeitenden" in seen(page)
        assert all(f'href="{path}"' in page.text for path, _name in admin_pages.AREAS)
    assert desk.calendars.asked == []


def test_a_counsellor_on_admin_gets_a_403_page(browser: TestClient) -> None:
    sign_in(browser)
    response = browser.get("/admin")
    assert response.status_code == 403 and "Diese Seite ist nur für die Verwaltung." in seen(response)


# --- signing out, changing the password ------------------------------------------------------------------------------

def test_signing_out_ends_the_session(browser: TestClient) -> None:
    csrf = sign_in(browser)
    cookie = browser.cookies["lotse_staff"]
    response = browser.post("/logout", data={"csrf": csrf})
    assert response.status_code == 303 and response.headers["location"] == "/login?done=out"
    assert "Sie sind abgemeldet." in seen(browser.get("/login?done=out"))
    browser.cookies.set("lotse_staff", cookie)  # a copy kept of the cookie opens nothing
    assert browser.get("/staff").status_code == 303


def test_changing_the_password(browser: TestClient, desk: StaffDesk) -> None:
    desk.accounts.create("dora", "Dora", "counsellor", PASSWORD, counsellor_id=4)
    csrf = sign_in(browser, "dora")
    new = "seven unrelated words make it"

    def change(current: str, first: str, again: str) -> Any:
        return browser.post("/staff/password", data={"csrf": csrf, "current_password": current,
                                                     "new_password": first, "new_password_again": again})

    wrong = change("not my password", new, new)
    assert wrong.status_code == 422 and 'aria-describedby="current_password-error"' in wrong.text
    assert "Das bisherige Passwort stimmt nicht." in seen(wrong)
    mismatch = change(PASSWORD, new, new + "!")
    assert mismatch.status_code == 422 and 'aria-describedby="new_password_again-error"' in mismatch.text
    weak = change(PASSWORD, "short", "short")
    assert weak.status_code == 422 and "Bitte wählen Sie ein längeres Passwort" in seen(weak)

    done = change(PASSWORD, new, new)

    assert done.status_code == 303 and done.headers["location"] == "/login?done=password"
    assert "Ihr Passwort wurde geändert" in seen(browser.get("/login?done=password"))
    assert browser.get("/staff").status_code == 303  # every session ended
    assert browser.post("/login", data={"username": "dora", "password": PASSWORD}).status_code == 401
    assert browser.post("/login", data={"username": "dora", "password": new}).status_code == 303


# --- the catalogues --------------------------------------------------------------------------------------------------

def staff_msgids() -> set[str]:
    """Every text the staff pages can show: `_("...")` in their templates, `N_("...")` in their code."""
    folder = Path(admin_pages.__file__).parent
    written = "".join(path.read_text(encoding="utf-8") for path in (folder / "templates").glob("*.html"))
    code = "".join(path.read_text(encoding="utf-8") for path in folder.glob("*.py"))
    return set(re.findall(r'_\("([^"]+)"\)', written)) | set(TEXTS.values()) | set(re.findall(r'N_\("([^"]+)"\)', code))


@pytest.mark.parametrize("lang", STAFF_LANGUAGES)
def test_every_staff_text_is_translated_with_its_placeholders(lang: str) -> None:
    translated = read_catalogs(STAFF_LOCALE_DIR, lang)
    missing = sorted(staff_msgids() - set(translated))
    assert missing == [], f"{lang}/LC_MESSAGES/staff.po lacks {missing}"
    for msgid in staff_msgids():
        assert set(re.findall(r"{\w+}", msgid)) == set(re.findall(r"{\w+}", translated[msgid])), msgid
    path = STAFF_LOCALE_DIR / lang / "LC_MESSAGES" / "staff.po"
    assert not [m.id for m in read_po(io.BytesIO(path.read_bytes())) if m.fuzzy and m.id]


def test_staff_texts_stay_out_of_the_client_catalogues() -> None:
    """The client catalogues demand ten languages of every text they hold: staff texts live apart."""
    staff_only = {"Sign in", "My week", "Client came", "Change password", TEXTS["wrong_credentials"]}
    assert staff_only <= staff_msgids()
    for lang in LANGUAGES:
        assert staff_only & set(read_catalogs(LOCALE_DIR, lang)) == set(), lang
        assert not (LOCALE_DIR / lang / "LC_MESSAGES" / "staff.po").exists()
    assert sorted(p.name for p in STAFF_LOCALE_DIR.iterdir() if p.is_dir()) == sorted(STAFF_LANGUAGES)


def test_a_staff_page_without_its_database_is_a_503_staff_page(tmp_path: Path) -> None:
    # One connection and no wait for another: a request that needs one while it is held meets an empty pool.
    engine = create_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}", pool_size=1, max_overflow=0, pool_timeout=0.1)
    with staff_desk(tmp_path, engine) as desk, TestClient(desk.app, raise_server_exceptions=False) as client:
        client.cookies.set("lotse_staff", "x" * 22)
        with engine.connect():
            page = client.get("/staff/week", headers={"Accept-Language": "en"})
    assert page.status_code == 503 and page.headers["retry-after"] == "60"
    assert seen(page) == ("Not available right now – Staff Deutsch We cannot handle this request right now. Nothing "
                          "was saved or changed. Please try again in a minute. Not available right now Try again")
    assert 'href="/staff/week">Try again' in page.text
