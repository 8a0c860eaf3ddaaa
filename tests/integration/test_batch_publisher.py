"""The outbox relay's batch publisher (confirms awaited per batch, body built from the stored JSON) must put on the
wire what Celery's send_task does, so the workers run it as the one message task; and a batch counts as sent only
once the broker confirmed it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from kombu import Connection, Message

from shared.contracts import BookingCancellationRequested, wrap
from shared.messaging import ConfirmedBatch, OutgoingMessage, Publisher, make_celery, queues_for
from shared.settings import CommonSettings, load_settings


@pytest.fixture
def settings(tmp_path: Path, real_env: dict[str, str]) -> CommonSettings:
    return load_settings(CommonSettings, var_dir=tmp_path, broker_url=real_env["BROKER_URL"])


def _cancellation() -> OutgoingMessage:
    booking_id = uuid4()
    envelope = wrap(BookingCancellationRequested(booking_id=booking_id, by="client"), booking_id)
    return OutgoingMessage(str(envelope.message_id), envelope.type, json.dumps(envelope.to_wire()))


def _drain(settings: CommonSettings) -> list[Message]:
    queue = next(q for q in queues_for("scheduler", settings) if q.name == "scheduler.bookings")
    seen: list[Any] = []
    with Connection(settings.broker_url) as connection:
        bound = queue(connection.default_channel)
        while (message := bound.get(no_ack=True, accept=["json"])) is not None:
            seen.append(message)
    return seen


@pytest.mark.infra
def test_a_batch_arrives_in_order_in_the_same_task_format_as_send_task(settings: CommonSettings) -> None:
    publisher = Publisher(make_celery("gateway", settings), settings)
    single = _cancellation()
    publisher.publish(json.loads(single.body), single.routing_key)  # Celery's own send_task
    batch = [_cancellation() for _ in range(25)]
    publisher.publish_batch(batch)
    publisher.close()

    reference, *arrived = _drain(settings)

    assert [m.headers["id"] for m in arrived] == [m.message_id for m in batch]
    for message, sent in zip(arrived, batch, strict=True):
        assert message.decode() == [[json.loads(sent.body)], {}, reference.decode()[2]]
        assert message.content_type == reference.content_type == "application/json"
        assert message.properties["correlation_id"] == sent.message_id
        assert message.properties["delivery_mode"] == reference.properties["delivery_mode"] == 2
        assert set(message.headers) == set(reference.headers)
        assert {k: v for k, v in message.headers.items() if k not in ("id", "root_id", "argsrepr", "origin")} \
            == {k: v for k, v in reference.headers.items() if k not in ("id", "root_id", "argsrepr", "origin")}
        assert message.headers["root_id"] == sent.message_id
        # The envelope is not repeated in the headers (Celery puts a repr of the arguments there).
        assert message.headers["argsrepr"] == "('booking.cancellation_requested',)"


@pytest.mark.infra
def test_batches_after_a_lost_connection_go_out_on_a_new_one(settings: CommonSettings) -> None:
    batch = ConfirmedBatch(make_celery("gateway", settings), settings)
    first = [_cancellation() for _ in range(3)]
    batch.publish(first)
    assert batch._connection is not None
    batch._connection.collect()  # the socket is gone, as after a broker restart

    with pytest.raises(Exception):  # noqa: B017 - whatever the transport raises for a dead socket
        batch.publish([_cancellation()])
    second = [_cancellation() for _ in range(3)]
    batch.publish(second)
    batch.close()

    arrived = [m.headers["id"] for m in _drain(settings)]
    assert arrived[:3] == [m.message_id for m in first]
    assert arrived[-3:] == [m.message_id for m in second]
