"""Lotse 3/6 in the scheduler: a reminder policy per appointment type travels with each booking, admins edit it,
and a client the notifier cannot text is shown to staff (never the number).

Through the real handlers, consumer (inbox), staff decisions and migrations; the migration on PostgreSQL and
SQLite. Demo types: 1 career (7 d, 24 h, 2 h), 2 health (24 h, 2 h), 3 safety (24 h, 1 h), 4 psychosocial."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from alembic import command
from scheduler import migrations, staff
from scheduler.app import Scheduler
from scheduler.domain.availability import make_slot_id
from scheduler.tables import Appointment, AppointmentType
from sqlalchemy import Engine, func, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from shared.contracts import (
    BookingRequested,
    ContactUnreachable,
    Envelope,
    Payload,
    StaffAnswered,
    StaffRequested,
    wrap,
)
from shared.contracts.staff import (
    Actor,
    AppointmentTypeAnswer,
    BookingsAction,
    BookingsAnswer,
    CreateTypeAction,
    MoveAction,
    UpdateTypeAction,
    WeekAction,
    WeekAnswer,
)
from shared.db import make_engine
from shared.outbox import OutboxMessage
from tests.support import infra
from tests.support.demo_scheduler import Clock, announced, berlin, demo_scheduler

ANNA, ROSTOCK = 1, 1
CAREER, HEALTH, SAFETY = 1, 2, 3
MONDAY = date(2026, 6, 8)  # Anna is in Rostock on Mondays 09:00-16:00 (demo data)
NOW = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)
ADMIN = Actor(staff_id=1, role="admin")
ANNA_ACTOR = Actor(staff_id=2, role="counsellor", counsellor_id=ANNA)


def slot(type_id: int, hour: int, day: date = MONDAY) -> str:
    return make_slot_id(ANNA, ROSTOCK, type_id, berlin(day, hour))


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[Scheduler]:
    with demo_scheduler(tmp_path, Clock(NOW)) as built:
        yield built


def send(scheduler: Scheduler, payload: Payload, occurred_at: datetime | None = None) -> Envelope:
    envelope = wrap(payload, uuid4(), occurred_at)
    scheduler.consumer.handle(envelope.to_wire())
    return envelope


def book(scheduler: Scheduler, slot_id: str) -> UUID:
    booking_id = uuid4()
    send(scheduler, BookingRequested(booking_id=booking_id, slot_id=slot_id, language="de", channel="web"))
    return booking_id


def confirmed_offsets(scheduler: Scheduler, booking_id: UUID) -> list[int]:
    [payload] = [p for p in announced(scheduler, "booking.confirmed") if p["booking_id"] == str(booking_id)]
    return list(payload["reminder_offsets_minutes"])


def decide(scheduler: Scheduler, actor: Actor, action: Any) -> StaffAnswered:
    request = StaffRequested(request_id=uuid4(), actor=actor, action=action, reply_to="gateway.replies.0123456789ab")
    with Session(scheduler.engine) as session:
        return staff.decide(wrap(request, "test"), session, staff.StaffDeps(scheduler.deps, scheduler.engine))


def staff_view(scheduler: Scheduler, booking_id: UUID, timezone: str = "Europe/Berlin") -> dict[str, Any]:
    answer = decide(scheduler, ANNA_ACTOR, BookingsAction(counsellor_id=ANNA, date_from=MONDAY, date_to=MONDAY,
                                                          timezone=timezone))
    assert isinstance(answer.answer, BookingsAnswer), answer
    [booking] = [b for b in answer.answer.data.bookings if b.booking_id == booking_id]
    return booking.model_dump(mode="json")


def policy_in_table(scheduler: Scheduler, type_id: int) -> str:
    with scheduler.engine.connect() as connection:
        return str(connection.execute(text("SELECT reminder_offsets_minutes FROM appointment_types WHERE id = :id"),
                                      {"id": type_id}).scalar_one())


# --- the policy travels with the booking ---------------------------------------------------------------------------


def test_a_confirmed_booking_carries_its_types_reminders_largest_first(scheduler: Scheduler) -> None:
    career = book(scheduler, slot(CAREER, 9))
    safety = book(scheduler, slot(SAFETY, 11))
    health = book(scheduler, slot(HEALTH, 14))

    assert confirmed_offsets(scheduler, career) == [10080, 1440, 120]
    assert confirmed_offsets(scheduler, safety) == [1440, 60]
    assert confirmed_offsets(scheduler, health) == [1440, 120]


def test_a_type_without_reminders_confirms_with_none(scheduler: Scheduler) -> None:
    answer = decide(scheduler, ADMIN, UpdateTypeAction(type_id=HEALTH, reminder_offsets_minutes=()))
    assert isinstance(answer.answer, AppointmentTypeAnswer), answer
    assert answer.answer.data.reminder_offsets_minutes == []

    booking = book(scheduler, slot(HEALTH, 10))

    assert confirmed_offsets(scheduler, booking) == []
    assert policy_in_table(scheduler, HEALTH) == ""


def test_a_changed_policy_reaches_reschedules_but_not_what_was_announced_before(scheduler: Scheduler) -> None:
    booking = book(scheduler, slot(CAREER, 9))
    changed = decide(scheduler, ADMIN, UpdateTypeAction(type_id=CAREER, reminder_offsets_minutes=(30, 2880)))
    assert changed.refusal is None, changed

    moved_answer = decide(scheduler, ADMIN, MoveAction(booking_id=booking, slot_id=slot(CAREER, 13)))
    assert moved_answer.refusal is None, moved_answer

    # The confirmation (and the reminders the notifier planned from it) stays as it was announced.
    assert confirmed_offsets(scheduler, booking) == [10080, 1440, 120]
    [moved] = announced(scheduler, "booking.rescheduled")
    assert moved["booking_id"] == str(booking) and moved["reminder_offsets_minutes"] == [2880, 30]


def test_an_admin_creates_a_type_with_a_policy_and_one_without_gets_the_default(scheduler: Scheduler) -> None:
    with_policy = decide(scheduler, ADMIN, CreateTypeAction(topic="psychosocial", duration_minutes=40,
                                                            modes=["outreach"], reminder_offsets_minutes=(60, 20160)))
    plain = decide(scheduler, ADMIN, CreateTypeAction(topic="legal", duration_minutes=40, modes=["video"]))

    assert isinstance(with_policy.answer, AppointmentTypeAnswer), with_policy
    assert isinstance(plain.answer, AppointmentTypeAnswer), plain
    assert with_policy.answer.data.reminder_offsets_minutes == [20160, 60]
    assert plain.answer.data.reminder_offsets_minutes == [1440, 120]
    assert policy_in_table(scheduler, with_policy.answer.data.type_id) == "20160,60"


def test_a_counsellor_cannot_change_a_policy_and_nothing_changes(scheduler: Scheduler) -> None:
    refused = decide(scheduler, ANNA_ACTOR, UpdateTypeAction(type_id=CAREER, reminder_offsets_minutes=()))

    assert refused.refusal is not None and refused.refusal.code == "forbidden" and "admin" in refused.message
    assert policy_in_table(scheduler, CAREER) == "10080,1440,120"


# --- a client the notifier cannot text ------------------------------------------------------------------------------


def test_an_unreachable_client_is_shown_on_the_booking_for_staff(scheduler: Scheduler) -> None:
    booking = book(scheduler, slot(CAREER, 9))
    assert staff_view(scheduler, booking)["contact_problem"] is None
    reported = datetime(2026, 6, 3, 9, 15, tzinfo=UTC)

    send(scheduler, ContactUnreachable(booking_id=booking, reason="invalid_number", error_code="21211"), reported)

    problem = staff_view(scheduler, booking)["contact_problem"]
    assert problem == {"reason": "invalid_number", "error_code": "21211", "since": "2026-06-03T11:15:00+02:00"}
    assert staff_view(scheduler, booking, "UTC")["contact_problem"]["since"] == "2026-06-03T09:15:00Z"
    week = decide(scheduler, ANNA_ACTOR, WeekAction(counsellor_id=ANNA, week_start=MONDAY))
    assert isinstance(week.answer, WeekAnswer), week
    [shown] = [b for b in week.answer.data.bookings if b.booking_id == booking]
    assert shown.contact_problem is not None and shown.contact_problem.reason == "invalid_number"
    # The report announces nothing: it is for staff, the booking itself stands.
    assert announced(scheduler, "booking.cancelled") == [] and staff_view(scheduler, booking)["status"] == "confirmed"


def test_a_redelivered_report_and_a_second_one_leave_one_problem(scheduler: Scheduler) -> None:
    booking = book(scheduler, slot(CAREER, 9))
    first_at = datetime(2026, 6, 3, 9, 15, tzinfo=UTC)
    first = send(scheduler, ContactUnreachable(booking_id=booking, reason="unreachable", error_code="30003"),
                 first_at)

    scheduler.consumer.handle(first.to_wire())  # the broker delivers it again
    assert staff_view(scheduler, booking)["contact_problem"]["reason"] == "unreachable"

    send(scheduler, ContactUnreachable(booking_id=booking, reason="opted_out", error_code="21610"),
         first_at + timedelta(hours=1))
    # An earlier report that arrives last moves `since` back but does not replace the newer reason.
    send(scheduler, ContactUnreachable(booking_id=booking, reason="unreachable", error_code="30003"),
         first_at - timedelta(minutes=5))

    problem = staff_view(scheduler, booking)["contact_problem"]
    assert problem == {"reason": "opted_out", "error_code": "21610", "since": "2026-06-03T11:10:00+02:00"}
    with Session(scheduler.engine) as session:
        rows = session.exec(select(Appointment).where(Appointment.contact_problem.is_not(None))).all()  # type: ignore[union-attr]
    assert [row.booking_id for row in rows] == [str(booking)]


def test_a_report_for_an_unknown_booking_changes_nothing_and_is_logged(scheduler: Scheduler,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    booking = book(scheduler, slot(CAREER, 9))
    def state() -> tuple[list[dict[str, Any]], int]:
        with Session(scheduler.engine) as session:
            return ([row.model_dump() for row in session.exec(select(Appointment))],
                    session.exec(select(func.count()).select_from(OutboxMessage)).one())
    before = state()

    with caplog.at_level(logging.INFO, logger="scheduler.handlers"):
        send(scheduler, ContactUnreachable(booking_id=uuid4(), reason="invalid_number", error_code="21211"))

    assert state() == before
    assert "contact problem for an unknown booking ignored" in caplog.text
    assert staff_view(scheduler, booking)["contact_problem"] is None


# --- migration 0003 on both databases -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url, dbs = f"sqlite:///{tmp_path / 'scheduler.sqlite'}", None
    else:
        infra.ensure_postgres()
        dbs = infra.create_databases("lotse_m")
        url = dbs.scheduler
    engine = make_engine(url)
    yield engine
    engine.dispose()
    if dbs is not None:
        infra.drop_databases(dbs)


def _insert_type_and_appointment(engine: Engine) -> None:
    """Rows as a database at 0002 holds them: the columns of 0001 only."""
    with engine.begin() as connection:
        # Ids 1 from the databases' own sequences (an explicit id would leave PostgreSQL's behind).
        connection.execute(text("INSERT INTO locations (town, kind, alias) VALUES ('Rostock', 'office', 'Rostock 1')"))
        connection.execute(text("INSERT INTO counsellors (alias, languages, topics) VALUES ('Anna', 'de', 'career')"))
        for topic in ("career", "health"):
            connection.execute(text("INSERT INTO appointment_types (topic, duration_minutes, modes) VALUES "
                                    "(:topic, 50, 'office')"), {"topic": topic})
    _insert_appointment(engine)


def _insert_appointment(engine: Engine) -> None:
    """Anna's confirmed appointment on MONDAY 09:00-09:50."""
    start = berlin(MONDAY, 9)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO appointments (booking_id, counsellor_id, location_id, type_id, starts_at, ends_at, "
            "blocked_from, blocked_until, status, needs_attention, language, channel, created_at, updated_at) "
            "VALUES (:booking, 1, 1, 1, :start, :end, :start, :end, 'confirmed', :no, 'de', 'web', :start, :start)"),
            {"booking": str(uuid4()), "start": start, "end": start + timedelta(minutes=50), "no": False})


def test_migration_0003_gives_existing_types_the_default_policy(empty_database: Engine) -> None:
    migrations.upgrade(empty_database, "0002_calendar_version")
    _insert_type_and_appointment(empty_database)

    migrations.upgrade(empty_database)

    with Session(empty_database) as session:
        types = session.exec(select(AppointmentType).order_by(AppointmentType.id)).all()  # type: ignore[arg-type]
        # (0004 then added the neutral general type, with the default policy too.)
        assert [(t.topic, t.reminder_offsets) for t in types] == [("career", (1440, 120)), ("health", (1440, 120)),
                                                                  ("general", (1440, 120))]
        [held] = session.exec(select(Appointment)).all()
        assert (held.contact_problem, held.contact_problem_code, held.contact_problem_since) == (None, None, None)
        # A new type written without a policy gets the default from the database too.
        session.execute(text("INSERT INTO appointment_types (topic, duration_minutes, modes) VALUES "
                             "('safety', 60, 'phone')"))
        session.commit()
        assert session.exec(select(AppointmentType.reminder_offsets_minutes).where(
            AppointmentType.topic == "safety")).one() == "1440,120"


def test_migration_0003_goes_down_and_up_again_keeping_the_double_booking_guard(empty_database: Engine) -> None:
    migrations.upgrade(empty_database)
    _insert_type_and_appointment(empty_database)
    config = migrations.alembic_config()

    with empty_database.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002_calendar_version")
    migrations.upgrade(empty_database)

    with pytest.raises(IntegrityError):
        # The same time again for the same counsellor: the guard of 0001 survived the round trip.
        _insert_appointment(empty_database)
    with empty_database.connect() as connection:
        # career, health and (0004, removed on the way down and added again) the general type
        assert connection.execute(text("SELECT topic, reminder_offsets_minutes FROM appointment_types ORDER BY id")
                                  ).all() == [("career", "1440,120"), ("health", "1440,120"), ("general", "1440,120")]

