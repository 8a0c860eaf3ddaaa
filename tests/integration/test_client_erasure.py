"""A client deletes their data from the manage page: the appointment still to come is cancelled, the gateway forgets
the booking request, the notifier the number, the scheduler's appointment keeps no link to the client, and staff see
that it happened. First through the real system (pages, broker, three databases), then each consumer on its own:
a redelivered or late message changes nothing more.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest
from notifier.app import Notifier
from notifier.app import build as build_notifier
from notifier.settings import NotifierSettings
from notifier.tables import BookingFacts, Contact, Delivery, Reminder
from scheduler.app import Scheduler
from scheduler.app import build as build_scheduler
from scheduler.demo import seed
from scheduler.domain.availability import make_slot_id
from scheduler.settings import SchedulerSettings
from scheduler.staff.describe import describe_contact_problem
from scheduler.tables import Appointment
from sqlmodel import Session, select

from shared.cipher import load_cipher
from shared.contracts import (
    BookingConfirmed,
    BookingRequested,
    ClientErasureRequested,
    ContactRegistered,
    Mode,
    PublicLocation,
    Slot,
    wrap,
)
from shared.contracts.contacts import manage_token_context, phone_context
from shared.outbox import OutboxMessage
from shared.settings import load_settings
from tests.support.pages import visible_text
from tests.support.system import System, assert_stays, base_env, free_port, poll, running_system

PHONE = "+4915112349876"
CONFIRMED_DE = "Ihr Termin ist bestätigt."
ERASE_QUESTION_DE = "Möchten Sie Ihre Daten zu diesem Termin wirklich löschen?"
ERASED_DE = "Ihre Daten werden gelöscht. Unter diesem Link ist nichts mehr gespeichert."
NOT_FOUND_DE = "Zu diesem Link gibt es keinen Termin."
NOT_YET_DE = "Wir prüfen den Termin noch. Bitte versuchen Sie es in einem Moment noch einmal."


# --- the whole flow ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    var_dir = tmp_path_factory.mktemp("erasure")
    with running_system(base_env(var_dir, free_port()), var_dir) as running:
        yield running


@pytest.fixture
def browser(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url, timeout=15, follow_redirects=True,
                      headers={"Accept-Language": "de-DE,de;q=0.9"}) as client:
        yield client


def rows(system: System, service: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{system.var_dir / (service + '.sqlite')}?mode=ro", uri=True, timeout=30) as db:
        return list(db.execute(sql, args).fetchall())


def erasures_handled(system: System, service: str) -> int:
    [(count,)] = rows(system, service, "SELECT count(*) FROM processed_messages WHERE message_type = ?",
                      "client.erasure_requested")
    return int(count)


def erased_appointments(system: System) -> list[str]:
    return [status for (status,) in rows(system, "scheduler", "SELECT status FROM appointments "
                                                              "WHERE contact_problem = 'erased_by_client' ORDER BY id")]


def book(client: httpx.Client, week: int = 0) -> tuple[str, str, str]:
    """A confirmed booking through the JSON API: its token, booking id and slot id."""
    for later in range(week, week + 4):
        start = (datetime.now(UTC) + timedelta(days=7 * later + 1)).date().isoformat()
        slots = client.get("/v1/slots", params={"language": "de", "from": start}).json()["slots"]
        if slots:
            break
    answer = client.post("/v1/bookings", json={"slot_id": slots[0]["slot_id"], "phone": PHONE, "language": "de",
                                               "channel": "web"})
    assert answer.status_code == 202, answer.text
    token, booking_id = answer.json()["manage_token"], answer.json()["booking_id"]
    poll(lambda: client.get(f"/v1/bookings/{token}").json()["status"] == "confirmed", seconds=30)
    return token, booking_id, slots[0]["slot_id"]


def test_a_client_erases_their_data_from_the_manage_page(system: System, browser: httpx.Client) -> None:
    token, booking_id, slot_id = book(browser)
    path = f"/m/{token}"
    # Other tests of the module erase too: what this erasure adds is counted from here.
    handled = {service: erasures_handled(system, service) for service in ("scheduler", "notifier")}
    erased_before = erased_appointments(system)
    poll(lambda: [m for m in system.sink() if path in m["body"]], seconds=30)  # the confirmation went out
    assert rows(system, "notifier", "SELECT count(*) FROM contacts WHERE booking_id = ?", booking_id) == [(1,)]

    page = browser.get(path)
    assert CONFIRMED_DE in visible_text(page.text) and f'href="{path}/erase"' in page.text
    question = browser.get(f"{path}/erase")
    assert ERASE_QUESTION_DE in visible_text(question.text)
    assert browser.get(path).status_code == 200, "asking erases nothing"

    erased = browser.post(f"{path}/erase", data={"lang": "de"})
    assert erased.status_code == 200 and ERASED_DE in visible_text(erased.text)
    gone = browser.get(path)
    assert gone.status_code == 404 and NOT_FOUND_DE in visible_text(gone.text)
    assert browser.get(f"/v1/bookings/{token}").status_code == 404
    assert browser.post(f"{path}/erase", data={"lang": "de"}).status_code == 404, "a second click finds nothing"

    # The gateway forgot the request at once; the scheduler cancels and unlinks, the notifier forgets the number.
    assert rows(system, "gateway", "SELECT count(*) FROM booking_requests WHERE booking_id = ?", booking_id) == [(0,)]
    poll(lambda: rows(system, "scheduler", "SELECT count(*) FROM appointments WHERE booking_id = ?",
                      booking_id) == [(0,)], seconds=30)
    assert erased_appointments(system) == [*erased_before, "cancelled"]
    poll(lambda: rows(system, "notifier", "SELECT count(*) FROM contacts WHERE booking_id = ?",
                      booking_id) == [(0,)], seconds=30)
    assert rows(system, "notifier", "SELECT count(*) FROM booking_facts WHERE booking_id = ?", booking_id) == [(0,)]
    assert rows(system, "notifier", "SELECT count(*) FROM reminders WHERE booking_id = ? AND status = 'pending'",
                booking_id) == [(0,)]
    assert rows(system, "notifier", "SELECT to_masked FROM deliveries WHERE booking_id = ?", booking_id) == [("",)]
    for service in ("scheduler", "notifier"):
        assert erasures_handled(system, service) == handled[service] + 1

    # No text follows an erasure (not even the cancellation notice), and the time is free for others again.
    sent = [m for m in system.sink() if m["to"].endswith(PHONE[-3:])]
    assert_stays(lambda: len([m for m in system.sink() if m["to"].endswith(PHONE[-3:])]), len(sent), seconds=3)
    start = slot_id.rsplit("-", 1)[1]
    day = datetime.fromtimestamp(int(start) * 60, UTC).date().isoformat()
    poll(lambda: slot_id in {s["slot_id"] for s in browser.get(
        "/v1/slots", params={"language": "de", "from": day, "to": day, "limit": "200"}).json()["slots"]}, seconds=30)


def test_erasure_waits_until_the_booking_is_decided(system: System, browser: httpx.Client) -> None:
    system.stop("scheduler")
    try:
        token = _pending_booking(system, browser)
        refused = browser.post(f"/m/{token}/erase", data={"lang": "de"})
        assert refused.status_code == 409 and NOT_YET_DE in visible_text(refused.text)
        assert browser.get(f"/m/{token}/erase").url.path == f"/m/{token}", "no confirmation step while pending"
    finally:
        system.start("scheduler")
    poll(lambda: browser.get(f"/v1/bookings/{token}").json()["status"] != "pending", seconds=30)
    assert browser.post(f"/m/{token}/erase", data={"lang": "de"}).status_code == 200


def _pending_booking(system: System, browser: httpx.Client) -> str:
    """A booking the stopped scheduler has not decided: a slot id in the future the calendar would check."""
    when = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=10)
    answer = browser.post("/v1/bookings", json={"slot_id": make_slot_id(1, 1, 1, when), "phone": PHONE,
                                                "language": "de", "channel": "web"})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["manage_token"])


# --- each consumer on its own: idempotent, and harmless when late ----------------------------------------------------

NOW = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)
MONDAY_AT_ELEVEN = datetime(2026, 6, 8, 11, 0, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


def _erasure(booking_id: UUID) -> dict[str, Any]:
    return wrap(ClientErasureRequested(booking_id=booking_id), uuid4(), NOW).to_wire()


DATABASES = [pytest.param("embedded"), pytest.param("postgresql", marks=pytest.mark.infra)]


def _database_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Nothing for the embedded default; PostgreSQL and RabbitMQ of the test's own for the real stack."""
    if request.param == "embedded":
        return {}
    real: dict[str, str] = request.getfixturevalue("real_env")
    return {key.lower(): value for key, value in real.items()}


@pytest.fixture(params=DATABASES)
def scheduler(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scheduler]:
    env = {k: v for k, v in _database_env(request).items() if k in ("scheduler_database_url", "broker_url")}
    built = build_scheduler(load_settings(SchedulerSettings, var_dir=tmp_path, **env), clock=lambda: NOW)
    seed(built.engine)
    yield built
    built.engine.dispose()


def test_the_scheduler_cancels_and_unlinks_once_and_announces_nothing(scheduler: Scheduler) -> None:
    booking_id = uuid4()
    scheduler.consumer.handle(wrap(BookingRequested(booking_id=booking_id, slot_id=make_slot_id(1, 1, 1,
                                   MONDAY_AT_ELEVEN), language="de", channel="web"), uuid4()).to_wire())
    with Session(scheduler.engine) as session:
        [before] = session.exec(select(Appointment)).all()
        announced = len(session.exec(select(OutboxMessage)).all())
    assert before.status == "confirmed"

    erasure = _erasure(booking_id)
    for raw in (erasure, erasure, _erasure(booking_id)):  # redelivered, then asked again (another message id)
        scheduler.consumer.handle(raw)

    with Session(scheduler.engine) as session:
        [after] = session.exec(select(Appointment)).all()
        assert len(session.exec(select(OutboxMessage)).all()) == announced, "nothing announced: no text may follow"
    assert after.status == "cancelled" and after.id == before.id
    assert after.booking_id != str(booking_id)
    assert (after.contact_problem, after.contact_problem_since) == ("erased_by_client", NOW)
    # Staff see that it happened (where a contact problem shows), not what was there.
    shown = describe_contact_problem(after, ZoneInfo("Europe/Berlin"))
    assert shown is not None and shown.reason == "erased_by_client" and shown.error_code is None


def test_a_past_appointment_keeps_its_outcome_but_loses_the_client_link(scheduler: Scheduler) -> None:
    booking_id = uuid4()
    scheduler.consumer.handle(wrap(BookingRequested(booking_id=booking_id, slot_id=make_slot_id(1, 1, 1,
                                   MONDAY_AT_ELEVEN), language="de", channel="web"), uuid4()).to_wire())
    later = build_scheduler(scheduler.settings, clock=lambda: MONDAY_AT_ELEVEN + timedelta(days=1))
    try:
        later.consumer.handle(_erasure(booking_id))
    finally:
        later.engine.dispose()
    with Session(scheduler.engine) as session:
        [after] = session.exec(select(Appointment)).all()
    assert after.status == "confirmed", "what happened stays for the statistics"
    assert after.booking_id != str(booking_id) and after.contact_problem == "erased_by_client"


@pytest.fixture(params=DATABASES)
def notifier(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Notifier]:
    env = {k: v for k, v in _database_env(request).items()
           if k in ("notifier_database_url", "broker_url", "data_key")}
    built = build_notifier(load_settings(NotifierSettings, var_dir=tmp_path, **env), clock=lambda: NOW)
    yield built
    built.engine.dispose()


def test_the_notifier_forgets_the_number_and_sends_nothing_more(notifier: Notifier, tmp_path: Path) -> None:
    cipher = load_cipher(notifier.settings)
    booking_id = uuid4()
    contact = wrap(ContactRegistered(
        booking_id=booking_id, phone=cipher.encrypt(PHONE, phone_context(booking_id)),
        manage_token=cipher.encrypt("A" * 22, manage_token_context(booking_id)), language="de"), booking_id)
    start = NOW + timedelta(days=2)
    confirmed = wrap(BookingConfirmed(
        booking_id=booking_id,
        slot=Slot(slot_id=make_slot_id(1, 1, 1, start), start=start, end=start + timedelta(minutes=50),
                  location=PublicLocation(location_id=1, town="Rostock", kind=Mode.office, alias="Rostock 1"),
                  mode=Mode.office, counsellor="Anna"),
        language="de"), booking_id)
    notifier.consumer.handle(contact.to_wire())
    notifier.consumer.handle(confirmed.to_wire())
    notifier.dispatcher.dispatch_due()
    sink = tmp_path / "sms-sink.jsonl"
    assert len(sink.read_text().splitlines()) == 1  # the confirmation; two reminders wait

    erasure = _erasure(booking_id)
    # Redelivered, and the confirmation replayed late (a second consumer, a requeue): nothing comes back.
    for raw in (erasure, erasure, confirmed.to_wire(), _erasure(booking_id)):
        notifier.consumer.handle(raw)
    notifier.dispatcher.dispatch_due()

    with Session(notifier.engine) as session:
        assert session.get(Contact, str(booking_id)) is None
        reminders = session.exec(select(Reminder).where(Reminder.booking_id == str(booking_id))).all()
        assert sorted((r.kind, r.status, r.outcome) for r in reminders) == [
            ("confirmation", "sent", None),
            ("reminder", "cancelled", "erased_by_client"), ("reminder", "cancelled", "erased_by_client")]
        [delivery] = session.exec(select(Delivery).where(Delivery.booking_id == str(booking_id))).all()
        assert delivery.to_masked == "" and delivery.status  # the history stays for admins, the number goes
        facts = session.get(BookingFacts, str(booking_id))
    assert facts is None or facts.status == "confirmed"  # a late replay may note the time; it has no one to text
    assert len(sink.read_text().splitlines()) == 1
    assert PHONE not in json.dumps([r.model_dump(mode="json") for r in reminders])
