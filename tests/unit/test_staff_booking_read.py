"""The scheduler's "booking" read: one booking's appointment and its counsellor, whatever week it lies in, for the
pages about one booking (move picker, number reveal); only for its counsellor or an admin. Straight to the
scheduler's staff handler on its own SQLite file with the demo calendar."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from scheduler import demo, migrations, repository, staff
from scheduler.bookings import SchedulerDeps
from scheduler.calendar import Calendar
from scheduler.domain.availability import SearchSettings
from scheduler.tables import Appointment
from sqlalchemy import Engine
from sqlmodel import Session

from shared.contracts import StaffAnswered, StaffRequested, wrap
from shared.contracts.staff import Actor, BookingAction, BookingAnswer, RefusalKind
from shared.db import make_engine

ANNA, BOGDAN = 1, 2  # the demo calendar's first two counsellors
ANNA_ACTOR = Actor(staff_id=2, role="counsellor", counsellor_id=ANNA)
BOGDAN_ACTOR = Actor(staff_id=3, role="counsellor", counsellor_id=BOGDAN)
ADMIN = Actor(staff_id=1, role="admin")
# Far from any week a page would ask for by default: the read must not depend on one.
START = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path_factory.mktemp('booking-read') / 'scheduler.sqlite'}")
    migrations.upgrade(made)
    demo.seed(made)
    yield made
    made.dispose()


@pytest.fixture(scope="module")
def annas_booking(engine: Engine) -> UUID:
    booking_id = uuid4()
    with Session(engine) as session:
        location_id = repository.served_locations(session, ANNA)[0]
        session.add(Appointment(booking_id=str(booking_id), counsellor_id=ANNA, location_id=location_id,
                                starts_at=START, ends_at=START + timedelta(minutes=45), blocked_from=START,
                                blocked_until=START + timedelta(minutes=45), status="confirmed", topic="career",
                                language="de", channel="sms"))
        session.commit()
    return booking_id


def decide(engine: Engine, actor: Actor, action: Any) -> StaffAnswered:
    deps = staff.StaffDeps(SchedulerDeps(calendar=Calendar(SearchSettings()), clock=lambda: datetime.now(UTC),
                                         reply=lambda *_: None), engine)
    request = StaffRequested(request_id=uuid4(), actor=actor, action=action, reply_to="gateway.replies.0123456789ab")
    with Session(engine) as session:
        return staff.decide(wrap(request, "test"), session, deps)


@pytest.mark.parametrize("actor", [ANNA_ACTOR, ADMIN])
def test_the_counsellor_or_an_admin_reads_a_booking_with_its_counsellor(engine: Engine, annas_booking: UUID,
                                                                        actor: Actor) -> None:
    answered = decide(engine, actor, BookingAction(booking_id=annas_booking, timezone="Europe/Berlin"))

    assert isinstance(answered.answer, BookingAnswer) and answered.answer.operation == "booking"
    data = answered.answer.data
    assert (data.counsellor_id, data.counsellor_alias) == (ANNA, "Anna")
    assert data.booking.booking_id == annas_booking and data.booking.status == "confirmed"
    assert data.booking.start.isoformat() == "2026-11-18T10:00:00+01:00"  # in the asked zone
    assert data.booking.duration_minutes == 45 and data.booking.topic == "career"


@pytest.mark.parametrize(("actor", "known", "kind", "code"), [
    (BOGDAN_ACTOR, True, RefusalKind.FORBIDDEN, "forbidden"),
    (ANNA_ACTOR, False, RefusalKind.UNKNOWN, "unknown_booking"),
    (ADMIN, False, RefusalKind.UNKNOWN, "unknown_booking"),
])
def test_another_counsellors_or_no_booking_is_refused(engine: Engine, annas_booking: UUID, actor: Actor, known: bool,
                                                      kind: RefusalKind, code: str) -> None:
    refused = decide(engine, actor, BookingAction(booking_id=annas_booking if known else uuid4()))

    assert refused.answer is None and refused.refusal is not None
    assert (refused.refusal.kind, refused.refusal.code) == (kind, code)
    assert refused.message  # a sentence for the page
