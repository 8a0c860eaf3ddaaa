"""Two-factor sign-in (TOTP) for staff and what admins do to accounts, over HTTP, as staff would notice it.

The real StaffAccounts service and the staff routers on a throw-away SQLite database (the `desk` of
test_staff_auth), with a clock the tests move: codes are computed with pyotp for the desk's time, nobody waits.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient
from gateway.api.staff_deps import COOKIE_NAME, CSRF_HEADER, PENDING_COOKIE_NAME
from gateway.staff import totp
from gateway.staff.accounts import CodeAwaited, StaffAccounts
from gateway.staff.audit import Actor
from sqlalchemy import text

from shared.crypto import DataCipher, generate_data_key, key_id_of
from tests.support.staff import PASSWORD
from tests.unit.test_staff_auth import CIPHER_KEY, Desk, open_desk

NEW_PASSWORD = "a quite different sentence"
TOPIC_WORDS = ("counsel", "beratung", "sex", "health", "career", "safety")


@pytest.fixture
def desk(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with open_desk(tmp_path, tmp_path_factory.getbasetemp()) as opened:
        yield opened


def code(desk: Desk, username: str, steps: int = 0) -> str:
    """What the account's authenticator app shows at the desk's time, `steps` periods of 30 s later."""
    secret = desk.phone.secrets[account(desk, username)]
    return pyotp.TOTP(secret).at(int(desk.clock().timestamp()), counter_offset=steps)


def account(desk: Desk, username: str) -> str:
    return f"{desk.client.base_url}|{username}"


def enrolled(desk: Desk, username: str) -> list[str]:
    """Signs `username` in with two-factor sign-in set up (codes of the next step are free); its recovery codes."""
    desk.sign_in(username)
    if account(desk, username) not in desk.phone.secrets:
        csrf = desk.client.get("/v1/staff/me").json()["csrf_token"]
        desk.phone.enrol(desk.client, account(desk, username), csrf)
    desk.clock.advance(seconds=30)
    return desk.phone.recovery_codes[account(desk, username)]


def fresh(desk: Desk) -> TestClient:
    return TestClient(desk.client.app, raise_server_exceptions=False)


def password_step(desk: Desk, client: TestClient, username: str) -> httpx.Response:
    response: httpx.Response = client.post("/v1/staff/login", json={"username": username, "password": PASSWORD})
    return response


def code_step(client: TestClient, value: str) -> httpx.Response:
    response: httpx.Response = client.post("/v1/staff/login/code", json={"code": value})
    return response


def csrf_of(client: TestClient) -> dict[str, str]:
    return {CSRF_HEADER: client.get("/v1/staff/me").json()["csrf_token"]}


# --- admins must, counsellors may ---------------------------------------------------------------------------------


def test_an_admin_without_two_factor_sign_in_can_only_set_it_up(desk: Desk) -> None:
    signed_in = desk.login("admin")
    assert signed_in.status_code == 200 and signed_in.json()["two_factor_enrolment_required"] is True
    csrf = {CSRF_HEADER: signed_in.json()["csrf_token"]}
    for method, path in (("GET", "/v1/staff/accounts"), ("GET", "/test/calendars/3"), ("POST", "/test/calendars/3"),
                         ("POST", "/v1/staff/accounts/2/unlock"), ("POST", "/v1/staff/password")):
        refused = desk.client.request(method, path, headers=csrf, json={"current_password": PASSWORD,
                                                                        "new_password": NEW_PASSWORD})
        assert refused.status_code == 403, (method, path)
        assert refused.json()["code"] == "two_factor_enrolment_required"
        assert "two-factor" in refused.json()["detail"] and "enrolment" in refused.json()["detail"]
    assert desk.client.get("/v1/staff/me").json()["two_factor_enrolment_required"] is True
    state = desk.client.get("/v1/staff/two-factor").json()
    assert state == {"enabled": False, "required": True, "enrolment_started": False, "recovery_codes_left": 0}
    assert desk.client.post("/v1/staff/logout", headers=csrf).status_code == 204


def test_enrolment_shows_a_neutral_qr_code_drawn_here_and_keeps_the_secret_encrypted(desk: Desk) -> None:
    csrf = {CSRF_HEADER: desk.login("admin").json()["csrf_token"]}
    enrolment = desk.client.post("/v1/staff/two-factor/enrolment", headers=csrf)
    assert enrolment.status_code == 200 and enrolment.headers["cache-control"] == "no-store"
    body = enrolment.json()
    uri = urlsplit(body["provisioning_uri"])
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/Lotse:admin")
    assert parse_qs(uri.query) == {"secret": [body["secret"]], "issuer": ["Lotse"]}
    assert body["qr_svg"].startswith("<svg") and "http" not in body["qr_svg"] and "<image" not in body["qr_svg"]
    assert not any(word in body["provisioning_uri"].lower() for word in TOPIC_WORDS)
    with desk.engine.connect() as connection:
        stored = connection.execute(text("SELECT totp_secret_ciphertext FROM staff_accounts WHERE id = 1")).scalar()
    assert stored is not None and body["secret"] not in stored and stored.startswith("v1.")
    # Not in effect before its first code: the next sign-in is still one step and still asks for the set-up.
    assert desk.client.get("/v1/staff/two-factor").json()["enrolment_started"] is True
    again = password_step(desk, fresh(desk), "admin")
    assert again.status_code == 200 and again.json()["two_factor_enrolment_required"] is True


def test_a_wrong_first_code_does_not_turn_it_on_and_the_right_one_gives_ten_recovery_codes(desk: Desk) -> None:
    csrf = {CSRF_HEADER: desk.login("admin").json()["csrf_token"]}
    secret = desk.client.post("/v1/staff/two-factor/enrolment", headers=csrf).json()["secret"]
    now = int(desk.clock().timestamp())
    wrong = desk.client.post("/v1/staff/two-factor/enrolment/confirm", headers=csrf,
                             json={"code": pyotp.TOTP(secret).at(now, counter_offset=5)})
    assert wrong.status_code == 422 and wrong.json()["code"] == "wrong_code"
    assert desk.client.get("/v1/staff/accounts").status_code == 403
    confirmed = desk.client.post("/v1/staff/two-factor/enrolment/confirm", headers=csrf,
                                 json={"code": pyotp.TOTP(secret).at(now)})
    assert confirmed.status_code == 200 and confirmed.headers["cache-control"] == "no-store"
    codes = confirmed.json()["recovery_codes"]
    assert len(set(codes)) == 10 and all(len(c) == 11 and c[5] == "-" for c in codes)
    assert desk.client.get("/v1/staff/accounts").status_code == 200  # the same session, now able to do it all
    with desk.engine.connect() as connection:
        dump = str(connection.execute(text("SELECT * FROM staff_recovery_codes")).all())
    assert not any(c in dump or c.replace("-", "") in dump for c in codes)
    assert desk.client.post("/v1/staff/two-factor/enrolment", headers=csrf).status_code == 409


def test_a_counsellor_without_two_factor_sign_in_works_as_before_and_may_turn_it_on(desk: Desk) -> None:
    csrf = {CSRF_HEADER: desk.sign_in("anna")}
    assert desk.client.get("/test/calendars/3").status_code == 200
    assert desk.client.get("/v1/staff/two-factor").json()["required"] is False
    assert password_step(desk, fresh(desk), "anna").status_code == 200
    desk.phone.enrol(desk.client, account(desk, "anna"), csrf[CSRF_HEADER])
    desk.clock.advance(seconds=30)
    assert password_step(desk, fresh(desk), "anna").status_code == 202


# --- signing in in two steps ----------------------------------------------------------------------------------------


def test_with_two_factor_on_the_password_gives_a_pending_step_not_a_session(desk: Desk) -> None:
    enrolled(desk, "admin")
    client = fresh(desk)
    pending = password_step(desk, client, "admin")
    assert pending.status_code == 202 and pending.json()["code_required"] is True
    assert pending.headers["cache-control"] == "no-store" and COOKIE_NAME not in client.cookies
    assert "httponly" in pending.headers["set-cookie"].lower() and "samesite=strict" in pending.headers[
        "set-cookie"].lower()
    assert client.get("/v1/staff/me").status_code == 401
    assert client.get("/v1/staff/accounts").status_code == 401
    signed_in = code_step(client, code(desk, "admin"))
    assert signed_in.status_code == 200 and signed_in.json()["two_factor_enrolment_required"] is False
    assert client.get("/v1/staff/accounts").status_code == 200
    assert PENDING_COOKIE_NAME not in client.cookies
    # The pending step was used up with the session.
    assert code_step(client, code(desk, "admin", steps=1)).json()["code"] == "sign_in_expired"


def test_a_code_used_once_is_refused_within_its_window(desk: Desk) -> None:
    enrolled(desk, "admin")
    first = fresh(desk)
    password_step(desk, first, "admin")
    used = code(desk, "admin")
    assert code_step(first, used).status_code == 200
    desk.clock.advance(seconds=20)  # still within the code's window
    second = fresh(desk)
    password_step(desk, second, "admin")
    replayed = code_step(second, used)
    assert replayed.status_code == 401 and replayed.json()["code"] == "wrong_code"
    assert "used already" in replayed.json()["detail"] and COOKIE_NAME not in second.cookies
    # An earlier code than the last one used is refused too, and the next one works.
    assert code_step(second, code(desk, "admin", steps=-1)).status_code == 401
    assert code_step(second, code(desk, "admin", steps=1)).status_code == 200


def test_a_code_from_one_step_off_is_accepted_but_not_from_two(desk: Desk) -> None:
    enrolled(desk, "anna")
    client = fresh(desk)
    password_step(desk, client, "anna")
    stale = code_step(client, code(desk, "anna", steps=-2))
    assert stale.status_code == 401 and "not correct" in stale.json()["detail"]
    assert code_step(client, code(desk, "anna", steps=1)).status_code == 200


def test_the_pending_step_expires_after_five_minutes_and_needs_its_cookie(desk: Desk) -> None:
    enrolled(desk, "admin")
    client = fresh(desk)
    password_step(desk, client, "admin")
    desk.clock.advance(minutes=5)
    expired = code_step(client, code(desk, "admin"))
    assert expired.status_code == 401 and expired.json()["code"] == "sign_in_expired"
    assert "password" in expired.json()["detail"] and COOKIE_NAME not in client.cookies
    without = code_step(fresh(desk), code(desk, "admin"))
    assert without.status_code == 401 and without.json()["code"] == "sign_in_expired"
    forged = fresh(desk)
    forged.cookies.set(PENDING_COOKIE_NAME, "x" * 22)
    assert code_step(forged, code(desk, "admin")).json()["code"] == "sign_in_expired"


def test_a_recovery_code_signs_in_once(desk: Desk) -> None:
    codes = enrolled(desk, "admin")
    client = fresh(desk)
    password_step(desk, client, "admin")
    assert code_step(client, " " + codes[0].upper() + " ").status_code == 200  # as typed from paper
    again = fresh(desk)
    password_step(desk, again, "admin")
    used = code_step(again, codes[0])
    assert used.status_code == 401 and "recovery code" in used.json()["detail"]
    assert code_step(again, codes[1].replace("-", "")).status_code == 200
    desk.sign_in("admin")
    assert desk.client.get("/v1/staff/two-factor").json()["recovery_codes_left"] <= 8


def test_wrong_codes_lock_the_account_like_wrong_passwords(desk: Desk) -> None:
    enrolled(desk, "anna")
    client = fresh(desk)
    password_step(desk, client, "anna")
    for n in range(4):
        assert code_step(client, f"00000{n}").status_code == 401
    # The right password again does not reset the count of wrong codes.
    assert password_step(desk, client, "anna").status_code == 202
    assert code_step(client, "000009").status_code == 401
    locked = code_step(client, code(desk, "anna"))
    assert locked.status_code == 423 and locked.json()["code"] == "account_locked"
    assert password_step(desk, fresh(desk), "anna").status_code == 423
    desk.clock.advance(minutes=15)
    later = fresh(desk)
    assert password_step(desk, later, "anna").status_code == 202
    assert code_step(later, code(desk, "anna")).status_code == 200


def test_a_pending_step_of_an_account_deactivated_meanwhile_gives_no_session(desk: Desk) -> None:
    enrolled(desk, "anna")
    client = fresh(desk)
    password_step(desk, client, "anna")
    desk.accounts.deactivate(2)
    assert code_step(client, code(desk, "anna")).json()["code"] == "sign_in_expired"
    assert password_step(desk, fresh(desk), "anna").status_code == 401


# --- turning it off, new recovery codes, an admin's reset ----------------------------------------------------------


def test_a_user_turns_it_off_only_with_a_current_code(desk: Desk) -> None:
    enrolled(desk, "anna")
    csrf = csrf_of(desk.client)
    wrong = desk.client.post("/v1/staff/two-factor/disable", headers=csrf, json={"code": "123456"})
    assert wrong.status_code == 422 and wrong.json()["code"] == "wrong_code"
    assert desk.client.post("/v1/staff/two-factor/disable", json={"code": code(desk, "anna")}).status_code == 403
    off = desk.client.post("/v1/staff/two-factor/disable", headers=csrf, json={"code": code(desk, "anna")})
    assert off.status_code == 204
    assert password_step(desk, fresh(desk), "anna").status_code == 200
    again = desk.client.post("/v1/staff/two-factor/disable", headers=csrf, json={"code": "123456"})
    assert again.status_code == 409


def test_an_admin_who_turns_it_off_is_asked_to_set_it_up_again(desk: Desk) -> None:
    codes = enrolled(desk, "admin")
    csrf = csrf_of(desk.client)
    assert desk.client.post("/v1/staff/two-factor/disable", headers=csrf, json={"code": codes[3]}).status_code == 204
    refused = desk.client.get("/v1/staff/accounts")
    assert refused.status_code == 403 and refused.json()["code"] == "two_factor_enrolment_required"


def test_new_recovery_codes_replace_the_old_ones(desk: Desk) -> None:
    old = enrolled(desk, "anna")
    renewed = desk.client.post("/v1/staff/two-factor/recovery-codes", headers=csrf_of(desk.client),
                               json={"code": code(desk, "anna")})
    assert renewed.status_code == 200 and len(renewed.json()["recovery_codes"]) == 10
    client = fresh(desk)
    password_step(desk, client, "anna")
    assert code_step(client, old[0]).status_code == 401
    assert code_step(client, renewed.json()["recovery_codes"][0]).status_code == 200


def test_an_admin_resets_another_accounts_two_factor_and_its_sessions_end(desk: Desk) -> None:
    enrolled(desk, "anna")
    anna = desk.client
    desk.client = fresh(desk)
    enrolled(desk, "admin")
    csrf = csrf_of(desk.client)
    reset = desk.client.post("/v1/staff/accounts/2/two-factor/reset", headers=csrf)
    assert reset.status_code == 200 and reset.json()["two_factor"] is False
    assert anna.get("/v1/staff/me").status_code == 401
    assert password_step(desk, fresh(desk), "anna").status_code == 200
    own = desk.client.post("/v1/staff/accounts/1/two-factor/reset", headers=csrf)
    assert own.status_code == 409 and own.json()["code"] == "own_account"
    assert desk.client.post("/v1/staff/accounts/99/two-factor/reset", headers=csrf).status_code == 404


def test_the_secret_moves_to_the_new_data_key_at_its_next_use(desk: Desk) -> None:
    enrolled(desk, "anna")
    rotated = DataCipher.from_text(f"{generate_data_key('k9')},{CIPHER_KEY}")
    accounts = StaffAccounts(desk.engine, desk.clock, desk.accounts.hasher, cipher=rotated)
    pending = accounts.authenticate("anna", PASSWORD, "10.0.0.1")
    accounts.complete_sign_in(pending.token, code(desk, "anna"), "10.0.0.1")  # type: ignore[union-attr]
    with desk.engine.connect() as connection:
        stored = connection.execute(text("SELECT totp_secret_ciphertext FROM staff_accounts WHERE id = 2")).scalar()
    assert key_id_of(stored) == "k9"


# --- account administration ------------------------------------------------------------------------------------------

ADMIN_ROUTES = [("GET", "/v1/staff/accounts"), ("POST", "/v1/staff/accounts"),
                ("POST", "/v1/staff/accounts/3/deactivate"), ("POST", "/v1/staff/accounts/3/reactivate"),
                ("POST", "/v1/staff/accounts/3/unlock"), ("POST", "/v1/staff/accounts/3/password-reset"),
                ("POST", "/v1/staff/accounts/3/two-factor/reset")]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_a_counsellor_gets_403_from_every_account_route(desk: Desk, method: str, path: str) -> None:
    csrf = {CSRF_HEADER: desk.sign_in("anna")}
    body = {"username": "mallory", "role": "admin"}
    refused = desk.client.request(method, path, headers=csrf, json=body)
    assert refused.status_code == 403 and refused.json()["detail"] == "This needs an admin account."
    assert fresh(desk).request(method, path, json=body).status_code == 401


def test_a_new_account_sets_its_first_password_with_a_one_time_link(desk: Desk) -> None:
    enrolled(desk, "admin")
    created = desk.client.post("/v1/staff/accounts", headers=csrf_of(desk.client),
                               json={"username": "Carla", "name": "Carla M.", "role": "counsellor",
                                     "counsellor_id": 5})
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    body = created.json()
    assert body["account"]["username"] == "carla" and body["account"]["active"] is True
    link = urlsplit(body["password_link"])
    assert (link.scheme, link.netloc, link.path) == ("http", "127.0.0.1:8000", "/staff/password-reset")
    token = parse_qs(link.query)["token"][0]
    with desk.engine.connect() as connection:
        assert token not in str(connection.execute(text("SELECT * FROM staff_password_resets")).all())
    assert desk.accounts.password_reset_is_valid(token)
    public = fresh(desk)
    weak = public.post("/v1/staff/password-reset", json={"token": token, "new_password": "short"})
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"
    done = public.post("/v1/staff/password-reset", json={"token": token, "new_password": NEW_PASSWORD})
    assert done.status_code == 204 and COOKIE_NAME not in public.cookies
    assert public.post("/v1/staff/login", json={"username": "carla", "password": NEW_PASSWORD}).status_code == 200
    used = fresh(desk).post("/v1/staff/password-reset", json={"token": token, "new_password": "yet another one!"})
    assert used.status_code == 410 and used.json()["code"] == "reset_link_invalid"
    assert not desk.accounts.password_reset_is_valid(token)
    taken = desk.client.post("/v1/staff/accounts", headers=csrf_of(desk.client),
                             json={"username": "carla", "role": "admin"})
    assert taken.status_code == 409
    no_id = desk.client.post("/v1/staff/accounts", headers=csrf_of(desk.client),
                             json={"username": "dora", "role": "counsellor"})
    assert no_id.status_code == 422 and "counsellor id" in no_id.json()["detail"]


def test_a_reset_link_expires_after_a_day_and_a_newer_one_replaces_it(desk: Desk) -> None:
    enrolled(desk, "admin")
    csrf = csrf_of(desk.client)
    first = desk.client.post("/v1/staff/accounts/2/password-reset", headers=csrf)
    assert first.status_code == 201
    old = parse_qs(urlsplit(first.json()["password_link"]).query)["token"][0]
    second = desk.client.post("/v1/staff/accounts/2/password-reset", headers=csrf).json()
    new = parse_qs(urlsplit(second["password_link"]).query)["token"][0]
    assert desk.login("anna").status_code == 200  # the password is unchanged until the link is used
    public = fresh(desk)
    replaced = public.post("/v1/staff/password-reset", json={"token": old, "new_password": NEW_PASSWORD})
    assert replaced.status_code == 410
    desk.clock.advance(hours=24)
    expired = public.post("/v1/staff/password-reset", json={"token": new, "new_password": NEW_PASSWORD})
    assert expired.status_code == 410 and "ask an admin" in expired.json()["detail"]
    assert public.post("/v1/staff/password-reset", json={"token": "x" * 22, "new_password": NEW_PASSWORD}
                       ).status_code == 410


def test_using_a_reset_link_ends_the_sessions_and_lifts_the_lock(desk: Desk) -> None:
    desk.sign_in("anna")
    anna = desk.client
    for _ in range(5):
        desk.login("anna", "wrong password here", client=fresh(desk))
    link = desk.accounts.issue_password_reset(2, by=Actor(1, "admin", "testclient"))
    assert fresh(desk).post("/v1/staff/password-reset",
                            json={"token": link.token, "new_password": NEW_PASSWORD}).status_code == 204
    assert anna.get("/v1/staff/me").status_code == 401
    assert desk.login("anna", NEW_PASSWORD, client=fresh(desk)).status_code == 200


def test_deactivating_ends_sessions_and_sign_in_until_reactivated(desk: Desk) -> None:
    desk.sign_in("anna")
    anna = desk.client
    desk.client = fresh(desk)
    enrolled(desk, "admin")
    csrf = csrf_of(desk.client)
    link = desk.accounts.issue_password_reset(2, by=Actor(1, "admin", "testclient"))
    off = desk.client.post("/v1/staff/accounts/2/deactivate", headers=csrf)
    assert off.status_code == 200 and off.json()["active"] is False
    assert anna.get("/v1/staff/me").status_code == 401
    assert desk.login("anna", client=fresh(desk)).status_code == 401
    assert not desk.accounts.password_reset_is_valid(link.token)
    refused = desk.client.post("/v1/staff/accounts/2/password-reset", headers=csrf)
    assert refused.status_code == 409 and refused.json()["code"] == "account_inactive"
    own = desk.client.post("/v1/staff/accounts/1/deactivate", headers=csrf)
    assert own.status_code == 409 and own.json()["code"] == "own_account"
    on = desk.client.post("/v1/staff/accounts/2/reactivate", headers=csrf)
    assert on.status_code == 200 and on.json()["active"] is True
    assert desk.login("anna", client=fresh(desk)).status_code == 200
    assert desk.client.post("/v1/staff/accounts/99/deactivate", headers=csrf).status_code == 404


def test_the_account_list_shows_active_locked_and_two_factor_and_unlock_clears_the_lock(desk: Desk) -> None:
    for _ in range(5):
        desk.login("ben", "wrong password here", client=fresh(desk))
    enrolled(desk, "admin")
    listed = {a["username"]: a for a in desk.client.get("/v1/staff/accounts").json()["accounts"]}
    assert (listed["admin"]["two_factor"], listed["admin"]["locked"]) == (True, False)
    assert (listed["ben"]["two_factor"], listed["ben"]["locked"], listed["ben"]["active"]) == (False, True, True)
    unlocked = desk.client.post("/v1/staff/accounts/3/unlock", headers=csrf_of(desk.client))
    assert unlocked.status_code == 200 and unlocked.json()["locked"] is False
    assert desk.login("ben", client=fresh(desk)).status_code == 200


def test_codes_are_six_digits_and_recovery_codes_avoid_misreadable_letters() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32
    codes = totp.new_recovery_codes()
    assert not set("".join(codes)) & set("01ilo")
    assert totp.normalise_code(" 123 456 ") == "123456" and totp.looks_like_totp("123456")
    assert not totp.looks_like_totp("12345a")


def test_digits_of_other_scripts_and_control_characters_are_refused_with_a_sentence(desk: Desk) -> None:
    enrolled(desk, "anna")
    client = fresh(desk)
    password_step(desk, client, "anna")
    arabic = code_step(client, "١٢٣٤٥٦")
    assert arabic.status_code == 401 and arabic.json()["code"] == "wrong_code"
    enrolled(desk, "admin")
    odd = desk.client.post("/v1/staff/accounts", headers=csrf_of(desk.client),
                           json={"username": "dora", "name": "Do\x00ra", "role": "admin"})
    assert odd.status_code == 422 and "control characters" in odd.json()["detail"]


def test_a_caller_that_does_not_ask_for_the_enrolment_sees_no_session_of_an_admin_without_it(desk: Desk) -> None:
    signed_in = desk.accounts.authenticate("admin", PASSWORD, "10.0.0.1")
    assert not isinstance(signed_in, CodeAwaited) and signed_in.must_enrol
    assert desk.accounts.current(signed_in.token) is None  # a staff page, say: an admin page stays closed
    enrolling = desk.accounts.current(signed_in.token, enrolling=True)
    assert enrolling is not None and enrolling.must_enrol
