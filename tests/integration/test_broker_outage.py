"""A booking accepted while RabbitMQ is down waits in the outbox and flows when the broker is back."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support import infra
from tests.support.system import base_env, free_port, poll, running_system, wait_for_status


@pytest.mark.infra
def test_booking_made_while_rabbitmq_is_down_is_confirmed_after_it_returns(
    tmp_path: Path, real_env: dict[str, str]
) -> None:
    env = base_env(tmp_path, free_port(), real_env)
    with running_system(env, tmp_path) as system, httpx.Client(base_url=system.url, timeout=10) as client:
        slot_id = client.get("/v1/slots", params={"language": "de"}).json()["slots"][0]["slot_id"]
        infra.stop_rabbitmq()
        try:
            assert client.get("/readyz").status_code == 503
            response = client.post("/v1/bookings", json={"slot_id": slot_id, "phone": "+4915112345678",
                                                         "language": "de", "channel": "web"})
            assert response.status_code == 202, response.text
            token = response.json()["manage_token"]
            assert client.get(f"/v1/bookings/{token}").json()["status"] == "pending"
            # While the broker is down nothing is lost: both messages wait in the gateway's outbox.
            with psycopg.connect(real_env["GATEWAY_DATABASE_URL"]) as db:
                waiting = db.execute("SELECT routing_key FROM outbox ORDER BY id").fetchall()
            assert [r[0] for r in waiting] == ["contact.registered", "booking.requested"]
        finally:
            infra.resume_rabbitmq()
        confirmed = wait_for_status(client, token, "confirmed", seconds=120)
        assert confirmed["slot"]["slot_id"] == slot_id
        messages = poll(system.sink, seconds=60)
        assert len(messages) == 1
