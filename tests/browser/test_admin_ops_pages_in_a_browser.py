"""An admin in Chromium on the delivery dashboard and the health page: the chart is an image with a name, the
banner says texts were refused because of the SMS account, a text Twilio refused for a passing reason is sent again
and reaches Twilio this time, a dead letter is put back on its queue and another discarded after a question; axe-core
finds no violation on any of these pages, and none asks another origin for anything.

The staff pages in process (tests/support/staff_pages) served by uvicorn, with the real SystemHealth on the embedded
broker. Over that broker, the real notifier (notifier.app.build on SQLite, its Celery worker in a thread, its
dispatch thread) and the gateway's real DeliveryReports, publisher and reply listener: the notifier hears of two
bookings as events, sends their confirmations through the official Twilio SDK to Twilio's contract mock behind the
recording proxy (tests/support/twilio_proxy), which answers the first "credentials refused" (20003) and the second
"too many requests" (20429), and answers the dashboard's questions. Not a system of processes
(tests/support/system): that costs a start and stop of four roles (about 17 s here) and could not put the notifier's
clock at the pages' day, for no page behaviour more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from celery.contrib.testing.worker import start_worker
from gateway.delivery_reports import DeliveryReports
from gateway.listener import Listener
from gateway.settings import GatewaySettings
from gateway.slots import ReplyWaiter
from kombu import Queue
from notifier.app import Notifier
from notifier.app import build as build_notifier
from notifier.settings import NotifierSettings
from notifier.tables import Delivery, Reminder
from playwright.sync_api import Browser, expect
from scheduler.domain.availability import make_slot_id
from sqlmodel import Session, select

from shared.cipher import load_cipher
from shared.contracts import (
    BookingConfirmed,
    ContactPreferences,
    ContactRegistered,
    Mode,
    PublicLocation,
    Slot,
    wrap,
)
from shared.contracts.contacts import manage_token_context, phone_context
from shared.messaging import Publisher, broker_connection, make_celery, queues_for
from shared.settings import load_settings
from tests.support.browser import DESKTOP, AxeAudit, RequestLog
from tests.support.dead_letters import take_dead_letters
from tests.support.logs import logging_kept
from tests.support.server import serving
from tests.support.staff_pages import NOW, PASSWORD, StaffDesk, staff_desk
from tests.support.system import poll
from tests.support.twilio_proxy import TwilioProxy, Verdict, twilio_proxy
from tests.unit.test_health_pages import SECRET_PHONE, a_dead_letter, health_service

BERLIN = ZoneInfo("Europe/Berlin")
ACCOUNT_SID = "AC" + "0" * 32
LOCKED_OUT = "+4915112345601"  # their confirmation is refused: Twilio does not take our credentials (20003)
BUSY = "+4915112345602"  # theirs is refused: too many requests at once (20429), which sending again can help
REQUEUED, DISCARDED = "handler failed: ValueError", "booking.requested v1 does not validate (fields: phone)"


@dataclass
class Office:
    desk: StaffDesk
    notifier: Notifier
    twilio: TwilioProxy
    busy_booking: UUID

    @property
    def broker(self) -> GatewaySettings:
        return self.desk.app.state.gateway.health.settings  # type: ignore[no-any-return]

    def busy_texts(self) -> tuple[Reminder, list[Delivery]]:
        with Session(self.notifier.engine) as session:
            reminder = session.exec(select(Reminder).where(Reminder.booking_id == str(self.busy_booking))
                                    .where(Reminder.kind == "confirmation")).one()
            sent = session.exec(select(Delivery).where(Delivery.reminder_id == reminder.id)
                                .order_by(Delivery.attempt)).all()  # type: ignore[arg-type]
            return reminder, list(sent)


def book(publisher: Publisher, settings: NotifierSettings, phone: str) -> UUID:
    """A booking as the notifier hears of it over the broker (the gateway's contact, the scheduler's confirmation,
    whose text is due at once)."""
    booking_id, cipher = uuid4(), load_cipher(settings)
    start = NOW + timedelta(days=3)
    place = PublicLocation(location_id=1, town="Rostock", kind=Mode.office, alias="Rostock 1")
    for payload in (
            ContactRegistered(booking_id=booking_id, phone=cipher.encrypt(phone, phone_context(booking_id)),
                              manage_token=cipher.encrypt("T" * 22, manage_token_context(booking_id)),
                              language="de", preferences=ContactPreferences()),
            BookingConfirmed(booking_id=booking_id, language="de", reminder_offsets_minutes=(1440,),
                             slot=Slot(slot_id=make_slot_id(1, 1, 1, start), start=start,
                                       end=start + timedelta(minutes=50), location=place, mode=Mode.office,
                                       counsellor="Anna"))):
        publisher.publish(wrap(payload, booking_id).to_wire(), payload.message_type)
    return booking_id


@pytest.fixture
def office(tmp_path: Path, twilio_mock_url: str) -> Iterator[Office]:
    with staff_desk(tmp_path) as desk, twilio_proxy(twilio_mock_url) as twilio:
        desk.app.state.gateway.health = health = health_service(tmp_path)
        broker = health.settings
        assert isinstance(broker, GatewaySettings)  # health_service's: the gateway's settings on the embedded broker
        settings = load_settings(
            NotifierSettings, var_dir=tmp_path / "notifier", broker_url=broker.broker_url,
            timezone="Europe/Berlin", sms_provider="twilio", twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token="test-token", twilio_from="+4915187654321", twilio_api_base_url=twilio.url,
            public_base_url="http://127.0.0.1:8000", sms_rate_per_second=0, quiet_hours_start="00:00",
            quiet_hours_end="00:00",
            # The notifier gives up at the first refusal: the admin's retry is then the only way the text goes out
            # (with more attempts, its own retry would come first, and the dashboard offers none meanwhile).
            sms_max_attempts=1)
        # The notifier's day is the pages' (NOW): the dashboard's period, the texts' times and the retry's "too late".
        notifier = build_notifier(settings, clock=lambda: NOW)
        notifier.dispatcher.start_background()  # as `python -m notifier worker` does
        # The gateway's side of the questions, as gateway.app builds it: its publisher, and its listener that
        # resolves the waiting questions from its own reply queue.
        publisher, waiter = Publisher(make_celery("gateway", broker), broker), ReplyWaiter()
        replies = Queue(f"gateway.replies.{uuid4().hex[:12]}", durable=False, exclusive=True, auto_delete=True)
        listener = Listener(broker_connection(broker), queues_for("gateway", broker)[0], replies,
                            on_event=lambda _envelope: None, on_reply=waiter.resolve,
                            dead_letter=lambda _message, _reason: None)
        desk.app.state.gateway.deliveries = DeliveryReports(publisher, waiter, replies.name, 10.0, lambda: NOW,
                                                            BERLIN)
        listener.start()
        try:
            with logging_kept(), start_worker(
                    notifier.celery, pool="solo", perform_ping_check=False, shutdown_timeout=20,
                    queues=",".join(queue.name for queue in queues_for("notifier", settings))):
                verdicts: dict[int, Verdict] = {1: "answer_401", 2: "answer_429"}
                twilio.on_post = lambda n: verdicts.get(n, "forward")
                book(publisher, settings, LOCKED_OUT)
                poll(lambda: len(twilio.attempts) == 1, seconds=10)  # one after the other: each its verdict
                busy = book(publisher, settings, BUSY)
                poll(lambda: len(twilio.attempts) == 2, seconds=10)
                for reason in (REQUEUED, DISCARDED):
                    a_dead_letter(broker, reason)
                yield Office(desk, notifier, twilio, busy)
        finally:
            listener.stop()
            take_dead_letters(broker)
            notifier.engine.dispose()


def take_queued(office: Office, queue: str) -> list[dict[str, Any]]:
    """The envelopes waiting on `queue` of the embedded broker, taken off it."""
    with broker_connection(office.broker) as connection:
        found = []
        while (message := Queue(queue, channel=connection.default_channel).get(no_ack=True)) is not None:
            found.append(json.loads(message.body)[0][0])
        return found


def test_an_admin_sees_the_refused_texts_retries_one_into_twilio_and_requeues_a_dead_letter(
        chrome: Browser, office: Office) -> None:
    requests = RequestLog()
    audit = AxeAudit()
    desk = office.desk

    with serving(desk.app) as url:
        # axe-core is a script: the page's context must be allowed to run it despite the pages' CSP.
        context = chrome.new_context(base_url=url, viewport=DESKTOP, locale="de-DE", bypass_csp=True)
        context.set_default_timeout(15_000)
        context.on("request", requests.record)
        try:
            page = context.new_page()
            page.goto("/admin")
            page.get_by_label("Benutzername").fill("admin")
            page.get_by_label("Passwort").fill(PASSWORD)
            page.get_by_role("button", name="Anmelden").click()
            page.get_by_label("Code").fill(desk.code("admin"))
            page.get_by_role("button", name="Anmelden").click()

            page.get_by_role("link", name="Zustellung der SMS").click()
            expect(page.get_by_role("img", name="SMS pro Tag, vom 2025-03-25 bis 2025-03-31")).to_be_visible()
            banner = page.get_by_role("alert")  # Twilio's 401 is our credentials, said in words, with its code
            expect(banner).to_contain_text("Der SMS-Anbieter nimmt die Zugangsdaten unseres Kontos nicht an.")
            expect(banner).to_contain_text("SMS wegen des SMS-Kontos abgelehnt")
            expect(banner).to_contain_text("20003")
            locked_out = page.get_by_role("row").filter(has_text="(20003)")
            busy = page.get_by_role("row").filter(has_text="(20429)")
            expect(locked_out).to_contain_text("•••601")
            expect(busy).to_contain_text("•••602")
            # Sending again cannot help while Twilio refuses our credentials: only the passing refusal has a button.
            expect(locked_out.get_by_role("button", name="Erneut senden")).to_have_count(0)
            audit("delivery dashboard", page)
            busy.get_by_role("button", name="Erneut senden").click()
            expect(page.get_by_role("status")).to_contain_text("Die SMS wird noch einmal gesendet.")
            expect(page.get_by_role("button", name="Erneut senden")).to_have_count(0)  # retried once only
            expect(busy).to_contain_text("Diese SMS wurde schon einmal erneut gesendet")
            audit("retried", page)

            page.goto("/admin")
            page.get_by_role("link", name="Systemzustand und unzustellbare Nachrichten").click()
            expect(page.get_by_role("cell", name=REQUEUED)).to_be_visible()
            audit("health", page)
            page.get_by_role("row").filter(has_text=REQUEUED).get_by_role("button", name="Zurückstellen").click()
            expect(page.get_by_role("status")).to_have_text(
                "Die unzustellbare Nachricht ist zurück in ihrer Warteschlange.")
            expect(page.get_by_role("cell", name=REQUEUED)).to_have_count(0)
            audit("requeued", page)
            page.get_by_role("row").filter(has_text=DISCARDED).get_by_role("link", name="Verwerfen …").click()
            audit("discard question", page)
            page.get_by_role("button", name="Ja, verwerfen").click()
            expect(page.get_by_role("status")).to_have_text("Die unzustellbare Nachricht ist verworfen.")
            expect(page.get_by_text("Keine unzustellbaren Nachrichten.")).to_be_visible()
        finally:
            context.close()

    # The retry reached Twilio: a third request, for the busy number, forwarded to the mock and accepted.
    poll(lambda: len(office.twilio.posts) == 1 and office.twilio.posts[0].status is not None, seconds=10)
    assert [(post.form["To"], post.forwarded) for post in office.twilio.attempts] == [
        (LOCKED_OUT, False), (BUSY, False), (BUSY, True)]
    assert office.twilio.posts[0].status == 201
    reminder, sent = office.busy_texts()
    assert [(d.attempt, d.status, d.error_code, d.retried_at is not None) for d in sent] == [
        (1, "failed", "20429", True), (2, "sending", None, False)]
    assert reminder.status == "sent" and office.twilio.posts[0].delivery_ref == sent[1].ref
    # The requeued letter is back on the queue it was dead-lettered from, as it was; the discarded one is gone.
    back = take_queued(office, "scheduler.bookings")
    assert [(envelope["type"], envelope["payload"]["slot_id"], envelope["phone"]) for envelope in back] == [
        ("booking.requested", "s2-1-2-3-29000000", SECRET_PHONE)]
    assert take_dead_letters(office.broker) == []
    assert audit.found == {}, audit.report()
    assert requests.foreign(url) == [], "a page asked another origin"
