"""The gateway's OpenAPI document holds for what the running gateway answers: schemathesis generates requests for
every operation from the document (valid and invalid ones) and checks each answer.

Issue "Lotse 5/7": no server error, no status the document does not declare for the operation, and every body
matches its declared schema, as anonymous, as a counsellor and as an admin. Bounded: a fixed seed (derandomized),
a few examples per operation and mode; every failure is collected and reported at once, not shrunk.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from tests.support.system import REPO, System, running_system_in_own_dir

PASSWORD = "correct horse battery staple"
EXAMPLES_PER_OPERATION = 6  # per generation mode (valid and invalid input)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# A signed-in run leaves these out: they end the session (logout) or lock the account after a few wrong current
# passwords, and everything after them would only see 401. The anonymous run covers them.
ENDS_SESSION = {("POST", "/v1/staff/logout"), ("POST", "/v1/staff/password")}


def create_staff(system: System, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "gateway", *args, "--password-stdin"], input=PASSWORD + "\n",
                            env=system.env, cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    with running_system_in_own_dir("lotse-contract-", {"SLOTS_TIMEOUT_SECONDS": "5"}) as running:
        create_staff(running, "create-admin", "--username", "admin")
        create_staff(running, "create-staff", "--username", "anna", "--role", "counsellor", "--counsellor-id", "1")
        yield running


@pytest.fixture(scope="module")
def schema(system: System) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{system.url}/openapi.json")


@dataclass
class Run:
    calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)  # (operation, check title) -> first example


def credentials(system: System, username: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and cookies of a signed-in staff member (session cookie and CSRF header), or none."""
    if username is None:
        return {}, {}
    response = httpx.post(f"{system.url}/v1/staff/login", json={"username": username, "password": PASSWORD},
                          timeout=30)
    assert response.status_code == 200, response.text
    return {"X-Lotse-CSRF": response.json()["csrf_token"]}, dict(response.cookies)


def fuzz(system: System, schema: schemathesis.BaseSchema, username: str | None) -> Run:
    headers, cookies = credentials(system, username)
    run = Run()
    operations = [result.ok() for result in schema.get_all_operations()]
    if username is not None:
        operations = [op for op in operations if (op.method.upper(), op.path) not in ENDS_SESSION]
    for operation in operations:
        fuzz_operation(system, operation, headers, cookies, run)
    print(f"schemathesis as {username or 'anonymous'}: {len(operations)} operations, {run.calls} calls, "
          f"statuses {dict(sorted(run.statuses.items()))}, {len(run.failures)} failures")
    return run


def fuzz_operation(system: System, operation: schemathesis.APIOperation, headers: dict[str, str],
                   cookies: dict[str, str], run: Run) -> None:
    strategy = st.one_of(operation.as_strategy(generation_mode=mode)
                         for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE))

    @given(case=strategy)
    @settings(max_examples=2 * EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        response = case.call(base_url=system.url, headers=headers, cookies=cookies, timeout=30)
        run.calls += 1
        run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as failed:  # a schemathesis Failure, or a group of them
            for failure in getattr(failed, "exceptions", (failed,)):
                key = (operation.label, getattr(failure, "title", type(failure).__name__))
                run.failures.setdefault(key, f"{response.status_code}: {str(failure)[:600]}")

    call()


def report(run: Run) -> str:
    return "\n\n".join(f"{operation} — {title}\n{example}" for (operation, title), example in run.failures.items())


@pytest.mark.parametrize("username", [None, "anna", "admin"], ids=["anonymous", "counsellor", "admin"])
def test_every_answer_is_declared_and_matches_the_document(system: System, schema: schemathesis.BaseSchema,
                                                           username: str | None) -> None:
    run = fuzz(system, schema, username)

    assert run.calls > 0
    assert not run.failures, report(run)
    assert not {status for status in run.statuses if status >= 500}, run.statuses  # everything is up here
