"""A PostgreSQL cluster of a test's own, for tests that stop the database (never the machine's shared server).

Made with initdb under a temporary folder (owned by the postgres user: the server refuses to run as root) and
started and stopped with pg_ctl on a free port, as /work/shared/recipes.md describes. `stop()` is a fast shutdown,
as an operator or a failover would do it: clients see their connections closed (AdminShutdown) and then refused.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import psycopg

from tests.support.system import free_port


class PostgresFailed(RuntimeError):
    pass


def _bin() -> Path:
    base = Path("/usr/lib/postgresql")
    versions = sorted((p for p in base.iterdir() if (p / "bin" / "initdb").exists()), key=lambda p: int(p.name)) \
        if base.exists() else []
    if not versions:
        raise PostgresFailed("no PostgreSQL server binaries under /usr/lib/postgresql (install postgresql)")
    return versions[-1] / "bin"


class PrivatePostgres:
    def __init__(self) -> None:
        self.bin = _bin()
        self.dir = Path(tempfile.mkdtemp(prefix="lotse-pg-"))
        self.port = free_port()
        self.data = self.dir / "pg"
        user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if user is not None:
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        self._user = user
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self._user is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        answer = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if answer.returncode != 0:
            raise PostgresFailed(f"{tool} failed: {answer.stderr[-2000:]}{self.log_tail()}")

    def log_tail(self) -> str:
        path = self.dir / "pg.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "pg.log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


@contextmanager
def running_private_postgres() -> Iterator[PrivatePostgres]:
    """A started private cluster, stopped and removed afterwards; PostgresFailed if it cannot be made."""
    cluster = PrivatePostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()
