"""A booking accepted while RabbitMQ is down waits in the outbox and flows when the broker is back.

The broker is a private node of the test's own (tests/support/rabbit.py), never the machine's shared RabbitMQ."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.rabbit import PrivateRabbit
from tests.support.system import assert_stays, base_env, free_port, poll, running_system, wait_for_status


@pytest.mark.infra
def test_booking_made_while_rabbitmq_is_down_is_confirmed_after_it_returns(
    tmp_path: Path, private_broker_env: dict[str, str], private_rabbit: PrivateRabbit
) -> None:
    env = base_env(tmp_path, free_port(), private_broker_env)
    with running_system(env, tmp_path) as system, httpx.Client(base_url=system.url, timeout=10) as client:
        slot_id = client.get("/v1/slots", params={"language": "de"}).json()["slots"][0]["slot_id"]
        # Stopped as an operator would. Not killed: RabbitMQ 3.10 brings a single node's quorum queues back
        # leaderless after a SIGKILL (Raft term 0, publishes time out), which no client can work around.
        private_rabbit.stop()
        assert client.get("/readyz").status_code == 503
        response = client.post("/v1/bookings", json={"slot_id": slot_id, "phone": "+4915112345678",
                                                     "language": "de", "channel": "web"})
        assert response.status_code == 202, response.text
        token = response.json()["manage_token"]
        assert client.get(f"/v1/bookings/{token}").json()["status"] == "pending"
        # While the broker is down nothing is lost: both messages wait in the gateway's outbox.
        with psycopg.connect(private_broker_env["GATEWAY_DATABASE_URL"]) as db:
            waiting = db.execute("SELECT routing_key FROM outbox ORDER BY id").fetchall()
        assert [r[0] for r in waiting] == ["contact.registered", "booking.requested"]

        private_rabbit.start()
        confirmed = wait_for_status(client, token, "confirmed", seconds=120)
        assert confirmed["slot"]["slot_id"] == slot_id
        poll(system.sink, seconds=60)
        assert_stays(lambda: len(system.sink()), 1)  # the outbox may resend after the outage, the SMS goes once
