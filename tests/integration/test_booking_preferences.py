"""The client decides what is safe (issue "Lotse 3/6"): reminders off, or a window when texts may arrive, given with
the booking (`preferences` of POST /v1/bookings) or later by manage token (POST /v1/bookings/{token}/preferences).

The gateway's real API routes and BookingService on PostgreSQL with the relay stopped, so every message the gateway
means to send is still in its outbox to be read: the choices travel to the notifier (contact.registered v2,
contact.preferences_changed) and never to the scheduler (booking.requested).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gateway import handlers, migrations
from gateway.api import bookings as bookings_api
from gateway.api import errors
from gateway.bookings import BookingService
from gateway.limits import ClientLimitPolicy, ClientLimits
from gateway.repository import GatewayRepository
from gateway.settings import GatewaySettings
from sqlalchemy import Engine, text

from shared.contracts import BookingRejected, ContactPreferences, wrap
from shared.crypto import DataCipher, generate_data_key, parse_data_key
from shared.db import make_engine
from shared.unit_of_work import UnitOfWork
from tests.support import infra

NOW = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)  # the Friday before the clocks go forward in Berlin
SLOT = "s2-1-1-1-29580000"
PHONE = "+4915112340555"
WEEKDAYS_10_TO_18 = {"reminders": True,
                     "safe_window": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "10:00", "end": "18:00"}}


@pytest.fixture(scope="module")
def postgres_url(infrastructure: None) -> Iterator[str]:
    """One database for the module (creating one per test would cost seconds each); emptied before every test."""
    databases = infra.create_databases("lotse_prefs")
    yield databases.gateway
    infra.drop_databases(databases)


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        built = make_engine(request.getfixturevalue("postgres_url"))
    else:
        built = make_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}")
    migrations.upgrade(built)
    with built.begin() as connection:
        for table in ("booking_preferences", "booking_requests", "outbox", "rate_events"):
            connection.execute(text(f"DELETE FROM {table}"))
    yield built
    built.dispose()


@pytest.fixture
def service(engine: Engine) -> BookingService:
    cipher = DataCipher(parse_data_key(generate_data_key()))
    # Limits out of reach: these tests book one number many times (test_abuse_limits.py checks the limits).
    roomy = ClientLimitPolicy(**dict.fromkeys(ClientLimitPolicy.__dataclass_fields__, 10_000))
    return BookingService(engine, cipher, lambda: None, lambda: NOW, ClientLimits(roomy, cipher.lookup_hash, engine,
                                                                                  lambda: NOW))


@pytest.fixture
def client(service: BookingService, tmp_path: Path) -> Iterator[TestClient]:
    app = FastAPI()
    errors.install(app)
    app.include_router(bookings_api.router)
    settings = GatewaySettings(var_dir=tmp_path, gateway_database_url="sqlite://", public_base_url="http://127.0.0.1:8000")
    app.state.gateway = SimpleNamespace(bookings=service, settings=settings, limits=service.limits)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def sql(engine: Engine, statement: str, **params: object) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(statement), params).all())


def outbox(engine: Engine, message_type: str) -> list[dict[str, Any]]:
    """The payloads waiting in the outbox for one message type, oldest first."""
    found = sql(engine, "SELECT body FROM outbox WHERE routing_key = :type ORDER BY id", type=message_type)
    return [json.loads(body)["payload"] for (body,) in found]


def book(client: TestClient, preferences: object = None, key: str | None = None, **changes: object) -> Any:
    body: dict[str, object] = {"slot_id": SLOT, "phone": PHONE, "language": "de", "channel": "web", **changes}
    if preferences is not None:
        body["preferences"] = preferences
    return client.post("/v1/bookings", json=body, headers={"Idempotency-Key": key} if key else {})


def assert_sentence(response: httpx.Response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "code"} and body["code"] == code, body
    detail = body["detail"]
    assert detail[0].isupper() and detail.endswith("."), detail
    for leak in ("pydantic", "Input should", "Value error", "Traceback", "literal_error"):
        assert leak not in detail, detail
    for word in words:
        assert word.lower() in detail.lower(), (word, detail)


# --- given with the booking -----------------------------------------------------------------------------------


def test_a_booking_without_preferences_gets_reminders_at_any_time(client: TestClient, engine: Engine) -> None:
    accepted = book(client)
    assert accepted.status_code == 202, accepted.text
    shown = client.get(f"/v1/bookings/{accepted.json()['manage_token']}").json()
    assert shown["preferences"] == {"reminders": True, "safe_window": None}
    [contact] = outbox(engine, "contact.registered")
    assert contact["preferences"] == {"reminders": True, "safe_window": None}
    assert sql(engine, "SELECT count(*) FROM booking_preferences") == [(0,)]  # the usual booking writes no row


@pytest.mark.parametrize("preferences", [
    pytest.param({"reminders": False}, id="reminders-off"),
    pytest.param(WEEKDAYS_10_TO_18, id="weekdays-10-to-18"),
    pytest.param({"reminders": False, "safe_window": {"days": ["sat"], "start": "08:30", "end": "09:15"}},
                 id="off-and-a-window-for-other-texts"),
    pytest.param({"safe_window": {"days": ["sun", "mon"], "start": "00:00", "end": "23:59"}}, id="whole-days"),
])
def test_preferences_given_with_the_booking_go_to_the_notifier_and_show_on_the_booking(
    client: TestClient, engine: Engine, preferences: dict[str, Any]
) -> None:
    accepted = book(client, preferences)
    assert accepted.status_code == 202, accepted.text
    expected = ContactPreferences.model_validate(preferences)

    shown = client.get(f"/v1/bookings/{accepted.json()['manage_token']}")
    assert ContactPreferences.model_validate(shown.json()["preferences"]) == expected
    [contact] = outbox(engine, "contact.registered")
    assert ContactPreferences.model_validate(contact["preferences"]) == expected
    assert contact["booking_id"] == accepted.json()["booking_id"]


def test_the_scheduler_never_learns_the_clients_choices(client: TestClient, engine: Engine) -> None:
    assert book(client, {"reminders": False, **{"safe_window": WEEKDAYS_10_TO_18["safe_window"]}}).status_code == 202
    [requested] = sql(engine, "SELECT body FROM outbox WHERE routing_key = 'booking.requested'")
    payload = json.loads(requested[0])["payload"]
    assert "preferences" not in payload
    assert not {"reminders", "safe_window", "days"} & set(json.dumps(payload).replace('"', " ").split())


# id -> (preferences, words the sentence must contain)
BAD_PREFERENCES: dict[str, tuple[object, tuple[str, ...]]] = {
    "unknown-weekday": ({"safe_window": {"days": ["mon", "funday"], "start": "10:00", "end": "18:00"}},
                        ("preferences.safe_window.days", "mon, tue")),
    "weekday-capitalised": ({"safe_window": {"days": ["Mon"], "start": "10:00", "end": "18:00"}},
                            ("weekdays written",)),
    "end-before-start": ({"safe_window": {"days": ["mon"], "start": "18:00", "end": "10:00"}},
                         ("end after it starts",)),
    "end-equals-start": ({"safe_window": {"days": ["mon"], "start": "10:00", "end": "10:00"}},
                         ("end after it starts",)),
    "duplicate-days": ({"safe_window": {"days": ["mon", "tue", "mon"], "start": "10:00", "end": "18:00"}},
                       ("each weekday at most once",)),
    "eight-days": ({"safe_window": {"days": ["mon"] * 8, "start": "10:00", "end": "18:00"}},
                   ("at most once",)),
    "no-days": ({"safe_window": {"days": [], "start": "10:00", "end": "18:00"}}, ("at least one weekday",)),
    "days-a-string": ({"safe_window": {"days": "weekdays", "start": "10:00", "end": "18:00"}},
                      ("list of weekdays",)),
    "hour-25": ({"safe_window": {"days": ["mon"], "start": "25:00", "end": "26:00"}},
                ("preferences.safe_window.start", "time of day")),
    "time-with-offset": ({"safe_window": {"days": ["mon"], "start": "10:00+02:00", "end": "18:00"}},
                         ("without an offset",)),
    "end-missing": ({"safe_window": {"days": ["mon"], "start": "10:00"}},
                    ("preferences.safe_window.end is required",)),
    "window-a-string": ({"safe_window": "evenings"}, ("preferences.safe_window", "days, start and end")),
    "reminders-maybe": ({"reminders": "maybe"}, ("preferences.reminders", "true or false")),
    "extra-field": ({"reminders": True, "sender": "x"}, ("unexpected field 'preferences.sender'",)),
    "extra-window-field": ({"safe_window": {"days": ["mon"], "start": "10:00", "end": "18:00", "zone": "UTC"}},
                           ("unexpected field 'preferences.safe_window.zone'",)),
    "preferences-a-list": (["reminders"], ("preferences must be an object",)),
    "preferences-null": (json.loads("null"), ("preferences must be an object",)),
}


@pytest.mark.parametrize("case", BAD_PREFERENCES)
def test_bad_preferences_refuse_the_booking_with_a_sentence_and_store_nothing(
    client: TestClient, engine: Engine, case: str
) -> None:
    preferences, words = BAD_PREFERENCES[case]
    body: dict[str, object] = {"slot_id": SLOT, "phone": PHONE, "language": "de", "preferences": preferences}
    assert_sentence(client.post("/v1/bookings", json=body), 422, "invalid_request", *words)
    assert sql(engine, "SELECT count(*) FROM booking_requests") == [(0,)]
    assert sql(engine, "SELECT count(*) FROM booking_preferences") == [(0,)]
    assert sql(engine, "SELECT count(*) FROM outbox") == [(0,)]


def test_a_retry_with_the_same_key_and_preferences_is_the_same_booking(client: TestClient, engine: Engine) -> None:
    first = book(client, WEEKDAYS_10_TO_18, key="prefs-retry-0001")
    again = book(client, WEEKDAYS_10_TO_18, key="prefs-retry-0001")
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"
    assert again.json()["booking_id"] == first.json()["booking_id"]
    assert len(outbox(engine, "contact.registered")) == 1


def test_explicit_default_preferences_are_the_same_request_as_none(client: TestClient) -> None:
    first = book(client, key="prefs-retry-0002")
    again = book(client, {"reminders": True, "safe_window": None}, key="prefs-retry-0002")
    assert again.status_code == 202 and again.json()["booking_id"] == first.json()["booking_id"]


@pytest.mark.parametrize("retried", [
    pytest.param({"reminders": False}, id="reminders-off"),
    pytest.param({"safe_window": {"days": ["mon"], "start": "10:00", "end": "18:00"}}, id="another-window"),
    pytest.param(None, id="preferences-left-out"),
])
def test_the_same_key_with_other_preferences_is_refused(client: TestClient, engine: Engine,
                                                        retried: object) -> None:
    assert book(client, WEEKDAYS_10_TO_18, key="prefs-conflict-01").status_code == 202
    assert_sentence(book(client, retried, key="prefs-conflict-01"), 422, "idempotency_key_reused", "different")
    assert sql(engine, "SELECT count(*) FROM booking_requests") == [(1,)]
    assert len(outbox(engine, "contact.registered")) == 1


# --- changed by manage token ----------------------------------------------------------------------------------


def test_changing_preferences_stores_them_and_tells_the_notifier(client: TestClient, engine: Engine) -> None:
    accepted = book(client).json()
    token, booking_id = accepted["manage_token"], accepted["booking_id"]

    changed = client.post(f"/v1/bookings/{token}/preferences", json=WEEKDAYS_10_TO_18)
    assert changed.status_code == 202, changed.text
    assert changed.headers["cache-control"] == "no-store"
    expected = ContactPreferences.model_validate(WEEKDAYS_10_TO_18)
    assert ContactPreferences.model_validate(changed.json()["preferences"]) == expected
    assert ContactPreferences.model_validate(client.get(f"/v1/bookings/{token}").json()["preferences"]) == expected

    off = client.post(f"/v1/bookings/{token}/preferences", json={"reminders": False})
    assert off.status_code == 202
    assert client.get(f"/v1/bookings/{token}").json()["preferences"] == {"reminders": False, "safe_window": None}

    announced = outbox(engine, "contact.preferences_changed")
    assert [a["booking_id"] for a in announced] == [booking_id, booking_id]
    assert [ContactPreferences.model_validate(a["preferences"]) for a in announced] == [
        expected, ContactPreferences(reminders=False)]
    assert sql(engine, "SELECT count(*) FROM booking_preferences") == [(1,)]  # the current choice, not a history
    assert not [b for b in outbox(engine, "booking.requested") if "preferences" in b]


def test_changing_back_to_the_defaults_is_announced_too(client: TestClient, engine: Engine) -> None:
    token = book(client, {"reminders": False}).json()["manage_token"]
    assert client.post(f"/v1/bookings/{token}/preferences", json={}).status_code == 202
    assert client.get(f"/v1/bookings/{token}").json()["preferences"] == {"reminders": True, "safe_window": None}
    [announced] = outbox(engine, "contact.preferences_changed")
    assert announced["preferences"] == {"reminders": True, "safe_window": None}


@pytest.mark.parametrize("case", ["unknown-weekday", "end-before-start", "duplicate-days", "extra-window-field",
                                  "reminders-maybe", "time-with-offset"])
def test_a_bad_change_is_refused_with_a_sentence_and_keeps_the_old_choice(client: TestClient, engine: Engine,
                                                                           case: str) -> None:
    token = book(client, {"reminders": False}).json()["manage_token"]
    preferences, words = BAD_PREFERENCES[case]
    # Alone on this route the object has no "preferences." in front of its fields.
    words = tuple(word.replace("preferences.", "") for word in words)
    assert_sentence(client.post(f"/v1/bookings/{token}/preferences", json=preferences), 422, "invalid_request",
                    *words)
    assert client.get(f"/v1/bookings/{token}").json()["preferences"] == {"reminders": False, "safe_window": None}
    assert outbox(engine, "contact.preferences_changed") == []


@pytest.mark.parametrize("body", [None, [], "reminders off"])
def test_a_change_that_is_not_an_object_is_refused(client: TestClient, body: object) -> None:
    token = book(client).json()["manage_token"]
    response = client.post(f"/v1/bookings/{token}/preferences", json=body)
    assert_sentence(response, 422, "invalid_request", "JSON object")


@pytest.mark.parametrize("token", ["unknown-token-0123456789", "x", "a" * 200])
def test_changing_preferences_of_an_unknown_link_is_a_404(client: TestClient, engine: Engine, token: str) -> None:
    response = client.post(f"/v1/bookings/{token}/preferences", json={"reminders": False})
    assert_sentence(response, 404, "not_found", "no booking")
    assert sql(engine, "SELECT count(*) FROM outbox") == [(0,)]


def test_a_cancelled_booking_takes_no_new_preferences(client: TestClient, engine: Engine) -> None:
    token = book(client).json()["manage_token"]
    assert client.post(f"/v1/bookings/{token}/cancel").status_code == 202
    response = client.post(f"/v1/bookings/{token}/preferences", json={"reminders": False})
    assert_sentence(response, 409, "not_changeable", "cancelled", "no texts")
    assert client.get(f"/v1/bookings/{token}").json()["preferences"]["reminders"] is True
    assert outbox(engine, "contact.preferences_changed") == []


def test_a_rejected_booking_takes_no_new_preferences(client: TestClient, service: BookingService,
                                                     engine: Engine) -> None:
    token = book(client).json()["manage_token"]
    rejected = BookingRejected(booking_id=service.view(token).booking_id, reason="slot_taken")
    with UnitOfWork(engine, GatewayRepository)() as repository:
        handlers.apply_rejected(wrap(rejected, rejected.booking_id), repository, lambda: NOW)
    assert service.view(token).status == "rejected"
    response = client.post(f"/v1/bookings/{token}/preferences", json={"reminders": False})
    assert_sentence(response, 409, "not_changeable", "not confirmed")
    assert outbox(engine, "contact.preferences_changed") == []


def test_the_choices_go_with_the_booking_when_its_row_is_deleted(client: TestClient, engine: Engine) -> None:
    """Nothing in the gateway deletes booking rows yet; whatever will, takes the choices with it (ON DELETE
    CASCADE, on SQLite too: the engine turns foreign keys on)."""
    kept = book(client, {"reminders": False}, key="prefs-cascade-01").json()["booking_id"]
    gone = book(client, WEEKDAYS_10_TO_18, key="prefs-cascade-02").json()["booking_id"]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM booking_requests WHERE booking_id = :id"), {"id": gone})
    assert sql(engine, "SELECT booking_id FROM booking_preferences") == [(kept,)]


def test_openapi_documents_the_preferences_and_the_change_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "preferences" in schemas["BookingIn"]["properties"]
    assert "preferences" in schemas["BookingStatus"]["properties"]
    assert set(schemas["ContactPreferences"]["properties"]) == {"reminders", "safe_window"}
    assert set(schemas["SafeWindow"]["properties"]) == {"days", "start", "end"}
    assert schemas["SafeWindow"]["properties"]["days"]["items"]["enum"] == ["mon", "tue", "wed", "thu", "fri", "sat",
                                                                            "sun"]
    change = spec["paths"]["/v1/bookings/{manage_token}/preferences"]["post"]
    assert change["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ContactPreferences")
    assert {"202", "404", "409", "422"} <= set(change["responses"])
