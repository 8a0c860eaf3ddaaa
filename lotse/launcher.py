"""Start every role of Lotse as its own process, watch them, stop them all cleanly on Ctrl-C.

Roles: the gateway (HTTP + its listener), the scheduler worker, the notifier worker and the notifier's beat.
The launcher also prepares var/ (data key, databases, demo calendar) before anything starts, so no two processes
race to create them. Everything the roles write goes to var/logs/<role>.log (rotated); the terminal shows only
their warnings and errors, and the start ends with the address to open.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import IO

from gateway.settings import GatewaySettings
from notifier.settings import NotifierSettings

from shared.cipher import load_cipher
from shared.private_files import private_directory, private_file
from shared.settings import ConfigurationError, DataKeySettings

LOG_FILE_BYTES = 10 * 1024 * 1024
LOG_FILES_KEPT = 3  # besides the current one
# Shown on the terminal: what needs a person's attention. Everything goes to the role's log file.
SHOWN_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})
# Lines of a role's output shown when it stops unexpectedly (a traceback is not a JSON log line).
LAST_LINES_SHOWN = 20
READY_WITHIN_SECONDS = 60.0


@dataclass(frozen=True)
class Role:
    name: str
    argv: tuple[str, ...]


ROLES = (
    Role("scheduler", ("scheduler", "worker")),
    Role("notifier", ("notifier", "worker")),
    Role("notifier-beat", ("notifier", "beat")),
    Role("gateway", ("gateway",)),
)
# One after the other, into var/logs/prepare.log; the scheduler's step loads the demo calendar unless --no-demo.
PREPARE = (("notifier", "init"), ("gateway.init",))


class RoleLog:
    """One role's output: every line into its rotated log file, warnings and errors also onto the terminal."""

    def __init__(self, name: str, logs: Path) -> None:
        self.name = name
        self.path = logs / f"{name}.log"
        self.last_lines: deque[str] = deque(maxlen=LAST_LINES_SHOWN)
        self._file = logging.getLogger(f"lotse.roles.{name}")
        self._file.propagate = False
        self._file.setLevel(logging.INFO)
        if not self._file.handlers:
            private_file(self.path)  # logs hold no number or text, but who booked when is personal enough
            handler = RotatingFileHandler(self.path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILES_KEPT,
                                          encoding="utf-8")
            handler.setFormatter(logging.Formatter("%(message)s"))
            self._file.addHandler(handler)

    def follow(self, stream: IO[bytes]) -> threading.Thread:
        thread = threading.Thread(target=self.copy, args=(stream,), name=f"log-{self.name}", daemon=True)
        thread.start()
        return thread

    def copy(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            self._file.info(line)
            self.last_lines.append(line)
            shown = _for_terminal(self.name, line)
            if shown is not None:
                print(shown, file=sys.stderr, flush=True)
        stream.close()

    def show_last_lines(self) -> None:
        print(f"lotse: the last lines of {self.path}:", file=sys.stderr)
        for line in self.last_lines:
            print(f"  {line}", file=sys.stderr)
        sys.stderr.flush()


def _for_terminal(role: str, line: str) -> str | None:
    """A role's JSON log line at WARNING or above, as a person reads it; None for anything else (INFO lines,
    Celery's banners), which stays in the log file."""
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("level") not in SHOWN_LEVELS:
        return None
    return f"[{role}] {entry['level']}: {entry.get('msg', '')}"


def _start(role: Role, logs: Path) -> tuple[subprocess.Popen[bytes], RoleLog]:
    log = RoleLog(role.name, logs)
    # Each child gets its own process group: Ctrl-C reaches the launcher only, which stops them in order.
    process = subprocess.Popen([sys.executable, "-m", *role.argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
    assert process.stdout is not None  # stdout=PIPE
    log.follow(process.stdout)
    return process, log


def prepare(settings: DataKeySettings, demo: bool, logs: Path) -> None:
    """Data key, databases and (with `demo`) the demo calendar, one step after the other."""
    load_cipher(settings)  # creates var/data.key once on the embedded default
    for argv in (*PREPARE, ("scheduler", "seed-demo" if demo else "init")):
        step = Role("prepare", argv)
        process, log = _start(step, logs)
        if process.wait() != 0:
            time.sleep(0.1)  # the copying thread reads what the step wrote last
            log.show_last_lines()
            raise subprocess.CalledProcessError(process.returncode, ["python", "-m", *step.argv])


def _wait_for_http(url: str, processes: Sequence[subprocess.Popen[bytes]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            return False
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own local URL
                return bool(response.status == 200)
        except OSError:
            time.sleep(0.2)
    return False


def _shown_path(path: Path | str) -> str:
    """A path as a person would type it here: relative when it is under the working directory."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def welcome(gateway: GatewaySettings, notifier: NotifierSettings, logs: Path) -> list[str]:
    """What the start says once everything answers; the address to open is the last line."""
    local = f"http://127.0.0.1:{gateway.port}"
    lines = [""]
    if notifier.sms_provider == "sink":
        lines.append(f"SMS are not sent; they are recorded in {_shown_path(notifier.var_dir / 'sms-sink.jsonl')}")
    lines += [
        f"Each role logs to {_shown_path(logs)}/<role>.log; only warnings and errors are shown here.",
        "Staff sign in through the JSON API under /v1/staff/ (POST /v1/staff/login); admins then set up two-factor",
        "sign-in (POST /v1/staff/two-factor/enrolment, README: Staff sign-in). The first admin account:",
        f"  {_shown_path(sys.executable)} -m gateway create-admin --username NAME",
        "",
        _metrics_line(gateway, notifier),
        "",
        f"Lotse is running: {local}   (stop with Ctrl-C)",
    ]
    return lines


def _metrics_line(gateway: GatewaySettings, notifier: NotifierSettings) -> str:
    """Where Prometheus scrapes each role (internal ports, never the clients' address; 0 is off)."""
    ports = {"gateway": gateway.gateway_metrics_port, "notifier": notifier.notifier_metrics_port,
             "beat": notifier.notifier_beat_metrics_port}
    served = ", ".join(f"{role} :{port}" for role, port in ports.items() if port)
    return (f"Prometheus metrics (internal ports on {gateway.metrics_host}, README \"Metrics\"): {served or 'off'}; "
            "the scheduler's on SCHEDULER_METRICS_PORT")


def run(gateway: GatewaySettings, notifier: NotifierSettings, demo: bool = True) -> int:
    logs = gateway.var_dir.resolve() / "logs"
    try:
        private_directory(logs)
        prepare(gateway, demo, logs)
    except ConfigurationError as exc:
        print(f"lotse: configuration error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"lotse: preparing failed ({' '.join(exc.cmd[2:])}), see above", file=sys.stderr)
        return 1

    processes: dict[str, subprocess.Popen[bytes]] = {}
    role_logs: dict[str, RoleLog] = {}
    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("lotse: starting gateway, scheduler, notifier and beat …", file=sys.stderr, flush=True)
    for role in ROLES:
        processes[role.name], role_logs[role.name] = _start(role, logs)

    if _wait_for_http(f"http://127.0.0.1:{gateway.port}/healthz", list(processes.values()), READY_WITHIN_SECONDS):
        print("\n".join(welcome(gateway, notifier, logs)), flush=True)
    elif all(p.poll() is None for p in processes.values()):
        print(f"lotse: the gateway did not answer within {READY_WITHIN_SECONDS:.0f} s; see "
              f"{_shown_path(logs / 'gateway.log')}", file=sys.stderr, flush=True)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                role_logs[name].show_last_lines()
                print(f"lotse: {name} stopped (exit code {process.returncode}); stopping the rest", file=sys.stderr)
                exit_code = 1
                stopping = True
                break
        time.sleep(0.3)
    _stop_all(processes)
    print("lotse: stopped", file=sys.stderr)
    return exit_code


def _stop_all(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
