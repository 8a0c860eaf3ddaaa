"""The real PostgreSQL and RabbitMQ of this machine: checked, started if down, isolated per test (databases of its
own, copied from per-migration templates; a vhost of its own). Nothing here stops either server: they are shared by
everything on the machine, and a test that needs a broker outage starts a node of its own (rabbit.py).

Never skipped: a test that needs them fails with a message saying what is down and how to start it.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672


class InfrastructureDown(RuntimeError):
    pass


def _listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _wait(host: str, port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _listening(host, port):
            return True
        time.sleep(0.3)
    return False


def ensure_postgres() -> None:
    if _listening(PG_HOST, PG_PORT):
        return
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if versions and shutil.which("pg_ctlcluster"):
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=False)
    if not _wait(PG_HOST, PG_PORT, 30):
        raise InfrastructureDown(
            "PostgreSQL is not listening on 127.0.0.1:5432 and could not be started. Start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`."
        )


def rabbitmq_running() -> bool:
    return _listening(RABBIT_HOST, RABBIT_PORT)


def start_rabbitmq(seconds: float = 60) -> None:
    if rabbitmq_running():
        return
    if shutil.which("rabbitmq-server"):
        subprocess.run(["rabbitmq-server", "-detached"], check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if not _wait(RABBIT_HOST, RABBIT_PORT, seconds):
        raise InfrastructureDown(
            "RabbitMQ is not listening on 127.0.0.1:5672 and could not be started. Start it with "
            "`rabbitmq-server -detached`."
        )
    subprocess.run(["rabbitmqctl", "await_startup", "--timeout", "60"], check=False, capture_output=True)


def ensure_infrastructure() -> None:
    ensure_postgres()
    start_rabbitmq()


@dataclass
class Databases:
    gateway: str
    scheduler: str
    notifier: str
    names: tuple[str, str, str]


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)


ROLES = ("gateway", "scheduler", "notifier")
REPO = Path(__file__).resolve().parents[2]
# What shapes a fresh database: each service's migrations and the shared code they import. A change to any of these
# gives templates of a new name (the old ones are dropped).
SCHEMA_SOURCES = ("services/*/*/migrations/**/*.py", "shared/migrations.py", "shared/db.py")
TEMPLATE_PREFIX = "lotse_tpl_"
# PostgreSQL 15's two ways to copy a template. Measured here for the three small databases of a test (median of 8,
# other tests running): WAL_LOG 0.10-0.41 s, FILE_COPY 0.27-0.71 s (it checkpoints the whole cluster twice);
# creating them empty and running the migrations took 0.72 s.
COPY_STRATEGY = "WAL_LOG"
_TEMPLATES_LOCK = 0x4C6F74736554  # one pytest session builds templates at a time; the others wait and reuse them
_templates_ready: str | None = None


def _url(name: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def schema_key() -> str:
    digest = hashlib.sha256()
    for path in sorted({p for pattern in SCHEMA_SOURCES for p in REPO.glob(pattern)}):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _migrate(role: str, url: str) -> None:
    """Bring an empty database to what the service's own start would make of it: its migrations to head."""
    from shared.db import make_engine

    engine = make_engine(url)
    try:
        importlib.import_module(f"{role}.migrations").upgrade(engine)
    finally:
        engine.dispose()


def _existing(connection: psycopg.Connection[tuple[object, ...]], prefix: str) -> set[str]:
    rows = connection.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)).fetchall()
    return {str(row[0]) for row in rows}


def ensure_templates() -> str:
    """One migrated database per service, built once for the current migrations and reused by every test (and by
    later sessions while the migrations stay the same). Templates of other migrations are dropped. Returns the
    key in the templates' names."""
    global _templates_ready
    key = schema_key()
    if _templates_ready == key:
        return key
    with _admin() as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (_TEMPLATES_LOCK,))
        try:
            present = _existing(connection, f"{TEMPLATE_PREFIX}{key}_")
            for role in ROLES:
                name = f"{TEMPLATE_PREFIX}{key}_{role}"
                if name in present:
                    continue
                # Built under another name and renamed when complete: a half-built template is never copied.
                building = f"{name}_building"
                connection.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
                connection.execute(f'CREATE DATABASE "{building}"')
                _migrate(role, _url(building))
                connection.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
            for stale in _existing(connection, TEMPLATE_PREFIX) - _existing(connection, f"{TEMPLATE_PREFIX}{key}_"):
                try:
                    connection.execute(f'DROP DATABASE IF EXISTS "{stale}"')
                except psycopg.errors.ObjectInUse:
                    pass  # another session is copying it right now; the next session drops it
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (_TEMPLATES_LOCK,))
    _templates_ready = key
    return key


def _copy(connection: psycopg.Connection[tuple[object, ...]], name: str, role: str) -> None:
    global _templates_ready
    for attempt in (1, 2):
        key = ensure_templates()
        try:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_PREFIX}{key}_{role}" '
                               f"STRATEGY {COPY_STRATEGY}")
            return
        except psycopg.errors.InvalidCatalogName:
            if attempt == 2:
                raise
            _templates_ready = None  # a session with other migrations dropped ours as stale: build them again


def create_databases(prefix: str = "lotse_t", migrated: bool = False) -> Databases:
    """Three databases of a test's own. `migrated`: copies of the templates (every service's tables, as its start
    would make them, in a fraction of the time); otherwise empty."""
    suffix = uuid.uuid4().hex[:8]
    names = tuple(f"{prefix}_{suffix}_{role}" for role in ROLES)
    with _admin() as connection:
        for role, name in zip(ROLES, names, strict=True):
            if migrated:
                _copy(connection, name, role)
            else:
                connection.execute(f'CREATE DATABASE "{name}"')
    urls = [_url(name) for name in names]
    return Databases(urls[0], urls[1], urls[2], names)  # type: ignore[arg-type]


def drop_databases(databases: Databases) -> None:
    with _admin() as connection:
        for name in databases.names:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


VHOST_SECONDS = 60.0  # the shared node may be restarting (another user of this machine): wait that long for it


def _rabbitmqctl(*args: str) -> None:
    deadline = time.monotonic() + VHOST_SECONDS
    while True:
        answer = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=False)
        if answer.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise InfrastructureDown(f"rabbitmqctl {' '.join(args)} failed ({answer.returncode}) for "
                                     f"{VHOST_SECONDS:.0f} s: {(answer.stderr or answer.stdout).strip()[-1000:]}")
        time.sleep(1)


def create_vhost() -> str:
    """A fresh RabbitMQ vhost per test: queues and messages of one test never reach another."""
    vhost = f"lotse-test-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    return vhost


def delete_vhost(vhost: str) -> None:
    subprocess.run(["rabbitmqctl", "delete_vhost", vhost], check=False, capture_output=True, timeout=60)


def amqp_url(vhost: str) -> str:
    return f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/{vhost}"


def twilio_mock_script() -> str:
    beside_repo = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "twilio", "mock.sh")
    for candidate in (os.environ.get("TWILIO_MOCK_SH", ""), beside_repo):
        if candidate and os.path.exists(candidate):
            return os.path.abspath(candidate)
    raise InfrastructureDown("../shared/twilio/mock.sh not found (set TWILIO_MOCK_SH)")
