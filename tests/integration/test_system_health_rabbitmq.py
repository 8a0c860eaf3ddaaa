"""The admins' health API on RabbitMQ (a vhost of the test's own): queue depths and consumers from a passive
declare, and dead letters listed, requeued onto their queue and discarded through the API."""

from __future__ import annotations

from pathlib import Path

from kombu import Consumer

from shared.messaging import broker_connection, queues_for
from tests.support import infra
from tests.unit.test_system_health import _desk, a_booking_request, publisher_for


def test_on_rabbitmq_queues_are_counted_and_dead_letters_requeued_and_discarded(vhost: str, tmp_path: Path) -> None:
    # The management API is pointed where nothing listens, so the figures come over AMQP whatever this machine's
    # RabbitMQ has enabled (its management statistics lag by seconds besides).
    for desk in _desk(tmp_path, broker_url=infra.amqp_url(vhost), rabbitmq_management_url="http://127.0.0.1:1/"):
        publisher = publisher_for(desk.settings)
        publisher.publish(a_booking_request(), "booking.requested")
        for reason in ("handler failed: ValueError", "gateway has no handler for booking.requested"):
            publisher.publish_dead_letter(a_booking_request(), "notifier", reason)
        with broker_connection(desk.settings) as connection:
            events = queues_for("gateway", desk.settings)[0]
            with Consumer(connection, queues=[events], callbacks=[], accept=["json"]):
                broker = desk.client.get("/v1/staff/health").json()["broker"]

        assert (broker["reachable"], broker["source"], broker["dead_letters"]) == (True, "amqp", 2)
        assert "not reachable" in broker["note"]
        queues = {q["name"]: q for q in broker["queues"]}
        assert queues["scheduler.bookings"] == {"name": "scheduler.bookings", "ready": 1, "unacked": None,
                                                "consumers": 0}
        assert queues["gateway.events"]["consumers"] == 1

        letters = desk.client.get("/v1/staff/dead-letters").json()
        assert sorted((d["queue"], d["type"], d["reason"]) for d in letters) == [
            ("notifier.events", "booking.requested", "gateway has no handler for booking.requested"),
            ("notifier.events", "booking.requested", "handler failed: ValueError")]
        first, second = (d["id"] for d in letters)
        assert desk.client.post(f"/v1/staff/dead-letters/{first}/requeue", headers=desk.csrf).status_code == 200
        assert desk.client.post(f"/v1/staff/dead-letters/{second}/discard", headers=desk.csrf).status_code == 200
        missing = desk.client.post(f"/v1/staff/dead-letters/{second}/discard", headers=desk.csrf)
        assert missing.status_code == 404 and missing.json()["code"] == "dead_letter_not_found"

        assert desk.client.get("/v1/staff/dead-letters").json() == []
        after = {q["name"]: q["ready"] for q in desk.client.get("/v1/staff/health").json()["broker"]["queues"]}
        assert (after["notifier.events"], after["lotse.dead-letter"], after["scheduler.bookings"]) == (1, 0, 1)
