"""On the embedded broker a message published by a process that never declared the topology still reaches its
queue, as on RabbitMQ: Celery beat publishes its ticks to the timers exchange without declaring anything."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

DECLARE = """
import sys
from shared.messaging import broker_connection, declare_topology
from shared.settings import CommonSettings, load_settings
settings = load_settings(CommonSettings, var_dir=sys.argv[1])
with broker_connection(settings) as connection:
    declare_topology(connection, settings)
"""

# As Celery beat sends a tick and the gateway an event: by exchange name and routing key, declaring nothing.
PUBLISH = """
import sys
from kombu import Producer
from shared.messaging import broker_connection
from shared.settings import CommonSettings, load_settings
settings = load_settings(CommonSettings, var_dir=sys.argv[1])
with broker_connection(settings) as connection:
    producer = Producer(connection.default_channel)
    producer.publish({"tick": 1}, exchange=sys.argv[2], routing_key=sys.argv[3], declare=[], serializer="json")
"""


def _run(code: str, *args: str) -> None:
    subprocess.run([sys.executable, "-c", code, *args], check=True, timeout=60,
                   cwd=Path(__file__).resolve().parents[2])


def _queued(var_dir: Path) -> dict[str, int]:
    with sqlite3.connect(next(var_dir.glob("broker.sqlite"))) as db:
        return dict(db.execute("SELECT queue, count(*) FROM lotse_broker_messages GROUP BY queue").fetchall())


def test_a_tick_from_a_process_that_declared_nothing_reaches_the_timers_queue(tmp_path: Path) -> None:
    _run(DECLARE, str(tmp_path))  # a worker started earlier declared its queues, then went on consuming

    _run(PUBLISH, str(tmp_path), "lotse.timers", "notifier.timers")

    assert _queued(tmp_path) == {"notifier.timers": 1}


def test_an_event_from_a_process_that_declared_nothing_reaches_every_subscriber_by_topic(tmp_path: Path) -> None:
    _run(DECLARE, str(tmp_path))

    _run(PUBLISH, str(tmp_path), "lotse.events", "booking.requested")

    assert _queued(tmp_path) == {"scheduler.bookings": 1}
