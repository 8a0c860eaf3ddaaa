"""Every malformed message, on every queue, ends on the dead-letter queue with its reason, and the consumers go
on; `python -m lotse dead-letters` lists, requeues (the message is then handled) and discards. On RabbitMQ and on
the embedded default, with the roles as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from kombu import Producer
from scheduler.settings import SchedulerSettings
from sqlalchemy import text

from shared.contracts import BookingRequested, wrap
from shared.db import make_engine
from shared.messaging import (
    DEAD_LETTER_QUEUE,
    MESSAGE_TASK,
    Publisher,
    broker_connection,
    make_celery,
)
from shared.settings import load_settings
from tests.support.dead_letters import take_dead_letters
from tests.support.system import (
    REPO,
    System,
    base_env,
    book_first_free_slot,
    free_port,
    poll,
    running_system,
    wait_for_status,
)

QUEUES = ("scheduler.bookings", "scheduler.queries", "notifier.events", "notifier.queries", "notifier.timers",
          "gateway.events")


@pytest.fixture(params=["embedded", "rabbitmq"])
def system(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[System]:
    extra = request.getfixturevalue("real_env") if request.param == "rabbitmq" else {}
    with running_system(base_env(tmp_path, free_port(), extra), tmp_path) as running:
        yield running


def _settings(system: System) -> SchedulerSettings:
    return load_settings(SchedulerSettings, var_dir=Path(system.env["VAR_DIR"]),
                         **({"broker_url": system.env["BROKER_URL"]} if "BROKER_URL" in system.env else {}),
                         **({"scheduler_database_url": system.env["SCHEDULER_DATABASE_URL"]}
                            if "SCHEDULER_DATABASE_URL" in system.env else {}))


def _task_headers(task: str = MESSAGE_TASK) -> dict[str, Any]:
    return {"lang": "py", "task": task, "id": str(uuid4()), "root_id": None, "parent_id": None, "group": None}


def _envelope(**changes: Any) -> dict[str, Any]:
    wire = wrap(BookingRequested(booking_id=uuid4(), slot_id="s2-1-1-1-1780000000", language="de", channel="web"),
                uuid4()).to_wire()
    return {**wire, **changes}


def _malformed() -> dict[str, tuple[bytes, str, dict[str, Any] | None]]:
    """Each kind: (body, content type, headers)."""
    def task(*args: Any) -> bytes:
        return json.dumps([list(args), {}, {"callbacks": None, "errbacks": None, "chain": None,
                                            "chord": None}]).encode()

    return {
        "non-JSON body": (b"{not json", "application/json", _task_headers()),
        "JSON without Celery headers": (json.dumps(_envelope()).encode(), "application/json", None),
        "wrong argument count": (task(_envelope(), _envelope()), "application/json", _task_headers()),
        "no arguments": (task(), "application/json", _task_headers()),
        "text/plain": (b"hello", "text/plain", _task_headers()),
        "unknown task": (task(_envelope()), "application/json", _task_headers("lotse.teleport")),
        "unknown type": (task(_envelope(type="booking.teleported")), "application/json", _task_headers()),
        "unknown version": (task(_envelope(version=99)), "application/json", _task_headers()),
        "invalid payload": (task(_envelope(payload={"booking_id": "not-a-uuid"})), "application/json",
                            _task_headers()),
    }


def _consumed(settings: SchedulerSettings) -> bool:
    """Every role's queue exists and has its consumer: a message published to a queue not yet declared would be
    dropped by the broker (the roles declare the topology in the background, after the gateway answers). The
    embedded broker keeps what is sent to a queue whether or not it was declared, and counts no consumers."""
    if settings.is_embedded_broker:
        return True
    try:
        with broker_connection(settings) as connection:
            channel = connection.default_channel
            return all(channel.queue_declare(queue, passive=True).consumer_count > 0 for queue in QUEUES)
    except Exception:  # a queue not declared yet closes the channel (404)
        return False


def _dead_letter_count(settings: SchedulerSettings) -> int:
    with broker_connection(settings) as connection:
        channel = connection.default_channel
        DEAD_LETTER_QUEUE(channel).declare()
        return int(channel.queue_declare(DEAD_LETTER_QUEUE.name, passive=True).message_count)


@pytest.mark.infra
def test_every_malformed_message_on_every_queue_is_dead_lettered_with_its_reason_and_consumers_go_on(
        system: System) -> None:
    settings = _settings(system)
    kinds = _malformed()
    sent = []
    poll(lambda: _consumed(settings), seconds=120, interval=0.5)
    with broker_connection(settings) as connection:
        producer = Producer(connection)
        for queue in QUEUES:
            for kind, (body, content_type, headers) in kinds.items():
                producer.publish(body, exchange="", routing_key=queue, content_type=content_type,
                                 content_encoding="utf-8", headers=headers, delivery_mode=2)
                sent.append((queue, kind))
    poll(lambda: _dead_letter_count(settings) >= len(sent), seconds=60, interval=0.5)
    letters = take_dead_letters(settings)
    assert len(letters) == len(sent), [(d["queue"], d["reason"]) for d in letters]
    assert all(letter["reason"] for letter in letters)
    for queue in QUEUES:
        # Those a worker cannot even take as a task keep the queue they came from; those with an envelope of a type
        # nobody here handles are put down to the role's first queue.
        assert sum(1 for d in letters if d["queue"] == queue) >= 5, (queue, [d["queue"] for d in letters])
    reasons = " | ".join(str(d["reason"]) for d in letters)
    for phrase in ("not valid JSON", "no Celery task headers", "arguments", "text/plain", "unknown task",
                   "unknown message type/version 'booking.teleported'", "v99", "does not validate"):
        assert phrase in reasons, phrase
    # The dead letter is the message as it arrived: the undecodable body is kept byte for byte.
    bodies = [d["body"].encode() if isinstance(d["body"], str) else d["body"] for d in letters]
    assert bodies.count(b"{not json") == len(QUEUES)

    # Every consumer goes on: a booking flows gateway -> scheduler -> gateway and notifier (the confirmation SMS).
    with httpx.Client(base_url=system.url, timeout=10) as client:
        token = book_first_free_slot(client)["manage_token"]
        wait_for_status(client, token, "confirmed", seconds=60)
    poll(system.sink, seconds=60)
    assert "+49151" not in system.all_logs()


def _lotse(system: System, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lotse", "dead-letters", *args], env=system.env, cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)


def _row_id(listing: str, needle: str) -> str:
    rows = [line for line in listing.splitlines() if needle in line]
    assert len(rows) == 1, listing
    return rows[0].split()[0]


@pytest.mark.infra
def test_dead_letter_command_lists_requeues_and_discards_without_showing_payloads(system: System) -> None:
    settings = _settings(system)
    publisher = Publisher(make_celery("scheduler", settings), settings)
    with httpx.Client(base_url=system.url, timeout=10) as client:
        slot_id = client.get("/v1/slots", params={"language": "de"}).json()["slots"][0]["slot_id"]
    # A valid booking request that ended on the dead-letter queue (as one does after a worker crashed on it five
    # times), another one, and something no worker can read.
    kept = wrap(BookingRequested(booking_id=uuid4(), slot_id=slot_id, language="de", channel="web"), uuid4())
    dropped = wrap(BookingRequested(booking_id=uuid4(), slot_id=slot_id, language="de", channel="web"), uuid4())
    publisher.publish_dead_letter(kept.to_wire(), "scheduler", "delivery limit reached")
    publisher.publish_dead_letter(dropped.to_wire(), "scheduler", "delivery limit reached")
    publisher.publish_dead_letter_message(b"\x00garbage", "text/plain", None, None, "scheduler.bookings",
                                          "content type 'text/plain' is not application/json")

    listing = _lotse(system, "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["ID", "DEAD"] and len(lines) == 4, listing.stdout
    assert "booking.requested" in listing.stdout and "delivery limit reached" in listing.stdout
    assert "scheduler.bookings" in listing.stdout
    for secret in (slot_id, str(kept.payload.booking_id), "garbage"):  # type: ignore[attr-defined]
        assert secret not in listing.stdout, "no payload is shown"

    requeued = _lotse(system, "requeue", _row_id(listing.stdout, str(kept.message_id)))
    assert requeued.returncode == 0 and "Requeued" in requeued.stdout, requeued.stderr
    engine = make_engine(settings_url(system))
    try:
        poll(lambda: _processed(engine, str(kept.message_id)), seconds=30)
    finally:
        engine.dispose()

    discarded = _lotse(system, "discard", _row_id(listing.stdout, str(dropped.message_id)))
    assert discarded.returncode == 0 and "Discarded" in discarded.stdout
    after = _lotse(system, "list").stdout
    assert str(kept.message_id) not in after and str(dropped.message_id) not in after
    assert "text/plain" in after and len(after.strip().splitlines()) == 2

    assert _lotse(system, "discard", "0123456789ab").returncode == 1, "an unknown id is said, not ignored"
    assert _lotse(system, "requeue").returncode == 2, "requeue needs ids or --all"
    # --all: the unreadable one goes back to its queue (as it first came: no task headers), and the worker
    # dead-letters it again.
    assert _lotse(system, "requeue", "--all").returncode == 0
    poll(lambda: "no Celery task headers" in _lotse(system, "list").stdout, seconds=30)


def settings_url(system: System) -> str:
    return system.env.get("SCHEDULER_DATABASE_URL") or f"sqlite:///{Path(system.env['VAR_DIR']) / 'scheduler.sqlite'}"


def _processed(engine: Any, message_id: str) -> bool:
    with engine.connect() as connection:
        return bool(connection.execute(text("SELECT count(*) FROM processed_messages WHERE message_id = :id"),
                                       {"id": message_id}).scalar())
