"""The public HTTP API against the real system (embedded default): its contract and its answers to bad input.

Issue "Lotse 1/6": every bad input gets a 4xx and a sentence a person understands, nothing returns 500, nothing is
half-written. One system serves the whole module; each test leaves it as it found it (the scheduler running).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import pytest
from gateway.api.schemas import Problem

from tests.support.slot_picking import SlotPicker
from tests.support.system import (
    System,
    assert_stays,
    poll,
    running_system_in_own_dir,
    wait_for_status,
)

SLOTS_TIMEOUT_SECONDS = 3.0  # the default, set explicitly so that the 503 test knows it
REFUSED_PHONE = "+4915199990777"  # used in every refused request: no SMS may ever go to ...777
TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,64}$")  # URL-safe base64: 22 characters carry 132 bits
OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?(\.\d+)?\+0[12]:00$")
BERLIN = ZoneInfo("Europe/Berlin")
SOON = datetime.now(BERLIN).date() + timedelta(days=3)


# --- the system and what it has written -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def system() -> Iterator[System]:
    with running_system_in_own_dir("lotse-booking-api-",
                                   {"SLOTS_TIMEOUT_SECONDS": str(SLOTS_TIMEOUT_SECONDS)}) as running:
        yield running


@pytest.fixture
def client(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url, timeout=20) as http:
        yield http


def rows(system: System, service: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{system.var_dir / (service + '.sqlite')}?mode=ro", uri=True, timeout=30) as db:
        return list(db.execute(sql, args).fetchall())


def booking_ids(system: System) -> set[str]:
    return {r[0] for r in rows(system, "gateway", "SELECT booking_id FROM booking_requests")}


def outbox_correlations(system: System) -> set[str]:
    return {r[0] for r in rows(system, "gateway", "SELECT correlation_id FROM outbox")}


def processed(system: System, service: str, message_type: str) -> int:
    return int(rows(system, service, "SELECT count(*) FROM processed_messages WHERE message_type = ?",
                    message_type)[0][0])


def settled(system: System) -> tuple[int, int]:
    """Wait until every booking the gateway holds has reached the scheduler and the notifier; return the counts."""

    def check() -> tuple[int, int] | None:
        known = len(booking_ids(system))
        counts = processed(system, "scheduler", "booking.requested"), processed(system, "notifier",
                                                                                "contact.registered")
        return counts if counts == (known, known) and not outbox_correlations(system) else None

    counts: tuple[int, int] = poll(check, seconds=60, interval=0.2)
    return counts


def sms_for(system: System, token: str) -> list[dict[str, Any]]:
    return [m for m in system.sink() if token in m["body"]]


SLOTS = SlotPicker()


def free_slots(client: httpx.Client, count: int, language: str = "de") -> list[dict[str, Any]]:
    return SLOTS.many(client, count, language)


def free_slot(client: httpx.Client, language: str = "de") -> dict[str, Any]:
    return free_slots(client, 1, language)[0]


def wait_decided(client: httpx.Client, token: str) -> dict[str, Any]:
    return dict(poll(lambda: (b := client.get(f"/v1/bookings/{token}").json())["status"] != "pending" and b,
                     seconds=30))


def sms_tokens(system: System) -> list[str]:
    return [m for s in system.sink() for m in re.findall(r"/m/([A-Za-z0-9_-]+)", s["body"])]


def assert_problem(response: httpx.Response, status: int, code: str, *words: str) -> str:
    """One error shape everywhere: {"detail": a sentence, "code": a machine code}; no trace, no echoed input."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == set(Problem.model_fields) == {"detail", "code"}
    assert body["code"] == code, body
    detail = body["detail"]
    assert isinstance(detail, str) and 10 <= len(detail) <= 300, detail
    assert detail.lstrip("'\"")[0].isupper() and detail.endswith("."), f"not a sentence: {detail!r}"
    for leak in ("Traceback", 'File "', "Error:", "Exception", "pydantic", "sqlalchemy", "  is required"):
        assert leak not in response.text, response.text
    assert REFUSED_PHONE not in response.text and "15199990777" not in response.text, "the phone number was echoed"
    for word in words:
        assert word.lower() in detail.lower(), f"{word!r} not in {detail!r}"
    return detail


# --- bad booking requests ----------------------------------------------------------------------------------------

def good_body(slot_id: str) -> dict[str, Any]:
    return {"slot_id": slot_id, "phone": REFUSED_PHONE, "language": "de", "channel": "web"}


def _with(**changes: Any) -> Any:
    def build(slot_id: str) -> dict[str, Any]:
        body = good_body(slot_id)
        for key, value in changes.items():
            if value is _DROP:
                body.pop(key)
            else:
                body[key] = value
        return body
    return build


_DROP = object()
PADDING = "x" * (17 * 1024)

# id -> (builds the request from a free slot id, status, code, words the message must contain)
BAD_REQUESTS: dict[str, tuple[Any, int, str, tuple[str, ...]]] = {
    "phone-letters": (_with(phone="call me maybe"), 422, "invalid_phone", ("phone number",)),
    "phone-letters-and-digits": (_with(phone="0151abcdefgh"), 422, "invalid_phone", ("phone number",)),
    "phone-too-short": (_with(phone="0151"), 422, "invalid_phone", ("phone number",)),
    "phone-two-digits": (_with(phone="12"), 422, "invalid_request", ("phone",)),
    "phone-empty": (_with(phone=""), 422, "invalid_request", ("phone",)),
    "phone-too-long": (_with(phone="+49151" + "1" * 40), 422, "invalid_request", ("phone",)),
    "phone-uk-without-plus": (_with(phone="447700900123"), 422, "invalid_phone", ("number",)),
    "phone-us-without-plus": (_with(phone="12025550123"), 422, "invalid_phone", ("number",)),
    "phone-landline": (_with(phone="+49 30 12345678"), 422, "invalid_phone", ("mobile",)),
    "phone-not-a-string": (_with(phone=4915199990777), 422, "invalid_request", ("phone",)),
    "language-unsupported": (_with(language="xx"), 422, "invalid_request", ("language", "de, en")),
    "language-missing": (_with(language=_DROP), 422, "invalid_request", ("language is required",)),
    "slot-missing": (_with(slot_id=_DROP), 422, "invalid_request", ("slot_id is required",)),
    "slot-null": (_with(slot_id=None), 422, "invalid_request", ("slot_id",)),
    "slot-malformed": (_with(slot_id="tomorrow 10:00"), 422, "invalid_request", ("slot_id",)),
    "slot-time-out-of-range": (_with(slot_id="s2-1-1-1-999999999999"), 422, "invalid_request", ("slot_id",)),
    "extra-field": (_with(name="Maria"), 422, "invalid_request", ("unexpected field 'name'",)),
    "channel-sms": (_with(channel="sms"), 422, "invalid_request", ("channel",)),
    "channel-empty": (_with(channel=""), 422, "invalid_request", ("channel",)),
    "topic-unknown": (_with(topic="astrology"), 422, "invalid_request", ("topic",)),
    "preferences-unknown-weekday": (
        _with(preferences={"safe_window": {"days": ["mon", "someday"], "start": "10:00", "end": "18:00"}}), 422,
        "invalid_request", ("preferences.safe_window.days", "weekdays")),
    "preferences-end-before-start": (
        _with(preferences={"safe_window": {"days": ["mon"], "start": "18:00", "end": "10:00"}}), 422,
        "invalid_request", ("end after it starts",)),
    "preferences-extra-field": (_with(preferences={"reminders": False, "quiet": True}), 422, "invalid_request",
                                ("unexpected field 'preferences.quiet'",)),
    "body-17-kb": (_with(padding=PADDING), 413, "body_too_large", ("16 KB",)),
    "body-a-list": (lambda s: [good_body(s)], 422, "invalid_request", ("JSON object",)),
    "body-null": (lambda s: None, 422, "invalid_request", ("JSON object",)),
    "body-a-string": (lambda s: "book me", 422, "invalid_request", ("JSON object",)),
    "body-empty-object": (lambda s: {}, 422, "invalid_request", ("slot_id is required",)),
}

RAW_BAD_REQUESTS: dict[str, tuple[bytes, dict[str, str], int, str, tuple[str, ...]]] = {
    "not-json": (b'{"slot_id": "s2-1-1-1-29926740", phone: +49', {"content-type": "application/json"}, 422,
                 "invalid_request", ("JSON",)),
    "empty-body": (b"", {"content-type": "application/json"}, 422, "invalid_request", ("JSON",)),
    "form-encoded": (b"slot_id=s2-1-1-1-29926740&phone=%2B4915199990777&language=de",
                     {"content-type": "application/x-www-form-urlencoded"}, 422, "invalid_request", ("JSON",)),
    "not-utf8": (b'{"slot_id": "\xff\xfe"}', {"content-type": "application/json"}, 400, "invalid_request",
                 ("JSON",)),
}

BAD_KEYS = {
    "key-too-short": "abc123",
    "key-with-spaces": "my key with spaces",
    "key-200-chars": "k" * 200,
    "key-65-chars": "k" * 65,
    "key-punctuation": "key.with/slash+plus",
    "key-empty": "",
}


def _send_bad(client: httpx.Client, case: str, slot_id: str) -> tuple[httpx.Response, int, str, tuple[str, ...]]:
    if case in BAD_REQUESTS:
        build, status, code, words = BAD_REQUESTS[case]
        return client.post("/v1/bookings", json=build(slot_id)), status, code, words
    if case in RAW_BAD_REQUESTS:
        raw, headers, status, code, words = RAW_BAD_REQUESTS[case]
        return client.post("/v1/bookings", content=raw, headers=headers), status, code, words
    key = BAD_KEYS[case]
    response = client.post("/v1/bookings", json=good_body(slot_id), headers={"Idempotency-Key": key})
    return response, 400, "invalid_idempotency_key", ("Idempotency-Key", "8 to 64")


ALL_BAD = [*BAD_REQUESTS, *RAW_BAD_REQUESTS, *BAD_KEYS]


@pytest.mark.parametrize("case", ALL_BAD)
def test_bad_booking_request_is_refused_with_a_message_and_nothing_is_written(
    system: System, client: httpx.Client, case: str
) -> None:
    slot_id = free_slot(client)["slot_id"]
    before = booking_ids(system)
    response, status, code, words = _send_bad(client, case, slot_id)
    assert_problem(response, status, code, *words)
    # Nothing half-written: no booking row, and no message waiting in (or already gone from) the outbox for one.
    assert booking_ids(system) == before
    assert outbox_correlations(system) <= before


def test_a_body_over_16_kb_is_refused_even_when_its_length_is_not_declared(
    system: System, client: httpx.Client
) -> None:
    before = booking_ids(system)
    payload = json.dumps({**good_body(free_slot(client)["slot_id"]), "padding": PADDING}).encode()

    def chunks() -> Iterator[bytes]:  # a generator body is sent chunked, without Content-Length
        for start in range(0, len(payload), 4096):
            yield payload[start:start + 4096]

    response = client.post("/v1/bookings", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "body_too_large", "16 KB")
    assert booking_ids(system) == before


def test_a_body_just_under_16_kb_is_not_refused_for_its_size(system: System, client: httpx.Client) -> None:
    """The limit is 16 KB, not less: a padded body under it reaches validation (and is refused there)."""
    body = json.dumps({**good_body(free_slot(client)["slot_id"]), "padding": ""})
    body = body.replace('"padding": ""', '"padding": "' + "x" * (16 * 1024 - len(body) - 10) + '"')
    assert len(body.encode()) < 16 * 1024
    response = client.post("/v1/bookings", content=body, headers={"content-type": "application/json"})
    assert_problem(response, 422, "invalid_request", "unexpected field 'padding'")


def test_refused_requests_reach_no_other_service_and_send_no_sms(system: System, client: httpx.Client) -> None:
    """After every refusal above, one good booking: it must be the only thing the scheduler and notifier saw."""
    slot = free_slot(client)
    gateway_before = booking_ids(system)
    scheduler_before, notifier_before = settled(system)
    for case in ALL_BAD:
        response, status, _code, _words = _send_bad(client, case, slot["slot_id"])
        assert response.status_code == status, (case, response.text)

    marker = client.post("/v1/bookings", json={**good_body(slot["slot_id"]), "phone": "+4915112340001"})
    assert marker.status_code == 202, marker.text
    accepted = marker.json()
    wait_for_status(client, accepted["manage_token"], "confirmed")
    poll(lambda: sms_for(system, accepted["manage_token"]), seconds=30)

    assert booking_ids(system) == gateway_before | {accepted["booking_id"]}
    assert settled(system) == (scheduler_before + 1, notifier_before + 1)
    assert_stays(lambda: len(sms_for(system, accepted["manage_token"])), 1)  # and no late duplicate
    # Every SMS ever sent belongs to a booking the gateway holds; none went to a refused request's number.
    hashes = {r[0] for r in rows(system, "gateway", "SELECT manage_token_hash FROM booking_requests")}
    assert {hashlib.sha256(t.encode()).hexdigest() for t in sms_tokens(system)} <= hashes
    assert len(sms_tokens(system)) == len(system.sink())
    assert not [m for m in system.sink() if m["to"].endswith("777")], "an SMS went to a refused request's number"


# --- the accepted booking and the manage token ------------------------------------------------------------------

def test_a_booking_is_accepted_with_the_documented_body(system: System, client: httpx.Client) -> None:
    slot = free_slot(client)
    response = client.post("/v1/bookings", json={"slot_id": slot["slot_id"], "phone": "0151 1234 0002",
                                                 "language": "de", "channel": "web"})
    assert response.status_code == 202, response.text
    assert response.headers["cache-control"] == "no-store"
    assert "idempotent-replayed" not in response.headers
    body = response.json()
    assert set(body) == {"booking_id", "status", "manage_token", "manage_url"}
    assert body["status"] == "pending"
    UUID(body["booking_id"])
    assert TOKEN.match(body["manage_token"]), body["manage_token"]
    assert body["manage_url"] == f"{system.url}/m/{body['manage_token']}"

    status = client.get(f"/v1/bookings/{body['manage_token']}")
    assert status.status_code == 200
    assert status.headers["cache-control"] == "no-store"
    assert status.json()["booking_id"] == body["booking_id"]
    assert status.json()["status"] in ("pending", "confirmed")
    assert {"status", "reason", "slot"} <= set(status.json())

    confirmed = wait_for_status(client, body["manage_token"], "confirmed")
    assert confirmed["slot"]["slot_id"] == slot["slot_id"]
    assert confirmed["reason"] is None
    assert OFFSET.match(confirmed["slot"]["start"]), confirmed["slot"]


def test_manage_tokens_carry_at_least_128_random_bits(system: System, client: httpx.Client) -> None:
    tokens = []
    for i, slot in enumerate(free_slots(client, 8, language="en")):
        response = client.post("/v1/bookings", json={"slot_id": slot["slot_id"], "phone": f"+49151123410{i:02d}",
                                                     "language": "en", "channel": "web"})
        assert response.status_code == 202, response.text
        tokens.append(response.json()["manage_token"])
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        assert TOKEN.match(token), token
        assert len(token) * 6 >= 128
    # Random, not a counter or a timestamp: no two tokens share a long prefix.
    prefixes = {t[:6] for t in tokens}
    assert len(prefixes) == len(tokens)


def test_the_manage_token_is_stored_only_as_a_hash(system: System, client: httpx.Client) -> None:
    plain = client.post("/v1/bookings", json={"slot_id": free_slot(client)["slot_id"], "phone": "+4915112340003",
                                              "language": "de", "channel": "web"}).json()
    keyed = client.post("/v1/bookings", json={"slot_id": free_slot(client)["slot_id"], "phone": "+4915112340004",
                                              "language": "de", "channel": "web"},
                        headers={"Idempotency-Key": secrets.token_urlsafe(16)}).json()
    for accepted in (plain, keyed):
        wait_decided(client, accepted["manage_token"])
    stored = b"".join(path.read_bytes() for path in sorted(system.var_dir.glob("gateway.sqlite*")))
    logs = system.log("gateway")
    for accepted in (plain, keyed):
        token = accepted["manage_token"]
        assert hashlib.sha256(token.encode()).hexdigest().encode() in stored, "looked in the wrong file"
        assert token.encode() not in stored, "the manage token is stored in clear"
        assert token not in logs, "the manage token is in the gateway log"


@pytest.mark.parametrize("token", [
    "tZ3f0Wm4bG9yY2Vt0NOTREAL",  # right length and alphabet, never issued
    "x",
    "short-15-chars_",
    "a" * 65,
    "a" * 2000,
    "%00%00%00%00%00%00%00%00%00%00%00",
    "%C3%A4" * 22,
    "..%2E%2E%5Cetc%5Cpasswd-xxxxxxx",
    "%FF%FE" * 11,
])
def test_an_unknown_or_malformed_manage_token_is_a_404_with_a_message(client: httpx.Client, token: str) -> None:
    assert_problem(client.get(f"/v1/bookings/{token}"), 404, "not_found", "no booking")
    assert_problem(client.post(f"/v1/bookings/{token}/cancel"), 404, "not_found", "no booking")
    assert_problem(client.post(f"/v1/bookings/{token}/preferences", json={"reminders": False}), 404, "not_found",
                   "no booking")


# --- idempotency ------------------------------------------------------------------------------------------------

def test_the_same_idempotency_key_and_body_give_the_same_booking_and_one_sms(
    system: System, client: httpx.Client
) -> None:
    slot = free_slot(client, language="pl")
    key = "retry-" + secrets.token_hex(8)
    body = {"slot_id": slot["slot_id"], "phone": "+4915112340005", "language": "pl", "channel": "web"}
    first = client.post("/v1/bookings", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    assert "idempotent-replayed" not in first.headers
    token = first.json()["manage_token"]
    wait_for_status(client, token, "confirmed")
    poll(lambda: sms_for(system, token), seconds=30)

    for _ in range(3):
        again = client.post("/v1/bookings", json=body, headers={"Idempotency-Key": key})
        assert again.status_code == 202, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["cache-control"] == "no-store"
        assert again.json()["booking_id"] == first.json()["booking_id"]
        assert again.json()["manage_token"] == token

    assert rows(system, "gateway", "SELECT count(*) FROM booking_requests WHERE idempotency_key = ?", key) == [(1,)]
    settled(system)
    assert_stays(lambda: len(sms_for(system, token)), 1)  # and no late duplicate


def test_the_same_idempotency_key_with_another_body_is_refused(system: System, client: httpx.Client) -> None:
    key = "other-body-" + secrets.token_hex(8)
    body = {"slot_id": free_slot(client)["slot_id"], "phone": "+4915112340006", "language": "de", "channel": "web"}
    assert client.post("/v1/bookings", json=body, headers={"Idempotency-Key": key}).status_code == 202
    before = booking_ids(system)
    for change in ({"slot_id": free_slot(client)["slot_id"]}, {"phone": "+4915112340007"}, {"language": "en"}):
        response = client.post("/v1/bookings", json={**body, **change}, headers={"Idempotency-Key": key})
        assert_problem(response, 422, "idempotency_key_reused", "Idempotency-Key", "different")
    assert booking_ids(system) == before


def test_ten_concurrent_requests_with_one_idempotency_key_make_one_booking(
    system: System, client: httpx.Client
) -> None:
    slot = free_slot(client, language="uk")
    key = "concurrent-" + secrets.token_hex(8)
    body = {"slot_id": slot["slot_id"], "phone": "+4915112340008", "language": "uk", "channel": "web"}

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=system.url, timeout=30) as own:
            return own.post("/v1/bookings", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(send, range(10)))
    assert [r.status_code for r in responses] == [202] * 10, [r.text for r in responses]
    assert len({r.json()["booking_id"] for r in responses}) == 1
    assert len({r.json()["manage_token"] for r in responses}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in responses) == 1
    assert rows(system, "gateway", "SELECT count(*) FROM booking_requests WHERE idempotency_key = ?", key) == [(1,)]
    token = responses[0].json()["manage_token"]
    wait_for_status(client, token, "confirmed")
    poll(lambda: sms_for(system, token), seconds=30)
    settled(system)
    assert_stays(lambda: len(sms_for(system, token)), 1)  # and no late duplicate


# --- the client's choices about texts ----------------------------------------------------------------------------

def test_choices_about_texts_reach_the_notifier_change_by_token_and_end_with_the_booking(
    system: System, client: httpx.Client
) -> None:
    """Reminders off and weekday evenings, given with the booking: the confirmation the client asked for still
    comes; the choice shows on the booking, changes by manage token (and reaches the notifier), and a cancelled
    booking takes no new choice."""
    evenings = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "17:00", "end": "20:00"}
    response = client.post("/v1/bookings", json={**good_body(free_slot(client)["slot_id"]), "phone": "+4915112340010",
                                                 "preferences": {"reminders": False, "safe_window": evenings}})
    assert response.status_code == 202, response.text
    token = response.json()["manage_token"]
    confirmed = wait_for_status(client, token, "confirmed")
    assert confirmed["preferences"] == {"reminders": False, "safe_window": {**evenings, "start": "17:00:00",
                                                                             "end": "20:00:00"}}
    poll(lambda: sms_for(system, token), seconds=30)
    settled(system)  # contact.registered (v2, with the choice) was read by the notifier like every other

    before = processed(system, "notifier", "contact.preferences_changed")
    changed = client.post(f"/v1/bookings/{token}/preferences", json={"reminders": True})
    assert changed.status_code == 202, changed.text
    assert changed.json()["preferences"] == {"reminders": True, "safe_window": None}
    assert client.get(f"/v1/bookings/{token}").json()["preferences"] == {"reminders": True, "safe_window": None}
    poll(lambda: processed(system, "notifier", "contact.preferences_changed") == before + 1, seconds=30)
    assert processed(system, "scheduler", "contact.preferences_changed") == 0

    assert client.post(f"/v1/bookings/{token}/cancel").status_code == 202
    assert_problem(client.post(f"/v1/bookings/{token}/preferences", json={"reminders": False}), 409,
                   "not_changeable", "cancelled")


# --- one error shape, and the published contract ----------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/v1/nothing-here", 404),
    ("DELETE", "/v1/bookings", 405),
    ("PUT", "/v1/slots", 405),
])
def test_routing_errors_have_the_same_shape(client: httpx.Client, method: str, path: str, status: int) -> None:
    assert_problem(client.request(method, path), status, "http_error")


def test_openapi_lists_the_endpoints_and_the_error_shape(client: httpx.Client) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    paths = spec["paths"]
    assert "post" in paths["/v1/bookings"]
    assert "get" in paths["/v1/bookings/{manage_token}"]
    assert "post" in paths["/v1/bookings/{manage_token}/cancel"]
    assert "post" in paths["/v1/bookings/{manage_token}/preferences"]
    assert "preferences" in spec["components"]["schemas"]["BookingIn"]["properties"]
    assert "preferences" in spec["components"]["schemas"]["BookingStatus"]["properties"]
    assert set(spec["components"]["schemas"]["SafeWindow"]["properties"]) == {"days", "start", "end"}
    assert "get" in paths["/v1/slots"]
    params = {p["name"] for p in paths["/v1/slots"]["get"]["parameters"]}
    assert {"topic", "language", "location", "from", "to"} <= params
    assert any(p["name"] == "Idempotency-Key" for p in paths["/v1/bookings"]["post"]["parameters"])
    assert set(spec["components"]["schemas"]["Problem"]["properties"]) == {"detail", "code"}
    for path, method, status in (("/v1/bookings", "post", "413"), ("/v1/bookings/{manage_token}", "get", "404"),
                                 ("/v1/slots", "get", "503")):
        schema = paths[path][method]["responses"][status]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/Problem")


# --- slots ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("params", "words"), [
    ({"from": "tomorrow"}, ("from",)),
    ({"from": "2026-13-01"}, ("from",)),
    ({"to": "2026-02-30"}, ("to",)),
    ({"from": str(SOON + timedelta(days=9)), "to": str(SOON)}, ("'to'", "before")),
    ({"from": str(SOON), "to": str(SOON + timedelta(days=90))}, ("90 days",)),
    ({"from": str(SOON + timedelta(days=400))}, ("'from'",)),
    ({"from": "9999-12-31"}, ("from",)),
    ({"from": "9999-12-20", "to": "9999-12-31"}, ("from",)),
    ({"language": "xx"}, ("language",)),
    ({"topic": "astrology"}, ("topic",)),
    ({"location": "0"}, ("location",)),
    ({"location": "Rostock"}, ("location",)),
    ({"mode": "teleport"}, ("mode",)),
])
def test_a_bad_slot_search_is_a_422_with_a_message(client: httpx.Client, params: dict[str, str],
                                                   words: tuple[str, ...]) -> None:
    response = client.get("/v1/slots", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["code"] in ("invalid_request", "invalid_search")
    assert_problem(response, 422, response.json()["code"], *words)


def _next_clock_change(day: date) -> date:
    """The next date on which Berlin's offset at noon differs from the day before (at most ~7 months ahead)."""
    def offset(d: date) -> timedelta | None:
        return datetime.combine(d, datetime.min.time().replace(hour=12), tzinfo=BERLIN).utcoffset()

    while offset(day + timedelta(days=1)) == offset(day):
        day += timedelta(days=1)
    return day + timedelta(days=1)


def test_slot_times_are_iso_8601_with_the_berlin_offset_on_both_sides_of_a_dst_change(
    client: httpx.Client,
) -> None:
    # A change whose week before lies wholly ahead (a change this weekend would leave no slot before it); career
    # appointments can be booked eight months ahead, so even the one after that is within reach.
    change = _next_clock_change(datetime.now(BERLIN).date() + timedelta(days=8))
    response = client.get("/v1/slots", params={"topic": "career", "from": str(change - timedelta(days=7)),
                                               "to": str(change + timedelta(days=7))})
    assert response.status_code == 200, response.text
    slots = response.json()["slots"]
    assert slots
    offsets = set()
    for slot in slots:
        for field in ("start", "end"):
            assert OFFSET.match(slot[field]), slot[field]
            moment = datetime.fromisoformat(slot[field])
            assert moment.utcoffset() == moment.astimezone(BERLIN).utcoffset()
            offsets.add(slot[field][-6:])
    assert offsets == {"+01:00", "+02:00"}


def test_a_slot_search_right_after_a_booking_is_answered(system: System, client: httpx.Client) -> None:
    """Regression: the question and the outbox relay's messages published at once; one of them was dropped."""
    for i, slot in enumerate(free_slots(client, 5, language="en")):
        accepted = client.post("/v1/bookings", json={"slot_id": slot["slot_id"], "phone": f"+49151123420{i:02d}",
                                                     "language": "en", "channel": "web"})
        assert accepted.status_code == 202, accepted.text
        search = client.get("/v1/slots", params={"language": "de"})
        assert search.status_code == 200, search.text
        wait_decided(client, accepted.json()["manage_token"])  # the booking's own messages were not dropped either


def test_slots_answer_503_with_a_message_when_the_scheduler_does_not_answer(
    system: System, client: httpx.Client
) -> None:
    system.stop("scheduler")
    try:
        started = time.monotonic()
        # A question no other test asks: the gateway may remember the answer to one asked a moment ago
        # (SLOTS_CACHE_SECONDS, tests/integration/test_slot_search_answers.py).
        first = date.today() + timedelta(days=51)
        response = client.get("/v1/slots", params={"language": "de", "from": first.isoformat(),
                                                   "to": (first + timedelta(days=2)).isoformat()})
        waited = time.monotonic() - started
        assert_problem(response, 503, "scheduler_unavailable", "try again")
        assert response.headers.get("retry-after")
        assert SLOTS_TIMEOUT_SECONDS - 0.2 <= waited <= SLOTS_TIMEOUT_SECONDS + 2, waited
        # Bookings are still accepted: they wait in the broker for the scheduler. (Seven past is no slot start.)
        minutes = int(time.time()) // 60 + 7 * 24 * 60
        accepted = client.post("/v1/bookings", json={"slot_id": f"s2-2-2-1-{minutes - minutes % 60 + 7}",
                                                     "phone": "+4915112340009", "language": "de",
                                                     "channel": "web"})
        assert accepted.status_code == 202, accepted.text
    finally:
        system.start("scheduler")
    poll(lambda: client.get("/v1/slots", params={"language": "de"}).status_code == 200, seconds=60, interval=0.5)
    wait_for_status(client, accepted.json()["manage_token"], "rejected")
