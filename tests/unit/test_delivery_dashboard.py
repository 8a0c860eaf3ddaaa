"""The admins' delivery dashboard: the notifier's report and failed list over its own deliveries (SQLite, a fixed
clock), the staff retry through the normal dispatch path, and the gateway's admin routes asking the notifier over
the request/reply contract (a publisher that hands each question to the notifier's handler in-process)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gateway import migrations as gateway_migrations
from gateway.api import deliveries as deliveries_api
from gateway.api import errors, staff_auth
from gateway.api.staff_deps import CSRF_HEADER
from gateway.delivery_reports import DeliveryReports
from gateway.settings import GatewaySettings
from gateway.slots import ReplyWaiter
from gateway.staff.accounts import StaffAccounts
from notifier import deliveries, delivery_dashboard
from notifier import migrations as notifier_migrations
from notifier.dispatch.claims import claim_due
from notifier.domain.planning import QuietHours
from notifier.domain.provider_errors import Retries
from notifier.plans import Policy
from notifier.repository import NotifierRepository
from notifier.tables import Delivery, Reminder
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session, select

from shared.contracts import (
    DeliveriesReported,
    DeliveriesReportRequested,
    DeliveryRetried,
    DeliveryRetryRequested,
    DeliveryStatusReported,
    FailedDeliveriesListed,
    FailedDeliveriesRequested,
    parse,
    wrap,
)
from shared.crypto import DataCipher, generate_data_key
from shared.db import make_engine
from tests.support.staff_pages import DeskClock

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2030, 3, 20, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
REPLY_TO = "gateway.replies.0123456789ab"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 3, day, hour, minute, tzinfo=UTC)


@dataclass
class Texts:
    engine: Engine

    def add(self, created: datetime, status: str, language: str = "de", code: str | None = None,
            delivered_after: float | None = None, not_after: datetime = NOW + timedelta(days=3),
            reminder_status: str | None = None, attempts: int = 1) -> int:
        """A message and its (last) delivery; returns the delivery's id."""
        with Session(self.engine, expire_on_commit=False) as session:
            reminder = Reminder(key=secrets.token_hex(8), kind="reminder", language=language, due_at=created,
                                not_after=not_after, attempts=attempts, phone_ciphertext="sealed",
                                status=reminder_status or ("failed" if status in ("failed", "undelivered")
                                                           else "sent"))
            session.add(reminder)
            session.flush()
            delivery = Delivery(reminder_id=reminder.id or 0, attempt=attempts, ref=secrets.token_hex(8),
                                provider="twilio", status=status, error_code=code, to_masked="+49151•••••678",
                                language=language, created_at=created, updated_at=created,
                                delivered_at=None if delivered_after is None
                                else created + timedelta(seconds=delivered_after))
            session.add(delivery)
            session.commit()
            assert delivery.id is not None
            return delivery.id


def _notifier_engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    notifier_migrations.upgrade(engine)
    return engine


@pytest.fixture(scope="module")
def march(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Texts]:
    """A month of texts, written once for the report tests (which only read)."""
    engine = _notifier_engine(tmp_path_factory.mktemp("report") / "notifier.sqlite")
    texts = Texts(engine)
    for seconds in (4, 6, 10):
        texts.add(at(10, 9), "delivered", delivered_after=seconds)
    texts.add(at(10, 10), "delivered", language="ro", delivered_after=100)
    texts.add(at(10, 11), "undelivered", language="ro", code="30003")
    texts.add(at(11, 8), "failed", code="30008")
    texts.add(at(11, 9), "failed", code="20003")
    texts.add(at(11, 10), "sent")
    texts.add(at(11, 22, 30), "queued", language="uk")  # 23:30 in Berlin: still 11 March
    texts.add(at(11, 23, 30), "sending", language="uk")  # 00:30 in Berlin: 12 March
    texts.add(at(1, 9), "failed", code="20003")  # before the period
    yield texts
    engine.dispose()


def report(texts: Texts, first: date = date(2030, 3, 10), end: date = date(2030, 3, 13)) -> DeliveriesReported:
    return report_at(texts, NOW, first, end)


def report_at(texts: Texts, now: datetime, first: date = date(2030, 3, 10),
              end: date = date(2030, 3, 13)) -> DeliveriesReported:
    with Session(texts.engine) as session:
        return delivery_dashboard.build_report(session, first, end, BERLIN, now)


# --- the report ----------------------------------------------------------------------------------------------------


def test_report_counts_the_periods_texts_by_status_language_and_error(march: Texts) -> None:
    found = report(march)

    assert found.total == 10
    assert found.by_status == {"queued": 1, "sending": 1, "sent": 1, "delivered": 4, "undelivered": 1, "failed": 2}
    assert found.by_language == {"de": 6, "ro": 2, "uk": 2}
    assert {e.error.code: e.count for e in found.by_error} == {"30003": 1, "30008": 1, "20003": 1}
    assert found.delivery_rate == round(4 / 7, 4)


def test_median_time_to_delivered_is_the_middle_of_the_delivered_texts(march: Texts) -> None:
    # 4, 6, 10 and 100 seconds: the mean of the two middle ones.
    assert report(march).median_seconds_to_delivered == 8.0


def test_daily_series_counts_berlin_days_and_has_every_day_of_the_period(march: Texts) -> None:
    daily = {d.day: d.counts for d in report(march).daily}

    assert list(daily) == [date(2030, 3, 10), date(2030, 3, 11), date(2030, 3, 12)]
    assert daily[date(2030, 3, 10)]["delivered"] == 4 and daily[date(2030, 3, 10)]["undelivered"] == 1
    assert (daily[date(2030, 3, 11)]["queued"], daily[date(2030, 3, 11)]["sending"]) == (1, 0)
    assert daily[date(2030, 3, 12)]["sending"] == 1


def test_errors_are_explained_with_what_staff_should_do(march: Texts) -> None:
    errors_ = {e.error.code: e.error for e in report(march).by_error}

    assert "phone could not be reached" in errors_["30003"].reason and not errors_["30003"].retryable
    assert errors_["30008"].retryable and errors_["30008"].action == "Send it again."
    assert errors_["20003"].account_problem == "authentication"


def test_a_failure_of_the_sms_account_in_the_period_raises_the_banner(march: Texts) -> None:
    banner = report(march).banner

    assert banner is not None
    assert (banner.kinds, banner.codes, banner.count, banner.last_at) == (["authentication"], ["20003"], 1,
                                                                          at(11, 9))


def test_a_period_without_account_failures_has_no_banner_and_no_rate_without_final_texts(march: Texts) -> None:
    found = report(march, date(2030, 3, 12), date(2030, 3, 13))

    assert (found.banner, found.delivery_rate, found.median_seconds_to_delivered, found.total) == (None, None,
                                                                                                    None, 1)


def test_settled_days_read_from_their_counts_give_the_figures_of_the_deliveries_themselves(march: Texts) -> None:
    # On 12 March every day of the period was recent (counted from the deliveries); on NOW they are settled and
    # counted once into the day tables.
    live = report_at(march, at(12, 23))
    counted = report(march)

    assert counted == live


def test_a_late_status_on_a_counted_day_is_counted_again(texts: Texts) -> None:
    texts.add(at(10, 9), "sent")
    with Session(texts.engine) as session:
        ref = session.exec(select(Delivery.ref)).one()
    assert report(texts).by_status["sent"] == 1  # the day is counted now

    with Session(texts.engine) as session:
        repo = NotifierRepository(session)
        late = DeliveryStatusReported(message_sid="SM" + "1" * 32, status="delivered", delivery_ref=ref,
                                      reported_at=NOW)
        deliveries.apply_report(repo, late, NOW, Retries(max_attempts=3))
        session.commit()

    again = report(texts)
    assert (again.by_status["sent"], again.by_status["delivered"]) == (0, 1)
    with Session(texts.engine) as session:
        assert session.exec(select(Delivery.delivered_at)).one() == NOW  # the callback's time: time to delivered


def test_the_day_the_clocks_go_forward_has_23_hours_of_texts(texts: Texts) -> None:
    # 31 March 2030: Berlin's midnight is 23:00 UTC the day before, the next midnight 22:00 UTC.
    texts.add(datetime(2030, 3, 30, 22, 59, tzinfo=UTC), "sent")  # 30 March, 23:59 in Berlin
    texts.add(datetime(2030, 3, 30, 23, 0, tzinfo=UTC), "sent")  # 31 March, 00:00
    texts.add(datetime(2030, 3, 31, 21, 59, tzinfo=UTC), "sent")  # 31 March, 23:59 (summer time)
    texts.add(datetime(2030, 3, 31, 22, 0, tzinfo=UTC), "sent")  # 1 April, 00:00

    for now in (datetime(2030, 4, 1, 12, 0, tzinfo=UTC), datetime(2030, 4, 20, 12, 0, tzinfo=UTC)):  # live, counted
        daily = {d.day: d.counts["sent"] for d in report_at(texts, now, date(2030, 3, 30), date(2030, 4, 2)).daily}
        assert daily == {date(2030, 3, 30): 1, date(2030, 3, 31): 2, date(2030, 4, 1): 1}


def test_the_hourly_count_leaves_a_report_only_counts_to_read(texts: Texts) -> None:
    texts.add(at(10, 9), "delivered", delivered_after=5)
    with Session(texts.engine) as session:
        first = delivery_dashboard.count_settled_days(session, BERLIN, NOW)
        again = delivery_dashboard.count_settled_days(session, BERLIN, NOW)

    assert (first, again) == (366, 0)
    with Session(texts.engine) as session:
        texts_gone = session.exec(select(Delivery)).all()
        for delivery in texts_gone:
            session.delete(delivery)  # a report of counted days no longer needs the deliveries themselves
        session.commit()
    assert report(texts).by_status["delivered"] == 1


# --- the failed list -------------------------------------------------------------------------------------------------


def failed(texts: Texts, limit: int = 50, cursor: str | None = None) -> FailedDeliveriesListed:
    asked = FailedDeliveriesRequested(date_from=date(2030, 3, 10), date_to=date(2030, 3, 13), limit=limit,
                                      cursor=cursor, reply_to=REPLY_TO)
    with Session(texts.engine) as session:
        return delivery_dashboard.list_failed(session, asked, BERLIN, NOW)


def test_failed_list_is_newest_first_with_the_masked_number_and_the_reason(march: Texts) -> None:
    items = failed(march).items

    assert [i.error.code for i in items] == ["20003", "30008", "30003"]
    assert {i.to_masked for i in items} == {"+49151•••••678"}
    assert items[1].retry_refused is None  # 30008: may be sent again
    assert "cannot help" in (items[0].retry_refused or "")


def test_failed_list_pages_with_a_cursor_without_gaps_or_repeats(march: Texts) -> None:
    first = failed(march, limit=2)
    second = failed(march, limit=2, cursor=first.next_cursor)

    assert first.next_cursor is not None and second.next_cursor is None
    assert [i.error.code for i in first.items + second.items] == ["20003", "30008", "30003"]


# --- retry -----------------------------------------------------------------------------------------------------------


@pytest.fixture
def texts(tmp_path: Path) -> Iterator[Texts]:
    engine = _notifier_engine(tmp_path / "notifier.sqlite")
    yield Texts(engine)
    engine.dispose()


def retry(texts: Texts, delivery_id: int, now: datetime = NOW) -> DeliveryRetried:
    with Session(texts.engine) as session:
        return delivery_dashboard.send_again(session, delivery_id, now)


def test_a_retried_text_is_due_now_and_the_dispatcher_claims_it_as_a_new_attempt(texts: Texts) -> None:
    delivery_id = texts.add(at(19, 9), "failed", code="30008")

    answer = retry(texts, delivery_id)

    assert answer.refused is None and answer.retried_at == NOW
    with Session(texts.engine) as session:
        repo = NotifierRepository(session)
        claim_due(repo, NOW, 10, Policy(zone=BERLIN, quiet=QuietHours.parse("22:00", "08:00")), "twilio")
        session.commit()
        attempts = session.exec(select(Delivery.attempt, Delivery.status).order_by(Delivery.id)).all()
    assert attempts == [(1, "failed"), (2, "queued")]


def test_a_text_is_retried_once_only(texts: Texts) -> None:
    delivery_id = texts.add(at(19, 9), "undelivered", code="30001")
    retry(texts, delivery_id)

    again = retry(texts, delivery_id)

    assert again.refused == "already_retried" and "already sent once more" in again.message


@pytest.mark.parametrize(("kwargs", "refused"), [
    ({"code": "30005"}, "not_retryable"),  # the number does not exist: sending again cannot help
    ({"code": "20003"}, "not_retryable"),  # our account: fails again until it is fixed
    ({"code": "30008", "not_after": NOW - timedelta(minutes=1)}, "too_late"),
    ({"code": "30008", "reminder_status": "pending"}, "superseded"),  # the notifier retries it by itself
])
def test_retry_is_refused_with_a_reason_and_changes_nothing(texts: Texts, kwargs: dict[str, Any],
                                                            refused: str) -> None:
    delivery_id = texts.add(at(19, 9), "failed", **kwargs)

    answer = retry(texts, delivery_id)

    assert answer.refused == refused and answer.message
    with Session(texts.engine) as session:
        assert session.exec(select(Delivery.retried_at)).one() is None


def test_retry_of_a_delivery_that_does_not_exist_says_so(texts: Texts) -> None:
    assert retry(texts, 4711).refused == "unknown_delivery"


# --- the contract ----------------------------------------------------------------------------------------------------


def test_report_question_and_answer_travel_as_their_versioned_models(march: Texts) -> None:
    asked = DeliveriesReportRequested(date_from=date(2030, 3, 10), date_to=date(2030, 3, 13), reply_to=REPLY_TO)
    read = parse(wrap(asked, "c1").to_wire())
    answer = parse(wrap(report(march), "c1").to_wire())

    assert (read.type, read.version, read.payload_as(DeliveriesReportRequested)) == (
        "deliveries.report_requested", 1, asked)
    assert answer.payload_as(DeliveriesReported) == report(march)


@pytest.mark.parametrize(("first", "end"), [(date(2030, 3, 10), date(2030, 3, 10)),
                                            (date(2030, 3, 10), date(2030, 3, 9)),
                                            (date(2029, 1, 1), date(2030, 1, 3))])
def test_the_contract_refuses_an_empty_reversed_or_too_long_period(first: date, end: date) -> None:
    with pytest.raises(ValidationError, match="period covers 1 to 366 days"):
        DeliveriesReportRequested(date_from=first, date_to=end, reply_to=REPLY_TO)


# --- the gateway's admin routes ----------------------------------------------------------------------------------


class InProcessNotifier:
    """The broker between gateway and notifier: each question is answered by the notifier's handler at once."""

    def __init__(self, engine: Engine, waiter: ReplyWaiter) -> None:
        self.engine, self.waiter, self.silent = engine, waiter, False

    def publish(self, wire: dict[str, Any], routing_key: str, expires: float | None = None) -> None:
        if self.silent:
            return
        envelope = parse(wire)

        def reply(_to: str, answer: Any) -> None:
            self.waiter.resolve(envelope.correlation_id, answer.to_wire())

        handlers = {
            "deliveries.report_requested": lambda e, s: delivery_dashboard.answer_report(
                e, s, BERLIN, lambda: NOW, reply),
            "deliveries.failed_requested": lambda e, s: delivery_dashboard.answer_failed(
                e, s, BERLIN, lambda: NOW, reply),
            "delivery.retry_requested": lambda e, s: delivery_dashboard.answer_retry(
                e, s, lambda: NOW, reply, lambda: None),
        }
        with Session(self.engine) as session:
            handlers[routing_key](envelope, session)


@dataclass
class Office:
    client: TestClient
    notifier: InProcessNotifier
    texts: Texts
    desk: DeskClock
    admin_secret: str

    def sign_in(self, username: str) -> str:
        response = self.client.post("/v1/staff/login", json={"username": username, "password": PASSWORD})
        if response.status_code == 202:  # the admin's second step: the code of a later time step than the last
            self.desk.advance(seconds=30)
            code = pyotp.TOTP(self.admin_secret).at(int(self.desk().timestamp()))
            response = self.client.post("/v1/staff/login/code", json={"code": code})
        assert response.status_code == 200, response.text
        return str(response.json()["csrf_token"])


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    folder = tmp_path_factory.mktemp("office")
    gateway_engine = make_engine(f"sqlite:///{folder / 'gateway.sqlite'}")
    gateway_migrations.upgrade(gateway_engine)
    desk = DeskClock()  # the accounts' own clock: it moves on for each code, the notifier's stays at NOW
    accounts = StaffAccounts(gateway_engine, desk, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
                             cipher=DataCipher.from_text(generate_data_key()))
    admin_id = accounts.create("admin", "Admin", "admin", PASSWORD).id
    admin_secret = accounts.begin_enrolment(admin_id).secret
    accounts.confirm_enrolment(admin_id, pyotp.TOTP(admin_secret).at(int(desk().timestamp())), "127.0.0.1")
    accounts.create("anna", "Anna", "counsellor", PASSWORD, counsellor_id=3)
    texts = Texts(_notifier_engine(folder / "notifier.sqlite"))
    waiter = ReplyWaiter()
    notifier = InProcessNotifier(texts.engine, waiter)
    app = FastAPI()
    errors.install(app)
    app.include_router(staff_auth.router)
    app.include_router(deliveries_api.router)
    app.state.staff_accounts = accounts
    app.state.gateway = SimpleNamespace(
        engine=gateway_engine, settings=GatewaySettings(public_base_url="http://127.0.0.1:8000"),
        deliveries=DeliveryReports(notifier, waiter, REPLY_TO, 0.2, lambda: NOW, BERLIN))  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Office(client, notifier, texts, desk, admin_secret)
    gateway_engine.dispose()
    texts.engine.dispose()


@pytest.fixture
def admin(office: Office) -> Iterator[tuple[TestClient, str]]:
    csrf = office.sign_in("admin")
    yield office.client, csrf
    office.client.cookies.clear()


def test_an_admin_reads_the_report_and_the_failed_list_with_no_store(office: Office,
                                                                     admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    office.texts.add(at(18, 9), "failed", code="30008")  # a day of its own: other tests add texts too

    report_ = client.get("/v1/staff/deliveries", params={"from": "2030-03-18", "to": "2030-03-19"})
    listed = client.get("/v1/staff/deliveries/failed", params={"from": "2030-03-18", "to": "2030-03-19"})

    assert report_.status_code == 200 and report_.json()["by_status"]["failed"] == 1
    assert report_.headers["cache-control"] == "no-store"
    assert listed.status_code == 200 and listed.json()["items"][0]["error"]["code"] == "30008"


def test_an_admin_retries_a_failed_text_once_and_is_told_why_not_the_second_time(
        office: Office, admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    delivery_id = office.texts.add(at(19, 10), "failed", code="30001")

    first = client.post(f"/v1/staff/deliveries/{delivery_id}/retry", headers={CSRF_HEADER: csrf})
    second = client.post(f"/v1/staff/deliveries/{delivery_id}/retry", headers={CSRF_HEADER: csrf})
    unknown = client.post("/v1/staff/deliveries/999999/retry", headers={CSRF_HEADER: csrf})

    assert first.status_code == 202, first.text
    assert (second.status_code, second.json()["code"]) == (409, "already_retried")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_delivery")


def test_retry_without_the_csrf_header_is_refused(office: Office, admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    assert client.post("/v1/staff/deliveries/1/retry").status_code == 403


@pytest.mark.parametrize(("params", "code"), [
    ({"from": "2030-03-20", "to": "2030-03-19"}, "period_reversed"),
    ({"from": "2030-03-20", "to": "2030-03-20"}, "period_reversed"),
    ({"from": "2029-01-01", "to": "2030-03-01"}, "period_too_long"),
    ({"from": "2010-01-01", "to": "2010-01-02"}, "date_out_of_range"),
    ({"from": "20-03-2030"}, "invalid_request"),
    ({"from": "9999-12-31"}, "date_out_of_range"),  # the default end (30 days on) would be past year 9999
    ({"to": "0001-01-01"}, "date_out_of_range"),
])
def test_a_bad_period_is_422_with_a_sentence(admin: tuple[TestClient, str], params: dict[str, str],
                                             code: str) -> None:
    client, _ = admin
    for path in ("/v1/staff/deliveries", "/v1/staff/deliveries/failed"):
        response = client.get(path, params=params)
        assert (response.status_code, response.json()["code"]) == (422, code), response.text
        assert response.json()["detail"]


def test_a_bad_cursor_or_limit_is_422(admin: tuple[TestClient, str]) -> None:
    client, _ = admin
    for params in ({"cursor": "'; drop"}, {"limit": "0"}, {"limit": "101"}):
        assert client.get("/v1/staff/deliveries/failed", params=params).status_code == 422


def test_a_counsellor_gets_403_and_a_stranger_401_on_every_dashboard_route(office: Office) -> None:
    routes = [("GET", "/v1/staff/deliveries"), ("GET", "/v1/staff/deliveries/failed"),
              ("POST", "/v1/staff/deliveries/1/retry")]
    for method, path in routes:
        assert office.client.request(method, path).status_code == 401
    csrf = office.sign_in("anna")
    try:
        for method, path in routes:
            assert office.client.request(method, path, headers={CSRF_HEADER: csrf}).status_code == 403
    finally:
        office.client.cookies.clear()


def test_a_notifier_that_does_not_answer_in_time_is_503(office: Office, admin: tuple[TestClient, str]) -> None:
    client, csrf = admin
    office.notifier.silent = True
    try:
        report_ = client.get("/v1/staff/deliveries")
        retried = client.post("/v1/staff/deliveries/1/retry", headers={CSRF_HEADER: csrf})
    finally:
        office.notifier.silent = False
    assert (report_.status_code, retried.status_code) == (503, 503)
    assert "did not answer in time" in report_.json()["detail"]


def test_retry_request_and_answer_travel_as_their_versioned_models() -> None:
    asked = parse(wrap(DeliveryRetryRequested(delivery_id=7, reply_to=REPLY_TO), "c").to_wire())
    answer = parse(wrap(DeliveryRetried(delivery_id=7, refused="too_late", message="Too late."), "c").to_wire())

    assert (asked.type, asked.version) == ("delivery.retry_requested", 1)
    assert answer.payload_as(DeliveryRetried).refused == "too_late"
