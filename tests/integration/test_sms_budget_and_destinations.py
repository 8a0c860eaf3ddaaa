"""The notifier's last line against SMS abuse (issue "Lotse 5/7"): a daily text budget per Europe/Berlin day, and
numbers texts may not go to (a country not in SMS_ALLOWED_COUNTRIES, satellite, premium-rate) failed before any
send. On the embedded default (SQLite, no broker needed: messages are handed to the consumer directly) with a
fixed clock and Twilio's SDK answered by a script."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from notifier.app import Notifier
from notifier.app import build as build_notifier
from notifier.settings import NotifierSettings
from notifier.sms import TwilioSender
from notifier.tables import Delivery, Reminder, SmsBudgetDay
from sqlmodel import Session, select

from shared.crypto import generate_data_key
from shared.settings import load_settings
from tests.integration.test_notifier_reminders import ACCOUNT, BERLIN, Client, Clock, ScriptedTwilio

NO_REMINDERS = ()
DATA_KEY = generate_data_key()  # one key for the module: two notifiers of a test share a database


def make_notifier(tmp_path: Path, clock: Clock, twilio: ScriptedTwilio, **overrides: object) -> Iterator[Notifier]:
    settings = load_settings(NotifierSettings, **{
        "var_dir": tmp_path, "notifier_database_url": f"sqlite:///{tmp_path / 'notifier.sqlite'}",
        "broker_url": "memory://", "data_key": DATA_KEY, "sms_provider": "twilio", "twilio_account_sid": ACCOUNT,
        "twilio_auth_token": "secret", "twilio_from": "+4915100000000", "public_base_url": "https://t.example.org",
        "sms_rate_per_second": 0, **overrides})
    built = build_notifier(settings, clock=clock, sender=TwilioSender(settings, http_client=twilio))
    built.settings_for_test = settings  # type: ignore[attr-defined]
    yield built
    built.engine.dispose()


@pytest.fixture
def twilio() -> ScriptedTwilio:
    return ScriptedTwilio()


def book(notifier: Notifier, start: datetime, phone: str = "+4915112345678") -> Client:
    client = Client(notifier, notifier.settings_for_test, phone=phone)  # type: ignore[attr-defined]
    return client.book(start, offsets=NO_REMINDERS)


def send_due(notifier: Notifier) -> None:
    notifier.dispatcher.dispatch_due(max_seconds=0.5)


def pending(notifier: Notifier) -> int:
    with Session(notifier.engine) as session:
        return len(session.exec(select(Reminder).where(Reminder.status == "pending")).all())


def budget_days(notifier: Notifier) -> list[SmsBudgetDay]:
    with Session(notifier.engine) as session:
        return list(session.exec(select(SmsBudgetDay)).all())


# --- the daily budget ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("evening", [
    datetime(2026, 6, 10, 22, 0, tzinfo=BERLIN),   # summer time: the day ends at 22:00 UTC
    datetime(2026, 3, 28, 22, 0, tzinfo=BERLIN),   # the night the clocks go forward: the next day has 23 hours
    datetime(2026, 10, 24, 22, 0, tzinfo=BERLIN),  # the night they go back: the next day has 25 hours
], ids=["summer", "spring-forward", "fall-back"])
def test_budget_reached_stops_sending_keeps_texts_queued_and_resumes_at_local_midnight(
        tmp_path: Path, twilio: ScriptedTwilio, caplog: pytest.LogCaptureFixture, evening: datetime) -> None:
    clock = Clock(evening.astimezone(UTC))
    notifier = next(make_notifier(tmp_path, clock, twilio, sms_daily_budget=3))
    start = evening + timedelta(days=3)
    with caplog.at_level(logging.WARNING, logger="notifier.dispatch.budget"):
        for n in range(5):
            book(notifier, start + timedelta(hours=n))
        send_due(notifier)
        send_due(notifier)

    assert len(twilio.sent) == 3  # five confirmations due, three within the budget
    assert pending(notifier) == 2  # the other two wait: not skipped, not failed
    assert [(d.day, d.budget) for d in budget_days(notifier)] == [(evening.date().isoformat(), 3)]
    assert caplog.text.count("daily text budget of 3 reached") == 1
    assert "+49" not in caplog.text

    midnight = datetime.combine(evening.date() + timedelta(days=1), datetime.min.time(), tzinfo=BERLIN)
    clock.now = (midnight - timedelta(seconds=1)).astimezone(UTC)  # still the same local day
    send_due(notifier)
    assert len(twilio.sent) == 3
    clock.now = midnight.astimezone(UTC)
    send_due(notifier)
    assert len(twilio.sent) == 5 and pending(notifier) == 0


def test_raising_the_budget_sends_what_waited_the_same_day(tmp_path: Path, twilio: ScriptedTwilio) -> None:
    clock = Clock(datetime(2026, 6, 10, 12, 0, tzinfo=BERLIN).astimezone(UTC))
    first = next(make_notifier(tmp_path, clock, twilio, sms_daily_budget=2))
    for n in range(4):
        book(first, datetime(2026, 6, 15, 10 + n, 0, tzinfo=BERLIN))
    send_due(first)
    assert len(twilio.sent) == 2 and pending(first) == 2
    first.engine.dispose()

    raised = next(make_notifier(tmp_path, clock, twilio, sms_daily_budget=10))  # a restart with a higher budget
    send_due(raised)
    assert len(twilio.sent) == 4 and pending(raised) == 0


def test_the_budget_is_shared_by_two_notifiers_on_one_database(tmp_path: Path, twilio: ScriptedTwilio) -> None:
    clock = Clock(datetime(2026, 6, 10, 12, 0, tzinfo=BERLIN).astimezone(UTC))
    one = next(make_notifier(tmp_path, clock, twilio, sms_daily_budget=3))
    two = next(make_notifier(tmp_path, clock, twilio, sms_daily_budget=3))
    for n in range(3):
        book(one, datetime(2026, 6, 15, 10 + n, 0, tzinfo=BERLIN))
    send_due(one)
    for n in range(3):
        book(two, datetime(2026, 6, 16, 10 + n, 0, tzinfo=BERLIN))
    send_due(two)
    send_due(one)
    assert len(twilio.sent) == 3 and pending(two) == 3


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.infra)])
def test_notifiers_claiming_at_the_same_moment_stop_together_at_the_budget(
        request: pytest.FixtureRequest, tmp_path: Path, twilio: ScriptedTwilio, backend: str) -> None:
    url = (request.getfixturevalue("migrated_databases").notifier if backend == "postgresql"
           else f"sqlite:///{tmp_path / 'notifier.sqlite'}")
    clock = Clock(datetime(2026, 6, 10, 12, 0, tzinfo=BERLIN).astimezone(UTC))
    notifiers = [next(make_notifier(tmp_path, clock, twilio, sms_daily_budget=4, notifier_database_url=url))
                 for _ in range(6)]
    for n in range(40):
        book(notifiers[0], datetime(2026, 6, 15, 8, 0, tzinfo=BERLIN) + timedelta(minutes=30 * n))
    assert len(twilio.sent) == 4  # sent as each was handled, until the day's budget was spent
    clock.now = datetime(2026, 6, 11, 0, 1, tzinfo=BERLIN).astimezone(UTC)  # a new day, a new budget
    assert all(pending(notifier) == 36 for notifier in notifiers)  # each has its connection open: no one is late
    start = threading.Barrier(len(notifiers))

    def at_once(notifier: Notifier) -> None:
        start.wait()
        notifier.dispatcher.dispatch_due()  # one claim each, all at the same moment

    with ThreadPoolExecutor(len(notifiers)) as pool:
        list(pool.map(at_once, notifiers))
    assert len(twilio.sent) == 8 and pending(notifiers[0]) == 32


# --- numbers texts may not go to -------------------------------------------------------------------------------

@pytest.mark.parametrize("phone", ["+881612345678", "+447911123456", "+43664123456"],
                         ids=["satellite", "uk-mobile-not-allowed", "austria-not-allowed"])
def test_a_number_outside_the_allowed_countries_or_networks_is_failed_without_a_send(
        tmp_path: Path, twilio: ScriptedTwilio, caplog: pytest.LogCaptureFixture, phone: str) -> None:
    clock = Clock(datetime(2026, 6, 10, 12, 0, tzinfo=BERLIN).astimezone(UTC))
    notifier = next(make_notifier(tmp_path, clock, twilio))
    with caplog.at_level(logging.INFO):
        client = book(notifier, datetime(2026, 6, 15, 10, 0, tzinfo=BERLIN), phone=phone)
        send_due(notifier)
        send_due(notifier)
    assert twilio.sent == []
    assert client.rows()["confirmation"].status == "failed"
    assert client.rows()["confirmation"].outcome == "destination_refused"
    with Session(notifier.engine) as session:
        deliveries = session.exec(select(Delivery)).all()
    assert [(d.status, d.error_code) for d in deliveries] == [("failed", "destination")]
    assert "texts may not go to" in caplog.text and phone not in caplog.text and phone[-6:] not in caplog.text


def test_a_country_added_to_the_allowed_list_is_texted(tmp_path: Path, twilio: ScriptedTwilio) -> None:
    clock = Clock(datetime(2026, 6, 10, 12, 0, tzinfo=BERLIN).astimezone(UTC))
    notifier = next(make_notifier(tmp_path, clock, twilio, sms_allowed_countries="AT,PL"))
    book(notifier, datetime(2026, 6, 15, 10, 0, tzinfo=BERLIN), phone="+43664123456")
    send_due(notifier)
    assert [d["To"] for d in twilio.sent] == ["+43664123456"]


def test_refused_destinations_do_not_use_up_the_budget(tmp_path: Path, twilio: ScriptedTwilio) -> None:
    clock = Clock(datetime(2026, 6, 10, 12, 0, tzinfo=BERLIN).astimezone(UTC))
    notifier = next(make_notifier(tmp_path, clock, twilio, sms_daily_budget=2))
    for n in range(3):
        book(notifier, datetime(2026, 6, 15, 10 + n, 0, tzinfo=BERLIN), phone="+881612345678")
    send_due(notifier)
    book(notifier, datetime(2026, 6, 16, 10, 0, tzinfo=BERLIN))
    book(notifier, datetime(2026, 6, 16, 11, 0, tzinfo=BERLIN))
    send_due(notifier)
    assert len(twilio.sent) == 2
