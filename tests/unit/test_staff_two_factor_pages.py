"""Two-factor sign-in on the staff pages as a browser without JavaScript sees it: the code step after the password
(a code, a recovery code; wrong, replayed, used twice, too late), setting it up on /staff/two-factor (the QR code,
the key, the first code, the recovery codes once), an admin without it kept on that page, turning it off. The real
StaffAccounts on SQLite with a clock the tests move, codes computed with pyotp (tests/support/staff_pages)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient

from tests.support.staff_pages import PASSWORD, StaffDesk, staff_desk
from tests.unit.test_staff_pages import FORM_EXPIRED, csrf_of, seen

WRONG_CODE = "Der Code stimmt nicht."
USED_CODE = "Dieser Code wurde schon verwendet."
USED_RECOVERY_CODE = "Dieser Wiederherstellungscode stimmt nicht oder wurde schon verwendet"
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffDesk]:
    with staff_desk(tmp_path_factory.mktemp("two-factor-pages")) as made:
        yield made


@pytest.fixture
def browser(desk: StaffDesk) -> Iterator[TestClient]:
    with TestClient(desk.app, raise_server_exceptions=False, follow_redirects=False,
                    headers={"Accept-Language": "de-DE,de;q=0.9"}) as client:
        yield client


def counsellor(desk: StaffDesk, enrolled: bool = True) -> tuple[str, list[str]]:
    """A new counsellor of their own (so no test's wrong codes lock another's account); its recovery codes."""
    number = next(_numbers)
    username = f"tf{number}"
    desk.accounts.create(username, f"Counsellor {number}", "counsellor", PASSWORD, counsellor_id=100 + number)
    return username, desk.enrol(username) if enrolled else []


def password_step(browser: TestClient, username: str, next_path: str = "/staff") -> str:
    response = browser.post("/login", data={"username": username, "password": PASSWORD, "next": next_path})
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def wrong_code(desk: StaffDesk, username: str) -> str:
    """Six digits that are none of the codes the gateway accepts now (this step and one either side)."""
    totp = pyotp.TOTP(desk.secrets[username])
    accepted = {totp.at(int(desk.clock().timestamp()), counter_offset=offset) for offset in (-1, 0, 1)}
    return next(code for code in (f"{n:06d}" for n in range(100_000, 100_010)) if code not in accepted)


# --- the code step ---------------------------------------------------------------------------------------------------

def test_an_admin_signs_in_with_the_code_and_arrives_where_they_were_going(browser: TestClient,
                                                                          desk: StaffDesk) -> None:
    password = browser.post("/login", data={"username": "admin", "password": PASSWORD, "next": "/admin"})

    assert password.status_code == 303 and password.headers["location"] == "/login/code?next=%2Fadmin"
    assert "lotse_staff=" not in password.headers.get("set-cookie", "")  # no session yet
    pending = next(c for c in password.headers.get_list("set-cookie") if c.startswith("lotse_staff_pending="))
    assert "HttpOnly" in pending and "SameSite=strict" in pending and "Max-Age=300" in pending
    form = browser.get("/login/code?next=%2Fadmin")
    assert form.status_code == 200 and 'name="next" value="/admin"' in form.text
    assert "Anmeldecode" in seen(form) and 'autocomplete="one-time-code"' in form.text
    assert browser.get("/admin").status_code == 303

    response = browser.post("/login/code", data={"code": desk.code("admin"), "next": "/admin"})

    assert response.status_code == 303 and response.headers["location"] == "/admin"
    cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith("lotse_staff=") for c in cookies)
    assert any(c.startswith('lotse_staff_pending=""') or "lotse_staff_pending=;" in c for c in cookies)
    assert browser.get("/admin").status_code == 200


def test_a_wrong_code_is_said_at_the_field(browser: TestClient, desk: StaffDesk) -> None:
    username, _codes = counsellor(desk)
    password_step(browser, username)

    response = browser.post("/login/code", data={"code": wrong_code(desk, username)})

    assert response.status_code == 401
    assert 'aria-invalid="true" aria-describedby="code-error" autofocus' in response.text
    assert WRONG_CODE in seen(response)
    assert browser.get("/staff").status_code == 303
    empty = browser.post("/login/code", data={"code": " "})
    assert empty.status_code == 422 and "Bitte geben Sie die 6 Ziffern ein" in seen(empty)


def test_a_code_used_once_does_not_sign_in_again(browser: TestClient, desk: StaffDesk) -> None:
    username, _codes = counsellor(desk)
    password_step(browser, username)
    code = desk.code(username)
    assert browser.post("/login/code", data={"code": code}).status_code == 303
    browser.cookies.clear()
    password_step(browser, username)

    replayed = browser.post("/login/code", data={"code": code})

    assert replayed.status_code == 401 and USED_CODE in seen(replayed)
    assert browser.get("/staff").status_code == 303


def test_a_recovery_code_signs_in_once(browser: TestClient, desk: StaffDesk) -> None:
    username, codes = counsellor(desk)
    password_step(browser, username)
    assert browser.post("/login/code", data={"code": codes[0].upper()}).status_code == 303
    assert browser.get("/staff").status_code == 200
    browser.cookies.clear()
    password_step(browser, username)

    again = browser.post("/login/code", data={"code": codes[0]})

    assert again.status_code == 401 and USED_RECOVERY_CODE in seen(again)


def test_a_code_after_five_minutes_sends_back_to_the_password(browser: TestClient, desk: StaffDesk) -> None:
    username, _codes = counsellor(desk)
    password_step(browser, username, "/staff/week")
    desk.clock.advance(minutes=6)

    response = browser.post("/login/code", data={"code": desk.code(username), "next": "/staff/week"})

    assert response.status_code == 303
    assert response.headers["location"] == "/login?done=expired&next=%2Fstaff%2Fweek"
    page = browser.get(response.headers["location"])
    assert "Ihre Anmeldung hat länger als fünf Minuten gedauert und ist abgelaufen." in seen(page)
    assert 'name="next" value="/staff/week"' in page.text
    assert browser.get("/staff").status_code == 303


def test_the_code_page_without_a_password_step_sends_to_sign_in(browser: TestClient) -> None:
    assert browser.get("/login/code").headers["location"] == "/login?done=expired"
    assert browser.post("/login/code", data={"code": "123456"}).headers["location"] == "/login?done=expired"


def test_a_code_posted_from_another_site_is_refused(browser: TestClient, desk: StaffDesk) -> None:
    password_step(browser, "admin")
    response = browser.post("/login/code", data={"code": desk.code("admin")},
                            headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and FORM_EXPIRED in seen(response)
    assert browser.get("/admin").status_code == 303


# --- setting it up ---------------------------------------------------------------------------------------------------

def set_up(browser: TestClient, desk: StaffDesk, username: str) -> str:
    """Starts the set-up on the page; remembers the key shown for typing in, as the phone would."""
    csrf = csrf_of(browser.get("/staff/two-factor").text)
    shown = browser.post("/staff/two-factor/start", data={"csrf": csrf})
    assert shown.status_code == 200
    key = re.findall(r'<code class="secret">([A-Z2-7 ]+)</code>', shown.text)[0]
    desk.secrets[username] = key.replace(" ", "")
    assert '<div class="qr" role="img"' in shown.text and "<svg" in shown.text and "<path" in shown.text
    return csrf


def test_a_new_admin_signs_in_to_the_set_up_and_reaches_nothing_else_before(browser: TestClient,
                                                                             desk: StaffDesk) -> None:
    username = f"admin{next(_numbers)}"
    desk.accounts.create(username, "Erika", "admin", PASSWORD)
    assert password_step(browser, username, "/admin") == "/staff/two-factor"
    for elsewhere in ("/admin", "/staff", "/staff/password", "/admin/accounts"):
        assert browser.get(elsewhere).status_code == 303, elsewhere
    assert browser.get("/login").headers["location"] == "/staff/two-factor"
    page = browser.get("/staff/two-factor")
    assert page.status_code == 200 and 'href="/admin"' not in page.text  # no way out but signing out
    assert "Verwaltungskonten brauchen die Zwei-Faktor-Anmeldung." in seen(page)

    csrf = set_up(browser, desk, username)
    wrong = browser.post("/staff/two-factor/confirm", data={"csrf": csrf, "code": wrong_code(desk, username)})
    assert wrong.status_code == 422 and 'aria-describedby="code-error"' in wrong.text and WRONG_CODE in seen(wrong)
    assert browser.get("/admin").status_code == 303  # still not on
    done = browser.post("/staff/two-factor/confirm", data={"csrf": csrf, "code": desk.code(username)})

    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", done.text)
    assert len(set(codes)) == 10 and "nur dieses eine Mal gezeigt" in seen(done)
    assert browser.get("/admin").status_code == 200
    assert "Verbleibende Wiederherstellungscodes: 10." in seen(browser.get("/staff/two-factor"))


def test_a_counsellor_turns_two_factor_sign_in_on_and_off_with_a_code(browser: TestClient, desk: StaffDesk) -> None:
    username, _codes = counsellor(desk, enrolled=False)
    assert password_step(browser, username) == "/staff"
    assert "Die Zwei-Faktor-Anmeldung ist ausgeschaltet." in seen(browser.get("/staff/two-factor"))
    csrf = set_up(browser, desk, username)
    assert browser.post("/staff/two-factor/confirm", data={"csrf": csrf, "code": desk.code(username)}
                        ).status_code == 200
    renewed = browser.post("/staff/two-factor/change", data={"csrf": csrf, "action": "renew",
                                                             "code": desk.code(username)})
    assert renewed.status_code == 200 and "die alten gelten nicht mehr" in seen(renewed)

    wrong = browser.post("/staff/two-factor/change", data={"csrf": csrf, "action": "off",
                                                           "code": wrong_code(desk, username)})
    assert wrong.status_code == 422 and WRONG_CODE in seen(wrong)
    off = browser.post("/staff/two-factor/change", data={"csrf": csrf, "action": "off", "code": desk.code(username)})

    assert off.status_code == 303 and off.headers["location"] == "/staff/two-factor?done=off"
    assert "Die Zwei-Faktor-Anmeldung ist ausgeschaltet." in seen(browser.get(off.headers["location"]))
    browser.cookies.clear()
    assert password_step(browser, username) == "/staff"  # no code asked any more


def test_an_admin_cannot_turn_it_off(browser: TestClient, desk: StaffDesk) -> None:
    password_step(browser, "admin")
    browser.post("/login/code", data={"code": desk.code("admin")})
    page = browser.get("/staff/two-factor")
    assert "ausschalten" not in seen(page)
    refused = browser.post("/staff/two-factor/change", data={"csrf": csrf_of(page.text), "action": "off",
                                                             "code": desk.code("admin")})
    assert refused.status_code == 403 and "Verwaltungskonten müssen die Zwei-Faktor-Anmeldung behalten." in \
        seen(refused)
    assert desk.accounts.two_factor_status(1).enabled


@pytest.mark.parametrize("path", ["/staff/two-factor/start", "/staff/two-factor/confirm", "/staff/two-factor/change"])
def test_a_two_factor_form_without_the_sessions_token_changes_nothing(browser: TestClient, desk: StaffDesk,
                                                                      path: str) -> None:
    username, _codes = counsellor(desk, enrolled=False)
    password_step(browser, username)
    response = browser.post(path, data={"csrf": "not-the-token", "code": "123456", "action": "renew"})
    assert response.status_code == 403 and FORM_EXPIRED in seen(response)
    assert "<svg" not in response.text
    staff_id = next(a.staff.id for a in desk.accounts.list_accounts() if a.staff.username == username)
    assert not desk.accounts.two_factor_status(staff_id).enrolment_started


def test_the_set_up_page_without_a_session_sends_to_sign_in(browser: TestClient) -> None:
    assert browser.get("/staff/two-factor").headers["location"] == "/login?next=%2Fstaff%2Ftwo-factor"
    assert browser.post("/staff/two-factor/start", data={"csrf": "x"}).headers["location"] == "/login"


def test_after_five_wrong_codes_the_code_page_says_how_long_to_wait(browser: TestClient, desk: StaffDesk) -> None:
    username, _codes = counsellor(desk)
    password_step(browser, username)
    for _ in range(5):
        assert browser.post("/login/code", data={"code": wrong_code(desk, username)}).status_code == 401

    response = browser.post("/login/code", data={"code": desk.code(username, advance=False)})

    assert response.status_code == 423 and response.headers["retry-after"] == "900"
    assert "Bitte warten Sie 15 Minuten" in seen(response)
    assert browser.get("/staff").status_code == 303


def test_confirming_without_a_set_up_says_to_start_it(browser: TestClient, desk: StaffDesk) -> None:
    username, _codes = counsellor(desk, enrolled=False)
    password_step(browser, username)
    csrf = csrf_of(browser.get("/staff/two-factor").text)
    response = browser.post("/staff/two-factor/confirm", data={"csrf": csrf, "code": "123456"})
    assert response.status_code == 409 and "Bitte beginnen Sie die Einrichtung neu." in seen(response)


def test_an_admin_on_the_set_up_page_can_sign_out(browser: TestClient, desk: StaffDesk) -> None:
    username = f"admin{next(_numbers)}"
    desk.accounts.create(username, "Ida", "admin", PASSWORD)
    password_step(browser, username)
    page = browser.get("/staff/two-factor")
    response = browser.post("/logout", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 303 and response.headers["location"] == "/login?done=out"
    assert browser.get("/staff/two-factor").status_code == 303
