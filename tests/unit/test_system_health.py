"""The admins' health API in process: heartbeats as the gateway keeps them, queue figures and dead letters on the
embedded broker (a SQLite file in the test's folder), RabbitMQ's management API answered by a stand-in, and who may
ask. The real SystemHealth, staff accounts and routers, on throw-away SQLite databases, with a clock the tests set.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar
from uuid import uuid4

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gateway import migrations
from gateway.api import errors, staff_auth, staff_two_factor, system_health
from gateway.api.staff_deps import CSRF_HEADER
from gateway.settings import GatewaySettings
from gateway.staff.accounts import StaffAccounts
from gateway.system_health.queues import management_api
from gateway.system_health.report import SystemHealth
from notifier import migrations as notifier_migrations
from notifier.status import WorkerStatus
from notifier.tables import Reminder
from sqlalchemy import Engine
from sqlmodel import Session

from shared.consumer import Consumer
from shared.contracts import BookingRequested, RoleHeartbeat, Topic, wrap
from shared.crypto import DataCipher, generate_data_key
from shared.db import make_engine
from shared.heartbeat import Heartbeat, Status, outbox_status
from shared.messaging import Publisher, make_celery
from shared.outbox import add_to_outbox
from shared.settings import load_settings
from tests.support.staff import Phone

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # the night the clocks go forward in Berlin: nothing may care
PASSWORD = "correct horse battery staple"
CHEAP = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
ROUTES = [("GET", "/v1/staff/health"), ("GET", "/v1/staff/dead-letters"),
          ("POST", "/v1/staff/dead-letters/0123456789ab/requeue"),
          ("POST", "/v1/staff/dead-letters/0123456789ab/discard")]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Desk:
    client: TestClient
    health: SystemHealth
    settings: GatewaySettings
    engine: Engine
    clock: Clock
    phone: Phone
    csrf: dict[str, str]

    def as_(self, username: str) -> dict[str, str]:
        """Signs `username` in on the client (the cookie stays there; an admin with a code from the phone, set up
        at the first sign-in); the CSRF header for writes."""
        self.client.cookies.clear()
        response = self.client.post("/v1/staff/login", json={"username": username, "password": PASSWORD})
        if response.status_code == 202:
            response = self.client.post("/v1/staff/login/code", json={"code": self.phone.code(username)})
        assert response.status_code == 200, response.text
        csrf = {CSRF_HEADER: response.json()["csrf_token"]}
        if response.json().get("two_factor_enrolment_required"):
            self.phone.enrol(self.client, username, csrf[CSRF_HEADER])
        return csrf

    def hear(self, role: str, instance: str, at: datetime, **figures: Any) -> None:
        """A heartbeat through the gateway's consumer, as the listener hands it over."""
        beat = RoleHeartbeat(role=role, instance=instance, interval_seconds=30, **figures)  # type: ignore[arg-type]
        consumer = Consumer("gateway", self.engine, commands={}, dead_letter=_refuse,
                            queries={"role.heartbeat": self.health.record})
        consumer.handle(wrap(beat, uuid4(), at).to_wire())


def _refuse(_raw: Any, reason: str) -> None:
    raise AssertionError(f"dead-lettered: {reason}")


def _desk(folder: Path, **overrides: Any) -> Iterator[Desk]:
    settings = load_settings(GatewaySettings, var_dir=folder, **overrides)
    engine = make_engine(settings.gateway_database_url)
    migrations.upgrade(engine)
    clock = Clock()
    accounts = StaffAccounts(engine, clock, PasswordHasher(**CHEAP),  # type: ignore[arg-type]
                             cipher=DataCipher.from_text(generate_data_key()))
    accounts.create("admin", "Admin", "admin", PASSWORD)
    accounts.create("anna", "Anna", "counsellor", PASSWORD, counsellor_id=3)
    health = SystemHealth(engine, settings, settings.rabbitmq_management_url.get_secret_value(),
                          settings.heartbeat_stale_after, clock)
    app = FastAPI()
    errors.install(app)
    app.include_router(staff_auth.router)
    app.include_router(staff_two_factor.router)
    app.include_router(system_health.router)
    app.state.gateway = SimpleNamespace(engine=engine, settings=settings, health=health)
    app.state.staff_accounts = accounts
    with TestClient(app, raise_server_exceptions=False) as client:
        desk = Desk(client, health, settings, engine, clock, Phone(clock=clock), {})
        desk.csrf = desk.as_("admin")
        yield desk
    engine.dispose()


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    yield from _desk(tmp_path)


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """One desk for the tests that only knock: each signs in as whom it needs."""
    yield from _desk(tmp_path_factory.mktemp("door"))


def publisher_for(settings: GatewaySettings) -> Publisher:
    return Publisher(make_celery("gateway", settings), settings)


def a_booking_request() -> dict[str, Any]:
    return wrap(BookingRequested(booking_id=uuid4(), slot_id="s2-1-2-3-29000000", topic=Topic.health,
                                 language="ro", channel="web"), uuid4()).to_wire()


# --- who may ask --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_without_a_session_every_health_route_is_401(door: Desk, method: str, path: str) -> None:
    door.client.cookies.clear()
    response = door.client.request(method, path)

    assert response.status_code == 401, response.text
    assert response.json()["code"] == "not_signed_in"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_counsellor_is_refused_every_health_route(door: Desk, method: str, path: str) -> None:
    csrf = door.as_("anna")
    response = door.client.request(method, path, headers=csrf)

    assert response.status_code == 403, response.text
    assert response.json()["code"] == "forbidden"


def test_an_admins_requeue_without_the_csrf_header_is_refused(door: Desk) -> None:
    door.as_("admin")
    response = door.client.post("/v1/staff/dead-letters/0123456789ab/requeue")

    assert response.status_code == 403
    assert response.json()["code"] == "csrf_token_missing"


# --- heartbeats ---------------------------------------------------------------------------------------------------


def test_each_role_shows_fresh_stale_or_never_seen_with_the_figures_it_reported(desk: Desk) -> None:
    desk.hear("gateway", "aaaaaaaaaaaa", NOW - timedelta(seconds=20), outbox_backlog=0)
    desk.hear("scheduler", "bbbbbbbbbbbb", NOW - timedelta(seconds=91), outbox_backlog=7, oldest_unsent_seconds=42.5)
    desk.hear("notifier", "cccccccccccc", NOW - timedelta(seconds=5), outbox_backlog=1, oldest_unsent_seconds=3.0,
              dispatcher_lag_seconds=12.0, last_beat_tick_at=NOW - timedelta(seconds=6))
    desk.hear("notifier", "dddddddddddd", NOW - timedelta(hours=2), outbox_backlog=50,
              dispatcher_lag_seconds=900.0, last_beat_tick_at=NOW - timedelta(hours=2))

    response = desk.client.get("/v1/staff/health")

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    report = response.json()
    roles = {r["role"]: r for r in report["roles"]}
    assert {role: r["status"] for role, r in roles.items()} == {
        "gateway": "ok", "scheduler": "stale", "notifier": "ok", "notifier-beat": "never_seen"}
    # Stale past three of its 30 s intervals: 91 s is, 20 s is not.
    assert roles["scheduler"]["instances"][0]["age_seconds"] == 91 and roles["scheduler"]["instances"][0]["stale"]
    assert [(i["instance"], i["stale"]) for i in roles["notifier"]["instances"]] == [
        ("cccccccccccc", False), ("dddddddddddd", True)]
    outbox = {o["service"]: o for o in report["outbox"]}
    assert (outbox["scheduler"]["backlog"], outbox["scheduler"]["oldest_unsent_seconds"]) == (7, 42.5)
    assert outbox["notifier"]["backlog"] == 1  # the newest word on the notifier's outbox, not the stale process's
    assert report["dispatcher_lag_seconds"] == 12.0
    assert datetime.fromisoformat(report["last_beat_tick_at"]) == NOW - timedelta(seconds=6)


def test_a_heartbeat_arriving_after_a_newer_one_changes_nothing(desk: Desk) -> None:
    desk.hear("scheduler", "bbbbbbbbbbbb", NOW - timedelta(seconds=10), outbox_backlog=1)
    desk.hear("scheduler", "bbbbbbbbbbbb", NOW - timedelta(seconds=40), outbox_backlog=99)

    scheduler = next(r for r in desk.client.get("/v1/staff/health").json()["roles"] if r["role"] == "scheduler")

    assert [(i["age_seconds"], i["stale"]) for i in scheduler["instances"]] == [(10, False)]
    outbox = next(o for o in desk.client.get("/v1/staff/health").json()["outbox"] if o["service"] == "scheduler")
    assert outbox["backlog"] == 1


def test_a_process_silent_for_a_day_is_forgotten(desk: Desk) -> None:
    desk.hear("notifier", "dddddddddddd", NOW - timedelta(days=1, seconds=1))
    desk.hear("notifier", "cccccccccccc", NOW)

    notifier = next(r for r in desk.client.get("/v1/staff/health").json()["roles"] if r["role"] == "notifier")

    assert [i["instance"] for i in notifier["instances"]] == ["cccccccccccc"]


def test_a_heartbeat_carries_its_outbox_backlog_and_a_missed_one_is_only_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as session:
        add_to_outbox(session, wrap(RoleHeartbeat(role="gateway", instance="aaaaaaaaaaaa", interval_seconds=1),
                                    uuid4()))
        session.commit()
    sent: list[tuple[dict[str, Any], str]] = []
    clock = Clock()
    clock.now = datetime.now(UTC) + timedelta(seconds=30)
    heartbeat = Heartbeat("gateway", lambda wire, key: sent.append((wire, key)),
                          lambda now: outbox_status(engine, now), 30, clock)

    assert heartbeat.beat()
    wire, key = sent[0]
    assert key == "role.heartbeat" and wire["payload"]["outbox_backlog"] == 1
    assert 29 < wire["payload"]["oldest_unsent_seconds"] < 60
    assert len(wire["payload"]["instance"]) == 12

    def broker_away(_wire: dict[str, Any], _key: str) -> None:
        raise ConnectionRefusedError("no broker")

    heartbeat.publish = broker_away
    assert not heartbeat.beat() and not heartbeat.beat()
    assert [r.levelname for r in caplog.records if "heartbeat not sent" in r.message] == ["WARNING"]
    engine.dispose()


def test_the_notifier_reports_how_long_the_oldest_due_text_has_waited(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'notifier.sqlite'}")
    notifier_migrations.upgrade(engine)
    with Session(engine) as session:
        for key, due, status in (("a", NOW - timedelta(seconds=90), "pending"),
                                 ("b", NOW - timedelta(hours=1), "sent"),
                                 ("c", NOW + timedelta(minutes=5), "pending")):
            session.add(Reminder(key=key, kind="reminder", language="de", due_at=due,
                                 not_after=NOW + timedelta(days=1), status=status))
        session.commit()
    status = WorkerStatus(engine)
    status.ticked(NOW - timedelta(seconds=4))

    reported = status(NOW)

    assert (reported.dispatcher_lag_seconds, reported.last_beat_tick_at) == (90.0, NOW - timedelta(seconds=4))
    assert (reported.outbox_backlog, reported.oldest_unsent_seconds) == (0, None)
    assert status(NOW - timedelta(hours=2)) == Status(0, None, 0.0, NOW - timedelta(seconds=4))
    engine.dispose()


# --- the broker: embedded ------------------------------------------------------------------------------------------


def test_queue_depths_and_dead_letters_on_the_embedded_broker(desk: Desk) -> None:
    publisher = publisher_for(desk.settings)
    publisher.publish(a_booking_request(), "booking.requested")
    publisher.publish_dead_letter(a_booking_request(), "scheduler", "handler failed: ValueError")

    broker = desk.client.get("/v1/staff/health").json()["broker"]

    assert (broker["reachable"], broker["source"], broker["dead_letters"]) == (True, "amqp", 1)
    queues = {q["name"]: q for q in broker["queues"]}
    assert queues["scheduler.bookings"] == {"name": "scheduler.bookings", "ready": 1, "unacked": None,
                                            "consumers": None}
    assert {"notifier.events", "notifier.timers", "gateway.events", "lotse.dead-letter"} <= set(queues)


def test_dead_letters_are_listed_without_their_contents_requeued_and_discarded(desk: Desk) -> None:
    publisher = publisher_for(desk.settings)
    secret = "+4915112345678"
    for reason in ("handler failed: ValueError", "booking.requested v1 does not validate (fields: phone)"):
        publisher.publish_dead_letter({**a_booking_request(), "phone": secret}, "scheduler", reason)

    listed = desk.client.get("/v1/staff/dead-letters")

    assert listed.status_code == 200, listed.text
    assert listed.headers["cache-control"] == "no-store"
    assert secret not in listed.text and "slot_id" not in listed.text
    letters = listed.json()
    assert {(d["queue"], d["type"]) for d in letters} == {("scheduler.bookings", "booking.requested")}
    assert {d["reason"] for d in letters} == {"handler failed: ValueError",
                                              "booking.requested v1 does not validate (fields: phone)"}
    assert set(letters[0]) == {"id", "queue", "type", "reason", "dead_at"}
    first, second = (d["id"] for d in letters)

    requeued = desk.client.post(f"/v1/staff/dead-letters/{first}/requeue", headers=desk.csrf)
    assert requeued.status_code == 200, requeued.text
    assert requeued.json()["id"] == first
    discarded = desk.client.post(f"/v1/staff/dead-letters/{second}/discard", headers=desk.csrf)
    assert discarded.status_code == 200, discarded.text

    assert desk.client.get("/v1/staff/dead-letters").json() == []
    queues = {q["name"]: q["ready"] for q in desk.client.get("/v1/staff/health").json()["broker"]["queues"]}
    assert (queues["scheduler.bookings"], queues["lotse.dead-letter"]) == (1, 0)


@pytest.mark.parametrize("action", ["requeue", "discard"])
def test_an_unknown_dead_letter_is_404_with_a_sentence(desk: Desk, action: str) -> None:
    response = desk.client.post(f"/v1/staff/dead-letters/0123456789ab/{action}", headers=desk.csrf)

    assert response.status_code == 404
    assert response.json()["code"] == "dead_letter_not_found"
    assert "0123456789ab" in response.json()["detail"]


def test_a_malformed_dead_letter_id_is_422(desk: Desk) -> None:
    response = desk.client.post("/v1/staff/dead-letters/no%20such%3Bthing/discard", headers=desk.csrf)

    assert response.status_code == 422


# --- the broker: away, and RabbitMQ's management API --------------------------------------------------------------


def test_with_the_broker_away_dead_letters_are_503_and_health_still_answers(tmp_path: Path) -> None:
    # Nothing listens on port 1: refused at once, for AMQP and for the management API.
    for desk in _desk(tmp_path, broker_url="amqp://guest:guest@127.0.0.1:1//",
                      rabbitmq_management_url="http://127.0.0.1:1/"):
        desk.hear("gateway", "aaaaaaaaaaaa", NOW)
        for method, path in ROUTES[1:]:
            response = desk.client.request(method, path, headers=desk.csrf)
            assert response.status_code == 503, response.text
            assert response.json()["code"] == "broker_unavailable" and response.headers["retry-after"] == "60"

        health = desk.client.get("/v1/staff/health")

        assert health.status_code == 200
        assert health.json()["broker"]["reachable"] is False
        assert next(r for r in health.json()["roles"] if r["role"] == "gateway")["status"] == "ok"


class _Management(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        _Management.seen.append((self.path, self.headers.get("Authorization", "")))
        body = json.dumps([
            {"name": "scheduler.bookings", "messages_ready": 3, "messages_unacknowledged": 2, "consumers": 1},
            {"name": "lotse.dead-letter", "messages_ready": 4, "messages_unacknowledged": 1, "consumers": 0},
            {"name": "gateway.replies.0123456789ab", "messages_ready": 0, "messages_unacknowledged": 0,
             "consumers": 1},
        ]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


def test_rabbitmqs_management_api_gives_unacknowledged_and_consumers_with_the_brokers_credentials(
        tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Management)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for desk in _desk(tmp_path, broker_url="amqp://lotse:s%40cret@127.0.0.1:1/lotse%2Fprod",
                          rabbitmq_management_url=f"http://127.0.0.1:{server.server_port}"):
            broker = desk.client.get("/v1/staff/health").json()["broker"]
    finally:
        server.shutdown()
        server.server_close()

    assert (broker["source"], broker["dead_letters"]) == ("management", 5)
    queues = {q["name"]: q for q in broker["queues"]}
    assert queues["scheduler.bookings"] == {"name": "scheduler.bookings", "ready": 3, "unacked": 2, "consumers": 1}
    assert queues["notifier.events"]["ready"] is None  # not declared yet: the table shows it missing
    assert not any(name.startswith("gateway.replies.") for name in queues)
    path, authorization = _Management.seen[-1]
    assert path.startswith("/api/queues/lotse%2Fprod?")
    assert base64.b64decode(authorization.removeprefix("Basic ")).decode() == "lotse:s@cret"


def test_the_management_address_defaults_to_the_brokers_host_and_a_configured_one_keeps_its_own_user() -> None:
    settings = load_settings(GatewaySettings, broker_url="amqp://lotse:pw@rabbit.internal:5672//")

    derived = management_api(settings, "")
    own = management_api(settings, "https://admin:other@mq.internal:443/rabbit")

    assert derived is not None and own is not None
    assert (derived.base_url, derived.username, derived.password, derived.vhost) == (
        "http://rabbit.internal:15672/", "lotse", "pw", "/")
    assert (own.base_url, own.username, own.password) == ("https://mq.internal:443/rabbit/", "admin", "other")
    assert management_api(load_settings(GatewaySettings), "") is None  # the embedded broker has none
