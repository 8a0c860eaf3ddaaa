"""The scheduler decides each booking in one transaction: one slot is never given twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from shared import healthcheck
from shared.settings import CommonSettings, load_settings
from tests.support.system import System, assert_stays, base_env, free_port, poll

CONTENDERS = 50


@pytest.mark.infra
def test_fifty_concurrent_bookings_for_one_slot_confirm_exactly_one(
    tmp_path: Path, real_env: dict[str, str]
) -> None:
    env = base_env(tmp_path, free_port(), {**real_env, "WORKER_CONCURRENCY": "4"})
    system = System(env, tmp_path)
    system.prepare()
    # Two scheduler processes with four threads each: decisions really race on PostgreSQL.
    system.start("gateway", "scheduler", "scheduler#2", "notifier", "notifier-beat")
    try:
        system.wait_ready()
        # Two workers of one role on one host both start (their remote-control queues are apart) and answer.
        settings = load_settings(CommonSettings, broker_url=env["BROKER_URL"])
        answer = poll(lambda: _healthy("scheduler", settings), seconds=30, interval=1)
        assert answer.startswith("scheduler-")
        with httpx.Client(base_url=system.url, timeout=15) as client:
            slot_id = client.get("/v1/slots", params={"language": "de"}).json()["slots"][0]["slot_id"]

            def book(i: int) -> str:
                response = client.post("/v1/bookings", json={
                    "slot_id": slot_id, "phone": f"+491511234{i:04d}", "language": "de", "channel": "web"})
                assert response.status_code == 202, response.text
                return str(response.json()["manage_token"])

            with ThreadPoolExecutor(16) as pool:
                tokens = list(pool.map(book, range(CONTENDERS)))

            def decided() -> list[dict[str, object]] | None:
                states = [client.get(f"/v1/bookings/{t}").json() for t in tokens]
                return states if all(s["status"] != "pending" for s in states) else None

            states = poll(decided, seconds=60, interval=0.5)
            poll(lambda: len(system.sink()) >= 1, seconds=20)
            assert_stays(lambda: len(system.sink()), 1)  # a late second message would show here
            sms = system.sink()
    finally:
        system.stop()
    confirmed = [s for s in states if s["status"] == "confirmed"]
    rejected = [s for s in states if s["status"] == "rejected"]
    assert len(confirmed) == 1
    assert len(rejected) == CONTENDERS - 1
    assert {s["reason"] for s in rejected} == {"slot_taken"}
    assert {s["message"] for s in rejected} == {"This time was just taken by someone else. Please choose another time."}
    for state in rejected:
        alternatives = state["alternatives"]
        assert 1 <= len(alternatives) <= 3  # type: ignore[arg-type]
        assert slot_id not in {a["slot_id"] for a in alternatives}  # type: ignore[union-attr]
    assert len(sms) == 1, "only the confirmed booking gets a message"


def _healthy(role: str, settings: object) -> str | None:
    try:
        return healthcheck.check_worker(role, settings)  # type: ignore[arg-type]
    except healthcheck.Unhealthy:
        return None
