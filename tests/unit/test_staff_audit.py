"""The staff audit log on SQLite, in-process: what each staff route records (who, what, on what, from where, with
what outcome, never a typed username or a reason's text), the database's refusal to change or delete a row, the
retention purge, and the admin's filtered, paged and CSV views.

The real StaffAccounts, FeedTokens and routers on a throw-away database; the scheduler is a fake that answers,
refuses or stays silent as a test says (the contract between the two is tested elsewhere).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gateway import migrations
from gateway.api import deliveries, errors, staff_accounts, staff_auth, staff_two_factor, system_health
from gateway.api import staff as staff_api
from gateway.delivery_reports import RetryRefused
from gateway.errors import SchedulerUnavailable
from gateway.feeds import FeedTokens
from gateway.settings import GatewaySettings
from gateway.staff.accounts import Staff, StaffAccounts
from gateway.staff.audit import Action, Actor, AuditLog, Event, Outcome, TargetKind
from gateway.staff.audit_repository import AuditFilter
from gateway.staff.tables import StaffAuditEntry
from gateway.staff_client import CalendarRefused
from gateway.system_health.report import DeadLetterNotFound, DeadLetterOut
from gateway.web import staff as staff_pages
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from shared.contracts import DeliveriesReported, DeliveryRetried, FailedDeliveriesListed
from shared.contracts.staff import RefusalKind, StaffAction, TypesAnswer, TypesData, WeekAnswer, WeekData
from shared.crypto import DataCipher, generate_data_key
from shared.db import make_engine
from tests.support.staff import Phone, sign_in_staff

START = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
CHEAP = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class FakeCalendar:
    """The scheduler's side of StaffClient.ask: answers what `answers` holds, else raises `failure`."""

    failure: Exception | None = None
    asked: list[StaffAction] = field(default_factory=list)

    def ask(self, _staff: Staff, action: StaffAction, expected: type[Any]) -> Any:
        self.asked.append(action)
        if self.failure is not None:
            raise self.failure
        if expected is TypesAnswer:
            return TypesAnswer(data=TypesData(types=[]))
        if expected is WeekAnswer:
            return WeekAnswer(data=WeekData(counsellor_id=3, counsellor_alias="Anna", week_start=date(2030, 3, 4),
                                            timezone="Europe/Berlin", windows=[], bookings=[], exceptions=[]))
        raise AssertionError(f"no fake answer for {expected.__name__}")


@dataclass
class FakeDeliveries:
    """The notifier's side of DeliveryReports: a report it does not answer, an empty failed list, and a retry it
    queues, except of delivery 404."""

    def today(self) -> date:
        return date(2030, 3, 4)

    def report(self, _first: date, _end: date) -> DeliveriesReported:
        raise SchedulerUnavailable("The text service did not answer in time.")

    def failed(self, _first: date, _end: date, _limit: int, _cursor: str | None) -> FailedDeliveriesListed:
        return FailedDeliveriesListed(items=[])

    def send_again(self, delivery_id: int) -> DeliveryRetried:
        if delivery_id == 404:
            raise RetryRefused(DeliveryRetried(delivery_id=404, refused="unknown_delivery", message="No such text."))
        return DeliveryRetried(delivery_id=delivery_id, message="Sent again.", retried_at=START)


class FakeHealth:
    """The dead letters as SystemHealth gives them: one letter, `dl-1`; any other id is gone."""

    def dead_letters(self) -> list[DeadLetterOut]:
        return [self._letter("dl-1")]

    def requeue(self, letter_id: str) -> DeadLetterOut:
        return self._letter(letter_id)

    def discard(self, letter_id: str) -> DeadLetterOut:
        return self._letter(letter_id)

    @staticmethod
    def _letter(letter_id: str) -> DeadLetterOut:
        if letter_id != "dl-1":
            raise DeadLetterNotFound(f"There is no dead letter {letter_id}.")
        return DeadLetterOut(id=letter_id, queue="notifier.events", type="booking.confirmed", reason="rejected")


@dataclass
class Office:
    client: TestClient
    engine: Engine
    clock: Clock
    calendar: FakeCalendar
    audit: AuditLog
    phone: Phone

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        """As a person signs in: the password, then the app's code (an admin sets two-factor sign-in up first)."""
        sign_in_staff(self.client, username, password, self.phone)

    def rows(self) -> list[StaffAuditEntry]:
        with Session(self.engine) as session:
            return list(session.exec(select(StaffAuditEntry).order_by(col(StaffAuditEntry.id))).all())

    def last(self) -> StaffAuditEntry:
        return self.rows()[-1]


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Office]:
    engine = make_engine(f"sqlite:///{tmp_path / 'gateway.sqlite'}")
    migrations.upgrade(engine)
    clock = Clock()
    audit = AuditLog(engine, clock, timedelta(days=400))
    accounts = StaffAccounts(engine, clock, PasswordHasher(**CHEAP),  # type: ignore[arg-type]
                             cipher=DataCipher.from_text(generate_data_key()), audit=audit)
    accounts.create("admin", "Admin", "admin", PASSWORD)
    accounts.create("anna", "Anna", "counsellor", PASSWORD, counsellor_id=3)
    calendar = FakeCalendar()
    app = FastAPI()
    errors.install(app)
    for part in (staff_auth, staff_accounts, staff_two_factor, staff_api, deliveries, system_health, staff_pages):
        app.include_router(part.router)
    app.state.gateway = SimpleNamespace(engine=engine, settings=GatewaySettings(), calendars=calendar,
                                        feeds=FeedTokens(engine, clock), deliveries=FakeDeliveries(),
                                        health=FakeHealth(), slots=None)  # no page here searches free times
    app.state.staff_accounts = accounts
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Office(client, engine, clock, calendar, audit, Phone(clock))
    engine.dispose()


def _detail(row: StaffAuditEntry) -> dict[str, Any]:
    return json.loads(row.detail_json or "{}")  # type: ignore[no-any-return]


# --- what is recorded ------------------------------------------------------------------------------------------------


def test_accounts_created_at_the_command_line_are_recorded_as_such(office: Office) -> None:
    created = [(r.action, r.source, r.staff_id, r.target_kind, r.target_id, _detail(r)) for r in office.rows()]

    assert created == [("account_created", "cli", None, "account", "1", {"role": "admin"}),
                       ("account_created", "cli", None, "account", "2", {"role": "counsellor"})]


def test_sign_in_failures_and_sign_out_are_recorded_but_never_a_typed_username(office: Office) -> None:
    typed = "Summer2030!secret"  # a password typed into the username field
    assert office.client.post("/v1/staff/login", json={"username": typed, "password": PASSWORD}).status_code == 401
    assert office.client.post("/v1/staff/login", json={"username": "anna", "password": "wrong"}).status_code == 401
    office.sign_in("anna")
    assert office.client.post("/v1/staff/logout").status_code == 204

    unknown, wrong, signed_in, signed_out = office.rows()[2:]
    assert (unknown.action, unknown.outcome, unknown.staff_id, unknown.username) == (
        "sign_in_failed", "refused", None, None)
    assert unknown.username_hash and typed.lower() not in unknown.username_hash
    assert _detail(unknown) == {"reason": "unknown_username"}
    assert (wrong.action, wrong.staff_id, wrong.username, _detail(wrong)) == (
        "sign_in_failed", 2, "anna", {"reason": "wrong_password"})
    assert (signed_in.action, signed_in.outcome, signed_in.username, signed_in.at) == ("sign_in", "ok", "anna", START)
    assert (signed_out.action, signed_out.staff_id) == ("sign_out", 2)
    assert {row.source for row in (unknown, wrong, signed_in, signed_out)} == {"testclient"}
    with office.engine.connect() as connection:
        dump = "\n".join(connection.connection.iterdump())
    assert typed not in dump and typed.lower() not in dump


def test_a_locked_username_is_recorded_with_the_lock_as_reason(office: Office) -> None:
    for _ in range(6):
        office.client.post("/v1/staff/login", json={"username": "anna", "password": "wrong"})

    assert (office.last().action, _detail(office.last())) == ("sign_in_failed", {"reason": "account_locked"})


def test_password_change_is_recorded_and_a_wrong_current_password_as_refused(office: Office) -> None:
    office.sign_in("anna")
    refused = office.client.post("/v1/staff/password", json={"current_password": "not it",
                                                              "new_password": "another good pass phrase"})
    changed = office.client.post("/v1/staff/password", json={"current_password": PASSWORD,
                                                              "new_password": "another good pass phrase"})

    assert (refused.status_code, changed.status_code) == (401, 204)
    first, second = office.rows()[-2:]
    assert (first.action, first.outcome, _detail(first)) == (
        "password_changed", "refused", {"reason": "wrong_current_password"})
    assert (second.action, second.outcome, second.target_kind, second.target_id) == (
        "password_changed", "ok", "account", "2")


def test_scheduler_requests_are_recorded_with_their_answer_refusal_or_silence(office: Office) -> None:
    office.sign_in("anna")
    booking = uuid4()
    assert office.client.get("/v1/staff/appointment-types").status_code == 200
    office.calendar.failure = CalendarRefused(RefusalKind.CONFLICT, "not_cancellable", "It has begun.")
    assert office.client.post(f"/v1/staff/bookings/{booking}/cancel",
                              json={"reason": "client is ill today"}).status_code == 409
    office.calendar.failure = SchedulerUnavailable("The calendar did not answer in time.")
    assert office.client.post(f"/v1/staff/bookings/{booking}/move",
                              json={"slot_id": "s2-3-1-1-29000000"}).status_code == 503

    read, cancel, move = office.rows()[-3:]
    assert (read.action, read.outcome, read.username) == ("types_read", "ok", "anna")
    assert (cancel.action, cancel.outcome, cancel.target_kind, cancel.target_id, _detail(cancel)) == (
        "booking_cancelled", "refused", "booking", str(booking), {"reason_given": True, "code": "not_cancellable"})
    assert (move.action, move.outcome, _detail(move)["code"]) == (
        "booking_moved", "unanswered", "scheduler_unavailable")
    assert "ill" not in (cancel.detail_json or "")


def test_a_counsellor_refused_by_the_gateway_is_recorded_and_the_scheduler_not_asked(office: Office) -> None:
    office.sign_in("anna")

    assert office.client.get("/v1/staff/calendars/4/week").status_code == 403
    assert office.client.get("/v1/staff/audit").status_code == 403

    calendar, audit = office.rows()[-2:]
    assert office.calendar.asked == []
    assert (calendar.action, calendar.outcome, calendar.username, calendar.target_kind, calendar.target_id) == (
        "access_refused", "refused", "anna", "counsellor", "4")
    assert _detail(calendar) == {"method": "GET", "path": "/v1/staff/calendars/4/week"}
    assert (audit.action, audit.target_id, _detail(audit)["path"]) == ("access_refused", None, "/v1/staff/audit")


def test_feed_issue_and_revoke_are_recorded_in_their_own_transaction_not_the_calendar_check(office: Office) -> None:
    office.sign_in("anna")
    assert office.client.post("/v1/staff/calendars/3/feed").status_code == 201
    assert office.client.delete("/v1/staff/calendars/3/feed").status_code == 204

    assert [(r.action, r.target_kind, r.target_id) for r in office.rows()[-2:]] == [
        ("feed_issued", "counsellor", "3"), ("feed_revoked", "counsellor", "3")]


def test_stopping_a_feed_that_is_stopped_already_says_so_and_records_nothing(office: Office) -> None:
    office.sign_in("anna")
    before = len(office.rows())

    again = office.client.delete("/v1/staff/calendars/3/feed")

    assert again.status_code == 404 and again.json()["code"] == "no_feed"  # the calendar exists; its feed does not
    assert "no feed to revoke" in again.json()["detail"]
    assert len(office.rows()) == before


def test_the_source_is_the_client_a_trusted_proxy_names_and_never_one_a_client_claims(office: Office) -> None:
    office.sign_in("anna")
    office.client.get("/v1/staff/appointment-types", headers={"X-Forwarded-For": "203.0.113.9"})

    assert office.last().source == "testclient"  # no proxy is trusted by default: the header is ignored


# --- append-only, and the one delete ---------------------------------------------------------------------------------


def test_the_database_refuses_to_change_or_delete_an_audit_row(office: Office) -> None:
    with office.engine.connect() as connection:
        for statement in ("UPDATE staff_audit SET username = 'nobody'", "DELETE FROM staff_audit",
                          "DELETE FROM staff_audit WHERE id = 1"):
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text(statement))
            connection.rollback()
    assert len(office.rows()) == 2


def test_the_purge_removes_only_rows_past_the_retention_and_leaves_no_permission_behind(office: Office) -> None:
    office.clock.advance(days=300)
    office.audit.record(Actor(1, "admin", "10.0.0.1"), Event(Action.ACCOUNTS_READ))
    office.clock.advance(days=101)  # the two account_created rows are 401 days old, the read 101

    office.client.app.state.staff_accounts.housekeeping()  # type: ignore[attr-defined]  # the hourly run
    assert [row.action for row in office.rows()] == ["accounts_read"]
    with office.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM staff_audit_purge")).scalar() == 0
        with pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text("DELETE FROM staff_audit"))


# --- the admin's view ------------------------------------------------------------------------------------------------


def _fill(office: Office) -> None:
    """Six rows a minute apart after the two account_created: sign-ins and reads of calendar 3 and 4."""
    for minute, (who, action, target) in enumerate([
            ((1, "admin"), Action.SIGN_IN, None), ((2, "anna"), Action.SIGN_IN, None),
            ((2, "anna"), Action.CALENDAR_READ, 3), ((1, "admin"), Action.CALENDAR_READ, 4),
            ((1, "admin"), Action.CALENDAR_READ, 3), ((2, "anna"), Action.SIGN_OUT, None)], start=1):
        office.clock.now = START + timedelta(minutes=minute)
        office.audit.record(Actor(*who, "192.0.2.1"), Event(action, target_kind=TargetKind.COUNSELLOR if target
                                                           else None, target_id=target))


def test_an_admin_pages_through_the_log_newest_first_with_a_cursor(office: Office) -> None:
    _fill(office)
    office.sign_in("admin")
    seen: list[int] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = office.client.get("/v1/staff/audit", params=params)
        assert page.status_code == 200, page.text
        assert page.headers["cache-control"] == "no-store"
        seen += [entry["id"] for entry in page.json()["entries"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break

    # Rows 1-8 (two accounts, six filled), then admin's own sign-in (9) and its two-factor set-up (10, 11); each
    # page read is recorded after it.
    assert seen[:11] == [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]


FILTERS: list[tuple[dict[str, Any], list[str]]] = [
    ({"action": "calendar_read"}, ["calendar_read"] * 3),
    ({"staff_id": 2}, ["sign_out", "calendar_read", "sign_in"]),
    ({"username": "Anna", "action": "sign_in"}, ["sign_in"]),  # usernames are kept case-folded
    ({"target_kind": "counsellor", "target_id": "3"}, ["calendar_read", "calendar_read"]),
    ({"from": "2030-03-04T09:03:00+01:00", "to": "2030-03-04T08:05:00Z"}, ["calendar_read", "calendar_read"]),
]


def test_filters_narrow_the_list(office: Office) -> None:
    _fill(office)
    office.clock.now = START - timedelta(days=1)  # the admin's own rows fall outside every filter below
    office.sign_in("admin")

    for params, expected in FILTERS:
        page = office.client.get("/v1/staff/audit", params=params)
        assert page.status_code == 200, page.text
        found = [entry["action"] for entry in page.json()["entries"] if entry["at"] > "2030-03-04"]
        assert found == expected, params


BAD_FILTERS: list[tuple[dict[str, Any], str, str]] = [
    ({"action": "delete_everything"}, "invalid_action", "sign_in"),
    ({"target_kind": "planet"}, "invalid_target_kind", "booking"),
    ({"target_id": "3"}, "target_kind_missing", "target_kind"),
    ({"from": "2030-03-04T09:00:00"}, "instant_without_offset", "offset"),
    ({"from": "2030-03-05T00:00:00Z", "to": "2030-03-04T00:00:00Z"}, "range_reversed", "after"),
    ({"from": "yesterday"}, "invalid_request", "from"),
    ({"cursor": "bm90IGEgY3Vyc29y"}, "invalid_cursor", "cursor"),
    ({"limit": 501}, "invalid_request", "limit"),
]


def test_bad_filters_are_refused_with_a_sentence(office: Office) -> None:
    office.sign_in("admin")

    for params, code, words in BAD_FILTERS:
        # The export takes the filters but not a page's cursor and limit.
        for path in ("/v1/staff/audit", "/v1/staff/audit.csv")[:1 if {"cursor", "limit"} & set(params) else 2]:
            response = office.client.get(path, params=params)
            assert response.status_code == 422, (path, params, response.text)
            assert response.json()["code"] == code and words in response.json()["detail"], (path, params)


def test_counsellors_get_403_and_strangers_401(office: Office) -> None:
    for path in ("/v1/staff/audit", "/v1/staff/audit.csv"):
        assert office.client.get(path).status_code == 401
    office.sign_in("anna")
    for path in ("/v1/staff/audit", "/v1/staff/audit.csv"):
        assert office.client.get(path).status_code == 403


def test_the_csv_export_has_the_filtered_rows_and_no_cell_a_spreadsheet_would_run(office: Office) -> None:
    office.audit.record(Actor(None, "=HYPERLINK(\"x\")", "+49 30 1234"), Event(Action.SIGN_IN_FAILED,
                                                                              Outcome.REFUSED))
    office.audit.record(Actor(None, "@SUM(A1)", "-1"), Event(Action.SIGN_IN_FAILED, Outcome.REFUSED))
    office.sign_in("admin")

    response = office.client.get("/v1/staff/audit.csv", params={"action": "sign_in_failed"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["username"], row["source"]) for row in rows] == [("'@SUM(A1)", "'-1"),
                                                                   ("'=HYPERLINK(\"x\")", "'+49 30 1234")]
    assert office.last().action == "audit_exported"


def test_an_export_reads_every_row_in_batches(office: Office) -> None:
    _fill(office)

    rows = list(office.audit.every_row(AuditFilter(), batch=3))

    assert [row.id for row in rows] == [8, 7, 6, 5, 4, 3, 2, 1]


def test_the_audit_routes_are_documented_with_their_models(office: Office) -> None:
    spec = office.client.app.openapi()  # type: ignore[attr-defined]
    listing = spec["paths"]["/v1/staff/audit"]["get"]
    export = spec["paths"]["/v1/staff/audit.csv"]["get"]

    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/AuditPage")
    assert {"401", "403", "422"} <= set(listing["responses"]) and {"401", "403", "422"} <= set(export["responses"])
    assert "text/csv" in export["responses"]["200"]["content"]
    assert {p["name"] for p in listing["parameters"]} >= {"from", "to", "action", "cursor", "limit", "target_id"}


# --- two-factor sign-in, accounts, deliveries, and the staff pages -----------------------------------------------


def _code(office: Office, username: str) -> str:
    return office.phone.code(f"{office.client.base_url}|{username}")


def test_a_two_step_sign_in_is_recorded_when_the_code_opens_the_session_and_a_wrong_code_as_a_failure(
        office: Office) -> None:
    office.sign_in("admin")  # the first time: a session that must set up two-factor sign-in, which it does
    assert [(r.action, r.staff_id, r.target_id, _detail(r)) for r in office.rows()[2:]] == [
        ("sign_in", 1, None, {"must_enrol": True}), ("two_factor_enrolment_started", 1, "1", {}),
        ("two_factor_enabled", 1, "1", {})]
    assert office.client.post("/v1/staff/logout").status_code == 204
    office.clock.advance(seconds=30)
    written = len(office.rows())

    assert office.client.post("/v1/staff/login", json={"username": "admin", "password": PASSWORD}).status_code == 202
    assert len(office.rows()) == written  # the password alone opens no session
    right = _code(office, "admin")
    wrong = f"{(int(right) + 500_000) % 1_000_000:06d}"
    assert office.client.post("/v1/staff/login/code", json={"code": wrong}).status_code == 401
    assert office.client.post("/v1/staff/login/code", json={"code": right}).status_code == 200

    refused, signed_in = office.rows()[-2:]
    assert (refused.action, refused.outcome, refused.username, _detail(refused)) == (
        "sign_in_failed", "refused", "admin", {"reason": "wrong_code", "second_factor": True})
    assert (signed_in.action, signed_in.outcome, signed_in.username, _detail(signed_in)) == (
        "sign_in", "ok", "admin", {"second_factor": True})
    assert {refused.source, signed_in.source} == {"testclient"}


def test_turning_two_factor_sign_in_on_renewing_codes_and_off_is_recorded_and_a_wrong_code_refused(
        office: Office) -> None:
    office.sign_in("anna")
    office.phone.enrol(office.client, f"{office.client.base_url}|anna", office.client.headers["X-Lotse-CSRF"])
    office.clock.advance(seconds=30)
    assert office.client.post("/v1/staff/two-factor/recovery-codes",
                              json={"code": _code(office, "anna")}).status_code == 200
    office.clock.advance(seconds=30)
    assert office.client.post("/v1/staff/two-factor/disable", json={"code": "zzzz-zzzz"}).status_code == 422
    assert office.client.post("/v1/staff/two-factor/disable",
                              json={"code": _code(office, "anna")}).status_code == 204

    assert [(r.action, r.outcome, r.staff_id, r.target_id, _detail(r)) for r in office.rows()[-5:]] == [
        ("two_factor_enrolment_started", "ok", 2, "2", {}), ("two_factor_enabled", "ok", 2, "2", {}),
        ("recovery_codes_renewed", "ok", 2, "2", {}),
        ("two_factor_disabled", "refused", 2, "2", {"reason": "wrong_code"}),
        ("two_factor_disabled", "ok", 2, "2", {})]


def test_what_an_admin_does_to_accounts_is_recorded_with_the_admin_as_actor_and_never_a_link(
        office: Office) -> None:
    office.sign_in("admin")
    written = len(office.rows())
    created = office.client.post("/v1/staff/accounts", json={"username": "carla", "role": "counsellor",
                                                              "counsellor_id": 5})
    assert created.status_code == 201
    carla = str(created.json()["account"]["id"])
    for change in ("deactivate", "reactivate", "unlock", "password-reset", "two-factor/reset"):
        assert office.client.post(f"/v1/staff/accounts/2/{change}").status_code in (200, 201), change
    assert office.client.post("/v1/staff/accounts/1/deactivate").status_code == 409

    assert [(r.action, r.outcome, r.target_id) for r in office.rows()[written:]] == [
        ("account_created", "ok", carla), ("password_link_issued", "ok", carla),
        ("account_deactivated", "ok", "2"), ("account_reactivated", "ok", "2"), ("account_unlocked", "ok", "2"),
        ("password_link_issued", "ok", "2"), ("two_factor_reset", "ok", "2"),
        ("account_deactivated", "refused", "1")]
    assert {(r.staff_id, r.username, r.source) for r in office.rows()[written:]} == {(1, "admin", "testclient")}
    token = created.json()["password_link"].split("token=")[1]
    with office.engine.connect() as connection:
        assert token not in "\n".join(connection.connection.iterdump())


def test_a_password_set_with_a_one_time_link_is_recorded_as_the_accounts_own_doing(office: Office) -> None:
    office.sign_in("admin")
    link = office.client.post("/v1/staff/accounts/2/password-reset").json()["password_link"]
    stranger = TestClient(office.client.app, raise_server_exceptions=False)

    assert stranger.post("/v1/staff/password-reset", json={"token": link.split("token=")[1],
                                                           "new_password": "another good pass phrase"}
                         ).status_code == 204

    row = office.last()
    assert (row.action, row.outcome, row.staff_id, row.username, row.target_id, row.source) == (
        "password_reset", "ok", 2, "anna", "2", "testclient")


def test_delivery_dashboard_reads_and_retries_are_recorded_with_their_outcome(office: Office) -> None:
    office.sign_in("admin")

    assert office.client.get("/v1/staff/deliveries", params={"from": "2030-03-01", "to": "2030-03-04"}
                             ).status_code == 503
    assert office.client.get("/v1/staff/deliveries/failed").status_code == 200
    assert office.client.post("/v1/staff/deliveries/7/retry").status_code == 202
    assert office.client.post("/v1/staff/deliveries/404/retry").status_code == 404

    report, failed, retried, unknown = office.rows()[-4:]
    assert (report.action, report.outcome, _detail(report)) == (
        "delivery_report_read", "unanswered", {"from": "2030-03-01", "to": "2030-03-04",
                                               "code": "scheduler_unavailable"})
    assert (failed.action, failed.outcome, _detail(failed)["next_page"]) == ("failed_deliveries_read", "ok", False)
    assert (retried.action, retried.outcome, retried.target_kind, retried.target_id) == (
        "delivery_retried", "ok", "delivery", "7")
    assert (unknown.action, unknown.outcome, _detail(unknown)) == (
        "delivery_retried", "refused", {"code": "unknown_delivery"})


def test_the_staff_pages_record_what_the_api_records(office: Office) -> None:
    browser = TestClient(office.client.app, raise_server_exceptions=False, follow_redirects=False)
    written = len(office.rows())
    assert browser.post("/login", data={"username": "anna", "password": PASSWORD}).status_code == 303
    week = browser.get("/staff")
    assert week.status_code == 200
    csrf = re.findall(r'name="csrf" value="([^"]+)"', browser.get("/staff/password").text)[0]
    office.calendar.failure = SchedulerUnavailable("The calendar did not answer in time.")
    booking = uuid4()
    assert browser.post(f"/staff/appointments/{booking}/attended", data={"csrf": csrf}).status_code == 503
    assert browser.post("/logout", data={"csrf": csrf}).status_code == 303

    assert [(r.action, r.outcome, r.username, r.target_id) for r in office.rows()[written:]] == [
        ("sign_in", "ok", "anna", None), ("calendar_read", "ok", "anna", "3"),
        ("booking_attended", "unanswered", "anna", str(booking)), ("sign_out", "ok", "anna", None)]
    assert {r.source for r in office.rows()[written:]} == {"testclient"}


def test_dead_letters_listed_requeued_and_discarded_are_recorded(office: Office) -> None:
    office.sign_in("admin")

    assert office.client.get("/v1/staff/dead-letters").status_code == 200
    assert office.client.post("/v1/staff/dead-letters/dl-1/requeue").status_code == 200
    assert office.client.post("/v1/staff/dead-letters/dl-2/discard").status_code == 404

    assert [(r.action, r.outcome, r.target_kind, r.target_id, _detail(r)) for r in office.rows()[-3:]] == [
        ("dead_letters_read", "ok", None, None, {}), ("dead_letter_requeued", "ok", "dead_letter", "dl-1", {}),
        ("dead_letter_discarded", "refused", "dead_letter", "dl-2", {"code": "dead_letter_not_found"})]
