"""The README's first command: one launcher starts every role, prints the URL last, keeps the roles' output in
their log files, and Ctrl-C stops them all."""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess
import sys
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

import httpx
import psutil
import pytest

from shared.crypto import generate_data_key
from tests.support.system import REPO, base_env, free_port, poll


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_launcher_runs_the_system_prints_the_url_last_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = base_env(tmp_path, port)
    out = (tmp_path / "launcher.out").open("wb")
    launcher = subprocess.Popen([sys.executable, "-m", "lotse", "run"], env=env, cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        poll(lambda: "Lotse is running" in (tmp_path / "launcher.out").read_text(), seconds=90, interval=0.3)
        started = (tmp_path / "launcher.out").read_text()
        children = _children(launcher.pid)
        assert len(children) >= 4, "gateway, scheduler, notifier and beat run as their own processes"
        slots = httpx.get(f"http://127.0.0.1:{port}/v1/slots", params={"language": "de"}, timeout=10).json()
        assert slots["slots"], "the demo calendar offers slots at once"
        assert (tmp_path / "data.key").exists(), "the embedded default generates its data key on first start"
        assert {"gateway.sqlite", "scheduler.sqlite", "notifier.sqlite", "broker.sqlite"} <= {
            path.name for path in tmp_path.iterdir()}
        readable = {str(path.relative_to(tmp_path)): oct(path.stat().st_mode & 0o777) for path in tmp_path.rglob("*")
                    if path.name != "launcher.out" and path.stat().st_mode & 0o077}
        assert readable == {}, "databases, keys, schedules and logs are readable by their owner only"

        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=30)
        time.sleep(0.5)
        assert launcher.returncode == 0
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    finally:
        if launcher.poll() is None:
            launcher.kill()
    lines = [line for line in started.splitlines() if line.strip()]
    assert lines[-1].startswith(f"Lotse is running: http://127.0.0.1:{port}"), "the address is the last line"
    assert "-m gateway create-admin --username NAME" in started and "/v1/staff/" in started, \
        "the start says how to make the first staff account and where staff sign in"
    assert len(lines) <= 10, f"the start is short:\n{started}"
    for noise in ("celery", "Sending due task", "alembic", "[tasks]"):
        assert noise not in started, f"{noise!r} belongs in the role's log file, not on the terminal"
    assert "Traceback" not in (tmp_path / "launcher.out").read_text()
    logs = tmp_path / "logs"
    for role in ("gateway", "scheduler", "notifier", "notifier-beat"):
        assert (logs / f"{role}.log").stat().st_size > 0, f"{role} writes its own log file"
    assert "celery beat" in (logs / "notifier-beat.log").read_text(), "the banner went to the beat's log file"
    assert "demo calendar loaded" in (logs / "prepare.log").read_text()


def test_a_roles_warnings_reach_the_terminal_and_everything_reaches_its_rotated_log_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lotse.launcher import LOG_FILE_BYTES, RoleLog

    output = io.BytesIO(b"\n".join([
        b"celery beat v5.7.0 is starting.",
        json.dumps({"level": "INFO", "msg": "Scheduler: Sending due task dispatch-due-reminders"}).encode(),
        json.dumps({"level": "WARNING", "msg": "outbox relay gateway: cannot publish yet"}).encode(),
        json.dumps({"level": "ERROR", "msg": "dispatch after a wake failed"}).encode(),
    ]) + b"\n")
    log = RoleLog("notifier-beat", tmp_path)
    log.copy(output)

    shown = capsys.readouterr().err.splitlines()
    assert shown == ["[notifier-beat] WARNING: outbox relay gateway: cannot publish yet",
                     "[notifier-beat] ERROR: dispatch after a wake failed"]
    written = (tmp_path / "notifier-beat.log").read_text()
    assert "celery beat v5.7.0" in written and "Sending due task" in written and "dispatch after" in written
    handler = logging.getLogger("lotse.roles.notifier-beat").handlers[0]
    assert isinstance(handler, RotatingFileHandler) and handler.maxBytes == LOG_FILE_BYTES > 0
    handler.close()


def test_demo_calendar_covers_the_towns_of_the_state_and_a_phone_option(tmp_path: Path) -> None:
    from scheduler.app import build
    from scheduler.demo import seed
    from scheduler.settings import SchedulerSettings
    from scheduler.tables import Location
    from sqlmodel import Session, select

    from shared.settings import load_settings

    scheduler = build(load_settings(SchedulerSettings, var_dir=tmp_path))
    assert seed(scheduler.engine) is True
    assert seed(scheduler.engine) is False, "a second start does not load the demo twice"
    with Session(scheduler.engine) as session:
        places = session.exec(select(Location)).all()
    assert {"Rostock", "Schwerin", "Neubrandenburg", "Greifswald"} <= {p.town for p in places}
    assert "phone" in {p.kind for p in places}


@pytest.mark.parametrize(
    ("role", "env", "variable"),
    [
        (["-m", "notifier", "worker"], {"SMS_PROVIDER": "twilio"}, "TWILIO_ACCOUNT_SID"),
        (["-m", "gateway"], {"LOTSE_ENV": "production"}, "DATA_KEY"),
        (["-m", "notifier", "worker"], {"LOTSE_ENV": "production", "DATA_KEY": generate_data_key()},
         "SMS_PROVIDER must be set when LOTSE_ENV=production"),
        (["-m", "lotse", "run"], {"LOTSE_ENV": "production", "DATA_KEY": generate_data_key()},
         "SMS_PROVIDER must be set when LOTSE_ENV=production"),
        (["-m", "scheduler", "worker"], {"SCHEDULER_DATABASE_URL": "mysql://x"}, "SCHEDULER_DATABASE_URL"),
        (["-m", "gateway"], {"BROKER_URL": "redis://localhost"}, "BROKER_URL"),
        (["-m", "gateway"], {"DATA_KEY": "k1:tooshort"}, "DATA_KEY"),
        (["-m", "lotse", "run"], {"PORT": "99999"}, "PORT"),
    ],
    ids=["twilio-without-sid", "production-without-key", "production-without-sms-provider",
         "launcher-in-production-without-sms-provider",
         "bad-database-url", "bad-broker", "bad-key", "bad-port"],
)
def test_misconfigured_service_stops_at_start_naming_the_variable(
    tmp_path: Path, role: list[str], env: dict[str, str], variable: str
) -> None:
    result = subprocess.run([sys.executable, *role], env=base_env(tmp_path, free_port(), env), cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
