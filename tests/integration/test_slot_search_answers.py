"""The gateway's slot answers under load (issue "Lotse 5/7"): the same question asked at once reaches the scheduler
once, an answer is reused for SLOTS_CACHE_SECONDS, and whatever changes what is free and passes through the gateway
(a booking confirmed, one cancelled) is seen by the next search at once. The real roles on the embedded default
with the demo calendar; the cache is set to a minute here, so that "at once" cannot be the answer ageing out."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.support.system import System, free_port, poll, running_system_in_own_dir

CACHE_SECONDS = 60


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    # /metrics is on the gateway's internal port (gateway.internal).
    with running_system_in_own_dir("lotse-slot-answers-", {"SLOTS_CACHE_SECONDS": str(CACHE_SECONDS),
                                                           "GATEWAY_METRICS_PORT": str(free_port())}) as running:
        yield running


@pytest.fixture
def client(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url, timeout=30) as http:
        yield http


def searches(system: System) -> dict[str, float]:
    """lotse_gateway_slot_searches_total by answer (asked, shared, remembered)."""
    metrics = f"http://127.0.0.1:{system.env['GATEWAY_METRICS_PORT']}/metrics"
    found = re.findall(r'^lotse_gateway_slot_searches_total\{answer="(\w+)"\} ([0-9.e+]+)$',
                       httpx.get(metrics, timeout=30).text, re.MULTILINE)
    return {answer: float(value) for answer, value in found}


def question(weeks_ahead: int, language: str = "de") -> dict[str, str]:
    first = date.today() + timedelta(days=7 * weeks_ahead)
    # Two weeks: some slots even in a week of holidays.
    return {"language": language, "from": first.isoformat(), "to": (first + timedelta(days=13)).isoformat()}


def slot_ids(client: httpx.Client, params: dict[str, str]) -> list[str]:
    answer = client.get("/v1/slots", params=params)
    assert answer.status_code == 200, answer.text
    return [slot["slot_id"] for slot in answer.json()["slots"]]


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after.get(key, 0) - before.get(key, 0) for key in ("asked", "shared", "remembered")}


def test_the_same_question_asked_at_once_reaches_the_scheduler_once_and_is_then_remembered(
        client: httpx.Client, system: System) -> None:
    params = question(2, "ro")
    before = searches(system)
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _n: slot_ids(client, params), range(16)))
    assert all(answer == answers[0] for answer in answers) and answers[0]
    first = delta(before, searches(system))
    assert first["asked"] >= 1 and first["asked"] + first["shared"] + first["remembered"] == 16
    assert first["asked"] < 16  # answers were shared or remembered instead of asked again
    slot_ids(client, params)
    assert delta(before, searches(system))["remembered"] == first["remembered"] + 1


def book(client: httpx.Client, slot_id: str, phone: str) -> dict[str, Any]:
    accepted = client.post("/v1/bookings", json={"slot_id": slot_id, "phone": phone, "language": "de"})
    assert accepted.status_code == 202, accepted.text
    token = accepted.json()["manage_token"]
    return dict(poll(lambda: (b := client.get(f"/v1/bookings/{token}").json())["status"] != "pending"
                     and {**b, "token": token}, seconds=30))


def test_a_confirmed_booking_leaves_the_next_answer_at_once_and_a_cancelled_one_comes_back(
        client: httpx.Client) -> None:
    params = question(3)
    shown = slot_ids(client, params)
    assert slot_ids(client, params) == shown  # remembered
    booked = book(client, shown[0], "+4915112340101")
    assert booked["status"] == "confirmed"
    started = time.monotonic()
    assert shown[0] not in slot_ids(client, params)
    assert client.post(f"/v1/bookings/{booked['token']}/cancel").status_code == 202
    # The scheduler frees the slot and announces it; the gateway forgets its answers when it hears that.
    poll(lambda: shown[0] in slot_ids(client, params), seconds=20, interval=0.2)
    assert time.monotonic() - started < CACHE_SECONDS / 2  # not the answer ageing out


def test_a_remembered_answer_is_given_while_the_scheduler_is_away_and_a_new_question_gets_503(
        client: httpx.Client, system: System) -> None:
    params = question(4, "en")
    shown = slot_ids(client, params)
    system.stop("scheduler")
    try:
        assert slot_ids(client, params) == shown
        assert client.get("/v1/slots", params=question(5, "en")).status_code == 503
    finally:
        system.start("scheduler")
    poll(lambda: client.get("/v1/slots", params=question(6, "en")).status_code == 200, seconds=60, interval=0.5)
