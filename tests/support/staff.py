"""Staff accounts for tests, made as an operator makes them (the gateway's commands), and signed in as a person
signs in: the password, then the authenticator app's code; an admin without two-factor sign-in sets it up first.

`Phone` is the authenticator app: it keeps each account's secret and recovery codes, computes codes with pyotp,
and never answers twice for one time step (the gateway refuses a replayed code): a second sign-in within the same
30 seconds uses a recovery code instead, so no test waits for the clock.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pyotp

from tests.support.system import REPO, System

PASSWORD = "correct horse battery staple"
CSRF_HEADER = "X-Lotse-CSRF"


def create_staff(system: System, *args: str) -> None:
    """`python -m gateway create-admin|create-staff ARGS --password-stdin` against the system's data."""
    result = subprocess.run([sys.executable, "-m", "gateway", *args, "--password-stdin"], input=PASSWORD + "\n",
                            env=system.env, cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Phone:
    """An authenticator app for tests; `clock` is the gateway's (a test's movable clock, or the wall clock)."""

    clock: Callable[[], datetime] = _wall_clock
    secrets: dict[str, str] = field(default_factory=dict)
    recovery_codes: dict[str, list[str]] = field(default_factory=dict)
    last_step: dict[str, int] = field(default_factory=dict)

    def code(self, account: str) -> str:
        """The current code, or a recovery code if the current one was used already."""
        totp = pyotp.TOTP(self.secrets[account])
        moment = int(self.clock().timestamp())
        step = totp.timecode(moment)
        if step <= self.last_step.get(account, -1):
            return self.recovery_codes[account].pop()
        self.last_step[account] = step
        return totp.at(moment)

    def enrol(self, http: httpx.Client, account: str, csrf: str) -> list[str]:
        """Sets up two-factor sign-in for the session in `http`; returns the recovery codes."""
        enrolment = http.post("/v1/staff/two-factor/enrolment", headers={CSRF_HEADER: csrf})
        assert enrolment.status_code == 200, enrolment.text
        self.secrets[account] = enrolment.json()["secret"]
        self.last_step.pop(account, None)
        confirmed = http.post("/v1/staff/two-factor/enrolment/confirm", json={"code": self.code(account)},
                              headers={CSRF_HEADER: csrf})
        assert confirmed.status_code == 200, confirmed.text
        codes: list[str] = confirmed.json()["recovery_codes"]
        self.recovery_codes[account] = list(codes)
        return codes


PHONE = Phone()  # for running systems, whose gateway reads the wall clock


def sign_in_staff(http: httpx.Client, username: str, password: str = PASSWORD, phone: Phone = PHONE) -> str:
    """Signs the client in (the cookie stays in it, the CSRF header is set on it) and returns the CSRF token."""
    account = f"{http.base_url}|{username}"
    response = http.post("/v1/staff/login", json={"username": username, "password": password})
    if response.status_code == 202:
        response = http.post("/v1/staff/login/code", json={"code": phone.code(account)})
    assert response.status_code == 200, response.text
    csrf = str(response.json()["csrf_token"])
    if response.json().get("two_factor_enrolment_required"):
        phone.enrol(http, account, csrf)
    http.headers[CSRF_HEADER] = csrf
    return csrf
