"""Every way a calendar setup or a search setting is refused: a CalendarError (a ValueError) with a code and a
sentence staff can act on."""

from __future__ import annotations

from datetime import date, time

import pytest
from scheduler.domain.availability import SearchSettings
from scheduler.domain.calendar_setup import (
    Absence,
    AppointmentType,
    CalendarError,
    Counsellor,
    ExtraHours,
    InvalidDateRange,
    InvalidSetting,
    InvalidWindow,
    Location,
    LocationClosure,
    LocationNotServed,
    OverlappingRules,
    UnknownReference,
    UnknownTimezone,
    WeeklyRule,
    resolve_zone,
    setup_problems,
    validate_setup,
)

from tests.unit.calendar_examples import (
    ANNA,
    BOGDAN,
    MONDAY,
    PHONE,
    ROSTOCK,
    SCHWERIN,
    counsellor,
    health,
    make_setup,
    rule,
)

MON = date(2026, 6, 8)


def test_calendar_error_is_a_value_error_with_code_and_message() -> None:
    error = OverlappingRules("Counsellor 1: two windows at once.")

    assert isinstance(error, ValueError)
    assert (error.code, error.message, str(error)) == ("overlapping_rules", *["Counsellor 1: two windows at once."] * 2)
    assert CalendarError("x", "custom").code == "custom"


# --- single records ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "end"), [(time(14, 0), time(10, 0)), (time(10, 0), time(10, 0))])
def test_window_ending_before_or_at_its_start_is_refused(start: time, end: time) -> None:
    with pytest.raises(InvalidWindow) as refused:
        rule(MONDAY, start, end)
    assert refused.value.code == "window_ends_before_start"
    assert "14:00" in refused.value.message or "empty" in refused.value.message


@pytest.mark.parametrize(("start", "end"), [(time(22, 0), time(2, 0)), (time(18, 0), time(0, 0))])
def test_window_across_midnight_is_refused_with_advice_to_split_it(start: time, end: time) -> None:
    with pytest.raises(InvalidWindow) as refused:
        rule(MONDAY, start, end)
    assert refused.value.code == "window_across_midnight"
    assert "midnight" in refused.value.message


def test_extra_hours_and_absences_check_their_windows_too() -> None:
    with pytest.raises(InvalidWindow, match="across midnight"):
        ExtraHours(ANNA, ROSTOCK, MON, time(23, 0), time(1, 0))
    with pytest.raises(InvalidWindow) as refused:
        Absence(ANNA, MON, MON, time(12, 0), time(11, 0))
    assert refused.value.code == "window_ends_before_start"


def test_window_with_seconds_is_refused() -> None:
    with pytest.raises(InvalidWindow) as refused:
        rule(MONDAY, time(9, 0, 30), time(12, 0))
    assert refused.value.code == "window_not_whole_minutes"


@pytest.mark.parametrize("weekday", [-1, 7])
def test_weekday_outside_monday_to_sunday_is_refused(weekday: int) -> None:
    with pytest.raises(InvalidWindow) as refused:
        rule(weekday)
    assert refused.value.code == "invalid_weekday"


def test_rule_valid_until_before_valid_from_is_refused() -> None:
    with pytest.raises(InvalidDateRange) as refused:
        rule(MONDAY, valid_from=date(2026, 7, 1), valid_until=date(2026, 6, 1))
    assert refused.value.code == "validity_reversed"


def test_absence_and_closure_ending_before_they_begin_are_refused() -> None:
    with pytest.raises(InvalidDateRange, match="last day is before the first"):
        Absence(ANNA, date(2026, 6, 9), date(2026, 6, 8))
    with pytest.raises(InvalidDateRange, match="last day is before the first"):
        LocationClosure(ROSTOCK, date(2026, 6, 9), date(2026, 6, 8))


def test_absence_time_range_only_on_a_single_day_and_with_both_ends() -> None:
    with pytest.raises(InvalidWindow) as over_days:
        Absence(ANNA, date(2026, 6, 8), date(2026, 6, 9), time(9, 0), time(10, 0))
    assert over_days.value.code == "absence_time_over_several_days"
    with pytest.raises(InvalidWindow) as half:
        Absence(ANNA, MON, MON, time(9, 0), None)
    assert half.value.code == "absence_time_incomplete"


def test_unknown_location_kind_is_refused() -> None:
    with pytest.raises(UnknownReference) as refused:
        Location(9, "Rostock", "carrier_pigeon")  # type: ignore[arg-type]
    assert refused.value.code == "unknown_kind"


@pytest.mark.parametrize(
    "fields",
    [
        {"duration_minutes": 0},
        {"buffer_before_minutes": -5},
        {"buffer_after_minutes": -1},
        {"min_notice_minutes": -60},
        {"horizon_days": 0},
        {"modes": frozenset()},
    ],
)
def test_appointment_type_with_an_impossible_number_is_refused(fields: dict[str, object]) -> None:
    values: dict[str, object] = {"id": 1, "topic": "health", "duration_minutes": 60, "modes": frozenset({"office"})}
    with pytest.raises(InvalidSetting):
        AppointmentType(**{**values, **fields})  # type: ignore[arg-type]


def test_appointment_type_with_an_unknown_mode_is_refused() -> None:
    with pytest.raises(UnknownReference) as refused:
        AppointmentType(1, "health", 60, frozenset({"office", "fax"}))  # type: ignore[arg-type]
    assert refused.value.code == "unknown_kind"


def test_daily_cap_below_one_is_refused() -> None:
    with pytest.raises(InvalidSetting, match="daily cap"):
        Counsellor(1, "Anna", frozenset({"de"}), frozenset({"health"}), frozenset({1}), daily_cap=0)


# --- the whole setup -----------------------------------------------------------------------------------------------


def codes(setup: object) -> list[str]:
    return [p.code for p in setup_problems(setup)]  # type: ignore[arg-type]


def test_a_sound_setup_has_no_problems() -> None:
    setup = make_setup([rule(MONDAY, time(9, 0), time(12, 0)), rule(MONDAY, time(13, 0), time(15, 0), SCHWERIN),
                        rule(1, time(9, 0), time(12, 0), PHONE)])

    assert setup_problems(setup) == []
    validate_setup(setup)


def test_overlapping_rules_of_one_counsellor_on_one_weekday_are_refused() -> None:
    setup = make_setup([rule(MONDAY, time(9, 0), time(12, 0)), rule(MONDAY, time(11, 0), time(14, 0))])

    with pytest.raises(OverlappingRules) as refused:
        validate_setup(setup)
    assert "Monday 11:00–14:00" in refused.value.message and "Monday 09:00–12:00" in refused.value.message


def test_overlapping_rules_at_two_locations_are_refused_one_person_cannot_be_in_two_places() -> None:
    setup = make_setup([rule(MONDAY, time(9, 0), time(12, 0)), rule(MONDAY, time(11, 30), time(13, 0), PHONE)])

    assert codes(setup) == ["overlapping_rules"]
    assert "two windows" in setup_problems(setup)[0].message


def test_rules_that_touch_or_belong_to_other_days_people_or_validity_do_not_overlap() -> None:
    setup = make_setup(
        [
            rule(MONDAY, time(9, 0), time(12, 0)),
            rule(MONDAY, time(12, 0), time(14, 0), SCHWERIN),  # touches
            rule(1, time(9, 0), time(12, 0), SCHWERIN),  # another weekday
            rule(MONDAY, time(9, 0), time(12, 0), counsellor_id=BOGDAN),  # another person
            rule(2, time(9, 0), time(12, 0), valid_until=date(2026, 6, 30)),
            rule(2, time(10, 0), time(12, 0), SCHWERIN, valid_from=date(2026, 7, 1)),  # not valid at the same time
        ],
        counsellors=[counsellor(ANNA), counsellor(BOGDAN)],
    )

    assert setup_problems(setup) == []


def test_rules_with_overlapping_validity_periods_do_overlap() -> None:
    setup = make_setup([rule(2, time(9, 0), time(12, 0), valid_until=date(2026, 7, 1)),
                        rule(2, time(10, 0), time(12, 0), SCHWERIN, valid_from=date(2026, 7, 1))])

    assert codes(setup) == ["overlapping_rules"]


def test_extra_hours_overlapping_a_rule_at_another_location_are_refused() -> None:
    monday_rule = rule(MONDAY, time(9, 0), time(12, 0))
    elsewhere = ExtraHours(ANNA, SCHWERIN, MON, time(11, 0), time(13, 0))
    same_place = ExtraHours(ANNA, ROSTOCK, MON, time(11, 0), time(13, 0))

    assert codes(make_setup([monday_rule], extra_hours=[elsewhere])) == ["overlapping_rules"]
    assert codes(make_setup([monday_rule], extra_hours=[same_place])) == []


def test_rule_for_a_location_the_counsellor_does_not_serve_is_refused() -> None:
    setup = make_setup([rule(MONDAY, location_id=SCHWERIN)], counsellors=[counsellor(location_ids=(ROSTOCK,))])

    with pytest.raises(LocationNotServed) as refused:
        validate_setup(setup)
    assert refused.value.code == "location_not_served"
    assert "Anna does not serve location 2" in refused.value.message


def test_window_shorter_than_the_shortest_appointment_is_refused() -> None:
    types = [health(duration=60, modes=frozenset({"office"})), health(50, type_id=2, modes=frozenset({"video"}))]
    setup = make_setup([rule(MONDAY, time(9, 0), time(9, 45))], types=types)

    assert codes(setup) == ["window_too_short"]
    assert "45 minutes is shorter than the shortest appointment (50 minutes)" in setup_problems(setup)[0].message
    assert codes(make_setup([rule(MONDAY, time(9, 0), time(9, 50))], types=[health(duration=50)])) == []


def test_references_to_things_that_do_not_exist_are_refused() -> None:
    setup = make_setup(
        [rule(MONDAY, counsellor_id=7), rule(1, location_id=99)],
        counsellors=[counsellor(topics=("health", "astrology"), location_ids=(ROSTOCK, 99))],
        types=[health(), AppointmentType(2, "tarot", 30, frozenset({"office"}))],
        absences=[Absence(8, MON, MON)],
        closures=[LocationClosure(98, MON, MON)],
    )

    assert codes(setup) == [
        "unknown_topic", "unknown_location", "unknown_topic", "unknown_counsellor", "unknown_location",
        "unknown_counsellor", "unknown_location"]


def test_duplicate_ids_and_two_types_for_one_topic_and_mode_are_refused() -> None:
    setup = make_setup(counsellors=[counsellor(ANNA), counsellor(ANNA)],
                       types=[health(), health(duration=30, type_id=2, modes=frozenset({"phone"}))])

    assert codes(setup) == ["duplicate_id", "ambiguous_type"]
    assert "both offer health by phone" in setup_problems(setup)[1].message


def test_custom_topic_codes_are_accepted_when_listed() -> None:
    from dataclasses import replace

    setup = make_setup(counsellors=[counsellor(topics=("migration",))],
                       types=[AppointmentType(1, "migration", 30, frozenset({"office"}))])

    assert codes(setup) == ["unknown_topic", "unknown_topic"]
    assert codes(replace(setup, topics=frozenset({"migration"}))) == []


# --- settings ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Europe/Berlni", "", "europe/berlin", "../etc/passwd", "Europe"])
def test_unknown_timezone_name_is_refused(name: str) -> None:
    with pytest.raises(UnknownTimezone) as refused:
        SearchSettings(timezone=name)
    assert refused.value.code == "unknown_timezone"
    assert "Europe/Berlin" in refused.value.message
    with pytest.raises(UnknownTimezone):
        resolve_zone(name)


@pytest.mark.parametrize("fields", [{"step_minutes": 0}, {"travel_minutes": -1}, {"max_range_days": 0}])
def test_search_settings_out_of_range_are_refused(fields: dict[str, int]) -> None:
    with pytest.raises(InvalidSetting):
        SearchSettings(**fields)  # type: ignore[arg-type]


def test_weekly_rule_is_a_frozen_value() -> None:
    monday = WeeklyRule(ANNA, ROSTOCK, MONDAY, time(9, 0), time(12, 0))

    assert monday == rule(MONDAY)
    with pytest.raises(AttributeError):
        monday.weekday = 2  # type: ignore[misc]
