"""A PostgreSQL cluster of a test's own, for tests that stop the database (never the machine's shared one on 5432).

initdb and pg_ctl from the newest installed server, run as the `postgres` user (the server refuses root), with the
data folder, socket and log under a temporary directory and a free port (/work/shared/recipes.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from tests.support.system import free_port

PG_ROOT = Path("/usr/lib/postgresql")


class PostgresFailed(RuntimeError):
    pass


def _bin(name: str) -> str:
    versions = sorted((p.name for p in PG_ROOT.iterdir() if p.name.isdigit()), key=int) if PG_ROOT.exists() else []
    if not versions:
        raise PostgresFailed(f"no PostgreSQL server under {PG_ROOT}")
    return str(PG_ROOT / versions[-1] / "bin" / name)


class PrivatePostgres:
    """`start()`, `stop()` (an outage: fast shutdown, connections cut), `start()` again, `close()` (stop and
    remove). `url` names the database `postgres` on the private port."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="lotse-pg-"))
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        shutil.chown(self.dir, "postgres")
        self._run(_bin("initdb"), "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres")

    def _run(self, *args: str) -> None:
        result = subprocess.run(["su", "postgres", "-c", " ".join(f"'{a}'" for a in args)], capture_output=True,
                                text=True, timeout=120, check=False, env={**os.environ, "LC_ALL": "C.UTF-8"})
        if result.returncode != 0:
            raise PostgresFailed(f"{' '.join(args[:2])} failed: {(result.stderr or result.stdout)[-2000:]}")

    def start(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.dir / "data"), "-l", str(self.dir / "pg.log"), "-w", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", "start")

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        try:
            if (self.dir / "data" / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
