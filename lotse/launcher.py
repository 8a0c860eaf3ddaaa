"""Start every role of Lotse as its own process, watch them, stop them all cleanly on Ctrl-C.

Roles: the gateway (HTTP + its listener), the scheduler worker, the notifier worker and the notifier's beat.
The launcher also prepares var/ (data key, demo calendar) before anything starts, so no two processes race
to create them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.settings import GatewaySettings
from notifier.settings import NotifierSettings

from shared.cipher import load_cipher
from shared.settings import ConfigurationError, DataKeySettings


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


def prepare(settings: DataKeySettings, demo: bool) -> None:
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    load_cipher(settings)  # creates var/data.key once on the embedded default
    subprocess.run([sys.executable, "-m", "notifier", "init"], check=True)
    subprocess.run([sys.executable, "-m", "gateway.init"], check=True)
    subprocess.run([sys.executable, "-m", "scheduler", "seed-demo" if demo else "init"], check=True)


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


def run(gateway: GatewaySettings, notifier: NotifierSettings, demo: bool = True) -> int:
    try:
        prepare(gateway, demo)
    except ConfigurationError as exc:
        print(f"lotse: configuration error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"lotse: preparing failed ({exc.cmd[2:]}), see the messages above", file=sys.stderr)
        return 1

    processes: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for role in ROLES:
        # Each child gets its own process group: Ctrl-C reaches the launcher only, which stops them in order.
        processes[role.name] = subprocess.Popen([sys.executable, "-m", *role.argv], start_new_session=True)

    local = f"http://127.0.0.1:{gateway.port}"
    if _wait_for_http(f"{local}/healthz", list(processes.values()), 60):
        print(f"\nLotse is running: {local}   (admin figures: {local}/metrics; stop with Ctrl-C)\n", flush=True)
        if notifier.sms_provider == "sink":
            print(f"SMS are not sent; they are recorded in {notifier.var_dir / 'sms-sink.jsonl'}\n", flush=True)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
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
