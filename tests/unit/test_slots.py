"""Weekly opening hours (local wall-clock time in Europe/Berlin) turned into UTC slots, across both DST changes.

In 2026 clocks go forward on Sunday 29 March (02:00 CET -> 03:00 CEST) and back on Sunday 25 October
(03:00 CEST -> 02:00 CET).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter
from scheduler.domain.slots import (
    CandidateSlot,
    InvalidSlotId,
    WeeklyWindow,
    bookable,
    expand,
    local_instant,
    make_slot_id,
    nearest,
    parse_slot_id,
)

from shared.contracts.common import SlotId

BERLIN = ZoneInfo("Europe/Berlin")
SPRING_FORWARD = date(2026, 3, 29)  # a Sunday
FALL_BACK = date(2026, 10, 25)  # a Sunday
SUNDAY = 6
MONDAY = 0
CET = timedelta(hours=1)
CEST = timedelta(hours=2)


def window(
    weekday: int = MONDAY,
    opens: time = time(10, 0),
    closes: time = time(11, 0),
    slot_minutes: int = 60,
    duration_minutes: int | None = None,
    counsellor_id: int = 1,
    location_id: int = 1,
) -> WeeklyWindow:
    return WeeklyWindow(
        counsellor_id=counsellor_id,
        location_id=location_id,
        weekday=weekday,
        opens=opens,
        closes=closes,
        slot_minutes=slot_minutes,
        duration_minutes=slot_minutes if duration_minutes is None else duration_minutes,
    )


def slots_on(day: date, *windows: WeeklyWindow) -> list[CandidateSlot]:
    return sorted(expand(windows, day, day, BERLIN))


def local_walls(slots: list[CandidateSlot]) -> list[time]:
    return [s.start.astimezone(BERLIN).time() for s in slots]


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN, fold=fold).astimezone(UTC)


# --- a weekly rule keeps its wall-clock time -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("monday", "offset"),
    [
        (date(2026, 3, 23), CET),  # the Monday before clocks go forward
        (date(2026, 3, 30), CEST),  # the Monday after
        (date(2026, 10, 19), CEST),  # the Monday before clocks go back
        (date(2026, 10, 26), CET),  # the Monday after
    ],
)
def test_weekly_rule_at_ten_is_ten_local_time_on_both_sides_of_each_dst_change(
    monday: date, offset: timedelta
) -> None:
    [slot] = slots_on(monday, window(opens=time(10, 0), closes=time(11, 0)))

    local = slot.start.astimezone(BERLIN)
    assert local.date() == monday
    assert local.time() == time(10, 0)
    assert local.utcoffset() == offset
    assert slot.start.utcoffset() == timedelta(0), "slots are UTC instants"
    assert slot.start == datetime.combine(monday, time(10, 0), tzinfo=UTC) - offset


def test_same_rule_is_one_hour_later_in_utc_after_clocks_go_back() -> None:
    rule = window(opens=time(10, 0), closes=time(11, 0))
    [before] = slots_on(date(2026, 10, 19), rule)
    [after] = slots_on(date(2026, 10, 26), rule)

    assert after.start - before.start == timedelta(days=7, hours=1)


def test_expand_covers_first_to_last_inclusive_and_only_the_rules_weekday() -> None:
    rule = window(weekday=MONDAY)
    slots = list(expand([rule], date(2026, 6, 1), date(2026, 6, 15), BERLIN))  # Monday 1 June .. Monday 15 June

    assert sorted(s.start.astimezone(BERLIN).date() for s in slots) == [
        date(2026, 6, 1),
        date(2026, 6, 8),
        date(2026, 6, 15),
    ]


def test_window_is_cut_into_steps_and_the_last_appointment_ends_by_closing_time() -> None:
    rule = window(opens=time(9, 0), closes=time(11, 0), slot_minutes=45, duration_minutes=30)
    slots = slots_on(date(2026, 6, 1), rule)

    # 09:00, 09:45 and 10:30 (ends 11:00, exactly at closing); 11:15 would end after closing.
    assert local_walls(slots) == [time(9, 0), time(9, 45), time(10, 30)]
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)


def test_slots_carry_the_windows_counsellor_and_location() -> None:
    slots = slots_on(date(2026, 6, 1), window(counsellor_id=7, location_id=3))

    assert {(s.counsellor_id, s.location_id) for s in slots} == {(7, 3)}


# --- the night clocks go forward -------------------------------------------------------------------------------


def test_nonexistent_wall_times_are_never_offered_when_clocks_go_forward() -> None:
    rule = window(weekday=SUNDAY, opens=time(1, 0), closes=time(4, 0), slot_minutes=30)
    slots = slots_on(SPRING_FORWARD, rule)
    walls = local_walls(slots)

    assert time(2, 0) not in walls
    assert time(2, 30) not in walls
    assert walls == [time(1, 0), time(1, 30), time(3, 0), time(3, 30)]
    assert len({s.start for s in slots}) == len(slots), "no instant offered twice"


def test_local_instant_of_a_wall_time_in_the_spring_gap_is_none() -> None:
    assert local_instant(SPRING_FORWARD, time(2, 0), BERLIN) is None
    assert local_instant(SPRING_FORWARD, time(2, 30), BERLIN) is None
    assert local_instant(SPRING_FORWARD, time(3, 0), BERLIN) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_appointment_across_the_spring_gap_lasts_its_real_duration() -> None:
    rule = window(weekday=SUNDAY, opens=time(1, 0), closes=time(4, 0), slot_minutes=30)
    slots = slots_on(SPRING_FORWARD, rule)

    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)
    half_past_one = next(s for s in slots if s.start.astimezone(BERLIN).time() == time(1, 30))
    # 01:30 CET + 30 real minutes is 03:00 CEST: the missing hour is not billed as appointment time.
    assert half_past_one.end.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 0)


def test_no_slot_ends_after_its_window_closes_on_the_night_clocks_go_forward() -> None:
    # Opening hours 01:00-03:00 local; a 90-minute appointment at 01:00 CET lasts until 03:30 CEST.
    rule = window(weekday=SUNDAY, opens=time(1, 0), closes=time(3, 0), slot_minutes=90)
    closes_at = berlin(2026, 3, 29, 3, 0)

    slots = slots_on(SPRING_FORWARD, rule)

    assert [s for s in slots if s.end > closes_at] == []


# --- the night clocks go back ----------------------------------------------------------------------------------


def test_repeated_wall_times_are_offered_exactly_once_when_clocks_go_back() -> None:
    rule = window(weekday=SUNDAY, opens=time(1, 0), closes=time(4, 0), slot_minutes=30)
    slots = slots_on(FALL_BACK, rule)
    walls = local_walls(slots)

    assert walls.count(time(2, 0)) == 1
    assert walls.count(time(2, 30)) == 1
    assert walls == [time(1, 0), time(1, 30), time(2, 0), time(2, 30), time(3, 0), time(3, 30)]
    assert len({s.start for s in slots}) == len(slots)


def test_repeated_wall_time_is_offered_at_its_first_occurrence() -> None:
    rule = window(weekday=SUNDAY, opens=time(2, 0), closes=time(3, 0), slot_minutes=30)
    slots = slots_on(FALL_BACK, rule)

    assert [s.start for s in slots] == [berlin(2026, 10, 25, 2, 0, fold=0), berlin(2026, 10, 25, 2, 30, fold=0)]
    assert all(s.start.astimezone(BERLIN).utcoffset() == CEST for s in slots)
    assert local_instant(FALL_BACK, time(2, 30), BERLIN) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_appointment_across_the_autumn_change_lasts_its_real_duration() -> None:
    rule = window(weekday=SUNDAY, opens=time(1, 0), closes=time(4, 0), slot_minutes=60)
    slots = slots_on(FALL_BACK, rule)

    assert all(s.end - s.start == timedelta(minutes=60) for s in slots)
    two = next(s for s in slots if s.start.astimezone(BERLIN).time() == time(2, 0))
    # 02:00 CEST + 60 real minutes is the second 02:00 (CET).
    assert two.end == berlin(2026, 10, 25, 2, 0, fold=1)


# --- what is bookable ------------------------------------------------------------------------------------------


def slot_at(start: datetime, counsellor_id: int = 1, location_id: int = 1, minutes: int = 60) -> CandidateSlot:
    return CandidateSlot(start, start + timedelta(minutes=minutes), counsellor_id, location_id)


NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def test_bookable_drops_slots_earlier_than_the_minimum_notice_and_keeps_one_exactly_at_it() -> None:
    notice = timedelta(hours=2)
    too_soon = slot_at(NOW + notice - timedelta(minutes=1))
    just_in_time = slot_at(NOW + notice)
    later = slot_at(NOW + timedelta(hours=5))
    past = slot_at(NOW - timedelta(hours=1))

    result = bookable([later, too_soon, past, just_in_time], set(), NOW, notice)

    assert result == [just_in_time, later]


def test_bookable_drops_slots_taken_for_that_counsellor_only() -> None:
    start = NOW + timedelta(days=1)
    anna, bogdan = slot_at(start, counsellor_id=1), slot_at(start, counsellor_id=2)

    result = bookable([anna, bogdan], {(1, start)}, NOW, timedelta(0))

    assert result == [bogdan]


def test_bookable_sorts_by_start() -> None:
    starts = [NOW + timedelta(hours=h) for h in (30, 5, 17, 9)]
    result = bookable([slot_at(s) for s in starts], set(), NOW, timedelta(0))

    assert [s.start for s in result] == sorted(starts)


def test_bookable_offers_a_counsellors_instant_once_even_when_two_windows_overlap() -> None:
    start = NOW + timedelta(days=1)
    at_office, on_phone = slot_at(start, location_id=1), slot_at(start, location_id=2)

    result = bookable([on_phone, at_office], set(), NOW, timedelta(0))

    assert len(result) == 1
    assert result[0].start == start


def test_bookable_of_expanded_windows_across_dst_offers_each_instant_once() -> None:
    rule = window(weekday=SUNDAY, opens=time(0, 0), closes=time(23, 0), slot_minutes=30)
    candidates = expand([rule], FALL_BACK, FALL_BACK, BERLIN)

    result = bookable(candidates, set(), datetime(2026, 10, 1, tzinfo=UTC), timedelta(hours=1))

    starts = [s.start for s in result]
    assert len(starts) == len(set(starts))
    assert starts == sorted(starts)


# --- slot ids --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start",
    [
        berlin(2026, 3, 29, 3, 0),
        berlin(2026, 10, 25, 2, 30, fold=0),
        berlin(2026, 10, 25, 2, 30, fold=1),
        datetime(2026, 6, 1, 8, 15, tzinfo=UTC),
    ],
)
def test_slot_id_round_trips_counsellor_location_and_instant(start: datetime) -> None:
    slot = slot_at(start, counsellor_id=12, location_id=345)

    counsellor_id, location_id, parsed = parse_slot_id(slot.slot_id)

    assert (counsellor_id, location_id, parsed) == (12, 345, start)
    assert parsed.utcoffset() == timedelta(0)
    assert slot.slot_id == make_slot_id(12, 345, start)


def test_the_two_half_past_twos_of_the_autumn_night_have_different_slot_ids() -> None:
    first = make_slot_id(1, 1, berlin(2026, 10, 25, 2, 30, fold=0))
    second = make_slot_id(1, 1, berlin(2026, 10, 25, 2, 30, fold=1))

    assert first != second


def test_issued_slot_ids_pass_the_message_contract() -> None:
    slot_id = slot_at(datetime(2026, 6, 1, 8, 0, tzinfo=UTC), counsellor_id=999, location_id=42).slot_id

    assert TypeAdapter(SlotId).validate_python(slot_id) == slot_id


@pytest.mark.parametrize(
    "slot_id",
    [
        "",
        "s1",
        "s1-1-2",
        "s2-1-2-29579520",
        "S1-1-2-29579520",
        "s1-a-2-29579520",
        "s1--1-2-29579520",
        "s1-1-2-1234567",  # a minute count too short to be any time this scheduler issues
        "s1-1-2-29579520-5",
        " s1-1-2-29579520",
        "s1-1-2-29579520 ",
        "s1-1234567890-2-29579520",
    ],
)
def test_malformed_slot_id_raises_invalid_slot_id(slot_id: str) -> None:
    with pytest.raises(InvalidSlotId):
        parse_slot_id(slot_id)


def test_slot_id_with_trailing_newline_is_rejected_like_the_contract_does() -> None:
    with pytest.raises(InvalidSlotId):
        parse_slot_id("s1-1-2-29579520\n")


def test_invalid_slot_id_is_a_value_error() -> None:
    assert issubclass(InvalidSlotId, ValueError)


# --- window validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("opens", "closes"),
    [
        (time(14, 0), time(10, 0)),  # ends before it starts
        (time(10, 0), time(10, 0)),  # empty
        (time(22, 0), time(2, 0)),  # across midnight
    ],
)
def test_window_must_close_after_it_opens_on_the_same_day(opens: time, closes: time) -> None:
    with pytest.raises(ValueError, match="close after it opens"):
        window(opens=opens, closes=closes)


@pytest.mark.parametrize("weekday", [-1, 7, 10])
def test_window_refuses_a_weekday_outside_monday_to_sunday(weekday: int) -> None:
    with pytest.raises(ValueError, match="weekday"):
        window(weekday=weekday)


@pytest.mark.parametrize(("slot_minutes", "duration_minutes"), [(30, 0), (30, -5), (30, 45)])
def test_window_refuses_an_appointment_longer_than_its_step_or_not_positive(
    slot_minutes: int, duration_minutes: int
) -> None:
    with pytest.raises(ValueError, match="appointment"):
        window(slot_minutes=slot_minutes, duration_minutes=duration_minutes)


@pytest.mark.parametrize("weekday", [MONDAY, SUNDAY])
def test_window_accepts_monday_and_sunday(weekday: int) -> None:
    assert window(weekday=weekday).weekday == weekday


# --- nearest alternatives --------------------------------------------------------------------------------------


def hourly(first_hour: int, count: int) -> list[CandidateSlot]:
    return [slot_at(datetime(2026, 6, 1, first_hour + i, 0, tzinfo=UTC)) for i in range(count)]


def test_nearest_returns_the_three_closest_sorted_by_start() -> None:
    nine, ten, eleven, twelve, thirteen = hourly(9, 5)
    wanted = datetime(2026, 6, 1, 11, 20, tzinfo=UTC)  # 20 min after 11:00, 40 before 12:00, 80 after 10:00

    assert nearest([thirteen, twelve, nine, eleven, ten], wanted) == [ten, eleven, twelve]


def test_nearest_looks_both_before_and_after_the_wanted_time() -> None:
    slots = hourly(6, 12)  # 06:00 .. 17:00
    wanted = datetime(2026, 6, 1, 17, 0, tzinfo=UTC)

    assert [s.start.hour for s in nearest(slots, wanted)] == [15, 16, 17]


def test_nearest_prefers_the_earlier_slot_on_a_tie() -> None:
    nine, ten, eleven, twelve = hourly(9, 4)
    wanted = datetime(2026, 6, 1, 10, 30, tzinfo=UTC)  # 10:00 and 11:00 equally close, then 09:00 and 12:00

    assert nearest([twelve, eleven, ten, nine], wanted) == [nine, ten, eleven]


def test_nearest_honours_count_and_returns_all_when_fewer() -> None:
    slots = hourly(9, 2)
    wanted = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

    assert nearest(slots, wanted, count=1) == [slots[0]]
    assert nearest(slots, wanted, count=3) == slots
    assert nearest([], wanted) == []
