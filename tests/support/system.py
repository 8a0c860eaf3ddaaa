"""Run Lotse's roles as real processes, the way the launcher and docker-compose do, for end-to-end tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic_settings import BaseSettings

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
ROLES: dict[str, list[str]] = {
    "scheduler": ["-m", "scheduler", "worker"],
    "notifier": ["-m", "notifier", "worker"],
    "notifier-beat": ["-m", "notifier", "beat"],
    "gateway": ["-m", "gateway"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The limits against abuse (gateway.limits, the notifier's daily budget) out of reach: the systems of the tests and
# benches book from one address with a few numbers, many times. tests/integration/test_abuse_limits.py and
# test_sms_budget_and_destinations.py check the limits themselves; a test may set them in `extra`.
ROOMY_LIMITS = {name: "1000000" for name in (
    "BOOKINGS_PER_ADDRESS_HOUR", "BOOKINGS_PER_ADDRESS_DAY", "BOOKINGS_PER_PHONE_HOUR", "BOOKINGS_PER_PHONE_DAY",
    "CANCELS_PER_ADDRESS_HOUR", "CANCELS_PER_PHONE_DAY", "FUTURE_APPOINTMENTS_PER_PHONE",
    "SEARCHES_PER_ADDRESS_MINUTE", "SMS_DAILY_BUDGET")}


METRICS_PORTS = ("GATEWAY_METRICS_PORT", "SCHEDULER_METRICS_PORT", "NOTIFIER_METRICS_PORT",
                 "NOTIFIER_BEAT_METRICS_PORT")


def roomy_limits(settings_class: type[BaseSettings]) -> dict[str, int]:
    """ROOMY_LIMITS as keyword arguments of a settings class (those of its fields it has)."""
    return {name.lower(): int(value) for name, value in ROOMY_LIMITS.items()
            if name.lower() in settings_class.model_fields}


def base_env(var_dir: Path, port: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SMS_", "BROKER_", "DATA_KEY"))}
    env.update({"VAR_DIR": str(var_dir), "PORT": str(port), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1", **ROOMY_LIMITS,
                # No quiet hours: a notice (a cancellation, a move) goes out whatever the hour the test runs at;
                # quiet hours are pinned by tests with a clock of their own (tests/unit/test_reminder_planning.py).
                "QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "00:00",
                # No internal metrics ports: several systems run at once on one machine; a test that scrapes one
                # sets its port in `extra` (free_port()).
                **{name: "0" for name in METRICS_PORTS}})
    for key in ("GATEWAY_DATABASE_URL", "SCHEDULER_DATABASE_URL", "NOTIFIER_DATABASE_URL"):
        env.pop(key, None)
    env.update(extra or {})
    return env


class System:
    """The four roles as child processes, their logs in var_dir/logs/<role>.log."""

    def __init__(self, env: dict[str, str], var_dir: Path, role_env: dict[str, dict[str, str]] | None = None) -> None:
        self.env = env
        self.role_env = role_env or {}  # per role (all its processes), over env: e.g. the scheduler's concurrency
        self.var_dir = var_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.url = env["PUBLIC_BASE_URL"]

    def prepare(self, demo: bool = True) -> None:
        subprocess.run([sys.executable, "-m", "notifier", "init"], env=self.env, check=True, cwd=REPO)
        subprocess.run([sys.executable, "-m", "gateway.init"], env=self.env, check=True, cwd=REPO)
        subprocess.run([sys.executable, "-m", "scheduler", "seed-demo" if demo else "init"], env=self.env,
                       check=True, cwd=REPO)

    def start(self, *roles: str) -> None:
        logs = self.var_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for role in roles or tuple(ROLES):
            handle = (logs / f"{role}.log").open("ab")
            # "scheduler#2" starts a second scheduler process beside the first.
            name = role.split("#")[0]
            self.processes[role] = subprocess.Popen([sys.executable, *ROLES[name]],
                                                    env={**self.env, **self.role_env.get(name, {})},
                                                    cwd=REPO,
                                                    stdout=handle, stderr=subprocess.STDOUT,
                                                    start_new_session=True)

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for role, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{role} exited with {process.returncode}:\n{self.log(role)[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("gateway not ready:\n" + self.log("gateway")[-3000:])

    def stop(self, *roles: str, sig: int = signal.SIGTERM) -> None:
        """Signal every role named (all by default) at once, then wait for each, killing one that takes over 20 s.
        At once, not one after the other: each takes seconds to shut down, which a teardown paid for in sum."""
        running = [process for role in roles or tuple(self.processes)
                   if (process := self.processes.get(role)) is not None and process.poll() is None]
        for process in running:
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + 20
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def log(self, role: str) -> str:
        path = self.var_dir / "logs" / f"{role}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def all_logs(self) -> str:
        return "\n".join(self.log(role) for role in {*ROLES, *self.processes})

    def sink(self) -> list[dict[str, Any]]:
        path = self.var_dir / "sms-sink.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@contextmanager
def running_system(env: dict[str, str], var_dir: Path, demo: bool = True) -> Iterator[System]:
    system = System(env, var_dir)
    system.prepare(demo)
    system.start()
    try:
        system.wait_ready()
        yield system
    finally:
        system.stop()


@contextmanager
def running_system_in_own_dir(prefix: str, extra: Mapping[str, str] | None = None) -> Iterator[System]:
    """A running system for a whole test module, in a directory of its own that is removed afterwards.

    Not pytest's tmp_path: pytest prunes old base directories when other pytest sessions start, which would pull
    the databases from under a module's long-lived system."""
    var_dir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        with running_system(base_env(var_dir, free_port(), extra), var_dir) as running:
            yield running
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


# How long an "exactly one" check keeps watching after the first message showed: time for a message redelivered
# after a dropped connection to be handled and sent again (the notifier sends what a handled message made due right
# after its commit, not at the beat's tick). A duplicate arriving in this window fails the check.
LATE_DUPLICATE_SECONDS = 6.0


def poll(predicate: Any, seconds: float = 30, interval: float = 0.1) -> Any:
    """Wait for a condition with a deadline (instead of a sleep); returns the truthy value or raises."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {seconds} s")
        time.sleep(interval)


def assert_stays(value: Callable[[], T], expected: T, seconds: float = LATE_DUPLICATE_SECONDS,
                 interval: float = 0.2) -> None:
    """`value()` equals `expected` now and keeps doing so for `seconds` (a late duplicate fails at once)."""
    deadline = time.monotonic() + seconds
    while True:
        current = value()
        assert current == expected, f"{current!r} instead of {expected!r}"
        if time.monotonic() > deadline:
            return
        time.sleep(interval)


def book_first_free_slot(client: httpx.Client, phone: str = "+4915112345678", language: str = "de",
                         index: int = 0, **params: str) -> dict[str, Any]:
    slots = client.get("/v1/slots", params={"language": language, **params}).json()["slots"]
    response = client.post("/v1/bookings", json={"slot_id": slots[index]["slot_id"], "phone": phone,
                                                 "language": language, "channel": "web"})
    assert response.status_code == 202, response.text
    return dict(response.json())


def wait_for_status(client: httpx.Client, token: str, status: str, seconds: float = 30) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body = client.get(f"/v1/bookings/{token}").json()
        return body if body["status"] == status else None

    return dict(poll(check, seconds))
