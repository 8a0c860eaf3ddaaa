"""The calendar engine's slot search: local rules to UTC slots across DST, holidays, exceptions, existing
appointments (buffers, travel, daily cap), notice and horizon, "any counsellor", slot ids.

In 2026 clocks go forward on Sunday 29 March (02:00 CET -> 03:00 CEST) and back on Sunday 25 October
(03:00 CEST -> 02:00 CET).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from scheduler.domain.availability import (
    InvalidSlotId,
    OfferedSlot,
    SearchSettings,
    make_slot_id,
    parse_slot_id,
)
from scheduler.domain.calendar_setup import (
    Absence,
    AppointmentType,
    CalendarError,
    ExtraHours,
    InvalidDateRange,
    Location,
    LocationClosure,
    UnknownReference,
)

from tests.unit.calendar_examples import (
    ANNA,
    BERLIN,
    BOGDAN,
    CHLOE,
    MONDAY,
    OUTREACH,
    PHONE,
    ROSTOCK,
    ROSTOCK_2,
    SATURDAY,
    SCHWERIN,
    SUNDAY,
    VIDEO,
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

MON = date(2026, 6, 8)  # an ordinary Monday, no holiday
TUE = MON + timedelta(days=1)
SPRING_FORWARD = date(2026, 3, 29)
FALL_BACK = date(2026, 10, 25)
CET, CEST = timedelta(hours=1), timedelta(hours=2)


# --- local rules, UTC slots, DST ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("monday", "offset"),
    [(date(2026, 3, 23), CET), (date(2026, 3, 30), CEST), (date(2026, 10, 19), CEST), (date(2026, 10, 26), CET)],
)
def test_rule_at_ten_gives_a_ten_oclock_local_slot_on_both_sides_of_each_dst_change(
    monday: date, offset: timedelta
) -> None:
    setup = make_setup([rule(MONDAY, time(10, 0), time(11, 0))])

    [slot] = search(setup, monday, now=datetime(2026, 3, 1, tzinfo=UTC))

    assert slot.start.tzinfo == UTC
    assert slot.start == datetime.combine(monday, time(10, 0), tzinfo=UTC) - offset
    assert slot.start.astimezone(BERLIN).time() == time(10, 0)


def test_no_slot_in_the_missing_hour_when_clocks_go_forward() -> None:
    setup = make_setup([rule(SUNDAY, time(1, 0), time(4, 0))], types=[health(duration=30)])

    slots = search(setup, SPRING_FORWARD, now=datetime(2026, 3, 1, tzinfo=UTC))

    assert walls(slots) == hhmm("01:00", "01:30", "03:00", "03:30")
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)
    assert berlin(SPRING_FORWARD, 1, 30) + timedelta(minutes=30) == berlin(SPRING_FORWARD, 3, 0)


def test_repeated_hour_is_offered_once_at_its_first_occurrence_when_clocks_go_back() -> None:
    setup = make_setup([rule(SUNDAY, time(1, 0), time(4, 0))], types=[health(duration=30)])

    slots = search(setup, FALL_BACK, now=datetime(2026, 10, 1, tzinfo=UTC))

    assert walls(slots) == hhmm("01:00", "01:30", "02:00", "02:30", "03:00", "03:30")
    half_past_two = slots[3]
    assert half_past_two.start == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, the first of two
    assert berlin(FALL_BACK, 2, 30, fold=1) not in {s.start for s in slots}
    assert len({s.start for s in slots}) == len(slots)


def test_long_appointment_never_ends_after_the_window_closes_on_the_spring_night() -> None:
    # 01:00-03:00 local is one real hour on 29 March; a 90-minute appointment at 01:00 would end at 03:30 CEST.
    setup = make_setup([rule(SUNDAY, time(1, 0), time(3, 0))], types=[health(duration=90)])

    assert search(setup, SPRING_FORWARD, now=datetime(2026, 3, 1, tzinfo=UTC)) == []


def test_slots_step_from_the_window_start_by_the_setting_and_end_by_closing_time() -> None:
    setup = make_setup([rule(MONDAY, time(9, 15), time(11, 0))], types=[health(duration=30)])

    assert walls(search(setup, MON)) == hhmm("09:15", "09:45", "10:15")
    assert walls(search(setup, MON, settings=SearchSettings(step_minutes=45))) == hhmm("09:15", "10:00")


def test_slots_are_sorted_utc_instants_across_days_and_locations() -> None:
    setup = make_setup(
        [rule(MONDAY, time(13, 0), time(14, 0), SCHWERIN), rule(MONDAY, time(9, 0), time(10, 0)),
         rule(1, time(8, 0), time(9, 0))],
    )

    slots = search(setup, MON, TUE)

    assert [s.start for s in slots] == sorted(s.start for s in slots)
    assert [(s.start, s.location_id) for s in slots] == [
        (berlin(MON, 9), ROSTOCK), (berlin(MON, 13), SCHWERIN), (berlin(TUE, 8), ROSTOCK)]
    assert all(s.start.utcoffset() == timedelta(0) for s in slots)


def test_rule_outside_its_validity_dates_offers_nothing() -> None:
    setup = make_setup([rule(MONDAY, valid_from=MON + timedelta(days=7), valid_until=MON + timedelta(days=7))])

    assert search(setup, MON) == []
    assert len(search(setup, MON + timedelta(days=7))) == 5
    assert search(setup, MON + timedelta(days=14)) == []


# --- public holidays ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("location_id", [ROSTOCK, OUTREACH, PHONE, VIDEO])
@pytest.mark.parametrize(
    "holiday",
    [date(2026, 10, 31), date(2026, 12, 25)],  # Reformation Day (an MV holiday, a Saturday); Christmas (a Friday)
)
def test_public_holiday_in_mv_closes_every_kind_of_location(holiday: date, location_id: int) -> None:
    setup = make_setup([rule(holiday.weekday(), location_id=location_id)])
    week_before = holiday - timedelta(days=7)

    assert search(setup, holiday) == []
    assert len(search(setup, week_before)) == 5


def test_rule_open_on_holidays_offers_slots_on_a_public_holiday() -> None:
    setup = make_setup([rule(SATURDAY, location_id=OUTREACH, on_holidays=True)])

    assert walls(search(setup, date(2026, 10, 31))) == hhmm("09:00", "09:30", "10:00", "10:30", "11:00")


def test_reformation_day_is_not_a_holiday_everywhere_but_it_is_in_mv() -> None:
    from scheduler.domain.public_holidays import is_public_holiday, public_holidays

    assert is_public_holiday(date(2026, 10, 31))
    assert date(2026, 10, 31) not in public_holidays(2026, "DE", "BY")
    assert not is_public_holiday(MON)


def test_extra_hours_open_on_a_holiday_date() -> None:
    setup = make_setup(extra_hours=[ExtraHours(ANNA, ROSTOCK, date(2026, 12, 25), time(10, 0), time(12, 0))])

    assert walls(search(setup, date(2026, 12, 25))) == hhmm("10:00", "10:30", "11:00")


# --- exceptions: extra hours, absences, closures -----------------------------------------------------------------


def test_extra_hours_add_slots_on_their_date_only() -> None:
    setup = make_setup(extra_hours=[ExtraHours(ANNA, SCHWERIN, TUE, time(14, 0), time(15, 0))])

    assert [(s.location_id, s.start) for s in search(setup, MON, TUE + timedelta(days=7))] == [
        (SCHWERIN, berlin(TUE, 14))]


def test_extra_hours_extending_a_rule_at_the_same_location_offer_each_start_once() -> None:
    setup = make_setup([rule(MONDAY, time(9, 0), time(11, 0))],
                       extra_hours=[ExtraHours(ANNA, ROSTOCK, MON, time(10, 0), time(12, 0))])

    assert walls(search(setup, MON)) == hhmm("09:00", "09:30", "10:00", "10:30", "11:00")


def test_whole_day_leave_removes_the_counsellors_slots_on_those_days_only() -> None:
    setup = make_setup([rule(MONDAY), rule(1)], absences=[Absence(ANNA, MON, MON)])

    assert [s.start.astimezone(BERLIN).date() for s in search(setup, MON, TUE)] == [TUE] * 5


def test_absence_with_a_time_range_removes_only_the_slots_it_overlaps() -> None:
    setup = make_setup([rule(MONDAY, time(9, 0), time(13, 0))],
                       absences=[Absence(ANNA, MON, MON, time(10, 0), time(11, 15), reason="sick")])

    # 09:00-10:00 ends as the absence begins; 11:30 starts after it ends; 10:30 and 11:00 overlap it.
    assert walls(search(setup, MON)) == hhmm("09:00", "11:30", "12:00")


def test_absence_of_one_counsellor_leaves_the_other_offered() -> None:
    setup = make_setup([rule(MONDAY), rule(MONDAY, counsellor_id=BOGDAN)],
                       counsellors=[counsellor(ANNA), counsellor(BOGDAN)],
                       absences=[Absence(ANNA, MON, MON)])

    assert {s.counsellor_id for s in search(setup, MON)} == {BOGDAN}


def test_closed_location_offers_nothing_on_closed_dates_even_with_extra_hours() -> None:
    setup = make_setup(
        [rule(MONDAY), rule(1, location_id=SCHWERIN), rule(1, time(13, 0), time(14, 0))],
        extra_hours=[ExtraHours(ANNA, ROSTOCK, TUE, time(9, 0), time(10, 0))],
        closures=[LocationClosure(ROSTOCK, MON, TUE)],
    )

    assert {(s.location_id, s.start.astimezone(BERLIN).date()) for s in search(setup, MON, TUE)} == {
        (SCHWERIN, TUE)}
    assert len(search(setup, MON + timedelta(days=7))) == 5


def test_inactive_location_and_inactive_counsellor_are_not_offered() -> None:
    locations = [Location(ROSTOCK, "Rostock", "office", active=False), Location(SCHWERIN, "Schwerin", "office")]
    setup = make_setup([rule(MONDAY), rule(MONDAY, time(13, 0), time(14, 0), SCHWERIN)], locations=locations)
    assert {s.location_id for s in search(setup, MON)} == {SCHWERIN}

    retired = make_setup([rule(MONDAY)], counsellors=[counsellor(active=False)])
    assert search(retired, MON) == []


# --- existing appointments: buffers, travel, daily cap -------------------------------------------------------------


def test_buffers_keep_slots_clear_of_an_existing_appointment_on_both_sides() -> None:
    setup = make_setup([rule(MONDAY, time(8, 0), time(14, 0))], types=[health(before=15, after=15)])

    slots = search(setup, MON, appointments=[booked(MON, 10)])  # occupies 09:45-11:15 with its buffers

    assert walls(slots) == hhmm("08:00", "08:30", "11:30", "12:00", "12:30", "13:00")


def test_buffers_of_the_requested_type_apply_even_when_the_existing_appointment_has_none() -> None:
    setup = make_setup([rule(MONDAY, time(8, 0), time(14, 0))], types=[health(before=30)])

    slots = search(setup, MON, appointments=[booked(MON, 10, type_id=None)])

    # 11:00 would need 10:30-11:00 to prepare, inside the appointment; 09:00 may end as it begins.
    assert walls(slots) == hhmm("08:00", "08:30", "09:00", "11:30", "12:00", "12:30", "13:00")


def test_without_buffers_slots_may_touch_an_existing_appointment() -> None:
    setup = make_setup([rule(MONDAY, time(8, 0), time(14, 0))])

    assert walls(search(setup, MON, appointments=[booked(MON, 10)])) == hhmm(
        "08:00", "08:30", "09:00", "11:00", "11:30", "12:00", "12:30", "13:00")


def test_travel_time_is_kept_between_appointments_in_different_towns() -> None:
    setup = make_setup([rule(MONDAY, time(8, 0), time(14, 0))])
    in_schwerin = booked(MON, 10, location_id=SCHWERIN)

    assert walls(search(setup, MON, appointments=[in_schwerin])) == hhmm("08:00", "12:00", "12:30", "13:00")
    assert walls(search(setup, MON, appointments=[in_schwerin], settings=SearchSettings(travel_minutes=30))) == (
        hhmm("08:00", "08:30", "11:30", "12:00", "12:30", "13:00"))


def test_no_travel_time_within_one_town_or_to_a_phone_appointment() -> None:
    setup = make_setup([rule(MONDAY, time(8, 0), time(14, 0))])
    touching = hhmm("08:00", "08:30", "09:00", "11:00", "11:30", "12:00", "12:30", "13:00")

    assert walls(search(setup, MON, appointments=[booked(MON, 10, location_id=ROSTOCK_2)])) == touching
    assert walls(search(setup, MON, appointments=[booked(MON, 10, location_id=PHONE)])) == touching


def test_phone_slots_need_no_travel_but_never_overlap_an_office_appointment() -> None:
    setup = make_setup([rule(MONDAY, time(8, 0), time(14, 0), PHONE)])

    slots = search(setup, MON, appointments=[booked(MON, 10, location_id=SCHWERIN)])

    assert walls(slots) == hhmm("08:00", "08:30", "09:00", "11:00", "11:30", "12:00", "12:30", "13:00")


def test_counsellor_booked_in_one_place_is_not_offered_in_another_at_that_time() -> None:
    setup = make_setup([rule(MONDAY, time(9, 0), time(12, 0)), rule(MONDAY, time(12, 0), time(15, 0), SCHWERIN)])

    slots = search(setup, MON, appointments=[booked(MON, 11, location_id=ROSTOCK)])

    # Rostock 11:00-12:00 is booked; Schwerin needs an hour's travel, so its first free start is 13:00.
    assert [(s.location_id, s.start.astimezone(BERLIN).time()) for s in slots] == [
        (ROSTOCK, time(9, 0)), (ROSTOCK, time(9, 30)), (ROSTOCK, time(10, 0)),
        (SCHWERIN, time(13, 0)), (SCHWERIN, time(13, 30)), (SCHWERIN, time(14, 0))]


def test_daily_cap_closes_the_rest_of_the_day_once_reached() -> None:
    setup = make_setup([rule(MONDAY, time(8, 0), time(16, 0)), rule(1, time(8, 0), time(16, 0))],
                       counsellors=[counsellor(daily_cap=2)])
    one = [booked(MON, 8)]
    two = [booked(MON, 8), booked(MON, 9, location_id=PHONE)]

    assert berlin(MON, 12) in {s.start for s in search(setup, MON, TUE, appointments=one)}
    assert {s.start.astimezone(BERLIN).date() for s in search(setup, MON, TUE, appointments=two)} == {TUE}


def test_appointments_of_other_counsellors_do_not_block() -> None:
    setup = make_setup([rule(MONDAY)], counsellors=[counsellor(ANNA), counsellor(BOGDAN)])

    assert len(search(setup, MON, appointments=[booked(MON, 9, counsellor_id=BOGDAN)])) == 5


# --- now, notice, horizon, range -----------------------------------------------------------------------------------


def test_no_slot_in_the_past_or_inside_the_minimum_notice() -> None:
    setup = make_setup([rule(MONDAY, time(8, 0), time(14, 0))], types=[health(notice=120)])
    now = berlin(MON, 8, 10)

    # 08:10 + 2 h = 10:10: the first half-hour start at or after it is 10:30.
    assert walls(search(setup, MON, now=now)) == hhmm("10:30", "11:00", "11:30", "12:00", "12:30", "13:00")


def test_slot_exactly_at_the_notice_boundary_is_offered_and_one_second_later_is_not() -> None:
    setup = make_setup([rule(MONDAY, time(10, 0), time(11, 0))], types=[health(notice=60)])

    assert walls(search(setup, MON, now=berlin(MON, 9))) == hhmm("10:00")
    assert search(setup, MON, now=berlin(MON, 9) + timedelta(seconds=1)) == []


def test_range_starting_in_the_past_is_searched_from_today() -> None:
    setup = make_setup([rule(MONDAY), rule(1)])

    slots = search(setup, MON - timedelta(days=7), TUE, now=berlin(MON, 13))

    assert {s.start.astimezone(BERLIN).date() for s in slots} == {TUE}


def test_last_date_of_the_horizon_is_bookable_and_a_range_beyond_it_is_refused() -> None:
    setup = make_setup([rule(MONDAY)], types=[health(horizon=14)])
    now = berlin(MON - timedelta(days=14), 9)

    assert len(search(setup, MON, now=now)) == 5
    with pytest.raises(InvalidDateRange) as refused:
        search(setup, MON, MON + timedelta(days=1), now=now)
    assert refused.value.code == "beyond_horizon"
    assert "14 days" in refused.value.message


def test_range_over_90_days_is_refused_and_90_days_are_searched() -> None:
    setup = make_setup([rule(MONDAY)])

    assert search(setup, MON, MON + timedelta(days=89)) != []
    with pytest.raises(InvalidDateRange) as refused:
        search(setup, MON, MON + timedelta(days=90))
    assert refused.value.code == "range_too_long"


def test_reversed_range_is_refused() -> None:
    with pytest.raises(InvalidDateRange) as refused:
        search(make_setup([rule(MONDAY)]), TUE, MON)
    assert refused.value.code == "range_reversed"


@pytest.mark.parametrize(
    ("criteria", "code"),
    [
        ({"topic": "astrology"}, "unknown_topic"),
        ({"mode": "carrier_pigeon"}, "unknown_kind"),
        ({"location_id": 99}, "unknown_location"),
        ({"counsellor_id": 99}, "unknown_counsellor"),
    ],
)
def test_search_refuses_unknown_criteria_with_a_code(criteria: dict[str, object], code: str) -> None:
    with pytest.raises(UnknownReference) as refused:
        search(make_setup([rule(MONDAY)]), MON, **criteria)  # type: ignore[arg-type]
    assert refused.value.code == code
    assert isinstance(refused.value, CalendarError)


# --- criteria and "any counsellor" ---------------------------------------------------------------------------------


def three_counsellors(**kw: object) -> object:
    return make_setup(
        [rule(MONDAY, counsellor_id=c) for c in (ANNA, BOGDAN, CHLOE)]
        + [rule(MONDAY, location_id=SCHWERIN, counsellor_id=CHLOE, start=time(13, 0), end=time(14, 0))],
        counsellors=[counsellor(ANNA, languages=("de", "en")), counsellor(BOGDAN, languages=("de", "ru")),
                     counsellor(CHLOE, languages=("de", "ro"), topics=("safety_legal", "health"))],
        **kw,  # type: ignore[arg-type]
    )


def test_any_counsellor_offers_one_slot_per_start_and_location() -> None:
    slots = search(three_counsellors(), MON)  # type: ignore[arg-type]

    assert [(s.location_id, s.start.astimezone(BERLIN).time()) for s in slots] == [
        (ROSTOCK, time(9, 0)), (ROSTOCK, time(9, 30)), (ROSTOCK, time(10, 0)), (ROSTOCK, time(10, 30)),
        (ROSTOCK, time(11, 0)), (SCHWERIN, time(13, 0))]
    assert {s.counsellor_id for s in slots[:5]} <= {ANNA, BOGDAN, CHLOE}


def test_one_named_counsellor_gets_all_their_own_free_slots() -> None:
    slots = search(three_counsellors(), MON, counsellor_id=CHLOE)  # type: ignore[arg-type]

    assert {s.counsellor_id for s in slots} == {CHLOE}
    assert len(slots) == 6


def test_language_and_topic_select_the_counsellors_who_offer_them() -> None:
    setup = three_counsellors()

    assert {s.counsellor_id for s in search(setup, MON, language="ru")} == {BOGDAN}  # type: ignore[arg-type]
    assert search(setup, MON, language="fa") == []  # type: ignore[arg-type]
    legal_type = AppointmentType(2, "safety_legal", 45, frozenset({"office"}))
    setup_with_legal = three_counsellors(types=[health(), legal_type])
    legal = search(setup_with_legal, MON, topic="safety_legal")  # type: ignore[arg-type]
    assert {s.counsellor_id for s in legal} == {CHLOE}
    assert {s.type_id for s in legal} == {2}
    assert all(s.end - s.start == timedelta(minutes=45) for s in legal)


def test_mode_and_location_narrow_the_search() -> None:
    setup = make_setup([rule(MONDAY), rule(MONDAY, time(13, 0), time(14, 0), PHONE),
                        rule(MONDAY, time(15, 0), time(16, 0), SCHWERIN)])

    assert {s.location_id for s in search(setup, MON, mode="phone")} == {PHONE}
    assert {s.location_id for s in search(setup, MON, mode="office")} == {ROSTOCK, SCHWERIN}
    assert {s.location_id for s in search(setup, MON, location_id=SCHWERIN)} == {SCHWERIN}


def test_location_kind_without_a_type_for_the_topic_offers_nothing() -> None:
    setup = make_setup([rule(MONDAY, location_id=PHONE)], types=[health(modes=frozenset({"office"}))])

    assert search(setup, MON) == []


# --- slot ids -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start", [berlin(SPRING_FORWARD, 3), berlin(FALL_BACK, 2, 30), berlin(FALL_BACK, 2, 30, fold=1), berlin(MON, 9)]
)
def test_slot_id_encodes_counsellor_location_type_and_start(start: datetime) -> None:
    slot_id = make_slot_id(12, 345, 6, start)
    key = parse_slot_id(slot_id)

    assert slot_id == f"s2-12-345-6-{int(start.timestamp()) // 60}"
    assert (key.counsellor_id, key.location_id, key.type_id, key.start) == (12, 345, 6, start)
    assert key.start.tzinfo == UTC


def test_offered_slot_id_is_stable_and_parses_back() -> None:
    [slot, *_] = search(make_setup([rule(MONDAY)]), MON)

    assert slot.slot_id == make_slot_id(ANNA, ROSTOCK, 1, berlin(MON, 9))
    assert parse_slot_id(slot.slot_id).start == slot.start
    assert OfferedSlot(slot.start, slot.end, ROSTOCK, ANNA, 1).slot_id == slot.slot_id


@pytest.mark.parametrize(
    "slot_id",
    [
        "", "s2", "s2-1-2-3", "s1-1-2-29579520", "S2-1-2-3-29579520", "s2-a-2-3-29579520", "s2--1-2-3-29579520",
        "s2-01-2-3-29579520", "s2-1-2-3-029579520", "s2-1-2-3-1234567", "s2-1-2-3-29579520-5", " s2-1-2-3-29579520",
        "s2-1-2-3-29579520 ", "s2-1-2-3-29579520\n", "s2-1234567890-2-3-29579520", "s2-1-2-3-２９５７９５２０",
    ],
)
def test_parser_rejects_anything_but_an_issued_slot_id(slot_id: str) -> None:
    with pytest.raises(InvalidSlotId) as refused:
        parse_slot_id(slot_id)
    assert refused.value.code == "invalid_slot_id"
