"""The admins' health API of a whole gateway (built by its composition root) on RabbitMQ, in a vhost of the test's
own: its own heartbeat comes back through its listener into the report; queue depths and consumers come from a
passive declare; dead letters are listed, requeued onto their queue and discarded."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from gateway.api.staff_deps import CSRF_HEADER
from gateway.app import build, create_app
from gateway.settings import GatewaySettings
from gateway.staff.accounts import StaffAccounts

from shared.crypto import generate_data_key
from shared.settings import load_settings
from tests.support import infra
from tests.support.staff import Phone, sign_in_staff
from tests.unit.test_system_health import CHEAP, PASSWORD, a_booking_request


def _report(client: TestClient) -> dict[str, Any]:
    response = client.get("/v1/staff/health")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_on_rabbitmq_heartbeats_queues_and_dead_letters_reach_the_admin(vhost: str, tmp_path: Path) -> None:
    # The management API is pointed where nothing listens, so the figures come over AMQP whatever this machine's
    # RabbitMQ has enabled (its management statistics lag by seconds besides).
    settings = load_settings(GatewaySettings, var_dir=tmp_path, broker_url=infra.amqp_url(vhost),
                             data_key=generate_data_key(), rabbitmq_management_url="http://127.0.0.1:1/")
    gateway = build(settings)
    app = create_app(gateway)
    app.state.staff_accounts = StaffAccounts(gateway.engine, hasher=PasswordHasher(**CHEAP),
                                             cipher=gateway.staff.cipher)
    app.state.staff_accounts.create("admin", "Admin", "admin", PASSWORD)
    publisher = gateway.publisher
    publisher.publish(a_booking_request(), "booking.requested")
    for reason in ("handler failed: ValueError", "gateway has no handler for booking.requested"):
        publisher.publish_dead_letter(a_booking_request(), "notifier", reason)
    with TestClient(app) as client:  # starts the gateway: its listener, and its heartbeat at once
        csrf = {CSRF_HEADER: sign_in_staff(client, "admin", phone=Phone())}
        deadline = time.monotonic() + 10
        while (gateway_role := next(r for r in _report(client)["roles"] if r["role"] == "gateway"))["status"] != "ok":
            assert time.monotonic() < deadline, gateway_role
            time.sleep(0.1)
        assert [i["instance"] for i in gateway_role["instances"]] == [gateway.heartbeat.instance]

        broker = _report(client)["broker"]
        assert (broker["reachable"], broker["source"], broker["dead_letters"]) == (True, "amqp", 2)
        assert "not reachable" in broker["note"]
        queues = {q["name"]: q for q in broker["queues"]}
        assert queues["scheduler.bookings"] == {"name": "scheduler.bookings", "ready": 1, "unacked": None,
                                                "consumers": 0}
        assert queues["gateway.events"]["consumers"] == 1  # the listener

        letters = client.get("/v1/staff/dead-letters").json()
        assert sorted((d["queue"], d["type"], d["reason"]) for d in letters) == [
            ("notifier.events", "booking.requested", "gateway has no handler for booking.requested"),
            ("notifier.events", "booking.requested", "handler failed: ValueError")]
        first, second = (d["id"] for d in letters)
        assert client.post(f"/v1/staff/dead-letters/{first}/requeue", headers=csrf).status_code == 200
        assert client.post(f"/v1/staff/dead-letters/{second}/discard", headers=csrf).status_code == 200
        missing = client.post(f"/v1/staff/dead-letters/{second}/discard", headers=csrf)
        assert missing.status_code == 404 and missing.json()["code"] == "dead_letter_not_found"

        assert client.get("/v1/staff/dead-letters").json() == []
        after = {q["name"]: q["ready"] for q in _report(client)["broker"]["queues"]}
        assert (after["notifier.events"], after["lotse.dead-letter"], after["scheduler.bookings"]) == (1, 0, 1)
    gateway.engine.dispose()
