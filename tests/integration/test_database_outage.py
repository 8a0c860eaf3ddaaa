"""A database outage is waited out: nothing is dead-lettered, nothing lost, nothing decided twice; and a role (the
whole launcher) started while its database is down waits for it instead of exiting.

The database is a PostgreSQL cluster of the test's own (tests/support/postgres.py), stopped and started again
while the roles run as real processes; the broker is a vhost of the machine's RabbitMQ."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import psycopg
import pytest
from gateway.app import build as build_gateway
from gateway.bookings import NewBooking
from gateway.settings import GatewaySettings
from scheduler.app import build as build_scheduler
from scheduler.calendar import SearchCriteria
from scheduler.domain.availability import make_slot_id
from scheduler.settings import SchedulerSettings
from sqlmodel import Session

from shared.contracts import BookingConfirmed, BookingRequested, Mode, PublicLocation, Slot, SlotsRequested, wrap
from shared.crypto import generate_data_key
from shared.messaging import DEAD_LETTER_QUEUE, DEAD_LETTERS, Publisher, broker_connection, make_celery, queues_for
from shared.settings import CommonSettings, load_settings
from tests.support import infra
from tests.support.postgres import PrivatePostgres
from tests.support.system import REPO, System, base_env, free_port, poll

BOOKINGS = 300
OUTAGE_SECONDS = 30


def now_plus_a_day() -> datetime:
    return (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


def _count(url: str, sql: str) -> int:
    try:
        with psycopg.connect(url, connect_timeout=2) as db:
            row = db.execute(sql).fetchone()
    except psycopg.OperationalError:
        return -1  # down
    assert row is not None
    return int(row[0])


def _announced(settings: SchedulerSettings, seen: set[str]) -> set[str]:
    """Takes the decisions waiting on the gateway's queue and adds their message ids to `seen`: a decision may be
    published twice after an outage (at-least-once; consumers keep it out by its id), never not at all. The
    scheduler's heartbeats travel to the gateway on the same queue: they are no decisions."""
    with broker_connection(settings) as connection:
        queue = queues_for("gateway", settings)[0](connection.default_channel)
        while (message := queue.get(no_ack=True)) is not None:
            if message.decode()[0][0]["type"] != "role.heartbeat":
                seen.add(str(message.headers["id"]))
    return seen


def _declared(settings: CommonSettings) -> bool:
    with broker_connection(settings) as connection:
        try:
            connection.default_channel.exchange_declare(DEAD_LETTERS.name, DEAD_LETTERS.type, passive=True)
            connection.default_channel.queue_declare(DEAD_LETTER_QUEUE.name, passive=True)
        except connection.channel_errors:
            return False
    return True


def _queue_depth(settings: CommonSettings, name: str) -> int:
    with broker_connection(settings) as connection:
        queue = next(q for q in [DEAD_LETTER_QUEUE, *(q for s in ("gateway", "notifier", "scheduler")
                                                      for q in queues_for(s, settings))] if q.name == name)
        bound = queue(connection.default_channel)
        bound.declare()  # as every role does at start
        return int(bound.queue_declare(passive=True).message_count)


@pytest.mark.infra
def test_bookings_waiting_through_a_30_s_database_outage_are_all_decided_none_dead_lettered_no_slot_twice(
        tmp_path: Path, private_postgres: PrivatePostgres, vhost: str) -> None:
    database = private_postgres.create_database("scheduler")
    env = base_env(tmp_path, free_port(), {"SCHEDULER_DATABASE_URL": database, "BROKER_URL": infra.amqp_url(vhost),
                                           "WORKER_CONCURRENCY": "4"})
    settings = load_settings(SchedulerSettings, var_dir=tmp_path, scheduler_database_url=database,
                             broker_url=env["BROKER_URL"])
    system = System(env, tmp_path)
    subprocess.run([sys.executable, "-m", "scheduler", "seed-demo"], env=env, check=True, cwd=REPO)

    # A queue of booking requests, three for each of 100 free slots, waiting before the worker starts.
    scheduler = build_scheduler(settings)
    now = datetime.now(UTC)
    with Session(scheduler.engine) as session:
        _stored, free = scheduler.deps.calendar.free_slots(
            session, SearchCriteria(date_from=now.date() + timedelta(days=2), date_to=now.date() + timedelta(days=40),
                                    language="de"), now)
    slots = [slot.slot_id for slot in free[:100]]
    assert len(slots) == 100
    for i in range(BOOKINGS):
        request = wrap(BookingRequested(booking_id=uuid4(), slot_id=slots[i % 100], language="de", channel="web"),
                       uuid4())
        scheduler.publisher.publish(request.to_wire(), request.type)
    scheduler.engine.dispose()
    decided_sql = "SELECT count(*) FROM processed_messages WHERE message_type = 'booking.requested'"

    system.start("scheduler")
    try:
        poll(lambda: _count(database, decided_sql) >= 20, seconds=60)
        private_postgres.stop()  # fast shutdown: transactions in flight are cut off, new connections refused
        stopped_at = time.monotonic()
        poll(lambda: "database unreachable" in system.log("scheduler"), seconds=OUTAGE_SECONDS)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
        assert system.processes["scheduler"].poll() is None, "the worker outlives the outage"
        assert _queue_depth(settings, "lotse.dead-letter") == 0, "an outage dead-letters nothing"
        waiting = _queue_depth(settings, "scheduler.bookings")
        assert waiting > 0, "the rest of the queue waits on the broker"

        private_postgres.start()
        back_at = time.monotonic()
        poll(lambda: _count(database, decided_sql) == BOOKINGS, seconds=60)
        # Every decision was announced: the outbox relay outlived the outage as well.
        announced: set[str] = set()
        poll(lambda: len(_announced(settings, announced)) == BOOKINGS, seconds=30)
        drained = time.monotonic() - back_at
    finally:
        system.stop()
    confirmed = _count(database, "SELECT count(*) FROM appointments WHERE status = 'confirmed'")
    overlapping = _count(database, "SELECT count(*) FROM appointments a JOIN appointments b ON a.id < b.id "
                                   "AND a.counsellor_id = b.counsellor_id AND a.status = 'confirmed' "
                                   "AND b.status = 'confirmed' AND a.blocked_from < b.blocked_until "
                                   "AND b.blocked_from < a.blocked_until")
    assert overlapping == 0, "no slot (no counsellor's time) is held twice"
    assert 0 < confirmed <= 100
    assert _queue_depth(settings, "lotse.dead-letter") == 0
    assert _queue_depth(settings, "scheduler.bookings") == 0
    log = system.log("scheduler")
    assert "+49" not in log
    print(f"\n{BOOKINGS}/{BOOKINGS} bookings decided after a {OUTAGE_SECONDS} s database outage "
          f"({waiting} waited in the queue, {confirmed} confirmed, 0 dead letters); drained {drained:.1f} s after "
          "the database returned")


@pytest.mark.infra
def test_a_worker_started_while_its_database_is_down_waits_for_it_and_then_handles_bookings(
        tmp_path: Path, private_postgres: PrivatePostgres, vhost: str) -> None:
    database = private_postgres.create_database("scheduler")
    env = base_env(tmp_path, free_port(), {"SCHEDULER_DATABASE_URL": database, "BROKER_URL": infra.amqp_url(vhost)})
    subprocess.run([sys.executable, "-m", "scheduler", "init"], env=env, check=True, cwd=REPO)
    private_postgres.stop()
    system = System(env, tmp_path)
    system.start("scheduler")
    try:
        poll(lambda: system.log("scheduler").count("waiting for it") >= 2, seconds=20)
        assert system.processes["scheduler"].poll() is None, "it waits instead of exiting"
        assert "postgres@127.0.0.1" in system.log("scheduler"), "the line names the server it waits for"

        private_postgres.start()
        poll(lambda: "database reachable after" in system.log("scheduler"), seconds=20)
        settings = load_settings(SchedulerSettings, var_dir=tmp_path, scheduler_database_url=database,
                                 broker_url=env["BROKER_URL"])
        # Before anything was published, the role declared the dead-letter exchange and queue: a message the
        # broker dead-letters on this fresh vhost has somewhere to go.
        poll(lambda: _declared(settings), seconds=20)
        scheduler = build_scheduler(settings)
        request = wrap(BookingRequested(booking_id=uuid4(), slot_id=make_slot_id(1, 1, 1, now_plus_a_day()),
                                        language="de", channel="web"), uuid4())
        scheduler.publisher.publish(request.to_wire(), request.type)
        scheduler.engine.dispose()
        poll(lambda: _count(database, "SELECT count(*) FROM processed_messages") == 1, seconds=30)
    finally:
        system.stop()


@pytest.mark.infra
def test_the_launcher_started_while_the_database_is_down_waits_and_runs_once_it_is_up(
        tmp_path: Path, private_postgres: PrivatePostgres, vhost: str) -> None:
    urls = {f"{role.upper()}_DATABASE_URL": private_postgres.create_database(role)
            for role in ("gateway", "scheduler", "notifier")}
    private_postgres.stop()
    port = free_port()
    env = base_env(tmp_path, port, {**urls, "BROKER_URL": infra.amqp_url(vhost)})
    out = tmp_path / "launcher.out"
    with out.open("wb") as handle:
        launcher = subprocess.Popen([sys.executable, "-m", "lotse", "run", "--no-demo"], env=env, cwd=REPO,
                                    stdout=handle, stderr=subprocess.STDOUT)
    try:
        poll(lambda: "waiting for it" in out.read_text(), seconds=30, interval=0.3)
        time.sleep(6)
        assert launcher.poll() is None, f"the launcher waits:\n{out.read_text()}"
        waiting = out.read_text()
        assert "unreachable" in waiting and "stopping the rest" not in waiting

        private_postgres.start()
        poll(lambda: "Lotse is running" in out.read_text(), seconds=90, interval=0.3)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=30) == 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()


@pytest.mark.infra
def test_a_worker_stopped_while_a_booking_waits_for_the_database_leaves_it_queued_not_dead_lettered(
        tmp_path: Path, private_postgres: PrivatePostgres, vhost: str) -> None:
    database = private_postgres.create_database("scheduler")
    env = base_env(tmp_path, free_port(), {"SCHEDULER_DATABASE_URL": database, "BROKER_URL": infra.amqp_url(vhost)})
    settings = load_settings(SchedulerSettings, var_dir=tmp_path, scheduler_database_url=database,
                             broker_url=env["BROKER_URL"])
    subprocess.run([sys.executable, "-m", "scheduler", "init"], env=env, check=True, cwd=REPO)
    system = System(env, tmp_path)
    system.start("scheduler")
    try:
        poll(lambda: "ready" in system.log("scheduler"), seconds=30)
        private_postgres.stop()
        publisher = _publisher_without_database(settings)
        request = wrap(BookingRequested(booking_id=uuid4(), slot_id=make_slot_id(1, 1, 1, now_plus_a_day()),
                                        language="de", channel="web"), uuid4())
        publisher.publish(request.to_wire(), request.type)
        poll(lambda: "booking.requested" in system.log("scheduler") and "waits, attempt 2" in system.log("scheduler"),
             seconds=30)
        started = time.monotonic()
        system.stop("scheduler")  # SIGTERM, as the launcher, compose or an operator stop it
        assert system.processes["scheduler"].returncode == 0 and time.monotonic() - started < 15, \
            "a warm shutdown does not hang on the waiting message"
        assert _queue_depth(settings, "scheduler.bookings") == 1, "the message went back to its queue"
        assert _queue_depth(settings, "lotse.dead-letter") == 0

        private_postgres.start()
        system.start("scheduler")
        poll(lambda: _count(database, "SELECT count(*) FROM processed_messages") == 1, seconds=30)
    finally:
        system.stop()


def _publisher_without_database(settings: SchedulerSettings) -> Publisher:
    """A publisher as the gateway's relay would use (the scheduler's own build waits for its database)."""
    return Publisher(make_celery("gateway", settings), settings)


@pytest.mark.infra
def test_the_gateway_listener_holds_a_decision_through_a_database_outage_and_applies_it_after(
        tmp_path: Path, private_postgres: PrivatePostgres, vhost: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(GatewaySettings, var_dir=tmp_path, broker_url=infra.amqp_url(vhost),
                             gateway_database_url=private_postgres.create_database("gateway"),
                             data_key=generate_data_key())
    gateway = build_gateway(settings)
    try:
        slot_start = now_plus_a_day()
        slot_id = make_slot_id(1, 1, 1, slot_start)
        accepted = gateway.bookings.request(NewBooking(slot_id=slot_id, phone="+4915112345678", language="de",
                                                       channel="web"), None)
        gateway.listener.start()
        private_postgres.stop()
        slot = Slot(slot_id=slot_id, start=slot_start, end=slot_start + timedelta(minutes=50),
                    location=PublicLocation(location_id=1, town="Rostock", kind=Mode.office, alias="Rostock 1"),
                    mode=Mode.office, counsellor="Anna")
        decision = wrap(BookingConfirmed(booking_id=accepted.booking_id, slot=slot, language="de"), uuid4())
        with caplog.at_level(logging.WARNING):
            gateway.publisher.publish(decision.to_wire(), decision.type)
            poll(lambda: "waits, attempt 3" in caplog.text, seconds=30)
        assert _queue_depth(settings, "lotse.dead-letter") == 0

        private_postgres.start()
        poll(lambda: gateway.bookings.view(accepted.manage_token).status == "confirmed", seconds=30)
        assert "+4915112345678" not in caplog.text
    finally:
        gateway.listener.stop()
        gateway.engine.dispose()


@pytest.mark.infra
def test_a_slot_search_asked_while_the_database_is_down_goes_unanswered_and_is_not_dead_lettered(
        tmp_path: Path, private_postgres: PrivatePostgres, vhost: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(SchedulerSettings, var_dir=tmp_path, broker_url=infra.amqp_url(vhost),
                             scheduler_database_url=private_postgres.create_database("scheduler"))
    scheduler = build_scheduler(settings)
    private_postgres.stop()
    today = datetime.now(UTC).date()
    question = wrap(SlotsRequested(date_from=today, date_to=today + timedelta(days=7),
                                   reply_to="gateway.replies.0123456789ab"), uuid4())
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        scheduler.consumer.handle(question.to_wire())  # the asker answers "try again" after its timeout
    assert time.monotonic() - started < 5, "a question is not kept waiting through the outage"
    assert "slots.requested" in caplog.text and "not answered" in caplog.text
    assert _queue_depth(settings, "lotse.dead-letter") == 0
    scheduler.engine.dispose()
