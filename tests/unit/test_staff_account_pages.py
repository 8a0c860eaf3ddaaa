"""The admins' accounts page (/admin/accounts) and the page of a one-time password link (/staff/password-reset) as a
browser without JavaScript sees them: a new account and its link, deactivating (asked first), reactivating,
unlocking, a new password link, resetting two-factor sign-in (asked first), and each refusal (a counsellor, no
CSRF token, the own account, unknown account, a used or unknown link, fields said wrong). The real StaffAccounts on
SQLite with a clock the tests move (tests/support/staff_pages)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from gateway.api import staff_accounts
from gateway.staff.audit_repository import AuditFilter
from gateway.web.staff import password_reset_page

from tests.support.staff_pages import PASSWORD, StaffDesk, staff_desk
from tests.unit.test_staff_pages import FORM_EXPIRED, csrf_of, seen

NEW_PASSWORD = "seven unrelated words make it"
LINK_GONE = "Dieser Link zum Setzen eines neuen Passworts ist abgelaufen oder wurde schon verwendet."
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffDesk]:
    with staff_desk(tmp_path_factory.mktemp("account-pages")) as made:
        yield made


def client(desk: StaffDesk) -> TestClient:
    return TestClient(desk.app, raise_server_exceptions=False, follow_redirects=False,
                      headers={"Accept-Language": "de-DE,de;q=0.9"})


@pytest.fixture
def admin(desk: StaffDesk) -> Iterator[TestClient]:
    """A browser with the admin signed in (password, then the code)."""
    with client(desk) as browser:
        assert browser.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 303
        assert browser.post("/login/code", data={"code": desk.code("admin")}).status_code == 303
        yield browser


@pytest.fixture
def other(desk: StaffDesk) -> Iterator[TestClient]:
    with client(desk) as browser:
        yield browser


def colleague(desk: StaffDesk) -> tuple[str, int]:
    """A counsellor account of the test's own, with PASSWORD."""
    number = next(_numbers)
    staff = desk.accounts.create(f"acc{number}", f"Colleague {number}", "counsellor", PASSWORD,
                                 counsellor_id=200 + number)
    return staff.username, staff.id


def accounts_csrf(admin: TestClient) -> str:
    return csrf_of(admin.get("/admin/accounts").text)


def shown_link(page: str) -> str:
    """The path of the one-time link the page shows (after the public base URL)."""
    return re.findall(r'<code class="link">https?://[^/]+(/staff/password-reset\?token=[A-Za-z0-9_-]+)</code>',
                      page)[0]


def signs_in(browser: TestClient, username: str, password: str = PASSWORD) -> int:
    browser.cookies.clear()
    return browser.post("/login", data={"username": username, "password": password}).status_code


def test_the_list_shows_each_account_with_its_state(admin: TestClient) -> None:
    page = admin.get("/admin/accounts")
    assert page.status_code == 200
    text = seen(page)
    assert "admin Admin Verwaltung aktiv ein Neuer Passwort-Link anna" in text  # not deactivating oneself
    assert "anna Anna Beratung 1 aktiv aus Deaktivieren … Neuer Passwort-Link" in text


def test_an_admin_makes_an_account_whose_link_sets_the_first_password(admin: TestClient, other: TestClient) -> None:
    made = admin.post("/admin/accounts", data={"csrf": accounts_csrf(admin), "username": "Carla.M",
                                               "display_name": "Carla", "role": "counsellor", "counsellor_id": "7"})

    assert made.status_code == 200 and "Das Konto ist angelegt." in seen(made)
    assert "Einmal-Link für carla.m" in seen(made) and "wird nur jetzt gezeigt" in seen(made)
    link = shown_link(made.text)
    assert "carla.m Carla Beratung 7 aktiv aus" in seen(made)
    assert '<code class="link">' not in admin.get("/admin/accounts").text  # shown once

    form = other.get(link)
    assert form.status_code == 200 and "Neues Passwort setzen" in seen(form)
    token = link.split("token=")[1]
    mismatch = other.post("/staff/password-reset", data={"token": token, "new_password": NEW_PASSWORD,
                                                         "new_password_again": NEW_PASSWORD + "!"})
    assert mismatch.status_code == 422 and 'aria-describedby="new_password_again-error"' in mismatch.text
    weak = other.post("/staff/password-reset", data={"token": token, "new_password": "short",
                                                     "new_password_again": "short"})
    assert weak.status_code == 422 and "Bitte wählen Sie ein längeres Passwort" in seen(weak)
    done = other.post("/staff/password-reset", data={"token": token, "new_password": NEW_PASSWORD,
                                                     "new_password_again": NEW_PASSWORD})

    assert done.status_code == 303 and done.headers["location"] == "/login?done=reset"
    assert "Ihr neues Passwort ist gesetzt." in seen(other.get("/login?done=reset"))
    assert signs_in(other, "carla.m", NEW_PASSWORD) == 303
    used = other.get(link)
    assert used.status_code == 410 and LINK_GONE in seen(used)
    again = other.post("/staff/password-reset", data={"token": token, "new_password": NEW_PASSWORD + "x",
                                                      "new_password_again": NEW_PASSWORD + "x"})
    assert again.status_code == 410


@pytest.mark.parametrize(("fields", "status", "said"), [
    ({"username": "A b", "role": "counsellor", "counsellor_id": "8"}, 422,
     {"username": "Der Benutzername muss aus 2 bis 64 Buchstaben"}),
    ({"username": "anna", "role": "counsellor", "counsellor_id": "8"}, 409,
     {"username": "Dieser Benutzername ist schon vergeben."}),
    ({"username": "gerd", "role": "counsellor", "counsellor_id": ""}, 422,
     {"counsellor_id": "braucht die Nummer der Beratungsperson"}),
    ({"username": "gerd", "role": "admin", "counsellor_id": "3"}, 422,
     {"counsellor_id": "hat keine Nummer einer Beratungsperson"}),
    ({"username": "gerd", "role": "owner", "counsellor_id": ""}, 422, {"role": "Bitte wählen Sie eine Rolle."}),
    ({"username": "gerd", "display_name": "Gerd\x07", "role": "admin"}, 422,
     {"display_name": "keine Steuerzeichen"}),
])
def test_a_new_accounts_fields_are_said_wrong_at_each(admin: TestClient, desk: StaffDesk, fields: dict[str, str],
                                                      status: int, said: dict[str, str]) -> None:
    before = len(desk.accounts.list_accounts())
    response = admin.post("/admin/accounts", data={"csrf": accounts_csrf(admin), **fields})
    assert response.status_code == status
    for field, sentence in said.items():
        assert f'aria-invalid="true" aria-describedby="{field}-error"' in response.text
        assert sentence in seen(response)
    assert f'value="{fields["username"]}"' in response.text  # kept for correcting
    assert '<code class="link">' not in response.text and len(desk.accounts.list_accounts()) == before


def test_deactivating_asks_first_and_ends_the_accounts_sessions(admin: TestClient, other: TestClient,
                                                                desk: StaffDesk) -> None:
    username, staff_id = colleague(desk)
    assert signs_in(other, username) == 303
    question = admin.get(f"/admin/accounts/{staff_id}/deactivate")
    assert f"{username} deaktivieren?" in seen(question)
    assert other.get("/staff").status_code != 303  # nothing happened yet

    done = admin.post(f"/admin/accounts/{staff_id}/deactivate", data={"csrf": csrf_of(question.text)})

    assert done.status_code == 303 and done.headers["location"] == "/admin/accounts?done=account_deactivated"
    assert "Das Konto ist deaktiviert; seine Sitzungen sind beendet." in seen(admin.get(done.headers["location"]))
    assert other.get("/staff").status_code == 303
    assert signs_in(other, username) == 401
    back = admin.post(f"/admin/accounts/{staff_id}/reactivate", data={"csrf": accounts_csrf(admin)})
    assert back.headers["location"] == "/admin/accounts?done=account_reactivated"
    assert signs_in(other, username) == 303


def test_unlocking_lets_a_locked_account_sign_in_again(admin: TestClient, other: TestClient, desk: StaffDesk) -> None:
    username, staff_id = colleague(desk)
    for _ in range(5):
        assert signs_in(other, username, "not the password") == 401
    assert signs_in(other, username) == 423
    assert f"{username} Colleague" in seen(admin.get("/admin/accounts"))
    assert "gesperrt nach fehlgeschlagenen Anmeldungen" in seen(admin.get("/admin/accounts"))

    done = admin.post(f"/admin/accounts/{staff_id}/unlock", data={"csrf": accounts_csrf(admin)})

    assert done.headers["location"] == "/admin/accounts?done=account_unlocked"
    assert signs_in(other, username) == 303


def test_a_new_password_link_replaces_the_one_before(admin: TestClient, other: TestClient, desk: StaffDesk) -> None:
    username, staff_id = colleague(desk)
    first = shown_link(admin.post(f"/admin/accounts/{staff_id}/password-link",
                                  data={"csrf": accounts_csrf(admin)}).text)
    made = admin.post(f"/admin/accounts/{staff_id}/password-link", data={"csrf": accounts_csrf(admin)})
    assert made.status_code == 200 and "ein früherer gilt nicht mehr" in seen(made)
    assert other.get(first).status_code == 410
    assert other.get(shown_link(made.text)).status_code == 200
    assert signs_in(other, username) == 303  # the password stays until the link is used


def test_resetting_two_factor_sign_in_asks_first(admin: TestClient, other: TestClient, desk: StaffDesk) -> None:
    username, staff_id = colleague(desk)
    desk.enrol(username)
    assert signs_in(other, username) == 303 and other.post("/login/code", data={"code": desk.code(username)}
                                                           ).status_code == 303
    question = admin.get(f"/admin/accounts/{staff_id}/two-factor-reset")
    assert f"Zwei-Faktor-Anmeldung von {username} zurücksetzen?" in seen(question)

    done = admin.post(f"/admin/accounts/{staff_id}/two-factor-reset", data={"csrf": csrf_of(question.text)})

    assert done.headers["location"] == "/admin/accounts?done=account_two_factor_reset"
    assert other.get("/staff").status_code == 303  # its session ended
    assert not desk.accounts.two_factor_status(staff_id).enabled
    response = other.post("/login", data={"username": username, "password": PASSWORD})
    assert response.headers["location"] == "/staff"  # no code asked


@pytest.mark.parametrize("action", ["deactivate", "two-factor-reset"])
def test_an_admin_cannot_do_it_to_their_own_account(admin: TestClient, desk: StaffDesk, action: str) -> None:
    response = admin.post(f"/admin/accounts/1/{action}", data={"csrf": accounts_csrf(admin)})
    assert response.status_code == 409 and "mit Ihrem eigenen Konto nicht tun" in seen(response)
    assert desk.accounts.summary(1).active and desk.accounts.summary(1).two_factor


@pytest.mark.parametrize("path", ["/admin/accounts/999/unlock", "/admin/accounts/x/unlock",
                                  "/admin/accounts/2/delete"])
def test_an_unknown_account_or_change_is_a_404_page(admin: TestClient, path: str) -> None:
    for response in (admin.get(path), admin.post(path, data={"csrf": accounts_csrf(admin)})):
        assert response.status_code == 404 and "Dieses Konto gibt es nicht." in seen(response)


def test_a_counsellor_on_the_accounts_page_gets_a_403_page(other: TestClient, desk: StaffDesk) -> None:
    username, _staff_id = colleague(desk)
    signs_in(other, username)
    csrf = csrf_of(other.get("/staff/password").text)
    assert other.get("/admin/accounts").status_code == 403
    for path in ("/admin/accounts", "/admin/accounts/2/deactivate"):
        response = other.post(path, data={"csrf": csrf, "username": "mallory", "role": "admin"})
        assert response.status_code == 403 and "Diese Seite ist nur für die Verwaltung." in seen(response)
    assert desk.accounts.summary(2).active
    assert "mallory" not in {a.staff.username for a in desk.accounts.list_accounts()}


@pytest.mark.parametrize("path", ["/admin/accounts", "/admin/accounts/3/deactivate", "/admin/accounts/3/unlock",
                                  "/admin/accounts/3/password-link", "/admin/accounts/3/two-factor-reset"])
def test_an_accounts_form_without_the_sessions_token_changes_nothing(admin: TestClient, desk: StaffDesk,
                                                                     path: str) -> None:
    response = admin.post(path, data={"csrf": "", "username": "mallory", "role": "admin"})
    assert response.status_code == 403 and FORM_EXPIRED in seen(response)
    assert '<code class="link">' not in response.text
    assert desk.accounts.summary(3).active
    assert "mallory" not in {a.staff.username for a in desk.accounts.list_accounts()}


def test_the_accounts_page_without_a_session_sends_to_sign_in(other: TestClient) -> None:
    assert other.get("/admin/accounts").headers["location"] == "/login?next=%2Fadmin%2Faccounts"
    assert other.post("/admin/accounts/2/deactivate", data={"csrf": "x"}).headers["location"] == "/login"


@pytest.mark.parametrize("token", ["", "not-a-token-of-ours-at-all", "x" * 200])
def test_an_unknown_password_link_is_a_410_page(other: TestClient, token: str) -> None:
    response = other.get(f"/staff/password-reset?token={token}")
    assert response.status_code == 410 and LINK_GONE in seen(response)
    posted = other.post("/staff/password-reset", data={"token": token, "new_password": NEW_PASSWORD,
                                                       "new_password_again": NEW_PASSWORD})
    assert posted.status_code == 410


def test_a_password_link_form_from_another_site_is_refused(admin: TestClient, other: TestClient,
                                                           desk: StaffDesk) -> None:
    username, staff_id = colleague(desk)
    link = shown_link(admin.post(f"/admin/accounts/{staff_id}/password-link", data={"csrf": accounts_csrf(admin)}
                                 ).text)
    response = other.post("/staff/password-reset", data={"token": link.split("token=")[1],
                                                         "new_password": NEW_PASSWORD,
                                                         "new_password_again": NEW_PASSWORD},
                          headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and FORM_EXPIRED in seen(response)
    assert other.get(link).status_code == 200  # still unused
    assert signs_in(other, username) == 303


def test_the_apis_links_lead_to_the_page() -> None:
    assert staff_accounts.RESET_PAGE == password_reset_page.RESET_PAGE


def test_what_an_admin_does_at_the_pages_is_in_the_audit_log_as_the_api_records_it(admin: TestClient,
                                                                                   desk: StaffDesk) -> None:
    _username, staff_id = colleague(desk)
    csrf = accounts_csrf(admin)  # the list shown is a read of the accounts
    assert admin.post(f"/admin/accounts/{staff_id}/unlock", data={"csrf": csrf}).status_code == 303
    assert admin.post(f"/admin/accounts/{staff_id}/password-link", data={"csrf": csrf}).status_code == 200
    assert admin.post("/admin/accounts/1/deactivate", data={"csrf": csrf}).status_code == 409

    rows, _more = desk.accounts.audit.page(AuditFilter(staff_id=1), None, 6)
    assert [(row.action, row.outcome, row.target_id) for row in reversed(rows)] == [
        ("accounts_read", "ok", None), ("account_unlocked", "ok", str(staff_id)),
        ("password_link_issued", "ok", str(staff_id)), ("accounts_read", "ok", None),  # the page with the link
        ("account_deactivated", "refused", "1"), ("accounts_read", "ok", None)]
    assert {(row.username, row.source) for row in rows} == {("admin", "testclient")}
