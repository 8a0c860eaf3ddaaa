"""The command line finds the system's data wherever it is run from, and refuses when there is none there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gateway.staff.tables import StaffAccount
from sqlmodel import Session, select

from shared.db import make_engine
from tests.support.system import REPO

PASSWORD = "correct horse battery staple"


def _env(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("VAR_DIR", "GATEWAY_DATABASE_URL", "SCHEDULER_DATABASE_URL", "NOTIFIER_DATABASE_URL",
                        "BROKER_URL")}
    return {**env, **variables}


def _gateway(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], input=PASSWORD + "\n", capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=60, check=False)


def test_without_var_dir_every_command_uses_the_checkouts_var_folder_wherever_it_is_run_from(tmp_path: Path) -> None:
    shown = subprocess.run([sys.executable, "-c", "from shared.settings import load_settings; "
                            "from gateway.settings import GatewaySettings; "
                            "s = load_settings(GatewaySettings); print(s.var_dir); print(s.gateway_database_url)"],
                           capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=60, check=True)
    var_dir, database = shown.stdout.splitlines()
    assert Path(var_dir) == REPO / "var"
    assert database == f"sqlite:///{REPO / 'var' / 'gateway.sqlite'}"


def test_create_admin_run_from_another_folder_writes_into_the_systems_data(tmp_path: Path) -> None:
    system, elsewhere = tmp_path / "system", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _env(VAR_DIR=str(system))
    subprocess.run([sys.executable, "-m", "gateway.init"], env=env, cwd=REPO, check=True, capture_output=True)

    created = _gateway(elsewhere, env, "create-admin", "--username", "chef", "--password-stdin")

    assert created.returncode == 0, created.stderr
    assert list(elsewhere.iterdir()) == [], "nothing is written where the command was run"
    engine = make_engine(f"sqlite:///{system / 'gateway.sqlite'}")
    with Session(engine) as session:
        assert [a.username for a in session.exec(select(StaffAccount)).all()] == ["chef"]
    engine.dispose()


def test_create_admin_refuses_with_a_sentence_where_there_is_no_data_and_writes_nothing(tmp_path: Path) -> None:
    empty, elsewhere = tmp_path / "empty", tmp_path / "elsewhere"
    empty.mkdir()
    elsewhere.mkdir()

    refused = _gateway(elsewhere, _env(VAR_DIR=str(empty)), "create-admin", "--username", "chef", "--password-stdin")

    assert refused.returncode == 1
    assert f"no Lotse data in {empty}" in refused.stderr and "nothing was changed" in refused.stderr
    assert "Traceback" not in refused.stderr and "Created" not in refused.stdout
    assert list(empty.iterdir()) == [] and list(elsewhere.iterdir()) == []


def test_the_commands_help_needs_no_data(tmp_path: Path) -> None:
    helped = _gateway(tmp_path, _env(VAR_DIR=str(tmp_path / "none")), "create-admin", "--help")
    assert helped.returncode == 0 and "--username" in helped.stdout
