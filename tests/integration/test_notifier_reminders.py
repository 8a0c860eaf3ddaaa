"""The notifier on PostgreSQL: every message at its time, once; nothing at night or outside the client's window;
the provider's answers and callbacks followed to the handset; STOP respected.

Twilio is the edge we do not own: its HTTP answers are scripted per test through the official SDK's own http
client hook (the contract mock cannot produce error codes, see ../shared/twilio/README.md).
"""

from __future__ import annotations

import json
import logging
import threading
import time as time_module
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
import requests
from notifier.app import Notifier
from notifier.app import build as build_notifier
from notifier.dispatch import Dispatcher
from notifier.repository import sender_lock
from notifier.settings import NotifierSettings
from notifier.sms import TwilioSender
from notifier.tables import Contact, Delivery, OptOut, Reminder
from scheduler.domain.availability import make_slot_id
from sqlmodel import Session, select
from twilio.http import HttpClient
from twilio.http.response import Response

from shared.cipher import load_cipher
from shared.contracts import (
    BookingCancelled,
    BookingConfirmed,
    BookingRescheduled,
    ContactPreferences,
    ContactPreferencesChanged,
    ContactRegistered,
    DeliveryStatusReported,
    Mode,
    Payload,
    PublicLocation,
    SafeWindow,
    Slot,
    SmsReceived,
    wrap,
)
from shared.contracts.contacts import manage_token_context, phone_context
from shared.contracts.deliveries import inbound_phone_context
from shared.outbox import OutboxMessage
from shared.settings import load_settings

BERLIN = ZoneInfo("Europe/Berlin")
PHONE = "+4915112345678"
ACCOUNT = "AC" + "0" * 32


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set_local(self, when: datetime) -> None:
        self.now = when.astimezone(UTC)


class ScriptedTwilio(HttpClient):  # type: ignore[misc]
    """Answers the SDK's requests from a script (default: 201 accepted) and keeps what was asked."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), is_async=False)
        self.script: list[tuple[int, dict[str, Any]] | Exception] = []
        self.list_answer: list[dict[str, Any]] = []
        self.sent: list[dict[str, str]] = []
        self.on_send: Callable[[], None] = lambda: None

    def request(self, method: str, uri: str, params: Any = None, data: Any = None, headers: Any = None,
                auth: Any = None, timeout: Any = None, allow_redirects: bool = False) -> Response:
        if method.upper() == "GET":
            return Response(200, json.dumps({"messages": self.list_answer, "next_page_uri": None, "page": 0,
                                             "page_size": 50, "uri": uri}))
        self.sent.append(dict(data or {}))
        self.on_send()
        answer = self.script.pop(0) if self.script else (201, {})
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        if status == 201:
            body = {"sid": "SM" + uuid4().hex, "status": "queued", "to": data["To"], "body": data["Body"],
                    "account_sid": ACCOUNT, **body}
        return Response(status, json.dumps(body))

    @property
    def bodies(self) -> list[str]:
        return [d["Body"] for d in self.sent]


@pytest.fixture
def settings(tmp_path: Path, real_env: dict[str, str]) -> NotifierSettings:
    return load_settings(
        NotifierSettings,
        var_dir=tmp_path, notifier_database_url=real_env["NOTIFIER_DATABASE_URL"], broker_url=real_env["BROKER_URL"],
        data_key=real_env["DATA_KEY"], sms_provider="twilio", twilio_account_sid=ACCOUNT,
        twilio_auth_token="secret", twilio_from="+4915100000000", public_base_url="https://t.example.org",
        sms_rate_per_second=0,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN).astimezone(UTC))  # a Monday morning in winter


@pytest.fixture
def twilio() -> ScriptedTwilio:
    return ScriptedTwilio()


@pytest.fixture
def notifier(settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> Iterator[Notifier]:
    built = build_notifier(settings, clock=clock, sender=TwilioSender(settings, http_client=twilio))
    yield built
    built.engine.dispose()


def slot_at(start: datetime, alias: str = "Rostock 1") -> Slot:
    start = start.astimezone(UTC)
    return Slot(slot_id=make_slot_id(1, 1, 1, start), start=start, end=start + timedelta(minutes=50),
                location=PublicLocation(location_id=1, town="Rostock", kind=Mode.office, alias=alias),
                mode=Mode.office, counsellor="Anna")


class Client:
    """One client's booking as the notifier hears of it."""

    def __init__(self, notifier: Notifier, settings: NotifierSettings, language: str = "en",
                 phone: str = PHONE) -> None:
        self.notifier, self.cipher = notifier, load_cipher(settings)
        self.booking_id = uuid4()
        self.language, self.phone = language, phone

    def deliver(self, payload: Payload) -> None:
        self.notifier.consumer.handle(wrap(payload, self.booking_id).to_wire())

    def register(self, preferences: ContactPreferences | None = None) -> None:
        self.deliver(ContactRegistered(
            booking_id=self.booking_id, phone=self.cipher.encrypt(self.phone, phone_context(self.booking_id)),
            manage_token=self.cipher.encrypt("T" * 22, manage_token_context(self.booking_id)),
            language=self.language, preferences=preferences or ContactPreferences()))

    def confirm(self, start: datetime, offsets: tuple[int, ...] = (1440, 120)) -> None:
        self.deliver(BookingConfirmed(booking_id=self.booking_id, slot=slot_at(start), language=self.language,
                                      reminder_offsets_minutes=offsets))

    def book(self, start: datetime, preferences: ContactPreferences | None = None,
             offsets: tuple[int, ...] = (1440, 120)) -> Client:
        self.register(preferences)
        self.confirm(start, offsets)
        return self

    def rows(self) -> dict[str, Reminder]:
        with Session(self.notifier.engine) as session:
            found = session.exec(select(Reminder).where(Reminder.booking_id == str(self.booking_id)))
            return {r.key.split(":")[-1]: r for r in found}  # confirmation, reminder-1440, rescheduled, …


def send_due(notifier: Notifier) -> None:
    notifier.dispatcher.dispatch_due(max_seconds=0.5)


def local(row: Reminder) -> datetime:
    return row.due_at.astimezone(BERLIN)


# --- on time, once ----------------------------------------------------------------------------------------------


@pytest.mark.infra
def test_confirmation_at_once_then_reminders_24_and_2_hours_before_each_exactly_once(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    start = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN)
    Client(notifier, settings).book(start)
    send_due(notifier)
    assert len(twilio.sent) == 1 and "14:00" in twilio.bodies[0]

    for moment, expected in [(start - timedelta(hours=24, minutes=1), 1), (start - timedelta(hours=24), 2),
                             (start - timedelta(hours=2, minutes=1), 2), (start - timedelta(hours=2), 3),
                             (start + timedelta(hours=1), 3)]:
        clock.set_local(moment)
        send_due(notifier)
        send_due(notifier)
        assert len(twilio.sent) == expected, moment

    assert all("14:00" in body and "https://t.example.org/m/" + "T" * 22 in body for body in twilio.bodies)
    assert all(d["To"] == PHONE for d in twilio.sent)


@pytest.mark.infra
@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
@pytest.mark.parametrize("contact_first", [True, False], ids=["contact-first", "confirmation-first"])
def test_a_booking_heard_of_again_under_new_message_ids_is_planned_and_texted_once(
        settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio, tmp_path: Path, database: str,
        contact_first: bool) -> None:
    # Not the inbox's case (same message id): the same facts sent again as new messages, in either order.
    if database == "sqlite":
        settings = settings.model_copy(update={"notifier_database_url": f"sqlite:///{tmp_path / 'n.sqlite'}"})
    notifier = build_notifier(settings, clock=clock, sender=TwilioSender(settings, http_client=twilio))
    try:
        start = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN)
        client = Client(notifier, settings)
        halves = [client.register, lambda: client.confirm(start)]
        first, second = halves if contact_first else halves[::-1]
        first()
        assert client.rows() == {}  # half a booking plans nothing
        second()
        planned = {key: (row.id, row.due_at) for key, row in client.rows().items()}
        client.register()
        client.confirm(start)
        client.register()
        send_due(notifier)

        assert set(planned) == {"confirmation", "reminder-1440", "reminder-120"}
        assert {key: (row.id, row.due_at) for key, row in client.rows().items()} == planned
        assert len(twilio.sent) == 1 and "14:00" in twilio.bodies[0]
    finally:
        notifier.engine.dispose()


@pytest.mark.infra
def test_messages_carry_a_status_callback_with_the_delivery_ref(
        notifier: Notifier, settings: NotifierSettings, twilio: ScriptedTwilio) -> None:
    Client(notifier, settings).book(datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN))
    send_due(notifier)

    callback = urlsplit(twilio.sent[0]["StatusCallback"])
    with Session(notifier.engine) as session:
        delivery = session.exec(select(Delivery)).one()
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == "https://t.example.org/twilio/status"
    assert parse_qs(callback.query)["d"] == [delivery.ref]


@pytest.mark.infra
def test_reminder_that_would_fall_at_night_goes_out_the_evening_before(
        notifier: Notifier, settings: NotifierSettings) -> None:
    client = Client(notifier, settings).book(datetime(2026, 3, 5, 9, 0, tzinfo=BERLIN))

    rows = client.rows()
    assert local(rows["reminder-120"]) == datetime(2026, 3, 4, 20, 59, tzinfo=BERLIN)  # not 07:00
    assert local(rows["reminder-1440"]) == datetime(2026, 3, 4, 9, 0, tzinfo=BERLIN)


@pytest.mark.infra
def test_booking_that_arrives_after_a_reminder_was_due_does_not_get_it_late(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    start = datetime(2026, 3, 2, 13, 0, tzinfo=BERLIN)  # four hours from now
    client = Client(notifier, settings).book(start)
    send_due(notifier)

    assert set(client.rows()) == {"confirmation", "reminder-120"}
    assert len(twilio.sent) == 1
    clock.set_local(start - timedelta(hours=2))
    send_due(notifier)
    assert len(twilio.sent) == 2


@pytest.mark.infra
def test_dispatcher_that_ran_late_skips_a_reminder_whose_appointment_has_begun(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    start = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN)
    client = Client(notifier, settings).book(start)
    send_due(notifier)
    clock.set_local(start + timedelta(minutes=5))  # the notifier was down through both reminders

    send_due(notifier)

    assert len(twilio.sent) == 1
    assert {r.outcome for r in client.rows().values() if r.kind == "reminder"} == {"too_late"}


# --- changes ------------------------------------------------------------------------------------------------------


@pytest.mark.infra
def test_reschedule_moves_the_reminders_and_sends_one_notice_with_the_new_time(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    old, new = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN), datetime(2026, 3, 9, 11, 30, tzinfo=BERLIN)
    client = Client(notifier, settings).book(old)
    send_due(notifier)
    moved = BookingRescheduled(booking_id=client.booking_id, previous=slot_at(old), slot=slot_at(new, "Schwerin 1"),
                               language="en", by="staff", reminder_offsets_minutes=(1440, 120))
    client.deliver(moved)
    client.deliver(moved)  # redelivered: nothing twice
    send_due(notifier)

    assert len(twilio.sent) == 2 and "11:30" in twilio.bodies[1] and "Schwerin 1" in twilio.bodies[1]
    for moment in (old - timedelta(hours=24), old - timedelta(hours=2)):
        clock.set_local(moment)
        send_due(notifier)
    assert len(twilio.sent) == 2  # nothing at the old times
    clock.set_local(new - timedelta(hours=24))
    send_due(notifier)
    assert len(twilio.sent) == 3 and "11:30" in twilio.bodies[2]


@pytest.mark.infra
def test_cancel_cancels_the_reminders_and_sends_one_neutral_cancellation(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    start = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN)
    client = Client(notifier, settings).book(start)
    send_due(notifier)
    cancelled = BookingCancelled(booking_id=client.booking_id, by="client", starts_at=start.astimezone(UTC))
    client.deliver(cancelled)
    client.deliver(cancelled)
    send_due(notifier)
    clock.set_local(start - timedelta(hours=2))
    send_due(notifier)

    assert len(twilio.sent) == 2
    assert "14:00" in twilio.bodies[1]
    assert {r.status for r in client.rows().values() if r.kind == "reminder"} == {"cancelled"}


# --- the client decides what is safe ------------------------------------------------------------------------------


@pytest.mark.infra
def test_texts_turned_off_means_the_confirmation_and_nothing_else(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    start = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN)
    client = Client(notifier, settings).book(start, ContactPreferences(reminders=False))
    send_due(notifier)
    client.deliver(BookingCancelled(booking_id=client.booking_id, by="staff", starts_at=start.astimezone(UTC)))
    for moment in (start - timedelta(hours=24), start - timedelta(hours=2)):
        clock.set_local(moment)
        send_due(notifier)

    assert len(twilio.sent) == 1  # the confirmation they asked for
    assert not [r for r in client.rows().values() if r.kind != "confirmation" and r.status == "sent"]


@pytest.mark.infra
def test_reminders_move_into_the_clients_safe_window(notifier: Notifier, settings: NotifierSettings) -> None:
    weekdays = SafeWindow(days=("mon", "tue", "wed", "thu", "fri"), start=time(10, 0), end=time(18, 0))
    monday_nine = datetime(2026, 3, 9, 9, 0, tzinfo=BERLIN)

    rows = Client(notifier, settings).book(monday_nine, ContactPreferences(safe_window=weekdays)).rows()

    # Sunday 09:00 and Monday 07:00 are outside Mon-Fri 10-18: both move back to Friday 17:59, and collapse.
    reminders = [r for r in rows.values() if r.kind == "reminder"]
    assert [local(r) for r in reminders] == [datetime(2026, 3, 6, 17, 59, tzinfo=BERLIN)]


@pytest.mark.infra
def test_changed_preferences_replan_what_is_still_to_come(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    start = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN)
    client = Client(notifier, settings).book(start)
    send_due(notifier)
    client.deliver(ContactPreferencesChanged(booking_id=client.booking_id,
                                             preferences=ContactPreferences(reminders=False)))
    clock.set_local(start - timedelta(hours=24))
    send_due(notifier)
    assert len(twilio.sent) == 1

    client.deliver(ContactPreferencesChanged(booking_id=client.booking_id, preferences=ContactPreferences()))
    clock.set_local(start - timedelta(hours=2))
    send_due(notifier)
    assert len(twilio.sent) == 2  # the 2 h reminder is back; the 24 h one is past and not sent late


# --- delivery tracking --------------------------------------------------------------------------------------------


def report(sid: str, status: str, ref: str | None = None, code: str | None = None) -> dict[str, Any]:
    return wrap(DeliveryStatusReported(message_sid=sid, status=status, error_code=code, delivery_ref=ref,
                                       reported_at=datetime.now(UTC)), sid).to_wire()


def only_delivery(notifier: Notifier) -> Delivery:
    with Session(notifier.engine) as session:
        return session.exec(select(Delivery)).one()


@pytest.mark.infra
def test_status_callbacks_only_move_forward(notifier: Notifier, settings: NotifierSettings) -> None:
    Client(notifier, settings).book(datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN))
    send_due(notifier)
    sid = only_delivery(notifier).provider_sid
    assert sid is not None and only_delivery(notifier).status == "sending"

    for status, expected in [("sent", "sent"), ("delivered", "delivered"), ("sent", "delivered"),
                             ("delivered", "delivered"), ("undelivered", "delivered"), ("queued", "delivered")]:
        notifier.consumer.handle(report(sid, status))
        assert only_delivery(notifier).status == expected, status


@pytest.mark.infra
def test_callback_for_an_unknown_sid_changes_nothing(notifier: Notifier, settings: NotifierSettings,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    Client(notifier, settings).book(datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN))
    send_due(notifier)
    before = only_delivery(notifier)

    notifier.consumer.handle(report("SM" + "f" * 32, "delivered"))

    assert only_delivery(notifier) == before
    assert "does not know" in caplog.text


@pytest.mark.infra
def test_transient_refusals_are_retried_with_growing_waits_then_given_up(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    twilio.script = [(429, {"code": 20429, "message": "Too Many Requests", "status": 429})] * 10
    client = Client(notifier, settings).book(datetime(2026, 3, 9, 14, 0, tzinfo=BERLIN))
    waits = []
    for _ in range(settings.sms_max_attempts + 2):
        send_due(notifier)
        row = client.rows()["confirmation"]
        if row.status != "pending":
            break
        waits.append((row.due_at - clock.now).total_seconds())
        clock.now = row.due_at

    assert len(twilio.sent) == settings.sms_max_attempts
    assert client.rows()["confirmation"].status == "failed"
    assert waits == sorted(waits) and waits[0] >= 15  # backoff grows; not hammering the provider


@pytest.mark.infra
def test_invalid_number_is_not_retried_and_staff_are_told(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    twilio.script = [(400, {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400})]
    start = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN)
    client = Client(notifier, settings).book(start)
    send_due(notifier)
    clock.set_local(start - timedelta(hours=2))
    send_due(notifier)

    assert len(twilio.sent) == 1
    with Session(notifier.engine) as session:
        contact = session.get(Contact, str(client.booking_id))
        told = [json.loads(m.body) for m in session.exec(select(OutboxMessage))]
    assert contact is not None and contact.unreachable == "invalid_number"
    assert [(m["type"], m["payload"]["reason"], m["payload"]["error_code"]) for m in told] == [
        ("contact.unreachable", "invalid_number", "21211")]
    assert PHONE not in json.dumps(told)


@pytest.mark.infra
def test_undelivered_callback_with_a_permanent_code_stops_further_texts(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    start = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN)
    client = Client(notifier, settings).book(start)
    send_due(notifier)
    sid = only_delivery(notifier).provider_sid
    assert sid is not None
    notifier.consumer.handle(report(sid, "undelivered", code="30005"))
    clock.set_local(start - timedelta(hours=24))
    send_due(notifier)

    assert len(twilio.sent) == 1
    assert {r.status for r in client.rows().values() if r.kind == "reminder"} == {"cancelled"}


@pytest.mark.infra
def test_a_send_whose_answer_never_came_is_not_sent_again(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    twilio.script = [requests.exceptions.ReadTimeout("read timed out")]
    client = Client(notifier, settings).book(datetime(2026, 3, 9, 14, 0, tzinfo=BERLIN))
    send_due(notifier)
    clock.now += timedelta(minutes=5)
    send_due(notifier)
    notifier.dispatcher.reconcile()  # the provider's list shows nothing (yet)
    assert len(twilio.sent) == 1
    assert client.rows()["confirmation"].status == "sending"

    clock.now += timedelta(minutes=20)
    notifier.dispatcher.reconcile()

    assert len(twilio.sent) == 1
    assert client.rows()["confirmation"].status == "unknown"


@pytest.mark.infra
def test_a_send_whose_answer_was_lost_is_settled_by_asking_the_provider(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    twilio.script = [requests.exceptions.ReadTimeout("read timed out")]
    client = Client(notifier, settings).book(datetime(2026, 3, 9, 14, 0, tzinfo=BERLIN))
    send_due(notifier)
    sid = "SM" + "c" * 32
    twilio.list_answer = [{"sid": sid, "status": "delivered", "to": PHONE, "body": twilio.bodies[0],
                           "account_sid": ACCOUNT}]
    clock.now += timedelta(minutes=3)

    assert notifier.dispatcher.reconcile() == 1
    assert client.rows()["confirmation"].status == "sent"
    assert only_delivery(notifier).provider_sid == sid
    assert len(twilio.sent) == 1


@pytest.mark.infra
def test_a_callback_carrying_the_ref_settles_a_send_whose_answer_was_lost(
        notifier: Notifier, settings: NotifierSettings, twilio: ScriptedTwilio) -> None:
    twilio.script = [requests.exceptions.ReadTimeout("read timed out")]
    client = Client(notifier, settings).book(datetime(2026, 3, 9, 14, 0, tzinfo=BERLIN))
    send_due(notifier)
    ref = only_delivery(notifier).ref

    notifier.consumer.handle(report("SM" + "d" * 32, "delivered", ref=ref))

    assert only_delivery(notifier).status == "delivered"
    assert only_delivery(notifier).provider_sid == "SM" + "d" * 32
    assert client.rows()["confirmation"].status == "sent"


# --- opt-out ------------------------------------------------------------------------------------------------------


def keyword(settings: NotifierSettings, word: str, sid: str, language: str | None = None,
            phone: str = PHONE) -> dict[str, Any]:
    sealed = load_cipher(settings).encrypt(phone, inbound_phone_context(sid))
    return wrap(SmsReceived(message_sid=sid, phone=sealed, keyword=word, language=language), sid).to_wire()


@pytest.mark.infra
def test_stop_blocks_every_further_text_and_is_confirmed_once_start_undoes_it(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    start = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN)
    Client(notifier, settings, language="de").book(start)
    send_due(notifier)
    stop = keyword(settings, "stop", "SM" + "1" * 32, "de")
    notifier.consumer.handle(stop)
    notifier.consumer.handle(stop)
    notifier.consumer.handle(keyword(settings, "stop", "SM" + "2" * 32))  # STOP again: already out
    send_due(notifier)
    assert len(twilio.sent) == 2  # the confirmation, and the one answer to STOP
    clock.set_local(start - timedelta(hours=24))
    send_due(notifier)
    assert len(twilio.sent) == 2  # no reminder to a number that said STOP
    with Session(notifier.engine) as session:
        record = session.exec(select(OptOut)).one()
    assert record.opted_out and PHONE not in record.phone_hash

    notifier.consumer.handle(keyword(settings, "start", "SM" + "3" * 32))
    send_due(notifier)
    clock.set_local(start - timedelta(hours=2))
    send_due(notifier)
    assert len(twilio.sent) == 4  # the answer to START, then the 2 h reminder
    assert twilio.sent[1]["To"] == twilio.sent[2]["To"] == PHONE


@pytest.mark.infra
def test_start_from_a_number_that_never_stopped_sends_nothing(notifier: Notifier, settings: NotifierSettings,
                                                             twilio: ScriptedTwilio) -> None:
    notifier.consumer.handle(keyword(settings, "start", "SM" + "4" * 32))
    send_due(notifier)

    assert twilio.sent == []


# --- the send rate ----------------------------------------------------------------------------------------------


class Timeline:
    """Monotonic time that only sleeping moves: the pacing's waits are exact."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sends: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.infra
def test_sends_are_paced_to_the_rate_in_order_of_due_time(notifier: Notifier, settings: NotifierSettings, clock: Clock,
                                                          twilio: ScriptedTwilio) -> None:
    clients = [Client(notifier, settings, phone=f"+491511234{i:04d}") for i in range(9)]
    for i, client in enumerate(clients):
        # Nine bookings in one afternoon, 24 h reminders an hour apart, due in reverse order of booking.
        client.book(datetime(2026, 3, 5, 18, 0, tzinfo=BERLIN) - timedelta(hours=i), offsets=(1440,))
    timeline = Timeline()
    paced = Dispatcher(notifier.engine, load_cipher(settings), TwilioSender(settings, http_client=twilio),
                       notifier.dispatcher.policy, replace(notifier.dispatcher.config, rate_per_second=4.0), clock,
                       sleep=timeline.sleep, monotonic=lambda: timeline.now)
    sent_before = len(twilio.sent)
    clock.set_local(datetime(2026, 3, 4, 18, 0, tzinfo=BERLIN))  # all nine are due now
    twilio.on_send = lambda: timeline.sends.append(timeline.now)

    paced.dispatch_due(max_seconds=10)

    assert [d["To"] for d in twilio.sent[sent_before:]] == [c.phone for c in reversed(clients)]  # by due time
    gaps = [round(b - a, 6) for a, b in zip(timeline.sends, timeline.sends[1:], strict=False)]
    assert gaps == [0.25] * 8  # 4 per second, evenly


@pytest.mark.infra
def test_a_workers_tick_returns_at_once_and_its_dispatch_thread_sends_the_whole_backlog_paced_while_a_second_waits(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    clients = [Client(notifier, settings, phone=f"+491511234{i:04d}") for i in range(9)]
    for i, client in enumerate(clients):
        client.book(datetime(2026, 3, 5, 18, 0, tzinfo=BERLIN) - timedelta(hours=i), offsets=(1440,))
    timeline = Timeline()

    def worker() -> Dispatcher:  # as in another notifier process: its own pacing, the sender's lock shared
        return Dispatcher(notifier.engine, load_cipher(settings), TwilioSender(settings, http_client=twilio),
                          notifier.dispatcher.policy, replace(notifier.dispatcher.config, rate_per_second=4.0),
                          clock, sleep=timeline.sleep, monotonic=lambda: timeline.now)

    first, second = worker(), worker()
    first.start_background()
    sent_before = len(twilio.sent)
    clock.set_local(datetime(2026, 3, 4, 18, 0, tzinfo=BERLIN))  # all nine are due now
    second_sent: list[int] = []

    def on_send() -> None:
        timeline.sends.append(timeline.now)
        if len(timeline.sends) == 3:  # mid-backlog, the beat's next tick reaches the other worker
            second_sent.append(second.wake(max_seconds=10))

    twilio.on_send = on_send

    assert first.wake(max_seconds=10) == 0  # handed to the dispatch thread: the consumer thread is free at once
    deadline = time_module.monotonic() + 10
    while len(twilio.sent) - sent_before < 9 and time_module.monotonic() < deadline:
        time_module.sleep(0.02)

    assert [d["To"] for d in twilio.sent[sent_before:]] == [c.phone for c in reversed(clients)]  # by due time
    gaps = [round(b - a, 6) for a, b in zip(timeline.sends, timeline.sends[1:], strict=False)]
    assert gaps == [0.25] * 8  # one loop at 4/s from the first to the last, no restart in between
    assert second_sent == [0]  # the sender's limit holds across workers: the second found the lock held


@pytest.mark.infra
def test_a_text_made_due_while_another_worker_holds_the_sender_is_sent_when_it_lets_go_not_at_the_next_tick(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    assert notifier.engine.dialect.name == "postgresql"  # where the sender's lock spans processes
    client = Client(notifier, settings)
    client.book(datetime(2026, 3, 5, 18, 0, tzinfo=BERLIN), offsets=(1440,))
    woken = Dispatcher(notifier.engine, load_cipher(settings), TwilioSender(settings, http_client=twilio),
                       notifier.dispatcher.policy, replace(notifier.dispatcher.config, rate_per_second=4.0), clock)
    woken.start_background()
    sent_before = len(twilio.sent)
    clock.set_local(datetime(2026, 3, 4, 18, 0, tzinfo=BERLIN))  # the reminder is due now
    with sender_lock(notifier.engine) as held:  # as another worker's loop, just past its last (empty) claim
        assert held
        woken.wake()
        time_module.sleep(0.6)
        assert len(twilio.sent) == sent_before  # the limit per sender holds while the other loop runs
    deadline = time_module.monotonic() + 3  # the beat's next tick would be up to DISPATCH_EVERY_SECONDS away
    while len(twilio.sent) == sent_before and time_module.monotonic() < deadline:
        time_module.sleep(0.02)

    assert [d["To"] for d in twilio.sent[sent_before:]] == [client.phone]


@pytest.mark.infra
def test_a_contact_and_its_confirmation_handled_at_the_same_moment_by_two_workers_still_text_the_client(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    client = Client(notifier, settings)
    registered = wrap(ContactRegistered(
        booking_id=client.booking_id, phone=client.cipher.encrypt(client.phone, phone_context(client.booking_id)),
        manage_token=client.cipher.encrypt("T" * 22, manage_token_context(client.booking_id)),
        language=client.language, preferences=ContactPreferences()), client.booking_id)
    confirming = threading.Thread(target=client.confirm, args=(datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN),))
    with Session(notifier.engine) as first_worker:  # the contact's transaction, not yet committed ...
        notifier.consumer.commands["contact.registered"](registered, first_worker)
        confirming.start()  # ... while a second worker handles the confirmation
        confirming.join(timeout=1.5)
        first_worker.commit()
    confirming.join(timeout=30)
    assert not confirming.is_alive()

    send_due(notifier)

    assert [d["To"] for d in twilio.sent] == [client.phone]  # neither transaction saw the other's row: lost


@pytest.mark.infra
def test_a_number_that_said_stop_before_booking_gets_nothing_until_start_and_staff_see_why(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    notifier.consumer.handle(keyword(settings, "stop", "SM" + "5" * 32, "en"))
    send_due(notifier)
    assert len(twilio.sent) == 1  # the answer to STOP
    start = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN)
    client = Client(notifier, settings).book(start)
    send_due(notifier)
    assert len(twilio.sent) == 1  # no confirmation to a number that said STOP
    with Session(notifier.engine) as session:
        told = [json.loads(m.body) for m in session.exec(select(OutboxMessage))]
    assert [(m["type"], m["payload"]["booking_id"], m["payload"]["reason"]) for m in told] == [
        ("contact.unreachable", str(client.booking_id), "opted_out")]

    notifier.consumer.handle(keyword(settings, "start", "SM" + "6" * 32))
    clock.set_local(start - timedelta(hours=24))
    send_due(notifier)
    assert len(twilio.sent) == 3  # the answer to START, then the reminder still to come
    assert "14:00" in twilio.bodies[2]


@pytest.mark.infra
def test_after_retention_no_number_is_left_not_even_masked(
        notifier: Notifier, settings: NotifierSettings, clock: Clock, twilio: ScriptedTwilio) -> None:
    start = datetime(2026, 3, 5, 14, 0, tzinfo=BERLIN)
    Client(notifier, settings).book(start)
    notifier.consumer.handle(keyword(settings, "stop", "SM" + "7" * 32, "en"))
    send_due(notifier)
    with Session(notifier.engine) as session:
        assert {d.to_masked for d in session.exec(select(Delivery))} != {""}

    clock.set_local(start + timedelta(days=settings.contact_retention_days, hours=1))
    notifier.dispatcher.purge_expired()

    with Session(notifier.engine) as session:
        assert session.exec(select(Contact)).all() == []
        assert {d.to_masked for d in session.exec(select(Delivery))} == {""}
        assert {(r.phone_ciphertext, r.phone_context) for r in session.exec(select(Reminder))} == {(None, None)}
        assert len(session.exec(select(Delivery)).all()) == 2  # the history of what was sent stays for admins
