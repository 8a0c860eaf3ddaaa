"""What the publisher puts on the wire is the one Celery task the workers run, as Celery's own `send_task` writes
it; the outbox's rows arrive in order; a message the broker refuses raises; a pooled connection the broker
dropped is replaced."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from kombu import Message, Queue

from shared.contracts import BookingCancellationRequested, wrap
from shared.messaging import (
    EVENTS,
    MESSAGE_TASK,
    NotConfirmed,
    OutgoingMessage,
    Publisher,
    broker_connection,
    make_celery,
    queues_for,
)
from shared.settings import CommonSettings, load_settings


@pytest.fixture
def settings(tmp_path: Path, real_env: dict[str, str]) -> CommonSettings:
    return load_settings(CommonSettings, var_dir=tmp_path, broker_url=real_env["BROKER_URL"])


def _cancellation() -> OutgoingMessage:
    booking_id = uuid4()
    envelope = wrap(BookingCancellationRequested(booking_id=booking_id, by="client"), booking_id)
    return OutgoingMessage(str(envelope.message_id), envelope.type, json.dumps(envelope.to_wire()))


def _drain(settings: CommonSettings, expected: int = 0) -> list[Message]:
    """Everything in the scheduler's queue; waits up to 5 s for `expected` messages (Celery's own `send_task`
    is not confirmed, so its message may still be on the way)."""
    queue = next(q for q in queues_for("scheduler", settings) if q.name == "scheduler.bookings")
    seen: list[Any] = []
    deadline = time.monotonic() + 5
    with broker_connection(settings) as connection:
        bound = queue(connection.default_channel)
        while True:
            while (message := bound.get(no_ack=True, accept=["json"])) is not None:
                seen.append(message)
            if len(seen) >= expected or time.monotonic() > deadline:
                return seen
            time.sleep(0.05)


@pytest.mark.infra
def test_outbox_rows_arrive_in_order_as_the_task_celerys_send_task_writes(settings: CommonSettings) -> None:
    app = make_celery("gateway", settings)
    publisher = Publisher(app, settings)
    reference_row = _cancellation()
    publisher.publish_outbox([])  # declares the topology on the pooled connection
    app.send_task(MESSAGE_TASK, args=[json.loads(reference_row.body)], task_id=reference_row.message_id,
                  exchange=EVENTS, routing_key=reference_row.routing_key, declare=[])
    rows = [_cancellation() for _ in range(25)]
    publisher.publish_outbox(rows)

    # The reference went out on Celery's own connection: the broker keeps order per connection only.
    drained = _drain(settings, expected=1 + len(rows))
    reference = next(m for m in drained if m.headers["id"] == reference_row.message_id)
    arrived = [m for m in drained if m is not reference]

    assert [m.headers["id"] for m in arrived] == [row.message_id for row in rows]
    for message, row in zip(arrived, rows, strict=True):
        assert message.decode() == [[json.loads(row.body)], {}, reference.decode()[2]]
        assert message.content_type == reference.content_type == "application/json"
        assert message.properties["correlation_id"] == row.message_id
        assert message.properties["delivery_mode"] == reference.properties["delivery_mode"] == 2
        assert set(message.headers) == set(reference.headers)
        own = ("id", "root_id", "argsrepr", "origin", "ignore_result")
        assert {k: v for k, v in message.headers.items() if k not in own} \
            == {k: v for k, v in reference.headers.items() if k not in own}
        assert message.headers["ignore_result"] is True  # nobody asks for a task's result
        assert message.headers["root_id"] == row.message_id
        # The envelope is not repeated in the headers (Celery puts a repr of the arguments there).
        assert message.headers["argsrepr"] == "('booking.cancellation_requested',)"


@pytest.mark.infra
def test_rows_after_a_dropped_pooled_connection_go_out_on_a_new_one(settings: CommonSettings) -> None:
    app = make_celery("gateway", settings)
    publisher = Publisher(app, settings)
    first = [_cancellation() for _ in range(3)]
    publisher.publish_outbox(first)
    with publisher.connections.acquire(block=True) as connection:
        connection.collect()  # the socket is gone, as after a broker restart

    second = [_cancellation() for _ in range(3)]
    publisher.publish_outbox(second)

    arrived = [m.headers["id"] for m in _drain(settings)]
    assert arrived == [row.message_id for row in first + second]


@pytest.mark.infra
def test_a_message_the_broker_refuses_is_not_taken_for_sent(settings: CommonSettings) -> None:
    publisher = Publisher(make_celery("gateway", settings), settings)
    full = Queue(f"test.full.{uuid4().hex[:8]}", auto_delete=True,
                 queue_arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    with broker_connection(settings) as connection:
        full(connection.default_channel).declare()
        publisher.reply(full.name, {"n": 1}, "first", ttl_seconds=60)

        with pytest.raises(NotConfirmed):
            publisher.reply(full.name, {"n": 2}, "second", ttl_seconds=60)  # the queue holds one: nacked

        assert full(connection.default_channel).queue_declare(passive=True).message_count == 1

    # The publisher goes on: the next message is sent and confirmed.
    publisher.reply("scheduler.bookings", {"n": 3}, "third", ttl_seconds=60)
    assert [m.properties["correlation_id"] for m in _drain(settings)] == ["third"]
