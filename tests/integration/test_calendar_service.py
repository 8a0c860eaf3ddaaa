"""The scheduler over its own database (embedded SQLite): search, booking refusals, reschedule, outcomes, leave,
DST and holidays, each through the real handlers (staff changes through the staff requests), repository and
engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from scheduler.app import Scheduler
from scheduler.app import build as build_scheduler
from scheduler.calendar import enter_absence
from scheduler.demo import seed
from scheduler.domain.availability import make_slot_id
from scheduler.domain.calendar_setup import Absence
from scheduler.settings import SchedulerSettings
from scheduler.tables import Appointment, AvailabilityRule
from sqlmodel import Session, select

from shared.contracts import (
    BookingCancellationRequested,
    BookingRequested,
    Envelope,
    SlotsOffered,
    SlotsRequested,
    StaffAnswered,
    StaffRequested,
    Topic,
)
from shared.contracts.staff import Actor, MoveAction, OutcomeAction, RefusalKind, StaffAction
from shared.settings import load_settings
from tests.support.demo_scheduler import BERLIN, Clock, announced, berlin, demo_scheduler, send

ANNA, BOGDAN = 1, 2
ROSTOCK, PHONE = 1, 6
CAREER, HEALTH = 1, 2
MONDAY = date(2026, 6, 8)  # Anna is in Rostock on Mondays 09:00-16:00 (demo data)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def scheduler(tmp_path: Path, clock: Clock) -> Iterator[Scheduler]:
    with demo_scheduler(tmp_path, clock) as built:
        yield built


def search(scheduler: Scheduler, first: date, last: date | None = None, **criteria: Any) -> SlotsOffered:
    answers: list[Envelope] = []
    scheduler.deps.reply = lambda to, envelope, ttl: answers.append(envelope)
    send(scheduler, SlotsRequested(date_from=first, date_to=last or first, reply_to="gateway.replies.0123456789ab",
                                   **criteria))
    assert len(answers) == 1
    offered = answers[0].payload
    assert isinstance(offered, SlotsOffered)
    return offered


def ask_as_admin(scheduler: Scheduler, action: StaffAction) -> StaffAnswered:
    answers: list[Envelope] = []
    scheduler.deps.reply = lambda to, envelope, ttl: answers.append(envelope)
    send(scheduler, StaffRequested(request_id=uuid4(), actor=Actor(staff_id=1, role="admin"), action=action,
                                   reply_to="gateway.replies.0123456789ab"))
    [answer] = answers
    return answer.payload_as(StaffAnswered)


def refusal_code(answer: StaffAnswered) -> str:
    assert answer.refusal is not None, answer
    return answer.refusal.code


def book(scheduler: Scheduler, slot_id: str, language: str = "de", topic: Topic | None = None) -> UUID:
    booking_id = uuid4()
    send(scheduler, BookingRequested(booking_id=booking_id, slot_id=slot_id, language=language, channel="web",
                                     topic=topic))
    return booking_id


def appointment(scheduler: Scheduler, booking_id: UUID) -> Appointment:
    with Session(scheduler.engine) as session:
        row = session.exec(select(Appointment).where(Appointment.booking_id == str(booking_id))).one()
        session.expunge(row)
        return row


def outcome_of(scheduler: Scheduler, booking_id: UUID) -> tuple[str, dict[str, Any]]:
    for message_type in ("booking.confirmed", "booking.rejected"):
        for payload in announced(scheduler, message_type):
            if payload["booking_id"] == str(booking_id):
                return message_type, payload
    raise AssertionError("booking was not decided")


ELEVEN = make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 11))


# --- search --------------------------------------------------------------------------------------------------


def test_search_offers_the_demo_calendar_sorted_by_start_with_neutral_aliases(scheduler: Scheduler) -> None:
    offered = search(scheduler, MONDAY, topic=Topic.career, language="de", location_id=ROSTOCK)
    starts = [s.start for s in offered.slots]
    assert offered.error is None
    assert starts == sorted(starts)
    assert starts[0] == berlin(MONDAY, 9)
    assert {s.location.alias for s in offered.slots} == {"Rostock 1"}
    assert {s.counsellor for s in offered.slots} == {"Anna"}
    assert ELEVEN in {s.slot_id for s in offered.slots}
    assert offered.slots[0].start.utcoffset() == timedelta(hours=2)  # Europe/Berlin summer time


def test_search_by_counsellor_and_mode(scheduler: Scheduler) -> None:
    friday = MONDAY + timedelta(days=4)
    by_phone = search(scheduler, friday, topic=Topic.career, mode="phone", counsellor="Bogdan")
    assert by_phone.slots and {(s.counsellor, s.mode) for s in by_phone.slots} == {("Bogdan", "phone")}


@pytest.mark.parametrize(
    ("criteria", "code"),
    [
        ({"date_to": MONDAY + timedelta(days=100)}, "range_too_long"),
        ({"date_to": date(2026, 6, 3) + timedelta(days=91)}, "beyond_horizon"),
        ({"counsellor": "Nobody"}, "unknown_counsellor"),
    ],
)
def test_a_search_the_calendar_refuses_is_answered_with_a_sentence(scheduler: Scheduler, criteria: dict[str, Any],
                                                                   code: str) -> None:
    last = criteria.pop("date_to", MONDAY)
    # Health appointments can be booked 90 days ahead (career ones 240): the horizon case needs the shorter one.
    offered = search(scheduler, MONDAY, last, topic=Topic.health, **criteria)
    assert offered.slots == []
    assert offered.error is not None and offered.error.code == code and offered.error.message


def _add_rule(scheduler: Scheduler, weekday: int, starts: time, ends: time) -> None:
    with Session(scheduler.engine) as session:
        session.add(AvailabilityRule(counsellor_id=ANNA, location_id=PHONE, weekday=weekday, starts=starts,
                                     ends=ends))
        session.commit()


def test_slots_on_the_night_clocks_go_forward_never_start_at_a_missing_time(scheduler: Scheduler,
                                                                            clock: Clock) -> None:
    clock.now = datetime(2026, 3, 20, 8, tzinfo=UTC)
    _add_rule(scheduler, 6, time(0, 0), time(5, 0))
    sunday = date(2026, 3, 29)
    slots = search(scheduler, sunday, topic=Topic.career, counsellor="Anna").slots
    local = [s.start.astimezone(BERLIN).strftime("%H:%M") for s in slots]
    assert local[:4] == ["00:00", "00:30", "01:00", "01:30"]
    assert "03:00" in local
    assert not [t for t in local if t.startswith("02:")]
    assert len({s.slot_id for s in slots}) == len(slots)


def test_slots_on_the_night_clocks_go_back_offer_the_repeated_time_once(scheduler: Scheduler,
                                                                        clock: Clock) -> None:
    clock.now = datetime(2026, 10, 20, 8, tzinfo=UTC)
    _add_rule(scheduler, 6, time(0, 0), time(5, 0))
    slots = search(scheduler, date(2026, 10, 25), topic=Topic.career, counsellor="Anna").slots
    local = [s.start.astimezone(BERLIN).strftime("%H:%M") for s in slots]
    assert local.count("02:30") == 1
    assert len({s.start for s in slots}) == len(slots)
    assert [s.start for s in slots] == sorted(s.start for s in slots)


def test_a_public_holiday_closes_the_weekly_rules(scheduler: Scheduler, clock: Clock) -> None:
    clock.now = datetime(2026, 12, 10, 8, tzinfo=UTC)
    christmas, week_before = date(2026, 12, 25), date(2026, 12, 18)  # both Fridays: Anna on the phone 10-14
    assert search(scheduler, week_before, topic=Topic.career, counsellor="Anna").slots
    assert search(scheduler, christmas, topic=Topic.career, counsellor="Anna").slots == []


# --- booking decisions ---------------------------------------------------------------------------------------


def test_a_free_slot_is_confirmed_and_blocks_its_buffers(scheduler: Scheduler) -> None:
    booking_id = book(scheduler, ELEVEN)
    kind, payload = outcome_of(scheduler, booking_id)
    assert kind == "booking.confirmed"
    assert payload["slot"]["slot_id"] == ELEVEN and payload["slot"]["location"]["alias"] == "Rostock 1"
    row = appointment(scheduler, booking_id)
    assert (row.status, row.starts_at, row.ends_at) == ("confirmed", berlin(MONDAY, 11), berlin(MONDAY, 11, 50))
    assert row.blocked_until == berlin(MONDAY, 12)  # career: 10 minutes after
    offered = {s.slot_id for s in search(scheduler, MONDAY, topic=Topic.career, location_id=ROSTOCK).slots}
    assert ELEVEN not in offered
    assert make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 11, 30)) not in offered
    assert make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 12)) in offered


def test_a_taken_slot_is_refused_with_up_to_three_nearest_alternatives(scheduler: Scheduler) -> None:
    book(scheduler, ELEVEN)
    second = book(scheduler, ELEVEN)
    kind, payload = outcome_of(scheduler, second)
    assert (kind, payload["reason"]) == ("booking.rejected", "slot_taken")
    alternatives = [a["slot_id"] for a in payload["alternatives"]]
    assert 1 <= len(alternatives) <= 3 and ELEVEN not in alternatives


@pytest.mark.parametrize(
    ("slot_id", "language", "topic", "reason"),
    [
        (ELEVEN, "hu", None, "language_not_offered"),  # Anna speaks de, en, ro
        (ELEVEN, "de", Topic.health, "topic_not_offered"),  # a career slot
        (make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 17)), "de", None, "unknown_slot"),  # after hours
        (make_slot_id(ANNA, ROSTOCK, CAREER, berlin(date(2026, 6, 1), 11)), "de", None, "slot_in_past"),
        (make_slot_id(ANNA, ROSTOCK, CAREER, berlin(date(2026, 6, 3), 10, 30)), "de", None, "slot_in_past"),
    ],
    ids=["language", "topic", "after-hours", "past", "within-notice"],
)
def test_a_slot_that_cannot_be_booked_is_refused_with_its_reason(
    scheduler: Scheduler, slot_id: str, language: str, topic: Topic | None, reason: str
) -> None:
    booking_id = book(scheduler, slot_id, language, topic)
    kind, payload = outcome_of(scheduler, booking_id)
    assert (kind, payload["reason"]) == ("booking.rejected", reason)


# --- leave ---------------------------------------------------------------------------------------------------


def test_leave_hides_the_slots_and_refuses_a_booking_in_it(scheduler: Scheduler, clock: Clock) -> None:
    with Session(scheduler.engine) as session:
        enter_absence(session, Absence(ANNA, MONDAY, MONDAY), BERLIN, clock())
        session.commit()
    assert search(scheduler, MONDAY, topic=Topic.career, counsellor="Anna").slots == []
    kind, payload = outcome_of(scheduler, book(scheduler, ELEVEN))
    assert (kind, payload["reason"]) == ("booking.rejected", "counsellor_absent")


def test_leave_over_bookings_lists_them_for_staff_instead_of_dropping_them(scheduler: Scheduler,
                                                                          clock: Clock) -> None:
    inside = book(scheduler, ELEVEN)
    later = book(scheduler, make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY + timedelta(days=2), 11)))
    with Session(scheduler.engine) as session:
        flagged = [a.booking_id for a in
                   enter_absence(session, Absence(ANNA, MONDAY, MONDAY, reason="sick"), BERLIN, clock())]
        session.commit()
    assert flagged == [str(inside)]
    assert (appointment(scheduler, inside).status, appointment(scheduler, inside).needs_attention) == (
        "confirmed", True)
    assert appointment(scheduler, later).needs_attention is False
    assert announced(scheduler, "booking.cancelled") == []


# --- reschedule, cancel, outcomes ----------------------------------------------------------------------------


def test_reschedule_moves_the_booking_in_one_step_and_frees_the_old_time(scheduler: Scheduler) -> None:
    booking_id = book(scheduler, ELEVEN)
    half_past = make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 11, 30))  # overlaps its own old time
    ask_as_admin(scheduler, MoveAction(booking_id=booking_id, slot_id=half_past, reason="Raum belegt"))
    [moved] = announced(scheduler, "booking.rescheduled")
    assert (moved["previous"]["slot_id"], moved["slot"]["slot_id"], moved["reason"]) == (
        ELEVEN, half_past, "Raum belegt")
    row = appointment(scheduler, booking_id)
    assert (row.starts_at, row.blocked_until, row.status) == (berlin(MONDAY, 11, 30), berlin(MONDAY, 12, 30),
                                                              "confirmed")
    offered = {s.slot_id for s in search(scheduler, MONDAY, topic=Topic.career, location_id=ROSTOCK).slots}
    assert make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 10, 30)) in offered
    assert half_past not in offered


def test_reschedule_onto_a_taken_time_is_refused_and_changes_nothing(scheduler: Scheduler) -> None:
    booking_id = book(scheduler, ELEVEN)
    two = make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 14))
    book(scheduler, two)
    refused = ask_as_admin(scheduler, MoveAction(booking_id=booking_id, slot_id=two)).refusal
    assert refused is not None and (refused.kind, refused.code) == (RefusalKind.CONFLICT, "slot_taken")
    assert 1 <= len(refused.alternatives) <= 3
    assert appointment(scheduler, booking_id).starts_at == berlin(MONDAY, 11)
    assert announced(scheduler, "booking.rescheduled") == []


def test_reschedule_of_a_cancelled_or_unknown_booking_is_refused(scheduler: Scheduler) -> None:
    booking_id = book(scheduler, ELEVEN)
    send(scheduler, BookingCancellationRequested(booking_id=booking_id, by="client"))
    two = make_slot_id(ANNA, ROSTOCK, CAREER, berlin(MONDAY, 14))
    assert [refusal_code(ask_as_admin(scheduler, MoveAction(booking_id=booking, slot_id=two)))
            for booking in (booking_id, uuid4())] == ["not_confirmed", "unknown_booking"]
    assert announced(scheduler, "booking.rescheduled") == []


def test_staff_cancel_keeps_the_reason_and_frees_the_slot(scheduler: Scheduler) -> None:
    booking_id = book(scheduler, ELEVEN)
    send(scheduler, BookingCancellationRequested(booking_id=booking_id, by="staff", reason="Beraterin krank"))
    [cancelled] = announced(scheduler, "booking.cancelled")
    assert (cancelled["by"], cancelled["reason"]) == ("staff", "Beraterin krank")
    row = appointment(scheduler, booking_id)
    assert (row.status, row.status_reason) == ("cancelled", "Beraterin krank")
    assert ELEVEN in {s.slot_id for s in search(scheduler, MONDAY, topic=Topic.career, location_id=ROSTOCK).slots}


def test_no_show_and_attended_only_for_a_confirmed_booking_that_has_begun(scheduler: Scheduler,
                                                                          clock: Clock) -> None:
    booking_id = book(scheduler, ELEVEN)
    early = ask_as_admin(scheduler, OutcomeAction(action="no_show", booking_id=booking_id))
    unknown = ask_as_admin(scheduler, OutcomeAction(action="attended", booking_id=uuid4()))
    clock.now = berlin(MONDAY, 11, 5)
    recorded = ask_as_admin(scheduler, OutcomeAction(action="no_show", booking_id=booking_id,
                                                     reason="nicht erschienen"))
    late = ask_as_admin(scheduler, OutcomeAction(action="attended", booking_id=booking_id))
    assert [refusal_code(a) for a in (early, unknown, late)] == ["not_started", "unknown_booking", "not_confirmed"]
    assert recorded.refusal is None and recorded.message == "The client did not come."
    [no_show] = announced(scheduler, "booking.no_show")
    assert (no_show["booking_id"], no_show["reason"]) == (str(booking_id), "nicht erschienen")
    assert appointment(scheduler, booking_id).status == "no_show"
    assert announced(scheduler, "booking.attended") == []


def test_attended_is_recorded_once_the_appointment_has_begun(scheduler: Scheduler, clock: Clock) -> None:
    booking_id = book(scheduler, ELEVEN)
    clock.now = berlin(MONDAY, 12)
    first = ask_as_admin(scheduler, OutcomeAction(action="attended", booking_id=booking_id))
    again = ask_as_admin(scheduler, OutcomeAction(action="attended", booking_id=booking_id))
    assert (first.message, again.message) == ("The client came.", "This was already recorded.")
    assert len(announced(scheduler, "booking.attended")) == 1
    assert appointment(scheduler, booking_id).status == "attended"


def test_the_slot_step_setting_decides_how_often_slots_start(tmp_path: Path, clock: Clock) -> None:
    def starts(step: int) -> set[int]:
        settings = load_settings(SchedulerSettings, var_dir=tmp_path / str(step), slot_step_minutes=step)
        built = build_scheduler(settings, clock)
        try:
            seed(built.engine)
            offered = search(built, MONDAY + timedelta(days=1), topic=Topic.career)
            assert offered.slots
            return {slot.start.minute for slot in offered.slots}
        finally:
            built.engine.dispose()

    assert starts(30) == {0, 30}
    assert starts(60) == {0}
