"""The scheduler never receives, stores or logs a phone number; the broker never carries one in clear."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import psycopg
import pytest
from kombu import Connection, Queue, binding

from shared.messaging import EVENTS, SUBSCRIPTIONS
from tests.support.system import (
    base_env,
    book_first_free_slot,
    free_port,
    poll,
    running_system,
    wait_for_status,
)

PHONE = "+4915187650123"
FORMS = (PHONE, PHONE[1:], "015187650123", "15187650123", "0151 87650123")


def _table_dump(url: str) -> str:
    with psycopg.connect(url) as connection:
        tables = [r[0] for r in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        rows = []
        for table in tables:
            rows += [repr(r) for r in connection.execute(f'SELECT * FROM "{table}"')]
    return "\n".join(rows)


@pytest.mark.infra
def test_scheduler_sees_no_phone_number_in_messages_tables_or_logs(
    tmp_path: Path, real_env: dict[str, str]
) -> None:
    env = base_env(tmp_path, free_port(), real_env)
    scheduler_keys = [t for s in SUBSCRIPTIONS["scheduler"] for t in s.message_types]
    with Connection(real_env["BROKER_URL"]) as broker:
        # A spy queue on the same exchange: it receives a copy of everything that is routed to the scheduler,
        # and a second one everything at all.
        to_scheduler = Queue("spy.scheduler", bindings=[binding(EVENTS, routing_key=k) for k in scheduler_keys],
                             auto_delete=False)(broker.default_channel)
        everything = Queue("spy.all", bindings=[binding(EVENTS, routing_key="#")])(broker.default_channel)
        EVENTS(broker.default_channel).declare()
        to_scheduler.declare()
        everything.declare()

        with running_system(env, tmp_path) as system, httpx.Client(base_url=system.url, timeout=10) as client:
            accepted = book_first_free_slot(client, PHONE, language="de")
            wait_for_status(client, accepted["manage_token"], "confirmed")
            poll(system.sink, seconds=20)
            scheduler_log = system.log("scheduler")
            all_logs = system.all_logs()

        def drain(queue: Queue) -> list[dict[str, object]]:
            bodies = []
            while (message := queue.get(no_ack=True)) is not None:
                bodies.append(json.loads(message.body))
            return bodies

        seen_by_scheduler = drain(to_scheduler)
        seen_on_exchange = drain(everything)

    assert {b[0][0]["type"] for b in seen_by_scheduler} >= {"booking.requested"}  # type: ignore[index]
    assert "contact.registered" in {b[0][0]["type"] for b in seen_on_exchange}  # type: ignore[index]
    wire = json.dumps(seen_on_exchange)
    scheduler_db = _table_dump(real_env["SCHEDULER_DATABASE_URL"])
    notifier_db = _table_dump(real_env["NOTIFIER_DATABASE_URL"])
    gateway_db = _table_dump(real_env["GATEWAY_DATABASE_URL"])
    assert "confirmed" in scheduler_db  # the dump really holds the appointment
    for form in FORMS:
        assert form not in json.dumps(seen_by_scheduler)
        assert form not in wire, "a phone number crossed the broker in clear"
        assert form not in scheduler_db
        assert form not in scheduler_log
        assert form not in notifier_db, "the notifier keeps the number only encrypted"
        assert form not in gateway_db
        assert form not in all_logs
