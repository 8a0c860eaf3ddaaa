"""Faults injected while clients keep booking: nothing accepted is lost, nothing is given or sent twice.

Real processes (gateway, scheduler, notifier worker, beat) on RabbitMQ + PostgreSQL, texts through the official
Twilio SDK to Twilio's contract mock behind a recording proxy (tests/support/twilio_proxy.py). Each test runs a
stream of bookings (tests/support/faults.py: a quarter of them ask for a slot already asked for) while it injects
one fault, then checks what clients and admins would notice: every accepted booking decided and its page saying
so, no slot given twice, each confirmed client texted exactly once, every due text sent or settled with a reason.
A broker or database that is stopped is a private server of the test's own (a RabbitMQ node, a PostgreSQL cluster);
the machine's shared servers are never touched.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from shared.crypto import generate_data_key
from tests.support import infra
from tests.support.faults import (
    Stream,
    assert_each_confirmed_client_texted_once,
    assert_no_slot_twice,
    confirmation_rows,
    decided,
    summary,
)
from tests.support.postgres import PrivatePostgres
from tests.support.rabbit import PrivateRabbit
from tests.support.system import System, base_env, free_port, poll, running_system
from tests.support.twilio_proxy import TwilioProxy, Verdict, twilio_proxy

ACCOUNT_SID = "AC" + "0" * 32
TICK_SECONDS = 2  # DISPATCH_EVERY_SECONDS of the system under test (10 by default): retries go out sooner


def _env(tmp_path: Path, services_env: dict[str, str], twilio_url: str) -> dict[str, str]:
    return base_env(tmp_path, free_port(), {
        **services_env,
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": "test-token",  # the contract mock checks no token
        "TWILIO_FROM": "+4915187654321",
        "TWILIO_API_BASE_URL": twilio_url,
        "LOTSE_ENV": "production",
        "DISPATCH_EVERY_SECONDS": str(TICK_SECONDS),  # the beat's tick, shortened: tests wait for ticks
        "SMS_RETRY_BASE_SECONDS": "3",  # the first retry after 1.5–3 s, not 15–30 s: the test waits for retries
        "QUIET_HOURS_START": "00:00",  # no quiet hours: texts go out whatever the hour the test runs at
        "QUIET_HOURS_END": "00:00",
    })


@contextmanager
def _system(tmp_path: Path, services_env: dict[str, str], twilio_mock_url: str) -> Iterator[tuple[System, TwilioProxy]]:
    with twilio_proxy(twilio_mock_url) as proxy, \
            running_system(_env(tmp_path, services_env, proxy.url), tmp_path) as system:
        yield system, proxy


def _kill(system: System, *roles: str) -> None:
    system.stop(*roles, sig=signal.SIGKILL)


@pytest.mark.infra
def test_scheduler_and_notifier_killed_9_again_and_again_while_clients_book_lose_and_double_nothing(
    tmp_path: Path, real_env: dict[str, str], twilio_mock_url: str
) -> None:
    with _system(tmp_path, real_env, twilio_mock_url) as (system, proxy):
        stream = Stream(system.url, count=24, interval=0.5).start()
        for roles in (("scheduler",), ("notifier",), ("scheduler", "notifier")):
            time.sleep(2.5)
            _kill(system, *roles)  # mid-message: whatever was being handled is redelivered to the next one
            time.sleep(1.0)
            system.start(*roles)
        stream.join()
        statuses = decided(system.url, stream)
        assert len(stream.accepted) == stream.count, summary(stream, statuses, proxy)  # the gateway never died
        assert_no_slot_twice(stream, statuses)
        # At most a send or two in flight per kill of the notifier may end in doubt.
        assert_each_confirmed_client_texted_once(proxy, stream, statuses, system.env, in_doubt=4)


@pytest.mark.infra
def test_rabbitmq_stopped_20_s_while_clients_book_delays_decisions_and_texts_but_loses_none(
    tmp_path: Path, private_broker_env: dict[str, str], private_rabbit: PrivateRabbit, twilio_mock_url: str
) -> None:
    with _system(tmp_path, private_broker_env, twilio_mock_url) as (system, proxy):
        stream = Stream(system.url, count=24, interval=1.0).start()
        time.sleep(3)
        private_rabbit.stop()
        stopped = time.monotonic()
        time.sleep(20)
        private_rabbit.start()
        stream.join()
        # The gateway took bookings all along: they waited in its outbox, not in the broker.
        assert len(stream.accepted) == stream.count, dict(stream.refused)
        assert time.monotonic() - stopped >= 20
        statuses = decided(system.url, stream, seconds=120)
        assert_no_slot_twice(stream, statuses)
        assert_each_confirmed_client_texted_once(proxy, stream, statuses, system.env)


@pytest.mark.infra
def test_provider_failing_with_500_429_and_timeouts_for_a_while_gets_every_text_out_once_or_held_for_review(
    tmp_path: Path, real_env: dict[str, str], twilio_mock_url: str
) -> None:
    with _system(tmp_path, real_env, twilio_mock_url) as (system, proxy):
        # The first requests fail as a struggling Twilio fails: server errors, "too many requests", and two that
        # get no answer before the notifier's timeout (those may have reached Twilio: never sent blindly again).
        script: list[Verdict] = ["answer_500", "answer_429", "stall", "answer_500", "answer_429", "stall",
                                 "answer_500", "answer_429"]
        stalled: list[str] = []

        proxy.on_post = lambda number: script[number - 1] if number <= len(script) else "forward"
        stream = Stream(system.url, count=12, interval=0.5).start().join()
        statuses = decided(system.url, stream)
        assert len(stream.accepted) == stream.count
        assert_no_slot_twice(stream, statuses)
        confirmed = [token for token, status in statuses.items() if status == "confirmed"]

        def stalled_tokens() -> list[str]:
            attempts = proxy.attempts
            bodies = [attempts[i].form["Body"] for i, v in enumerate(script) if v == "stall" and i < len(attempts)]
            return [t for t in confirmed if any(f"/m/{t}" in body for body in bodies)]

        # Every other confirmation is sent once, after the provider recovered (retried with backoff).
        def delivered_rest() -> bool:
            stalled[:] = stalled_tokens()
            bodies = [post.form["Body"] for post in proxy.posts]
            return all(sum(f"/m/{t}" in b for b in bodies) == 1 for t in confirmed if t not in stalled)

        poll(delivered_rest, seconds=150, interval=1.0)
        assert len(stalled) == 2, summary(stream, statuses, proxy)
        bodies = [post.form["Body"] for post in proxy.posts]
        for token in stalled:  # timed out: kept for reconciliation (staff see it), never requested again
            assert sum(f"/m/{token}" in post.form["Body"] for post in proxy.attempts) == 1
            assert not any(f"/m/{token}" in body for body in bodies)
        assert len(bodies) == len(set(bodies)) == len(confirmed) - len(stalled)
        rows = confirmation_rows(real_env["NOTIFIER_DATABASE_URL"])
        assert sorted(status for status, _outcome, _n in rows) == \
            sorted(["sent"] * (len(confirmed) - 2) + ["sending"] * 2), rows
        # Each refused request was tried again once the provider recovered; nothing else was ever requested.
        assert len(proxy.attempts) == len(script) + len(confirmed) - 2, summary(stream, statuses, proxy)


@pytest.mark.infra
def test_two_schedulers_and_two_notifiers_on_the_same_queues_decide_and_text_each_booking_once(
    tmp_path: Path, real_env: dict[str, str], twilio_mock_url: str
) -> None:
    with _system(tmp_path, real_env, twilio_mock_url) as (system, proxy):
        system.start("scheduler#2", "notifier#2")
        poll(lambda: all(system.processes[r].poll() is None for r in ("scheduler#2", "notifier#2")), seconds=5)
        stream = Stream(system.url, count=32, interval=0.2).start().join()
        statuses = decided(system.url, stream)
        assert len(stream.accepted) == stream.count
        assert_no_slot_twice(stream, statuses)
        assert_each_confirmed_client_texted_once(proxy, stream, statuses, system.env)
        with httpx.Client(base_url=system.url, timeout=10) as client:
            assert client.get("/readyz").status_code == 200


def _databases_on(cluster: PrivatePostgres, prefix: str) -> dict[str, str]:
    return {f"{service.upper()}_DATABASE_URL": cluster.create_database(f"{prefix}_{service}")
            for service in ("gateway", "scheduler", "notifier")}


@pytest.mark.infra
def test_every_database_stopped_20_s_at_once_while_clients_book_loses_nothing_accepted(
    tmp_path: Path, private_postgres: PrivatePostgres, vhost: str, twilio_mock_url: str
) -> None:
    env = {**_databases_on(private_postgres, "all"), "BROKER_URL": infra.amqp_url(vhost),
           "DATA_KEY": generate_data_key()}
    with _system(tmp_path, env, twilio_mock_url) as (system, proxy):
        stream = Stream(system.url, count=36, interval=1.0).start()  # about ten after the databases are back
        time.sleep(4)
        private_postgres.stop()
        with httpx.Client(base_url=system.url, timeout=10) as client:
            # A client looking at their booking while the gateway's database is away is told to come back.
            token = next(iter(stream.accepted))
            answer = poll(lambda: (r := client.get(f"/v1/bookings/{token}")).status_code == 503 and r, seconds=10)
            assert int(answer.headers["Retry-After"]) > 0 and answer.json()["code"] == "database_unavailable"
        time.sleep(20)  # four times the longest back-off of a role waiting for its database (the outbox's 5 s)
        private_postgres.start()
        stream.join()
        assert stream.refused.get("503", 0) >= 10, summary(stream, {}, proxy)  # refused, not lost: never a 500
        assert set(stream.refused) <= {"503"}, dict(stream.refused)
        assert len(stream.accepted) >= 10
        statuses = decided(system.url, stream, seconds=120)
        assert_no_slot_twice(stream, statuses)
        assert_each_confirmed_client_texted_once(proxy, stream, statuses, system.env)
        for role, process in system.processes.items():  # every role waited for its database; none gave up
            assert process.poll() is None, role


@pytest.mark.infra
def test_the_notifiers_database_stopped_20_s_while_clients_book_delays_texts_and_loses_none(
    tmp_path: Path, real_env: dict[str, str], private_postgres: PrivatePostgres, twilio_mock_url: str
) -> None:
    notifier_db = private_postgres.create_database("notifier")
    env = {**real_env, "NOTIFIER_DATABASE_URL": notifier_db}
    with _system(tmp_path, env, twilio_mock_url) as (system, proxy):
        stream = Stream(system.url, count=24, interval=1.0).start()
        time.sleep(4)
        private_postgres.stop()
        time.sleep(20)
        private_postgres.start()
        stream.join()
        assert len(stream.accepted) == stream.count, dict(stream.refused)  # the gateway's database never went
        statuses = decided(system.url, stream, seconds=120)
        assert_no_slot_twice(stream, statuses)
        assert_each_confirmed_client_texted_once(proxy, stream, statuses, system.env)
        with psycopg.connect(notifier_db) as db:  # nothing was turned into a failure by the outage
            assert db.execute("SELECT count(*) FROM reminders WHERE status = 'failed'").fetchone() == (0,)
