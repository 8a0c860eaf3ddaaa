"""Each service's migrations end where its table classes are, carry the rows of the revision before head over to
head, and the gateway takes over a database its create_all made before it had migrations; on PostgreSQL and
SQLite."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import gateway.migrations
import notifier.migrations
import notifier.tables
import pytest
import scheduler.migrations
import scheduler.tables
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from gateway import feeds
from gateway import tables as gateway_tables
from gateway.staff import tables as staff_tables
from gateway.system_health import repository as heartbeats
from gateway.system_health.tables import RoleHeartbeatRow
from sqlalchemy import Engine, Index, MetaData, String, insert, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session, SQLModel, select

from shared.db import make_engine
from shared.inbox import ProcessedMessage
from shared.migrations import COMPARE_OPTIONS, UnversionedDatabase, describe
from shared.outbox import OutboxMessage
from tests.support import infra

MIGRATIONS: dict[str, ModuleType] = {
    "gateway": gateway.migrations, "scheduler": scheduler.migrations, "notifier": notifier.migrations}
T0 = datetime(2030, 3, 4, 8, 0, tzinfo=UTC)  # a Monday; any fixed instant


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.infra)])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """An empty database per service."""
    if request.param == "sqlite":
        yield {service: f"sqlite:///{tmp_path / (service + '.sqlite')}" for service in MIGRATIONS}
        return
    request.getfixturevalue("infrastructure")
    databases = infra.create_databases("lotse_mig")
    try:
        yield {"gateway": databases.gateway, "scheduler": databases.scheduler, "notifier": databases.notifier}
    finally:
        infra.drop_databases(databases)


@pytest.fixture
def engines(urls: dict[str, str]) -> Iterator[dict[str, Engine]]:
    built = {service: make_engine(url) for service, url in urls.items()}
    yield built
    for engine in built.values():
        engine.dispose()


def _drift(engine: Engine, metadata: MetaData) -> list[str]:
    with engine.connect() as connection:
        return [describe(item) for item in compare_metadata(
            MigrationContext.configure(connection, opts=COMPARE_OPTIONS), metadata)]


def _write(engine: Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Rows as plain SQL writes them, into the tables as the database has them now (not as the classes say)."""
    with engine.begin() as connection:
        present = MetaData()
        present.reflect(connection)
        for table, values in rows.items():
            connection.execute(insert(present.tables[table]), values)


def _read_back(engine: Engine, classes: list[type[SQLModel]], rows: dict[str, list[dict[str, Any]]]) -> None:
    """Every row written is read through its table class with the values it was written with."""
    by_table = {cls.__tablename__: cls for cls in classes}
    with Session(engine) as session:
        for table, values in rows.items():
            cls = by_table[str(table)]
            key = list(cls.__table__.primary_key.columns)  # type: ignore[attr-defined]
            found = session.exec(select(cls).order_by(*key)).all()
            assert [{name: getattr(row, name) for name in written} for row, written in zip(found, values,
                                                                                          strict=True)] == values


def _revision_before_head(migrations: ModuleType) -> str:
    """A history of one revision has none before head: its rows are written at head, and the upgrade to head is
    the one every start runs."""
    head = ScriptDirectory.from_config(migrations.alembic_config()).get_revision("head")
    assert head is not None
    return str(head.down_revision or head.revision)


# --- no drift --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", list(MIGRATIONS))
def test_migrations_end_where_the_table_classes_are(engines: dict[str, Engine], service: str) -> None:
    MIGRATIONS[service].upgrade(engines[service])

    assert _drift(engines[service], MIGRATIONS[service].target_metadata()) == []


def test_each_service_is_compared_with_its_own_tables_only() -> None:
    # All three are imported here, so SQLModel.metadata holds every service's tables; each compares with its own.
    shared_tables = {"outbox", "processed_messages"}
    own = {service: set(module.target_metadata().tables) - shared_tables for service, module in MIGRATIONS.items()}
    assert own["gateway"].isdisjoint(own["scheduler"]) and own["gateway"].isdisjoint(own["notifier"])
    assert own["scheduler"].isdisjoint(own["notifier"])
    assert {"booking_requests", "counsellor_feeds"} <= own["gateway"] and "calendar_version" in own["scheduler"]
    assert all(shared_tables <= set(module.target_metadata().tables) for module in MIGRATIONS.values())


def test_the_drift_check_sees_an_index_and_a_length_no_migration_made(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'scheduler.sqlite'}")
    scheduler.migrations.upgrade(engine)
    declared = scheduler.migrations.target_metadata()
    Index("appointments_by_topic", declared.tables["appointments"].c.topic)
    declared.tables["outbox"].c.body.type = String(500)

    assert sorted(_drift(engine, declared)) == [
        "column outbox.body has another type", "index appointments_by_topic on appointments is missing"]


# --- rows carried over from the revision before head -----------------------------------------------------------------

SCHEDULER_ROWS: dict[str, list[dict[str, Any]]] = {  # as a database at 0003 holds them
    "locations": [{"town": "Rostock", "kind": "office", "alias": "Rostock 1", "address": "Am Markt 1",
                   "active": True}],
    "counsellors": [{"alias": "Anna", "languages": "de,en", "topics": "career,health", "daily_cap": 4,
                     "active": True}],
    "counsellor_locations": [{"counsellor_id": 1, "location_id": 1}],
    "appointment_types": [{"topic": "career", "duration_minutes": 50, "modes": "office", "buffer_before_minutes": 10,
                           "buffer_after_minutes": 5, "min_notice_minutes": 120, "horizon_days": 60,
                           "active": True, "reminder_offsets_minutes": "10080,1440"}],
    "availability_rules": [{"counsellor_id": 1, "location_id": 1, "weekday": 0, "starts": time(9),
                            "ends": time(17), "valid_from": date(2030, 1, 1), "valid_until": None,
                            "on_holidays": False}],
    "availability_exceptions": [{"kind": "absence", "counsellor_id": 1, "location_id": None,
                                 "first_day": date(2030, 3, 11), "last_day": date(2030, 3, 15), "starts": None,
                                 "ends": None, "reason": "leave", "created_at": T0}],
    "appointments": [{"booking_id": "4b1c0a52-0000-4000-8000-000000000001", "counsellor_id": 1, "location_id": 1,
                      "type_id": 1, "starts_at": T0 + timedelta(hours=1), "ends_at": T0 + timedelta(hours=2),
                      "blocked_from": T0 + timedelta(minutes=50), "blocked_until": T0 + timedelta(minutes=125),
                      "status": "confirmed", "status_reason": None, "needs_attention": False, "topic": "career",
                      "language": "de", "channel": "web", "created_at": T0, "updated_at": T0,
                      "contact_problem": "unreachable", "contact_problem_code": "30003",
                      "contact_problem_since": T0}],
    "outbox": [{"message_id": "6f0e3c1a-0000-4000-8000-000000000002", "routing_key": "booking.confirmed",
                "correlation_id": "corr-1", "body": '{"type": "booking.confirmed"}', "created_at": T0}],
    "processed_messages": [{"message_id": "6f0e3c1a-0000-4000-8000-000000000003",
                            "message_type": "booking.requested", "processed_at": T0}],
}


def test_scheduler_rows_of_the_revision_before_head_are_intact_and_usable_at_head(
        engines: dict[str, Engine]) -> None:
    engine = engines["scheduler"]
    assert _revision_before_head(scheduler.migrations) == "0003_reminder_policy", \
        "a new scheduler migration: write SCHEDULER_ROWS as the revision before it holds them"
    scheduler.migrations.upgrade(engine, "0003_reminder_policy")
    _write(engine, SCHEDULER_ROWS)

    scheduler.migrations.upgrade(engine)

    s = scheduler.tables
    _read_back(engine, [s.Location, s.Counsellor, s.CounsellorLocation, s.AppointmentType, s.AvailabilityRule,
                        s.AvailabilityException, s.Appointment, OutboxMessage, ProcessedMessage],
               {table: rows for table, rows in SCHEDULER_ROWS.items() if table != "appointment_types"})
    with Session(engine) as session:
        kinds = session.exec(select(s.AppointmentType).order_by(s.AppointmentType.id)).all()  # type: ignore[arg-type]
        # 0004 added the neutral general type to the calendar that had types, after them.
        assert [(k.topic, k.reminder_offsets) for k in kinds] == [("career", (10080, 1440)), ("general", (1440, 120))]
        assert (kinds[1].duration_minutes, kinds[1].mode_set) == (45, {"office", "outreach", "phone", "video"})
        held = session.exec(select(s.Appointment)).one()
        assert (held.conversation, held.video_room) == ("own_language", None)
        assert session.exec(select(s.Location)).one().directions == ""
        before = session.exec(select(s.CalendarVersion.version)).one()
        held.conversation, held.video_room = "mediator", "r" * 22
        session.add(s.Location(town="Wismar", kind="office", alias="Wismar 1", directions="Klingel 2"))
        session.commit()
        assert session.exec(select(s.CalendarVersion.version)).one() != before  # the triggers still count
        session.add(s.Appointment(booking_id="4b1c0a52-0000-4000-8000-000000000004", counsellor_id=1,
                                  location_id=1, starts_at=T0 + timedelta(hours=1, minutes=30),
                                  ends_at=T0 + timedelta(hours=2, minutes=30),
                                  blocked_from=T0 + timedelta(hours=1, minutes=30),
                                  blocked_until=T0 + timedelta(hours=2, minutes=30), status="confirmed",
                                  language="de", channel="web"))
        with pytest.raises(IntegrityError, match=r"double.booking"):
            session.commit()  # over the appointment carried over: the guard of 0001 is still there


NOTIFIER_ROWS: dict[str, list[dict[str, Any]]] = {  # as a database at 0003 holds them
    "contacts": [{"booking_id": "4b1c0a52-0000-4000-8000-000000000001", "phone_ciphertext": "sealed-phone",
                  "phone_hash": "a" * 64, "manage_token_ciphertext": "sealed-token", "language": "de",
                  "reminders": True, "safe_window": '{"days": ["mon"], "start": "10:00", "end": "18:00"}',
                  "unreachable": None, "created_at": T0, "purge_after": T0 + timedelta(days=30)}],
    "booking_facts": [{"booking_id": "4b1c0a52-0000-4000-8000-000000000001", "starts_at": T0 + timedelta(days=2),
                       "place_alias": "Rostock 1", "language": "de", "status": "confirmed",
                       "reminder_offsets": "[1440, 120]", "generation": 1}],
    "reminders": [{"key": "4b1c0a52:1:reminder:1440", "booking_id": "4b1c0a52-0000-4000-8000-000000000001",
                   "kind": "reminder", "language": "de", "due_at": T0 + timedelta(days=1),
                   "not_after": T0 + timedelta(days=2), "status": "sending", "attempts": 1, "outcome": None,
                   "phone_ciphertext": None, "phone_context": None, "created_at": T0, "params": None}],
    "deliveries": [{"reminder_id": 1, "attempt": 1, "booking_id": "4b1c0a52-0000-4000-8000-000000000001",
                    "ref": "ref-1", "provider": "twilio", "status": "sending", "provider_sid": "SM" + "0" * 32,
                    "error_code": None, "to_masked": "+49 *** 12", "segments": 1, "created_at": T0,
                    "updated_at": T0, "requested_at": T0}],
    "opt_outs": [{"phone_hash": "b" * 64, "opted_out": True, "changed_at": T0, "last_message_sid": "SM" + "1" * 32}],
    "sms_budget_days": [{"day": "2026-03-01", "budget": 500, "reached_at": T0}],
    "outbox": [{"message_id": "6f0e3c1a-0000-4000-8000-000000000002", "routing_key": "contact.unreachable",
                "correlation_id": "corr-1", "body": "{}", "created_at": T0}],
    "processed_messages": [{"message_id": "6f0e3c1a-0000-4000-8000-000000000003",
                            "message_type": "booking.confirmed", "processed_at": T0}],
}


def test_notifier_rows_of_the_revision_before_head_are_intact_and_usable_at_head(
        engines: dict[str, Engine]) -> None:
    engine = engines["notifier"]
    assert _revision_before_head(notifier.migrations) == "0003_sms_replies", \
        "a new notifier migration: write NOTIFIER_ROWS as the revision before it holds them"
    notifier.migrations.upgrade(engine, "0003_sms_replies")
    _write(engine, NOTIFIER_ROWS)

    notifier.migrations.upgrade(engine)

    n = notifier.tables
    _read_back(engine, [n.Contact, n.BookingFacts, n.Reminder, n.Delivery, n.OptOut, n.SmsBudgetDay, OutboxMessage,
                        ProcessedMessage], NOTIFIER_ROWS)
    with Session(engine) as session:
        delivery = session.exec(select(n.Delivery)).one()
        delivery.status = "delivered"
        session.add(n.Reminder(key="4b1c0a52:1:reminder:120", booking_id=delivery.booking_id, kind="reminder",
                               language="de", due_at=T0 + timedelta(days=1, hours=22),
                               not_after=T0 + timedelta(days=2)))
        session.commit()
        assert session.exec(select(n.Reminder.status).where(n.Reminder.key == "4b1c0a52:1:reminder:120")
                            ).one() == "pending"
        # 0003: a reply of an SMS conversation carries what it shows; the rows carried over have none.
        session.add(n.Reminder(key="sms-reply:1", kind="reply_help", language="de", due_at=T0, not_after=T0,
                               params='{"also": "en"}'))
        session.commit()
        assert sorted(session.exec(select(n.Reminder.params)).all(), key=str) == [None, None, '{"also": "en"}']
        # 0004: a delivery carried over has its message's language; none was delivered or retried yet.
        assert session.exec(select(n.Delivery.language, n.Delivery.delivered_at, n.Delivery.retried_at)
                            ).one() == ("de", None, None)
        session.add(n.Delivery(reminder_id=99, ref="ref-2", provider="twilio", status="queued"))
        with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
            session.commit()  # no such reminder: the foreign key is still there


# --- the gateway takes over a database create_all made ---------------------------------------------------------------

GATEWAY_CLASSES: list[type[SQLModel]] = [
    gateway_tables.BookingRequest, gateway_tables.BookingPreferences, staff_tables.StaffAccount,
    staff_tables.StaffSession, staff_tables.LoginFailure, feeds.CounsellorFeed, OutboxMessage, ProcessedMessage]
GATEWAY_ROWS: dict[str, list[dict[str, Any]]] = {
    "booking_requests": [{"booking_id": "4b1c0a52-0000-4000-8000-000000000001", "manage_token_hash": "c" * 64,
                          "idempotency_key": "key-0001", "request_fingerprint": "d" * 64,
                          "manage_token_ciphertext": "sealed-token", "status": "confirmed", "reason": None,
                          "slot_json": '{"start": "2030-03-04T10:00:00+01:00"}', "alternatives_json": "[]",
                          "language": "de", "channel": "web", "created_at": T0, "updated_at": T0}],
    "booking_preferences": [{"booking_id": "4b1c0a52-0000-4000-8000-000000000001",
                             "preferences_json": '{"reminders": false}', "updated_at": T0}],
    "staff_accounts": [{"username": "chef", "display_name": "Chef", "role": "admin", "counsellor_id": None,
                        "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "active": True,
                        "failed_logins": 0, "locked_until": None, "created_at": T0, "updated_at": T0}],
    "staff_sessions": [{"token_hash": "e" * 64, "staff_id": 1, "created_at": T0, "last_seen_at": T0,
                        "expires_at": T0 + timedelta(hours=8), "revoked_at": None}],
    "staff_login_failures": [{"scope": "username", "subject": "f" * 64, "failed_at": T0}],
    "counsellor_feeds": [{"counsellor_id": 7, "token_hash": "9" * 64, "issued_by": 1, "issued_at": T0}],
    "outbox": [{"message_id": "6f0e3c1a-0000-4000-8000-000000000002", "routing_key": "booking.requested",
                "correlation_id": "corr-1", "body": "{}", "created_at": T0}],
    "processed_messages": [{"message_id": "6f0e3c1a-0000-4000-8000-000000000003",
                            "message_type": "booking.confirmed", "processed_at": T0}],
}


def _made_by_create_all(engine: Engine, classes: list[type[SQLModel]]) -> None:
    """What the gateway did on every start before it had migrations (shared.db.create_tables): the tables of
    `classes` as they were then, which migration 0001's `metadata` keeps (the classes have moved on since)."""
    first = ScriptDirectory.from_config(gateway.migrations.alembic_config()).get_revision(
        gateway.migrations.FIRST_REVISION)
    assert first is not None
    then = first.module.metadata
    names = {cls.__tablename__ for cls in classes}
    then.create_all(engine, tables=[table for table in then.sorted_tables if table.name in names])


GATEWAY_HEAD = "0007_audit_log"


def _version(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def test_gateway_database_made_by_create_all_is_stamped_and_its_rows_stay_usable(
        engines: dict[str, Engine], caplog: pytest.LogCaptureFixture) -> None:
    engine = engines["gateway"]
    # A database create_all made is at the first revision, whatever came after it: it goes through all of them.
    _made_by_create_all(engine, GATEWAY_CLASSES)
    _write(engine, GATEWAY_ROWS)

    with caplog.at_level(logging.INFO, logger="shared.migrations"):
        gateway.migrations.upgrade(engine)

    assert _version(engine) == [GATEWAY_HEAD]
    assert "made without migrations and matches migration 0001_gateway; stamped at it" in caplog.text
    _read_back(engine, GATEWAY_CLASSES, GATEWAY_ROWS)
    tokens = feeds.FeedTokens(engine)
    token = tokens.issue(7, staff_id=1)  # replaces the feed carried over
    assert tokens.counsellor_for(token) == 7
    with Session(engine) as session:
        session.delete(session.exec(select(gateway_tables.BookingRequest)).one())
        session.commit()
        # The foreign key create_all made still cascades.
        assert session.exec(select(gateway_tables.BookingPreferences)).all() == []
        # 0002: the limits' table and columns are there; the booking carried over counted for no number.
        session.add(gateway_tables.RateEvent(scope="book-ip-h", subject="a" * 64, at=T0))
        session.commit()
        assert len(session.exec(select(gateway_tables.RateEvent)).all()) == 1
    gateway.migrations.upgrade(engine)  # the next start: nothing more to do
    assert _version(engine) == [GATEWAY_HEAD]


GATEWAY_ROWS_0006: dict[str, list[dict[str, Any]]] = {  # as a database at 0006 holds them
    "booking_requests": [{**GATEWAY_ROWS["booking_requests"][0], "phone_hash": "7" * 64,
                          "starts_at": T0 + timedelta(days=3), "move_json": '{"status": "pending"}',
                          "meeting_json": None, "conversation": "mediator"}],
    "rate_events": [{"scope": "book-tel-h", "subject": "7" * 64, "at": T0}],
    "staff_accounts": [{**GATEWAY_ROWS["staff_accounts"][0], "totp_secret_ciphertext": "sealed-secret",
                        "totp_enabled_at": T0, "totp_last_step": 12345}],
    "staff_recovery_codes": [{"staff_id": 1, "code_hash": "a" * 64, "created_at": T0, "used_at": None}],
    "staff_password_resets": [{"token_hash": "b" * 64, "staff_id": 1, "created_by": None, "created_at": T0,
                               "expires_at": T0 + timedelta(hours=24), "used_at": None}],
}


def test_gateway_rows_of_the_revision_before_head_are_intact_and_usable_at_head(engines: dict[str, Engine]) -> None:
    engine = engines["gateway"]
    assert _revision_before_head(gateway.migrations) == "0006_role_heartbeats", \
        "a new gateway migration: write GATEWAY_ROWS_0006 as the revision before it holds them"
    gateway.migrations.upgrade(engine, "0006_role_heartbeats")
    _write(engine, GATEWAY_ROWS_0006)

    gateway.migrations.upgrade(engine)

    assert _version(engine) == [GATEWAY_HEAD]
    _read_back(engine, [gateway_tables.BookingRequest, gateway_tables.RateEvent, staff_tables.StaffAccount,
                        staff_tables.RecoveryCode, staff_tables.PasswordReset], GATEWAY_ROWS_0006)
    with Session(engine) as session:
        # 0007: the audit log takes rows and refuses to change them.
        session.add(staff_tables.StaffAuditEntry(at=T0, staff_id=1, username="chef", action="sign_in", outcome="ok",
                                                 source="127.0.0.1"))
        session.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text("UPDATE staff_audit SET username = 'someone'"))
        session.rollback()
        row = session.exec(select(gateway_tables.BookingRequest)).one()
        row.move_json, row.conversation = None, "own_language"
        session.add(row)
        # 0003: an SMS conversation per number, and the SIDs answered; one row per number.
        session.add(gateway_tables.SmsConversation(conversation_id="c1", phone_hash="7" * 64, phone_ciphertext="x",
                                                   state="idle", expires_at=T0, updated_at=T0))
        session.add(gateway_tables.SmsInbound(message_sid="SM" + "2" * 32, received_at=T0))
        session.commit()
        # 0006: a process's latest heartbeat, kept by an upsert in this dialect: a late older one changes nothing.
        for seen_at, backlog in ((T0, 1), (T0 - timedelta(seconds=30), 99), (T0 + timedelta(seconds=30), 2)):
            heartbeats.remember(session, RoleHeartbeatRow(role="notifier", instance="0123456789ab", seen_at=seen_at,
                                                          interval_seconds=30, outbox_backlog=backlog))
        session.commit()
        assert [(r.seen_at, r.outbox_backlog) for r in heartbeats.latest(session)] == [(T0 + timedelta(seconds=30), 2)]
        session.add(gateway_tables.SmsConversation(conversation_id="c2", phone_hash="7" * 64, phone_ciphertext="y",
                                                   state="idle", expires_at=T0, updated_at=T0))
        with pytest.raises(IntegrityError):
            session.commit()


def test_gateway_database_made_before_the_feeds_table_gets_it_and_is_stamped(engines: dict[str, Engine]) -> None:
    # `python -m gateway.init` and create-admin made the tables of gateway.tables.TABLES only.
    engine = engines["gateway"]
    _made_by_create_all(engine, [cls for cls in GATEWAY_CLASSES if cls is not feeds.CounsellorFeed])

    gateway.migrations.upgrade(engine)

    assert _version(engine) == [GATEWAY_HEAD]
    assert "counsellor_feeds" in inspect(engine).get_table_names()
    assert _drift(engine, gateway.migrations.target_metadata()) == []


def test_gateway_database_whose_tables_differ_from_the_first_migration_is_refused_with_what_to_do(
        engines: dict[str, Engine]) -> None:
    engine = engines["gateway"]
    _made_by_create_all(engine, GATEWAY_CLASSES)
    with engine.begin() as connection:  # as an early gateway made it, before the column existed
        connection.execute(text("ALTER TABLE booking_requests DROP COLUMN reason"))

    with pytest.raises(UnversionedDatabase) as refused:
        gateway.migrations.upgrade(engine)

    message = str(refused.value.code)
    assert "created by an earlier Lotse without migrations" in message
    assert "column booking_requests.reason is missing" in message
    assert "0001_gateway.py" in message and "var/gateway.sqlite" in message
    assert "alembic_version" not in inspect(engine).get_table_names()  # left as it was
