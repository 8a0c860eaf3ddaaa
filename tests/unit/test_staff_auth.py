"""Staff sign-in over HTTP: cookies, refusals (401/403/423/429), expiry, CSRF, calendars, and the create-admin command.

The real StaffAccounts service and router on a throw-away SQLite database, with a clock the tests move; argon2 runs
with small parameters so that the many sign-ins here stay fast (one test pins the production parameters).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import httpx
import pytest
from argon2 import PasswordHasher, Type
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from gateway import migrations
from gateway.api import errors, staff_accounts, staff_auth, staff_two_factor
from gateway.api.staff_deps import COOKIE_NAME, CSRF_HEADER, CalendarStaff, cookie_is_secure
from gateway.settings import GatewaySettings
from gateway.staff.accounts import StaffAccounts
from gateway.staff.errors import WRONG_CREDENTIALS, InvalidStaffAccount, UsernameTaken, WeakPassword
from gateway.staff.tables import LoginFailure, StaffAccount, StaffSession
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from shared.crypto import DataCipher, generate_data_key
from shared.db import make_engine
from tests.support.staff import Phone, sign_in_staff

REPO = Path(__file__).resolve().parents[2]
START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
CHEAP = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
CIPHER_KEY = generate_data_key()
CIPHER = DataCipher.from_text(CIPHER_KEY)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class CountingHasher(PasswordHasher):
    verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        CountingHasher.verified += 1
        return super().verify(hash, password)


@dataclass
class Desk:
    """A gateway with only the staff routes, plus one calendar route as later staff routes will use it."""

    client: TestClient
    accounts: StaffAccounts
    clock: Clock
    engine: Engine
    phone: Phone

    def login(self, username: str, password: str = PASSWORD, client: TestClient | None = None) -> httpx.Response:
        response: httpx.Response = (client or self.client).post(
            "/v1/staff/login", json={"username": username, "password": password})
        return response

    def sign_in(self, username: str, password: str = PASSWORD) -> str:
        """Signs in (an admin sets up two-factor sign-in first) and returns the CSRF token; the cookie stays in the
        client, the CSRF header does not."""
        csrf = sign_in_staff(self.client, username, password, self.phone)
        del self.client.headers[CSRF_HEADER]
        return csrf

    def session_rows(self) -> list[StaffSession]:
        with Session(self.engine) as session:
            return list(session.exec(select(StaffSession)).all())


def make_app(engine: Engine, accounts: StaffAccounts, public_base_url: str = "http://127.0.0.1:8000") -> FastAPI:
    calendars = APIRouter()

    @calendars.get("/test/calendars/{counsellor_id}")
    def read_calendar(counsellor_id: int, staff: CalendarStaff) -> dict[str, Any]:
        return {"counsellor_id": counsellor_id, "seen_by": staff.id}

    @calendars.post("/test/calendars/{counsellor_id}")
    def change_calendar(counsellor_id: int, staff: CalendarStaff) -> dict[str, Any]:
        return {"counsellor_id": counsellor_id, "changed_by": staff.id}

    app = FastAPI()
    errors.install(app)
    app.include_router(staff_auth.router)
    app.include_router(staff_two_factor.router)
    app.include_router(staff_accounts.router)
    app.include_router(calendars)
    app.state.gateway = SimpleNamespace(engine=engine, settings=GatewaySettings(public_base_url=public_base_url))
    app.state.staff_accounts = accounts
    return app


@functools.cache
def _migrated_database(folder: Path) -> bytes:
    """A migrated gateway database, made once per run: migrating takes longer than the tests that use it."""
    engine = make_engine(f"sqlite:///{folder / 'template.sqlite'}")
    migrations.upgrade(engine)
    engine.dispose()
    return (folder / "template.sqlite").read_bytes()


@contextmanager
def open_desk(folder: Path, template_folder: Path) -> Iterator[Desk]:
    """The desk on a fresh copy of the migrated database in `folder`."""
    (folder / "gateway.sqlite").write_bytes(_migrated_database(template_folder))
    engine = make_engine(f"sqlite:///{folder / 'gateway.sqlite'}")
    clock = Clock()
    accounts = StaffAccounts(engine, clock, PasswordHasher(**CHEAP), cipher=CIPHER)  # type: ignore[arg-type]
    accounts.create("admin", "Admin", "admin", PASSWORD)
    accounts.create("anna", "Anna", "counsellor", PASSWORD, counsellor_id=3)
    accounts.create("ben", "Ben", "counsellor", PASSWORD, counsellor_id=4)
    with TestClient(make_app(engine, accounts), raise_server_exceptions=False) as client:
        yield Desk(client, accounts, clock, engine, Phone(clock))
    engine.dispose()


@pytest.fixture
def desk(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with open_desk(tmp_path, tmp_path_factory.getbasetemp()) as opened:
        yield opened


def with_cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE_NAME}={token}"}


# --- signing in -----------------------------------------------------------------------------------------------


def test_login_sets_an_http_only_strict_session_cookie_and_answers_with_a_csrf_token(desk: Desk) -> None:
    response = desk.login("anna")
    assert response.status_code == 200
    body = response.json()
    assert body["staff"] == {"id": 2, "name": "Anna", "role": "counsellor", "counsellor_id": 3}
    assert len(body["csrf_token"]) >= 40
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert {"httponly", "samesite", "path"} <= attributes and "samesite=strict" in cookie.lower()
    assert "path=/" in cookie.lower()
    assert "secure" not in attributes  # served on loopback over http: see cookie_is_secure
    assert "max-age" not in attributes and "expires" not in attributes  # ends with the browser
    assert response.headers["cache-control"] == "no-store"
    me = desk.client.get("/v1/staff/me")
    assert me.status_code == 200 and me.json() == body


def test_session_cookie_is_secure_unless_served_on_loopback_over_plain_http(desk: Desk) -> None:
    assert not cookie_is_secure("http://127.0.0.1:8000") and not cookie_is_secure("http://localhost:8000")
    assert cookie_is_secure("https://termine.example.org") and cookie_is_secure("https://127.0.0.1:8443")
    assert cookie_is_secure("http://termine.example.org")  # a mistaken http:// URL fails closed
    app = make_app(desk.engine, desk.accounts, public_base_url="https://termine.example.org")
    with TestClient(app) as client:
        cookie = desk.login("anna", client=client).headers["set-cookie"]
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_usernames_are_case_insensitive(desk: Desk) -> None:
    assert desk.login("  ANNA ").status_code == 200
    with pytest.raises(UsernameTaken):
        desk.accounts.create("Anna", "Another Anna", "counsellor", PASSWORD, counsellor_id=9)


def test_wrong_password_unknown_user_and_inactive_account_get_the_same_401(desk: Desk) -> None:
    desk.accounts.deactivate(3)  # ben
    wrong = desk.login("anna", "not the password at all")
    unknown = desk.login("nobody", PASSWORD)
    inactive = desk.login("ben", PASSWORD)
    for response in (wrong, unknown, inactive):
        assert response.status_code == 401
        assert response.json() == {"detail": WRONG_CREDENTIALS, "code": "invalid_credentials"}
        assert "set-cookie" not in response.headers


def test_unknown_username_costs_a_password_verification_like_a_known_one(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}")
    migrations.upgrade(engine)
    accounts = StaffAccounts(engine, Clock(), CountingHasher(**CHEAP))  # type: ignore[arg-type]
    accounts.create("anna", "Anna", "counsellor", PASSWORD, counsellor_id=3)
    for username in ("anna", "nobody"):
        before = CountingHasher.verified
        with pytest.raises(Exception, match="not correct"):
            accounts.authenticate(username, "wrong wrong wrong", "10.0.0.1")
        assert CountingHasher.verified == before + 1
    engine.dispose()


def test_login_refuses_a_form_post_so_another_site_cannot_sign_a_browser_in(desk: Desk) -> None:
    response = desk.client.post("/v1/staff/login", content=f'{{"username":"anna","password":"{PASSWORD}"}}',
                                headers={"Content-Type": "text/plain"})
    assert response.status_code == 422 and "set-cookie" not in response.headers


# --- throttling -----------------------------------------------------------------------------------------------


def test_username_locked_after_five_failures_and_unlocked_fifteen_minutes_later(desk: Desk) -> None:
    for _ in range(5):
        desk.clock.advance(seconds=10)
        assert desk.login("anna", "wrong password here").status_code == 401
    locked = desk.login("anna")  # even the right password
    assert locked.status_code == 423 and locked.json()["code"] == "account_locked"
    assert locked.headers["retry-after"] == "900"
    assert "set-cookie" not in locked.headers
    desk.clock.advance(minutes=14)
    assert desk.login("anna").status_code == 423
    assert desk.login("anna").headers["retry-after"] == "60"
    desk.clock.advance(minutes=1)
    assert desk.login("anna").status_code == 200
    # The successful sign-in forgets the failures: one more mistake does not lock again.
    assert desk.login("anna", "wrong password here").status_code == 401
    assert desk.login("anna").status_code == 200


def test_failures_spread_over_more_than_the_window_do_not_lock(desk: Desk) -> None:
    for _ in range(8):
        assert desk.login("anna", "wrong password here").status_code == 401
        desk.clock.advance(minutes=4)
    assert desk.login("anna").status_code == 200


def test_unknown_usernames_lock_like_real_ones_so_a_lock_reveals_no_account(desk: Desk) -> None:
    for _ in range(5):
        assert desk.login("nobody", "wrong password here").status_code == 401
    assert desk.login("nobody").status_code == 423


def test_lock_is_shown_in_the_account_list_and_admin_can_lift_it(desk: Desk) -> None:
    for _ in range(5):
        desk.login("anna", "wrong password here")
    anna = next(a for a in desk.accounts.list_accounts() if a.staff.username == "anna")
    assert anna.failed_logins == 5 and anna.locked_until == START + timedelta(minutes=15)
    desk.accounts.unlock(anna.staff.id)
    assert desk.login("anna").status_code == 200


def test_lock_holds_across_gateway_replicas(desk: Desk) -> None:
    other_replica = StaffAccounts(desk.engine, desk.clock, PasswordHasher(**CHEAP))  # type: ignore[arg-type]
    with TestClient(make_app(desk.engine, other_replica)) as other:
        for client in (desk.client, other, desk.client, other, desk.client):
            assert desk.login("anna", "wrong password here", client=client).status_code == 401
        assert desk.login("anna", client=other).status_code == 423


def test_twenty_failures_from_one_address_give_429_with_retry_after(desk: Desk) -> None:
    for n in range(20):
        desk.clock.advance(seconds=1)
        assert desk.login(f"guess{n}", "wrong password here").status_code == 401
    limited = desk.login("admin")
    assert limited.status_code == 429 and limited.json()["code"] == "too_many_attempts"
    assert limited.headers["retry-after"] == str(15 * 60 - 19)  # until the oldest failure leaves the window
    # Another address is not affected.
    with TestClient(make_app(desk.engine, desk.accounts), client=("192.0.2.7", 5000)) as elsewhere:
        assert desk.login("admin", client=elsewhere).status_code == 200
    desk.clock.advance(seconds=15 * 60 - 19)
    assert desk.login("admin").status_code == 200


# --- sessions -------------------------------------------------------------------------------------------------


def test_logout_ends_the_session_and_the_cookie(desk: Desk) -> None:
    csrf = desk.sign_in("anna")
    token = desk.client.cookies[COOKIE_NAME]
    response = desk.client.post("/v1/staff/logout", headers={CSRF_HEADER: csrf})
    assert response.status_code == 204
    assert f'{COOKIE_NAME}=""' in response.headers["set-cookie"] and "Max-Age=0" in response.headers["set-cookie"]
    desk.client.cookies.clear()
    me = desk.client.get("/v1/staff/me", headers=with_cookie(token))
    assert me.status_code == 401 and me.json()["code"] == "not_signed_in"
    assert desk.session_rows()[0].revoked_at == START


def test_me_without_a_session_is_401(desk: Desk) -> None:
    assert desk.client.get("/v1/staff/me").status_code == 401
    assert desk.client.get("/v1/staff/me", headers=with_cookie("x" * 22)).status_code == 401
    assert desk.client.post("/v1/staff/logout").status_code == 401


def test_session_ends_after_an_idle_hour(desk: Desk) -> None:
    desk.sign_in("anna")
    desk.clock.advance(minutes=59)
    assert desk.client.get("/v1/staff/me").status_code == 200  # restarts the idle hour
    desk.clock.advance(minutes=59)
    assert desk.client.get("/v1/staff/me").status_code == 200
    desk.clock.advance(hours=1)
    assert desk.client.get("/v1/staff/me").status_code == 401


def test_session_ends_twelve_hours_after_sign_in_however_active(desk: Desk) -> None:
    desk.sign_in("anna")
    for _ in range(23):
        desk.clock.advance(minutes=30)
        assert desk.client.get("/v1/staff/me").status_code == 200
    desk.clock.advance(minutes=30)  # 12 h after sign-in
    assert desk.client.get("/v1/staff/me").status_code == 401


def test_session_token_csrf_token_and_password_are_not_stored_in_clear(desk: Desk) -> None:
    csrf = desk.sign_in("anna")
    token = desk.client.cookies[COOKIE_NAME]
    desk.login("nobody-here", "wrong password here")
    [row] = desk.session_rows()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with desk.engine.connect() as connection:
        dump = "\n".join(str(r) for t in ("staff_accounts", "staff_sessions", "staff_login_failures")
                         for r in connection.execute(text(f"SELECT * FROM {t}")))
    for secret in (token, csrf, PASSWORD, "wrong password here", "nobody-here"):
        assert secret not in dump
    with Session(desk.engine) as session:
        stored = session.exec(select(StaffAccount.password_hash).where(StaffAccount.username == "anna")).one()
        assert {f.scope for f in session.exec(select(LoginFailure)).all()} == {"username", "ip"}
    assert stored.startswith("$argon2id$")


def test_production_password_hash_is_argon2id_with_rfc_9106_parameters(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}")
    migrations.upgrade(engine)
    accounts = StaffAccounts(engine)
    accounts.create("admin", "Admin", "admin", PASSWORD)
    with Session(engine) as session:
        stored = session.exec(select(StaffAccount.password_hash)).one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert accounts.hasher.type is Type.ID
    engine.dispose()


def test_password_is_rehashed_at_sign_in_when_the_parameters_change(desk: Desk) -> None:
    stronger = StaffAccounts(desk.engine, desk.clock, PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    stronger.authenticate("anna", PASSWORD, "10.0.0.1")
    with Session(desk.engine) as session:
        stored = session.exec(select(StaffAccount.password_hash).where(StaffAccount.username == "anna")).one()
    assert stored.startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    assert desk.login("anna").status_code == 200  # the old parameters still verify the new hash


def test_password_change_ends_every_session(desk: Desk) -> None:
    csrf = desk.sign_in("anna")
    other = TestClient(desk.client.app)
    assert desk.login("anna", client=other).status_code == 200
    new = "a whole new sentence here"
    weak = desk.client.post("/v1/staff/password", json={"current_password": PASSWORD, "new_password": "short"},
                            headers={CSRF_HEADER: csrf})
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"
    wrong = desk.client.post("/v1/staff/password", json={"current_password": "not it at all", "new_password": new},
                             headers={CSRF_HEADER: csrf})
    assert wrong.status_code == 401
    changed = desk.client.post("/v1/staff/password", json={"current_password": PASSWORD, "new_password": new},
                               headers={CSRF_HEADER: csrf})
    assert changed.status_code == 204
    assert other.get("/v1/staff/me").status_code == 401
    assert desk.login("anna").status_code == 401
    assert desk.login("anna", new).status_code == 200


def test_deactivated_account_loses_its_open_sessions(desk: Desk) -> None:
    desk.sign_in("ben")
    desk.accounts.deactivate(3)
    assert desk.client.get("/v1/staff/me").status_code == 401
    assert desk.login("ben").status_code == 401


# --- CSRF and who sees what -----------------------------------------------------------------------------------


def test_state_changing_request_without_the_csrf_header_is_403(desk: Desk) -> None:
    csrf = desk.sign_in("anna")
    missing = desk.client.post("/v1/staff/logout")
    assert missing.status_code == 403 and missing.json()["code"] == "csrf_token_missing"
    assert desk.client.post("/v1/staff/logout", headers={CSRF_HEADER: csrf[:-2] + "xx"}).status_code == 403
    assert desk.client.post("/test/calendars/3").status_code == 403
    assert desk.client.get("/v1/staff/me").status_code == 200  # the session lives on
    assert desk.client.post("/test/calendars/3", headers={CSRF_HEADER: csrf}).status_code == 200


def test_csrf_token_of_one_session_does_not_open_another(desk: Desk) -> None:
    csrf_of_ben = desk.sign_in("ben")
    desk.client.cookies.clear()
    desk.sign_in("anna")
    assert desk.client.post("/v1/staff/logout", headers={CSRF_HEADER: csrf_of_ben}).status_code == 403


def test_counsellor_sees_and_changes_only_their_own_calendar(desk: Desk) -> None:
    csrf = desk.sign_in("anna")  # counsellor 3
    assert desk.client.get("/test/calendars/3").json() == {"counsellor_id": 3, "seen_by": 2}
    foreign = desk.client.get("/test/calendars/4")
    assert foreign.status_code == 403 and foreign.json()["code"] == "forbidden"
    assert "own calendar" in foreign.json()["detail"]
    assert desk.client.post("/test/calendars/4", headers={CSRF_HEADER: csrf}).status_code == 403


def test_admin_sees_every_calendar_and_the_account_list(desk: Desk) -> None:
    csrf = desk.sign_in("admin")
    assert desk.client.get("/test/calendars/3").status_code == 200
    assert desk.client.post("/test/calendars/4", headers={CSRF_HEADER: csrf}).json()["changed_by"] == 1
    listing = desk.client.get("/v1/staff/accounts")
    assert listing.status_code == 200
    assert [(a["username"], a["role"], a["counsellor_id"], a["active"]) for a in listing.json()["accounts"]] == [
        ("admin", "admin", None, True), ("anna", "counsellor", 3, True), ("ben", "counsellor", 4, True)]
    assert "password" not in listing.text and "hash" not in listing.text


def test_account_list_is_403_for_a_counsellor_and_401_without_a_session(desk: Desk) -> None:
    assert desk.client.get("/v1/staff/accounts").status_code == 401
    assert desk.client.get("/test/calendars/3").status_code == 401
    desk.sign_in("anna")
    refused = desk.client.get("/v1/staff/accounts")
    assert refused.status_code == 403 and refused.json()["detail"] == "This needs an admin account."


# --- accounts -------------------------------------------------------------------------------------------------


def test_account_rules(desk: Desk) -> None:
    with pytest.raises(WeakPassword, match="at least 12"):
        desk.accounts.create("carla", "Carla", "counsellor", "short", counsellor_id=5)
    with pytest.raises(WeakPassword):
        desk.accounts.create("carla", "Carla", "counsellor", "aaaaaaaaaaaaaaaa", counsellor_id=5)
    with pytest.raises(InvalidStaffAccount, match="counsellor id"):
        desk.accounts.create("carla", "Carla", "counsellor", PASSWORD)
    with pytest.raises(InvalidStaffAccount, match="no counsellor id"):
        desk.accounts.create("carla", "Carla", "admin", PASSWORD, counsellor_id=5)
    with pytest.raises(InvalidStaffAccount, match="role"):
        desk.accounts.create("carla", "Carla", "superuser", PASSWORD)
    with pytest.raises(InvalidStaffAccount, match="username"):
        desk.accounts.create("c a r l a", "Carla", "admin", PASSWORD)


def test_log_lines_name_no_password_and_no_username(desk: Desk, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gateway.staff")
    for _ in range(5):
        desk.login("secret-name", "hunter2 hunter2 hunter2")
    desk.login("anna", "hunter2 hunter2 hunter2")
    desk.sign_in("admin")
    assert "refused for account 2" in caplog.text and "signed in" in caplog.text and "locked" in caplog.text
    for secret in ("hunter2", "secret-name", "anna", PASSWORD):
        assert secret not in caplog.text


def test_real_gateway_app_serves_the_staff_routes(tmp_path: Path) -> None:
    from gateway.app import create_app

    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}")
    migrations.upgrade(engine)
    staff = StaffAccounts(engine, hasher=PasswordHasher(**CHEAP), cipher=CIPHER)  # type: ignore[arg-type]
    staff.create("admin", "Admin", "admin", PASSWORD)
    gateway = SimpleNamespace(engine=engine, settings=GatewaySettings(public_base_url="http://127.0.0.1:8000"),
                              staff=staff, start=lambda: None, stop=lambda: None)
    with TestClient(create_app(gateway)) as client:  # type: ignore[arg-type]
        assert client.get("/v1/staff/me").status_code == 401
        assert client.post("/v1/staff/login", json={"username": "admin", "password": PASSWORD}).status_code == 200
        assert client.get("/v1/staff/accounts").json()["code"] == "two_factor_enrolment_required"
        sign_in_staff(client, "admin", phone=Phone())
        assert client.get("/v1/staff/accounts").status_code == 200
        assert client.get("/v1/staff/two-factor").json()["enabled"] is True
    engine.dispose()


# --- the command line -----------------------------------------------------------------------------------------


def run_gateway_command(tmp_path: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VAR_DIR": str(tmp_path / "var"),
           "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gateway.sqlite'}"}
    return subprocess.run([sys.executable, "-m", "gateway", *args], input=password, capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=60, check=False)


def test_create_admin_command_reads_the_password_from_stdin(tmp_path: Path) -> None:
    created = run_gateway_command(tmp_path, "create-admin", "--username", "Chef", "--password-stdin",
                                  password=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    assert "Created admin account 'chef'" in created.stdout and PASSWORD not in created.stdout + created.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}")
    signed_in = StaffAccounts(engine).authenticate("chef", PASSWORD, "127.0.0.1")
    assert signed_in.staff.role == "admin" and signed_in.staff.counsellor_id is None
    engine.dispose()

    duplicate = run_gateway_command(tmp_path, "create-admin", "--username", "CHEF", "--password-stdin",
                                    password=PASSWORD + "\n")
    assert duplicate.returncode == 1 and "already taken" in duplicate.stderr

    # A counsellor's id is checked with the scheduler (tests/integration/test_staff_admin.py); none runs here.
    counsellor = run_gateway_command(tmp_path, "create-staff", "--username", "anna", "--role", "counsellor",
                                     "--counsellor-id", "3", "--name", "Anna K.", "--password-stdin",
                                     password=PASSWORD + "\n")
    assert counsellor.returncode == 1 and "Counsellor id 3 could not be checked" in counsellor.stderr
    assert "nothing was created" in counsellor.stderr and "Traceback" not in counsellor.stderr


def test_create_admin_command_refuses_a_weak_password_and_a_missing_counsellor_id(tmp_path: Path) -> None:
    weak = run_gateway_command(tmp_path, "create-admin", "--username", "chef", "--password-stdin",
                               password="tooshort\n")
    assert weak.returncode == 1 and "at least 12 characters" in weak.stderr
    no_id = run_gateway_command(tmp_path, "create-staff", "--username", "anna", "--role", "counsellor",
                                "--password-stdin", password=PASSWORD + "\n")
    assert no_id.returncode == 1 and "--counsellor-id" in no_id.stderr
    no_tty = run_gateway_command(tmp_path, "create-admin", "--username", "chef", password=PASSWORD + "\n")
    assert no_tty.returncode == 1 and "--password-stdin" in no_tty.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}")
    with Session(engine) as session:
        assert session.exec(select(StaffAccount)).all() == []
    engine.dispose()
