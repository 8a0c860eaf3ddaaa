"""Files holding personal data are readable by their owner only, even when the process was started with a
permissive umask: the SQLite databases (and their -wal/-shm), the SMS sink, the launcher's logs."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from notifier.sms import SinkSender
from sqlalchemy import text

from lotse.launcher import RoleLog
from shared.db import make_engine
from shared.private_files import owner_only_from_now, private_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual 022 (files readable by everyone), as a process started by hand would have."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def test_a_new_sqlite_database_and_its_journal_files_are_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "var" / "notifier.sqlite"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE contacts (phone_ciphertext TEXT)"))
        connection.execute(text("INSERT INTO contacts VALUES ('v1.k1.x.y')"))
        files = sorted(tmp_path.joinpath("var").iterdir())
        assert {path.name for path in files} >= {"notifier.sqlite", "notifier.sqlite-wal", "notifier.sqlite-shm"}
        assert {path.name: oct(mode(path)) for path in files} == {path.name: "0o600" for path in files}
    engine.dispose()


def test_a_database_an_older_version_left_readable_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "gateway.sqlite"
    database.touch(mode=0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert mode(database) == 0o600


def test_the_sink_file_is_owner_only_and_keeps_the_link_a_developer_opens(tmp_path: Path) -> None:
    sink = SinkSender(tmp_path / "var" / "sms-sink.jsonl", sender_id="Termin")
    sink.send("+4915112345678", "Termin bestätigt: http://127.0.0.1:8000/m/abcdefghijklmnopqrstuv", ref="r1")

    assert mode(sink.path) == 0o600
    [entry] = [json.loads(line) for line in sink.path.read_text().splitlines()]
    assert entry["body"].endswith("/m/abcdefghijklmnopqrstuv")
    assert "12345678" not in entry["to"], "the number is masked"


def test_a_sink_file_an_older_version_left_readable_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "sms-sink.jsonl"
    path.write_text('{"body": "old"}\n')
    path.chmod(0o644)
    SinkSender(path, sender_id="Termin")
    assert mode(path) == 0o600
    assert path.read_text() == '{"body": "old"}\n', "tightening keeps what was there"


def test_the_launchers_role_log_is_owner_only(tmp_path: Path) -> None:
    log = RoleLog("test-private-log", tmp_path)
    assert mode(log.path) == 0o600


def test_after_owner_only_from_now_everything_a_library_creates_is_owner_only(tmp_path: Path) -> None:
    owner_only_from_now()
    (tmp_path / "celerybeat-schedule").write_text("x")
    (tmp_path / "logs").mkdir()
    assert mode(tmp_path / "celerybeat-schedule") == 0o600
    assert mode(tmp_path / "logs") == 0o700


def _others_hold_the_database_open(database: Path) -> bool:
    """Whether some process holds SQLite's shared lock on the database file, as every open WAL connection does;
    a connection that finds none believes it is the last, checkpoints and deletes the -wal file as it closes."""
    probe = ("import fcntl, os, sys\n"
             "fd = os.open(sys.argv[1], os.O_RDWR)\n"
             "try:\n    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 510, 0x40000002)\n"
             "except OSError:\n    sys.exit(0)\n"
             "sys.exit(1)\n")
    return subprocess.run([sys.executable, "-c", probe, str(database)], check=False).returncode == 0


def test_tightening_a_database_this_process_holds_open_keeps_its_locks(tmp_path: Path) -> None:
    """A new connection (a second engine, a broker channel) tightens the file it opens: that must not drop the
    locks this process's other connections hold on it (closing any descriptor of a file does), or another
    process's connection takes itself for the last one and deletes the write-ahead log under them (seen with the
    embedded broker: "database disk image is malformed")."""
    database = tmp_path / "broker.sqlite"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("INSERT INTO t VALUES (1)")
    assert _others_hold_the_database_open(database), "an open WAL connection holds the shared lock"

    private_file(database)
    engine = make_engine(f"sqlite:///{database}")
    engine.dispose()

    assert _others_hold_the_database_open(database), "this process's connection still holds its lock"
    assert mode(database) == 0o600
    holder.close()
    assert not _others_hold_the_database_open(database)
