"""Fixtures shared by all tests: isolated settings, real databases and vhosts, the Twilio contract mock."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.crypto import generate_data_key
from tests.support import infra
from tests.support.postgres import PostgresFailed, PrivatePostgres, running_private_postgres
from tests.support.rabbit import PrivateRabbit, RabbitNodeFailed
from tests.support.system import free_port


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Tests run in random order (pytest-randomly); its seed is in the header, which `-q` (scripts/test.sh) hides:
    say it at the end, where a failure is read, with how to repeat the order."""
    if config.pluginmanager.hasplugin("randomly"):
        seed = config.getoption("randomly_seed")
        terminalreporter.write_line(f"Test order: --randomly-seed={seed} (pass it again to repeat this order)")


@pytest.fixture(scope="session")
def infrastructure() -> None:
    """RabbitMQ and PostgreSQL must be up; started if down; a clear failure (never a skip) if they cannot be."""
    try:
        infra.ensure_infrastructure()
    except infra.InfrastructureDown as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def databases(infrastructure: None) -> Iterator[infra.Databases]:
    """An empty gateway, scheduler and notifier database of the test's own."""
    dbs = infra.create_databases()
    yield dbs
    infra.drop_databases(dbs)


@pytest.fixture
def migrated_databases(infrastructure: None) -> Iterator[infra.Databases]:
    """As `databases`, with every service's tables already made (copied from templates built once per migration
    state): a service started on them skips its migrations, which made up most of an integration test's time."""
    dbs = infra.create_databases(migrated=True)
    yield dbs
    infra.drop_databases(dbs)


@pytest.fixture
def vhost(infrastructure: None) -> Iterator[str]:
    name = infra.create_vhost()
    yield name
    infra.delete_vhost(name)


@pytest.fixture
def real_env(migrated_databases: infra.Databases, vhost: str) -> dict[str, str]:
    """Environment variables that point every service at PostgreSQL and RabbitMQ."""
    return _service_env(migrated_databases, infra.amqp_url(vhost))


def _service_env(databases: infra.Databases, broker_url: str) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE_URL": databases.gateway,
        "SCHEDULER_DATABASE_URL": databases.scheduler,
        "NOTIFIER_DATABASE_URL": databases.notifier,
        "BROKER_URL": broker_url,
        "DATA_KEY": generate_data_key(),
    }


@pytest.fixture
def private_rabbit() -> Iterator[PrivateRabbit]:
    """A RabbitMQ node of the test's own, running, for tests that stop or kill the broker (never the shared one).
    Stopped and its folder removed afterwards, whatever the test's outcome."""
    try:
        node = PrivateRabbit()
    except RabbitNodeFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        node.start()
        yield node
    except RabbitNodeFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        node.close()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the test's own, running, for tests that stop the database (never the shared one).
    Stopped and its folder removed afterwards."""
    try:
        with running_private_postgres() as cluster:
            yield cluster
    except PostgresFailed as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def private_broker_env(migrated_databases: infra.Databases, private_rabbit: PrivateRabbit) -> dict[str, str]:
    """As real_env, with the broker a private node the test may stop or kill."""
    return _service_env(migrated_databases, private_rabbit.url)


@pytest.fixture(scope="session")
def twilio_mock_url() -> Iterator[str]:
    """Twilio's REST API contract, served by Prism from ../shared/twilio (see its README)."""
    script = infra.twilio_mock_script()
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"twilio-mock-{port}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen([script, str(port)], stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180  # the first run installs Prism from the npm registry
    import socket

    while True:
        if process.poll() is not None:
            pytest.fail("Twilio mock exited: " + log.read_text()[-2000:], pytrace=False)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("Twilio mock did not start within 180 s", pytrace=False)
            time.sleep(0.2)
    os.environ["LOTSE_TEST_TWILIO_MOCK_LOG"] = str(log)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)
