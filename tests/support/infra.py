"""The real PostgreSQL and RabbitMQ of this machine: checked, started if down, isolated per test.

Never skipped: a test that needs them fails with a message saying what is down and how to start it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass

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


def stop_rabbitmq() -> None:
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)


def resume_rabbitmq() -> None:
    subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
    subprocess.run(["rabbitmqctl", "await_startup", "--timeout", "60"], check=False, capture_output=True)
    if not _wait(RABBIT_HOST, RABBIT_PORT, 60):
        raise InfrastructureDown("RabbitMQ did not come back after start_app")


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


def create_databases(prefix: str = "lotse_t") -> Databases:
    suffix = uuid.uuid4().hex[:8]
    names = tuple(f"{prefix}_{suffix}_{role}" for role in ("gateway", "scheduler", "notifier"))
    with _admin() as connection:
        for name in names:
            connection.execute(f'CREATE DATABASE "{name}"')
    urls = [f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}" for name in names]
    return Databases(urls[0], urls[1], urls[2], names)  # type: ignore[arg-type]


def drop_databases(databases: Databases) -> None:
    with _admin() as connection:
        for name in databases.names:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def create_vhost() -> str:
    """A fresh RabbitMQ vhost per test: queues and messages of one test never reach another."""
    vhost = f"lotse-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True, timeout=60)
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
