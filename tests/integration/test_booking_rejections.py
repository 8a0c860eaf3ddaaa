"""What the scheduler refuses, seen through the API: status `rejected` with a reason and a sentence; and cancelling.

One system (embedded default, demo calendar) serves the module. Every booking here uses a slot no other test uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.support.slot_picking import SlotPicker
from tests.support.system import (
    System,
    poll,
    running_system_in_own_dir,
    wait_for_status,
)

BERLIN = ZoneInfo("Europe/Berlin")
OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?\+0[12]:00$")
SLOTS = SlotPicker()


@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    with running_system_in_own_dir("lotse-booking-rejections-") as running:
        yield running


@pytest.fixture
def client(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url, timeout=20) as http:
        yield http


def free_slot(client: httpx.Client, language: str = "de") -> dict[str, Any]:
    return SLOTS.one(client, language)


def book(client: httpx.Client, slot_id: str, phone: str, language: str = "de") -> dict[str, Any]:
    response = client.post("/v1/bookings", json={"slot_id": slot_id, "phone": phone, "language": language,
                                                 "channel": "web"})
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    return dict(response.json())


def slot_id_at(counsellor_id: int, location_id: int, type_id: int, start: datetime) -> str:
    return f"s2-{counsellor_id}-{location_id}-{type_id}-{int(start.timestamp()) // 60}"


def parts(slot_id: str) -> tuple[int, int, int, datetime]:
    _, counsellor, location, type_id, minutes = slot_id.split("-")
    return int(counsellor), int(location), int(type_id), datetime.fromtimestamp(int(minutes) * 60, BERLIN)


def assert_rejected(body: dict[str, Any], reason: str, *words: str) -> None:
    assert body["status"] == "rejected"
    assert body["reason"] == reason
    message = body["message"]
    assert isinstance(message, str) and message[0].isupper() and message.endswith("."), message
    assert "_" not in message, "the message is for a person, not a reason code"
    for word in words:
        assert word.lower() in message.lower(), (word, message)
    assert body["slot"] is None


def test_an_unknown_slot_id_is_rejected_with_a_reason(client: httpx.Client) -> None:
    listed = free_slot(client)
    counsellor, location, type_id, start = parts(listed["slot_id"])
    unknown = {
        "no such counsellor": slot_id_at(999, location, type_id, start),
        "no such place": slot_id_at(counsellor, 999, type_id, start),
        "no such kind of appointment": slot_id_at(counsellor, location, 999, start),
        "not a slot start": slot_id_at(counsellor, location, type_id, start + timedelta(minutes=7)),
        "outside the opening hours": slot_id_at(counsellor, location, type_id,
                                                (start + timedelta(days=7)).replace(hour=3)),
    }
    tokens = {case: book(client, slot_id, "+4915112350001")["manage_token"] for case, slot_id in unknown.items()}
    for case, token in tokens.items():
        body = wait_for_status(client, token, "rejected")
        assert_rejected(body, "unknown_slot", "choose a time")
        assert body["alternatives"] == [], case


def test_a_well_formed_slot_in_the_past_is_rejected_with_a_reason(client: httpx.Client) -> None:
    counsellor, location, type_id, start = parts(free_slot(client)["slot_id"])
    # The same weekday and wall-clock time a week earlier: inside the opening hours, but gone.
    last_week = datetime.combine(start.date() - timedelta(days=7), start.time(), tzinfo=BERLIN)
    assert last_week < datetime.now(BERLIN)
    token = book(client, slot_id_at(counsellor, location, type_id, last_week), "+4915112350002")["manage_token"]
    assert_rejected(wait_for_status(client, token, "rejected"), "slot_in_past", "later time")


def test_a_slot_taken_by_someone_else_is_rejected_with_alternatives(system: System, client: httpx.Client) -> None:
    slot = free_slot(client)
    first = book(client, slot["slot_id"], "+4915112350003")
    confirmed = wait_for_status(client, first["manage_token"], "confirmed")
    assert confirmed["slot"]["slot_id"] == slot["slot_id"]
    assert slot["slot_id"] not in {s["slot_id"] for s in client.get("/v1/slots", params={"language": "de"})
                                   .json()["slots"]}, "a confirmed slot is still offered"

    second = book(client, slot["slot_id"], "+4915112350004")
    rejected = wait_for_status(client, second["manage_token"], "rejected")
    assert_rejected(rejected, "slot_taken", "taken", "another time")
    alternatives = rejected["alternatives"]
    assert 1 <= len(alternatives) <= 3
    assert slot["slot_id"] not in {a["slot_id"] for a in alternatives}
    for alternative in alternatives:
        assert OFFSET.match(alternative["start"]), alternative
        assert datetime.fromisoformat(alternative["start"]) > datetime.now(BERLIN)

    # An alternative is really free: booking it is confirmed. Only the two confirmed bookings got an SMS.
    SLOTS.take(alternatives[0])
    third = book(client, alternatives[0]["slot_id"], "+4915112350005")
    wait_for_status(client, third["manage_token"], "confirmed")
    poll(lambda: any(third["manage_token"] in m["body"] for m in system.sink()), seconds=30)
    sent = [m["body"] for m in system.sink()]
    assert sum(first["manage_token"] in b for b in sent) == 1
    assert not any(second["manage_token"] in b for b in sent), "a rejected booking got an SMS"


def test_a_language_the_counsellor_does_not_speak_is_rejected(client: httpx.Client) -> None:
    # Only Bogdan speaks Bulgarian in the demo calendar; he speaks no Hungarian.
    slot = free_slot(client, language="bg")
    assert slot["counsellor"] == "Bogdan"
    token = book(client, slot["slot_id"], "+4915112350006", language="hu")["manage_token"]
    assert_rejected(wait_for_status(client, token, "rejected"), "language_not_offered", "language")


def test_cancelling_frees_the_slot_and_cancelling_twice_is_fine(client: httpx.Client) -> None:
    slot = free_slot(client)
    token = book(client, slot["slot_id"], "+4915112350007")["manage_token"]
    wait_for_status(client, token, "confirmed")

    cancelled = client.post(f"/v1/bookings/{token}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.headers["cache-control"] == "no-store"
    assert cancelled.json()["status"] == "cancelled"
    assert client.get(f"/v1/bookings/{token}").json()["status"] == "cancelled"

    again = client.post(f"/v1/bookings/{token}/cancel")
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "cancelled"

    def offered_again() -> bool:
        slots = client.get("/v1/slots", params={"language": "de"}).json()["slots"]
        return slot["slot_id"] in {s["slot_id"] for s in slots}

    poll(offered_again, seconds=30, interval=0.5)
    assert client.get(f"/v1/bookings/{token}").json()["status"] == "cancelled"


def test_a_booking_cancelled_while_pending_stays_cancelled_and_frees_the_slot(client: httpx.Client) -> None:
    slot = free_slot(client)
    token = book(client, slot["slot_id"], "+4915112350008")["manage_token"]
    cancelled = client.post(f"/v1/bookings/{token}/cancel")
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["status"] == "cancelled"

    # Whatever the scheduler decided meanwhile, the slot is free again and the booking stays cancelled.
    def offered_again() -> bool:
        slots = client.get("/v1/slots", params={"language": "de"}).json()["slots"]
        return slot["slot_id"] in {s["slot_id"] for s in slots}

    # Decided after the cancellation, and at a time that cannot clash with the freed one: the next free slot is
    # often the same counsellor's next half hour, which would rightly keep the freed time from being offered.
    apart = next(s for s in client.get("/v1/slots", params={"language": "de"}).json()["slots"]
                 if SLOTS.free(s) and s["counsellor"] != slot["counsellor"])
    SLOTS.take(apart)
    other = book(client, apart["slot_id"], "+4915112350009")
    wait_for_status(client, other["manage_token"], "confirmed")
    poll(offered_again, seconds=30, interval=0.5)
    assert client.get(f"/v1/bookings/{token}").json()["status"] == "cancelled"


def test_cancelling_a_rejected_booking_is_a_clear_409(client: httpx.Client) -> None:
    _, location, type_id, start = parts(free_slot(client)["slot_id"])
    token = book(client, slot_id_at(999, location, type_id, start), "+4915112350010")["manage_token"]
    wait_for_status(client, token, "rejected")

    response = client.post(f"/v1/bookings/{token}/cancel")
    assert response.status_code == 409, response.text
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "not_cancellable"
    assert "not confirmed" in body["detail"] and body["detail"].endswith(".")
    assert client.get(f"/v1/bookings/{token}").json()["status"] == "rejected"
