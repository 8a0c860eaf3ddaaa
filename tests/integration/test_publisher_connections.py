"""The publisher must route on every pooled connection: on the embedded transport a connection that never declared
the topology routes a topic-exchange message nowhere, silently."""

from __future__ import annotations

import threading
from pathlib import Path
from uuid import uuid4

from shared.contracts import BookingCancellationRequested, wrap
from shared.messaging import Publisher, broker_connection, make_celery, queues_for
from shared.settings import CommonSettings, load_settings


def _drain(queue_name: str, settings: CommonSettings) -> list[str]:
    seen: list[str] = []
    queue = next(q for q in queues_for("scheduler", settings) if q.name == queue_name)
    with broker_connection(settings) as connection:
        bound = queue(connection.default_channel)
        while (message := bound.get(no_ack=True)) is not None:
            seen.append(message.headers.get("id") or message.properties.get("correlation_id"))
    return seen


def _publish(publisher: Publisher) -> str:
    booking_id = str(uuid4())
    message = wrap(BookingCancellationRequested(booking_id=booking_id, by="client"), booking_id)
    publisher.publish(message.to_wire(), message.type)
    return booking_id


def test_a_message_published_on_a_second_pooled_connection_arrives(tmp_path: Path) -> None:
    settings = load_settings(CommonSettings, var_dir=tmp_path)
    app = make_celery("gateway", settings)
    publisher = Publisher(app, settings)
    sent = [_publish(publisher)]
    # While the first pooled connection is busy (as when the outbox relay holds it), the next publish gets another.
    with publisher.connections.acquire(block=True) as busy:
        sent.append(_publish(publisher))
        assert busy.connected

    assert len(_drain("scheduler.bookings", settings)) == len(sent)


def test_messages_published_concurrently_from_several_threads_all_arrive(tmp_path: Path) -> None:
    settings = load_settings(CommonSettings, var_dir=tmp_path)
    publisher = Publisher(make_celery("gateway", settings), settings)
    barrier = threading.Barrier(4)
    sent: list[str] = []

    def publish() -> None:
        barrier.wait()
        sent.extend(_publish(publisher) for _ in range(10))

    threads = [threading.Thread(target=publish) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    arrived = _drain("scheduler.bookings", settings)
    assert len(arrived) == len(sent) == 40, f"{len(sent) - len(arrived)} of {len(sent)} messages were lost"
