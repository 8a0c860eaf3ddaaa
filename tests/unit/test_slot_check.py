"""Re-checking one requested slot at booking time, and the nearest alternatives when it cannot be had."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

import pytest
from scheduler.domain.availability import Criteria, Verdict, alternatives, check, make_slot_id
from scheduler.domain.calendar_setup import Absence, CalendarSetup, LocationClosure
from scheduler.domain.occupancy import Appointment, Occupancy

from tests.unit.calendar_examples import (
    ANNA,
    BERLIN,
    BOGDAN,
    HEALTH,
    MONDAY,
    NOW,
    PHONE,
    ROSTOCK,
    SCHWERIN,
    berlin,
    booked,
    counsellor,
    health,
    hhmm,
    make_setup,
    rule,
    search,
    walls,
)

MON = date(2026, 6, 8)
TEN = berlin(MON, 10)


def verdict(
    setup: CalendarSetup,
    slot_id: str,
    appointments: Sequence[Appointment] = (),
    now: datetime = NOW,
    language: str = "de",
    topic: str | None = None,
) -> Verdict:
    return check(setup, Occupancy(appointments, setup, BERLIN), slot_id, now, language=language, topic=topic)


def anna_monday(**kw: object) -> CalendarSetup:
    return make_setup([rule(MONDAY, time(9, 0), time(12, 0))], **kw)  # type: ignore[arg-type]


ANNA_AT_TEN = make_slot_id(ANNA, ROSTOCK, HEALTH, TEN)


def test_offered_slot_checks_ok_and_describes_itself() -> None:
    setup = anna_monday()
    offered = {s.slot_id for s in search(setup, MON)}

    result = verdict(setup, ANNA_AT_TEN)

    assert ANNA_AT_TEN in offered
    assert result.ok and result.reason is None
    assert result.slot is not None
    assert (result.slot.start, result.slot.end) == (TEN, TEN + timedelta(hours=1))


@pytest.mark.parametrize(
    "slot_id",
    [
        "s1-1-1-29579520",  # the old format
        "not a slot",
        make_slot_id(99, ROSTOCK, HEALTH, TEN),  # no such counsellor
        make_slot_id(ANNA, 99, HEALTH, TEN),  # no such location
        make_slot_id(ANNA, ROSTOCK, 99, TEN),  # no such type
        make_slot_id(ANNA, ROSTOCK, HEALTH, TEN + timedelta(minutes=10)),  # off the half-hour grid
        make_slot_id(ANNA, ROSTOCK, HEALTH, berlin(MON, 13)),  # outside the window
        make_slot_id(ANNA, SCHWERIN, HEALTH, TEN),  # no window there
        make_slot_id(ANNA, ROSTOCK, HEALTH, berlin(MON + timedelta(days=1), 10)),  # no rule on Tuesday
    ],
)
def test_slot_that_was_never_offered_is_unknown(slot_id: str) -> None:
    assert verdict(anna_monday(), slot_id).reason == "unknown_slot"


def test_slot_at_a_location_closed_since_it_was_offered_is_unknown() -> None:
    setup = anna_monday(closures=[LocationClosure(ROSTOCK, MON, MON)])

    assert verdict(setup, ANNA_AT_TEN).reason == "unknown_slot"


def test_slot_beyond_the_horizon_is_unknown() -> None:
    setup = anna_monday(types=[health(horizon=7)])

    assert verdict(setup, ANNA_AT_TEN, now=berlin(MON - timedelta(days=8), 9)).reason == "unknown_slot"
    assert verdict(setup, ANNA_AT_TEN, now=berlin(MON - timedelta(days=7), 9)).ok


def test_slot_that_has_begun_or_is_inside_the_notice_is_in_the_past() -> None:
    setup = anna_monday(types=[health(notice=60)])

    assert verdict(setup, ANNA_AT_TEN, now=TEN + timedelta(minutes=1)).reason == "slot_in_past"
    inside_notice = verdict(setup, ANNA_AT_TEN, now=TEN - timedelta(minutes=59))
    assert inside_notice.reason == "slot_in_past"
    assert "60 minutes" in inside_notice.message
    assert verdict(setup, ANNA_AT_TEN, now=TEN - timedelta(minutes=60)).ok


@pytest.mark.parametrize(
    "existing",
    [
        booked(MON, 10),  # the very slot
        booked(MON, 10, 30, location_id=PHONE),  # overlapping, elsewhere
        booked(MON, 11, 30, location_id=SCHWERIN),  # after it, but Schwerin is an hour away
    ],
)
def test_slot_that_clashes_with_an_appointment_is_taken(existing: Appointment) -> None:
    assert verdict(anna_monday(), ANNA_AT_TEN, [existing]).reason == "slot_taken"


def test_slot_on_a_day_that_reached_the_daily_cap_is_taken() -> None:
    setup = anna_monday(counsellors=[counsellor(daily_cap=1)])

    assert verdict(setup, ANNA_AT_TEN, [booked(MON, 15, location_id=PHONE)]).reason == "slot_taken"
    assert verdict(setup, ANNA_AT_TEN, [booked(MON - timedelta(days=7), 15)]).ok


def test_language_the_counsellor_does_not_speak_is_not_offered() -> None:
    result = verdict(anna_monday(), ANNA_AT_TEN, language="ar")

    assert result.reason == "language_not_offered"
    assert verdict(anna_monday(), ANNA_AT_TEN, language="en").ok


def test_topic_other_than_the_slots_or_no_longer_the_counsellors_is_not_offered() -> None:
    assert verdict(anna_monday(), ANNA_AT_TEN, topic="career").reason == "topic_not_offered"
    stopped_health = anna_monday(counsellors=[counsellor(topics=("career",))])
    assert verdict(stopped_health, ANNA_AT_TEN).reason == "topic_not_offered"
    assert verdict(anna_monday(), ANNA_AT_TEN, topic="health").ok


@pytest.mark.parametrize(
    "absence",
    [Absence(ANNA, MON, MON + timedelta(days=13)), Absence(ANNA, MON, MON, time(10, 30), time(11, 0), "sick")],
)
def test_slot_during_an_absence_entered_since_it_was_offered_is_refused_as_absent(absence: Absence) -> None:
    assert verdict(anna_monday(absences=[absence]), ANNA_AT_TEN).reason == "counsellor_absent"


def test_absence_of_another_counsellor_does_not_refuse_the_slot() -> None:
    setup = anna_monday(counsellors=[counsellor(ANNA), counsellor(BOGDAN)], absences=[Absence(BOGDAN, MON, MON)])

    assert verdict(setup, ANNA_AT_TEN).ok


# --- alternatives ---------------------------------------------------------------------------------------------------


def test_alternatives_are_the_three_free_slots_nearest_the_wanted_time_sorted() -> None:
    setup = make_setup([rule(MONDAY, time(8, 0), time(16, 0))])
    taken = [booked(MON, 10)]

    nearest = alternatives(setup, Occupancy(taken, setup, BERLIN), Criteria("health"), TEN, NOW)

    # 10:00 is taken, 09:30 and 10:30 clash with it: 09:00 (60 min away), 11:00 (60), 08:30 and 11:30 (90).
    assert walls(nearest) == hhmm("08:30", "09:00", "11:00")


def test_alternatives_look_on_other_days_and_return_fewer_when_fewer_are_free() -> None:
    setup = make_setup([rule(MONDAY, time(9, 0), time(10, 0)), rule(2, time(9, 0), time(10, 0))])
    taken = [booked(MON, 9)]

    nearest = alternatives(setup, Occupancy(taken, setup, BERLIN), Criteria("health"), berlin(MON, 9), NOW,
                           days_around=2)

    assert [s.start for s in nearest] == [berlin(MON + timedelta(days=2), 9)]


def test_alternatives_keep_the_criteria_and_stop_at_the_horizon() -> None:
    setup = make_setup([rule(MONDAY), rule(MONDAY, time(13, 0), time(16, 0), SCHWERIN)],
                       types=[health(horizon=3)])
    now = berlin(MON - timedelta(days=3), 9)

    at_schwerin = alternatives(setup, Occupancy([], setup, BERLIN), Criteria("health", location_id=SCHWERIN),
                               berlin(MON, 9), now)
    assert {s.location_id for s in at_schwerin} == {SCHWERIN}
    assert len(at_schwerin) == 3

    a_week_later = berlin(MON + timedelta(days=7), 9)
    latest = alternatives(setup, Occupancy([], setup, BERLIN), Criteria("health"), a_week_later, now)
    assert [s.start for s in latest] == [berlin(MON, 14), berlin(MON, 14, 30), berlin(MON, 15)]  # the horizon's end
    assert alternatives(setup, Occupancy([], setup, BERLIN), Criteria("health"), a_week_later, now,
                        days_around=2) == []
