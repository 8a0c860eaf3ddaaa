"""The README's first command: one launcher starts every role, prints the URL, and Ctrl-C stops them all."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tests.support.system import REPO, base_env, free_port, poll


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_launcher_runs_the_system_prints_the_url_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = base_env(tmp_path, port)
    out = (tmp_path / "launcher.out").open("wb")
    launcher = subprocess.Popen([sys.executable, "-m", "lotse", "run"], env=env, cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        poll(lambda: f"http://127.0.0.1:{port}" in (tmp_path / "launcher.out").read_text(), seconds=90,
             interval=0.3)
        children = _children(launcher.pid)
        assert len(children) >= 4, "gateway, scheduler, notifier and beat run as their own processes"
        slots = httpx.get(f"http://127.0.0.1:{port}/v1/slots", params={"language": "de"}, timeout=10).json()
        assert slots["slots"], "the demo calendar offers slots at once"
        assert (tmp_path / "data.key").exists(), "the embedded default generates its data key on first start"

        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=30)
        time.sleep(0.5)
        assert launcher.returncode == 0
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    finally:
        if launcher.poll() is None:
            launcher.kill()
    output = (tmp_path / "launcher.out").read_text()
    assert "Traceback" not in output


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
        (["-m", "scheduler", "worker"], {"SCHEDULER_DATABASE_URL": "mysql://x"}, "SCHEDULER_DATABASE_URL"),
        (["-m", "gateway"], {"BROKER_URL": "redis://localhost"}, "BROKER_URL"),
        (["-m", "gateway"], {"DATA_KEY": "k1:tooshort"}, "DATA_KEY"),
        (["-m", "lotse", "run"], {"PORT": "99999"}, "PORT"),
    ],
    ids=["twilio-without-sid", "production-without-key", "bad-database-url", "bad-broker", "bad-key", "bad-port"],
)
def test_misconfigured_service_stops_at_start_naming_the_variable(
    tmp_path: Path, role: list[str], env: dict[str, str], variable: str
) -> None:
    result = subprocess.run([sys.executable, *role], env=base_env(tmp_path, free_port(), env), cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
