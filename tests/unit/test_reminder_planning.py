"""When each message may go out: reminders move earlier out of quiet hours and the client's unsafe times, never later
and never into the night; nothing is sent late; the confirmation goes at once; DST shifts nothing by an hour."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from notifier.domain.planning import (
    Planned,
    QuietHours,
    Rules,
    earliest_allowed_at_or_after,
    latest_allowed_at_or_before,
    may_send_at,
    plan_confirmation,
    plan_notice,
    plan_reminders,
    recheck,
)

from shared.contracts.bookings import DEFAULT_REMINDER_OFFSETS
from shared.contracts.contacts import ContactPreferences, SafeWindow, Weekday

BERLIN = ZoneInfo("Europe/Berlin")
DEFAULT_QUIET = QuietHours.parse("21:00", "08:00")
NO_QUIET = QuietHours.parse("00:00", "00:00")
WEEKDAYS_10_TO_18 = SafeWindow(days=("mon", "tue", "wed", "thu", "fri"), start=time(10), end=time(18))
MINUTE = timedelta(minutes=1)


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=BERLIN, fold=fold)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def rules(
    quiet: QuietHours = DEFAULT_QUIET,
    window: SafeWindow | None = None,
    reminders: bool = True,
    zone: ZoneInfo = BERLIN,
) -> Rules:
    return Rules(zone, quiet, ContactPreferences(reminders=reminders, safe_window=window))


def window(days: tuple[Weekday, ...], start: time, end: time) -> SafeWindow:
    return SafeWindow(days=days, start=start, end=end)


def local_times(planned: list[Planned]) -> dict[str, datetime]:
    return {p.key: p.due_at.astimezone(BERLIN) for p in planned}


# --- quiet hours and safe windows: which minutes may send -------------------------------------------------------------


# 2026-06-15 is a Monday (CEST, UTC+2).
@pytest.mark.parametrize(
    ("local", "allowed"),
    [
        (berlin(2026, 6, 15, 20, 59), True),
        (berlin(2026, 6, 15, 20, 59, 59), True),  # minute resolution: still the minute 20:59
        (berlin(2026, 6, 15, 21, 0), False),
        (berlin(2026, 6, 15, 23, 30), False),
        (berlin(2026, 6, 16, 0, 0), False),
        (berlin(2026, 6, 16, 7, 59), False),
        (berlin(2026, 6, 16, 7, 59, 59), False),
        (berlin(2026, 6, 16, 8, 0), True),
        (berlin(2026, 6, 16, 12, 0), True),
    ],
    ids=lambda value: value.strftime("%H:%M:%S") if isinstance(value, datetime) else str(value),
)
def test_default_quiet_hours_run_from_21_00_up_to_but_not_including_08_00(local: datetime, allowed: bool) -> None:
    assert may_send_at(local, rules()) is allowed


@pytest.mark.parametrize(
    ("hour", "minute", "allowed"),
    [(12, 59, True), (13, 0, False), (13, 59, False), (14, 0, True), (22, 0, True), (3, 0, True)],
)
def test_quiet_hours_within_one_day_block_only_that_stretch(hour: int, minute: int, allowed: bool) -> None:
    lunch = QuietHours.parse("13:00", "14:00")
    assert may_send_at(berlin(2026, 6, 15, hour, minute), rules(lunch)) is allowed


@pytest.mark.parametrize("hour", [0, 3, 12, 21, 23])
def test_quiet_hours_starting_where_they_end_mean_no_quiet_hours(hour: int) -> None:
    assert may_send_at(berlin(2026, 6, 15, hour, 30), rules(QuietHours.parse("22:00", "22:00")))


@pytest.mark.parametrize("text", ["24:00", "8:00", "08:60", "", "08:00:00", "0800", " 08:00"])
def test_quiet_hours_setting_that_is_not_hh_mm_is_refused_with_a_sentence(text: str) -> None:
    with pytest.raises(ValueError, match=r"must be a time as HH:MM"):
        QuietHours.parse(text, "08:00")


@pytest.mark.parametrize("value", [time(21, 0, 30), time(21, 0, tzinfo=UTC)])
def test_quiet_hours_are_whole_local_minutes_without_an_offset(value: time) -> None:
    with pytest.raises(ValueError, match=r"local wall-clock minutes"):
        QuietHours(value, time(8))


def test_a_time_without_a_zone_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match=r"at must be a timezone-aware datetime"):
        may_send_at(datetime(2026, 6, 15, 12, 0), rules())


@pytest.mark.parametrize(
    ("local", "allowed"),
    [
        (berlin(2026, 6, 15, 9, 59), False),  # Monday
        (berlin(2026, 6, 15, 10, 0), True),
        (berlin(2026, 6, 15, 17, 59), True),
        (berlin(2026, 6, 15, 18, 0), False),  # the window's end is exclusive, like the quiet hours'
        (berlin(2026, 6, 19, 12, 0), True),  # Friday
        (berlin(2026, 6, 20, 12, 0), False),  # Saturday
        (berlin(2026, 6, 21, 12, 0), False),  # Sunday
    ],
    ids=lambda value: value.strftime("%a-%H:%M") if isinstance(value, datetime) else str(value),
)
def test_safe_window_allows_only_its_weekdays_from_start_up_to_end(local: datetime, allowed: bool) -> None:
    assert may_send_at(local, rules(window=WEEKDAYS_10_TO_18)) is allowed


def test_safe_window_weekday_is_the_local_date_not_the_utc_date() -> None:
    just_after_midnight_on_monday = rules(NO_QUIET, window(("mon",), time(0, 30), time(1, 30)))
    assert may_send_at(utc(2026, 6, 14, 22, 45), just_after_midnight_on_monday)  # Sunday in UTC, Monday 00:45 local
    assert not may_send_at(utc(2026, 6, 15, 22, 45), just_after_midnight_on_monday)  # Tuesday 00:45 local


def test_quiet_hours_still_apply_inside_the_clients_safe_window() -> None:
    evenings = rules(window=window(("mon",), time(18), time(23)))
    assert may_send_at(berlin(2026, 6, 15, 20, 30), evenings)
    assert not may_send_at(berlin(2026, 6, 15, 21, 30), evenings)


# --- searching for an allowed moment ----------------------------------------------------------------------------------


def test_latest_allowed_moment_before_a_night_time_is_20_59_that_evening() -> None:
    found = latest_allowed_at_or_before(berlin(2026, 6, 16, 7, 0), rules(), not_before=berlin(2026, 6, 10, 0, 0))
    assert found == berlin(2026, 6, 15, 20, 59)
    assert found is not None and found.tzinfo is UTC


def test_latest_allowed_moment_rounds_down_to_the_minute_and_earliest_rounds_up() -> None:
    assert latest_allowed_at_or_before(berlin(2026, 6, 15, 12, 0, 30), rules(), berlin(2026, 6, 15, 0)) == berlin(
        2026, 6, 15, 12, 0
    )
    assert earliest_allowed_at_or_after(berlin(2026, 6, 15, 12, 0, 30), rules(), berlin(2026, 6, 16, 0)) == berlin(
        2026, 6, 15, 12, 1
    )


def test_no_allowed_moment_within_the_bound_gives_none() -> None:
    assert (
        latest_allowed_at_or_before(berlin(2026, 6, 16, 7, 0), rules(), not_before=berlin(2026, 6, 15, 21, 0)) is None
    )
    assert (
        earliest_allowed_at_or_after(berlin(2026, 6, 15, 22, 0), rules(), not_after=berlin(2026, 6, 16, 7, 59)) is None
    )


def test_earliest_allowed_moment_after_a_night_time_is_08_00_next_morning() -> None:
    found = earliest_allowed_at_or_after(berlin(2026, 6, 15, 22, 0), rules(), not_after=berlin(2026, 6, 16, 8, 0))
    assert found == berlin(2026, 6, 16, 8, 0)


def test_earliest_allowed_moment_outside_a_weekday_window_is_the_next_windows_opening() -> None:
    saturday_noon = berlin(2026, 6, 20, 12, 0)
    found = earliest_allowed_at_or_after(saturday_noon, rules(window=WEEKDAYS_10_TO_18), saturday_noon + timedelta(7))
    assert found == berlin(2026, 6, 22, 10, 0)  # Monday


# The searches skip over long disallowed stretches instead of trying every minute; they must agree with trying every
# minute, across DST weeks, for windows of every shape (including boundaries inside the skipped and repeated hours).
SWEEP_RULES = {
    "default-quiet": rules(),
    "lunch-quiet": rules(QuietHours.parse("13:00", "14:00")),
    "quiet-starts-in-skipped-hour": rules(QuietHours.parse("02:30", "06:00")),
    "quiet-ends-in-repeated-hour": rules(QuietHours.parse("00:00", "02:30")),
    "five-minute-windows": rules(NO_QUIET, window(("mon", "wed", "sun"), time(10), time(10, 5))),
    "window-in-skipped-hour": rules(NO_QUIET, window(("sun",), time(2, 10), time(2, 40))),
    "weekday-window-and-quiet": rules(window=window(("tue", "sat"), time(9, 15), time(17, 45))),
    "window-to-the-last-second": rules(
        QuietHours.parse("04:00", "05:00"), window(("sat",), time(22), time(23, 59, 30))
    ),
    "lord-howe-half-hour-dst": rules(zone=ZoneInfo("Australia/Lord_Howe")),
}
SWEEP_WEEKS = {
    "spring-forward": utc(2026, 3, 25, 0),
    "fall-back": utc(2026, 10, 21, 0),
    "lord-howe-fall-back": utc(2026, 4, 1, 0),
}


@pytest.mark.parametrize("week", SWEEP_WEEKS.values(), ids=SWEEP_WEEKS.keys())
@pytest.mark.parametrize("case", SWEEP_RULES.values(), ids=SWEEP_RULES.keys())
def test_searches_find_the_same_moment_as_checking_every_minute(case: Rules, week: datetime) -> None:
    minutes = 8 * 24 * 60
    allowed = [may_send_at(week + i * MINUTE, case) for i in range(minutes)]
    reach = 2 * 24 * 60
    for i in range(reach, minutes - reach, 41):
        at = week + i * MINUTE + timedelta(seconds=17)
        # not_before is 17 s into its minute, so that minute itself is out of bounds
        expected_before = next((j for j in range(i, i - reach, -1) if allowed[j]), None)
        expected_after = next((j for j in range(i + 1, i + reach + 1) if allowed[j]), None)
        found_before = latest_allowed_at_or_before(at, case, not_before=at - reach * MINUTE)
        found_after = earliest_allowed_at_or_after(at, case, not_after=at + reach * MINUTE)
        assert found_before == (None if expected_before is None else week + expected_before * MINUTE), at
        assert found_after == (None if expected_after is None else week + expected_after * MINUTE), at


# --- quiet hours on DST nights ----------------------------------------------------------------------------------------


def test_quiet_hours_on_the_spring_forward_night_end_at_08_00_summer_time() -> None:
    found = earliest_allowed_at_or_after(berlin(2026, 3, 28, 22, 0), rules(), not_after=berlin(2026, 3, 29, 12, 0))
    assert found == utc(2026, 3, 29, 6, 0)  # 08:00 CEST; the night was an hour shorter, not the morning later


def test_quiet_hours_on_the_fall_back_night_start_at_21_00_summer_time() -> None:
    found = latest_allowed_at_or_before(berlin(2026, 10, 25, 7, 30), rules(), not_before=berlin(2026, 10, 24, 0, 0))
    assert found == utc(2026, 10, 24, 18, 59)  # 20:59 CEST
    assert earliest_allowed_at_or_after(berlin(2026, 10, 25, 1, 0), rules(), berlin(2026, 10, 26, 0)) == utc(
        2026, 10, 25, 7, 0
    )  # 08:00 CET


def test_quiet_hours_starting_in_the_skipped_hour_begin_when_the_clock_jumps() -> None:
    night_shift = rules(QuietHours.parse("02:30", "06:00"))
    assert may_send_at(utc(2026, 3, 29, 0, 59), night_shift)  # 01:59 CET
    assert not may_send_at(utc(2026, 3, 29, 1, 0), night_shift)  # 03:00 CEST: 02:30 never happened, but is past
    found = latest_allowed_at_or_before(berlin(2026, 3, 29, 4, 0), night_shift, berlin(2026, 3, 28, 0))
    assert found == utc(2026, 3, 29, 0, 59)


def test_quiet_hours_ending_in_the_repeated_hour_apply_on_both_passes_of_the_clock() -> None:
    late_night = rules(QuietHours.parse("00:00", "02:30"))
    first_pass_02_00 = berlin(2026, 10, 25, 2, 0, fold=0)  # CEST, 00:00 UTC
    second_pass_02_00 = berlin(2026, 10, 25, 2, 0, fold=1)  # CET, 01:00 UTC
    assert earliest_allowed_at_or_after(first_pass_02_00, late_night, berlin(2026, 10, 25, 12)) == utc(
        2026, 10, 25, 0, 30
    )
    assert not may_send_at(second_pass_02_00, late_night)
    assert earliest_allowed_at_or_after(second_pass_02_00, late_night, berlin(2026, 10, 25, 12)) == utc(
        2026, 10, 25, 1, 30
    )


# --- confirmation -----------------------------------------------------------------------------------------------------


def test_confirmation_goes_at_once_even_at_night_and_outside_the_safe_window() -> None:
    now = berlin(2026, 6, 20, 23, 40, 12)  # Saturday night
    planned = plan_confirmation(now, berlin(2026, 6, 22, 11, 0))
    assert planned == Planned("confirmation", "confirmation", utc(2026, 6, 20, 21, 40), utc(2026, 6, 22, 9, 0))
    assert planned.due_at <= now  # the next dispatcher tick sends it


# --- reminders --------------------------------------------------------------------------------------------------------


def test_default_policy_reminds_24_and_2_hours_before_a_midday_appointment() -> None:
    starts = berlin(2026, 6, 17, 13, 0)
    planned = plan_reminders(starts, DEFAULT_REMINDER_OFFSETS, berlin(2026, 6, 10, 12, 0), rules())
    assert planned == [
        Planned("reminder-1440", "reminder", utc(2026, 6, 16, 11, 0), utc(2026, 6, 17, 11, 0)),
        Planned("reminder-120", "reminder", utc(2026, 6, 17, 9, 0), utc(2026, 6, 17, 11, 0)),
    ]


def test_reminder_falling_in_quiet_hours_moves_earlier_to_20_59_never_into_the_night() -> None:
    planned = plan_reminders(berlin(2026, 6, 17, 9, 0), (1440, 120), berlin(2026, 6, 10, 12, 0), rules())
    assert local_times(planned) == {
        "reminder-1440": berlin(2026, 6, 16, 9, 0),
        "reminder-120": berlin(2026, 6, 16, 20, 59),  # not 07:00, not 08:00 (after the due time)
    }


def test_booking_three_hours_ahead_drops_the_24_hour_reminder_and_keeps_the_2_hour_one() -> None:
    planned = plan_reminders(berlin(2026, 6, 17, 15, 0), (1440, 120), berlin(2026, 6, 17, 12, 0), rules())
    assert local_times(planned) == {"reminder-120": berlin(2026, 6, 17, 13, 0)}


def test_booking_an_hour_ahead_gets_no_reminder_at_all() -> None:
    assert plan_reminders(berlin(2026, 6, 17, 15, 0), (1440, 120), berlin(2026, 6, 17, 14, 0), rules()) == []


def test_reminder_moved_to_before_the_booking_was_made_is_dropped_not_sent_late() -> None:
    # Booked at 22:00 for 09:00: the 2 h reminder would move to 20:59, already past; it does not go at 22:00 or 08:00.
    planned = plan_reminders(berlin(2026, 6, 17, 9, 0), (120,), berlin(2026, 6, 16, 22, 0), rules())
    assert planned == []


def test_reminder_due_exactly_now_is_dropped() -> None:
    now = berlin(2026, 6, 17, 13, 0)
    assert plan_reminders(berlin(2026, 6, 17, 15, 0), (120,), now, rules()) == []
    assert len(plan_reminders(berlin(2026, 6, 17, 15, 0), (120,), now - MINUTE, rules())) == 1


def test_client_who_turned_reminders_off_gets_none() -> None:
    off = rules(reminders=False)
    assert plan_reminders(berlin(2026, 6, 17, 13, 0), (1440, 120), berlin(2026, 6, 10, 12, 0), off) == []


def test_reminders_closer_than_an_hour_after_moving_collapse_into_the_one_nearest_the_appointment() -> None:
    # 12 h and 2 h before 09:00 are 21:00 and 07:00: both move to 20:59.
    planned = plan_reminders(berlin(2026, 6, 17, 9, 0), (720, 120), berlin(2026, 6, 10, 12, 0), rules())
    assert local_times(planned) == {"reminder-120": berlin(2026, 6, 16, 20, 59)}


@pytest.mark.parametrize(
    ("offsets", "kept"),
    [
        ((180, 120), {"reminder-120"}),  # exactly 60 minutes apart: collapse
        ((181, 120), {"reminder-181", "reminder-120"}),  # 61 minutes apart: both
        ((220, 170, 120), {"reminder-220", "reminder-120"}),  # 170 is 50 min from 120; 220 is 100 min from 120
    ],
    ids=["60-min-apart", "61-min-apart", "chain"],
)
def test_collapse_keeps_reminders_more_than_an_hour_apart(offsets: tuple[int, ...], kept: set[str]) -> None:
    planned = plan_reminders(berlin(2026, 6, 17, 14, 0), offsets, berlin(2026, 6, 10, 12, 0), rules())
    assert {p.key for p in planned} == kept


def test_reminder_outside_the_weekday_window_moves_back_to_friday_before_18_00() -> None:
    # Monday 09:00: 24 h before is Sunday 09:00, outside Mon-Fri 10:00-18:00; the latest allowed minute is Friday 17:59.
    planned = plan_reminders(
        berlin(2026, 6, 15, 9, 0), (1440,), berlin(2026, 6, 1, 12, 0), rules(window=WEEKDAYS_10_TO_18)
    )
    assert local_times(planned) == {"reminder-1440": berlin(2026, 6, 12, 17, 59)}


def test_both_reminders_for_a_monday_morning_land_on_friday_and_only_the_2_hour_one_stays() -> None:
    planned = plan_reminders(
        berlin(2026, 6, 15, 9, 0), (1440, 120), berlin(2026, 6, 1, 12, 0), rules(window=WEEKDAYS_10_TO_18)
    )
    assert local_times(planned) == {"reminder-120": berlin(2026, 6, 12, 17, 59)}


def test_booking_made_after_the_window_closed_gets_no_reminder_on_unsafe_days() -> None:
    # Booked Saturday for Monday 09:00: every allowed moment before the appointment has passed.
    planned = plan_reminders(
        berlin(2026, 6, 15, 9, 0), (1440, 120), berlin(2026, 6, 13, 12, 0), rules(window=WEEKDAYS_10_TO_18)
    )
    assert planned == []


def test_reminder_with_no_allowed_moment_in_the_week_before_is_dropped() -> None:
    only_at_night = rules(window=window(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), time(22), time(23)))
    assert plan_reminders(berlin(2026, 6, 17, 13, 0), (1440, 120), berlin(2026, 6, 1, 12, 0), only_at_night) == []


def test_24_hour_reminder_before_the_spring_forward_sunday_is_24_real_hours_so_09_00_on_saturday() -> None:
    planned = plan_reminders(berlin(2026, 3, 29, 10, 0), (1440,), berlin(2026, 3, 20, 12, 0), rules())
    assert planned[0].due_at == utc(2026, 3, 28, 8, 0)
    assert planned[0].due_at == planned[0].not_after - timedelta(hours=24)
    assert planned[0].due_at.astimezone(BERLIN).hour == 9  # what the client's phone shows


def test_24_hour_reminder_before_the_fall_back_sunday_is_24_real_hours_so_11_00_on_saturday() -> None:
    planned = plan_reminders(berlin(2026, 10, 25, 10, 0), (1440,), berlin(2026, 10, 20, 12, 0), rules())
    assert planned[0].due_at == utc(2026, 10, 24, 9, 0)
    assert planned[0].due_at.astimezone(BERLIN).hour == 11


def test_24_hour_reminder_for_the_day_after_a_clock_change_keeps_the_wall_time() -> None:
    planned = plan_reminders(berlin(2026, 3, 30, 10, 0), (1440,), berlin(2026, 3, 20, 12, 0), rules())
    assert local_times(planned) == {"reminder-1440": berlin(2026, 3, 29, 10, 0)}


def test_2_hour_reminder_across_the_spring_forward_night_moves_to_20_59_winter_time() -> None:
    # 09:00 CEST minus 2 h is 07:00 CEST (05:00 UTC): quiet; the evening before still ran on CET.
    planned = plan_reminders(berlin(2026, 3, 29, 9, 0), (120,), berlin(2026, 3, 20, 12, 0), rules())
    assert [p.due_at for p in planned] == [utc(2026, 3, 28, 19, 59)]


def test_2_hour_reminder_across_the_fall_back_night_moves_to_20_59_summer_time() -> None:
    planned = plan_reminders(berlin(2026, 10, 25, 8, 30), (120,), berlin(2026, 10, 20, 12, 0), rules())
    assert [p.due_at for p in planned] == [utc(2026, 10, 24, 18, 59)]


def test_replanning_gives_the_same_keys_and_repeated_offsets_one_reminder() -> None:
    starts, now = berlin(2026, 6, 17, 13, 0), berlin(2026, 6, 10, 12, 0)
    first = plan_reminders(starts, (1440, 120), now, rules())
    after_preference_change = plan_reminders(starts, (120, 1440, 120), now, rules(window=WEEKDAYS_10_TO_18))
    assert [p.key for p in first] == [p.key for p in after_preference_change] == ["reminder-1440", "reminder-120"]


@pytest.mark.parametrize("offset", [0, -120])
def test_reminder_offset_that_is_not_before_the_start_is_refused(offset: int) -> None:
    with pytest.raises(ValueError, match=r"positive number of minutes before the start"):
        plan_reminders(berlin(2026, 6, 17, 13, 0), (1440, offset), berlin(2026, 6, 10, 12, 0), rules())


def test_planned_times_are_utc_whole_minutes_whatever_the_inputs() -> None:
    planned = plan_reminders(berlin(2026, 6, 17, 13, 0, 45), (120,), berlin(2026, 6, 10, 12, 0, 5), rules())
    assert planned[0].due_at == utc(2026, 6, 17, 9, 0)
    assert planned[0].due_at.tzinfo is UTC and planned[0].not_after.tzinfo is UTC


# --- reschedule and cancel notices ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rescheduled", "cancelled"])
def test_notice_during_the_day_is_due_at_once(kind: str) -> None:
    now = berlin(2026, 6, 16, 14, 10, 42)
    planned = plan_notice(kind, now, berlin(2026, 6, 17, 13, 0), rules())
    assert planned == Planned(kind, kind, utc(2026, 6, 16, 12, 10), utc(2026, 6, 17, 11, 0))


def test_cancellation_at_night_waits_for_08_00() -> None:
    planned = plan_notice("cancelled", berlin(2026, 6, 16, 23, 15), berlin(2026, 6, 17, 13, 0), rules())
    assert planned is not None and planned.due_at == berlin(2026, 6, 17, 8, 0)


def test_notice_with_no_allowed_moment_before_its_deadline_is_not_sent() -> None:
    assert plan_notice("cancelled", berlin(2026, 6, 16, 23, 15), berlin(2026, 6, 17, 7, 30), rules()) is None
    assert plan_notice("cancelled", berlin(2026, 6, 17, 12, 0), berlin(2026, 6, 17, 11, 0), rules()) is None


def test_notice_waits_for_the_clients_safe_window() -> None:
    saturday = berlin(2026, 6, 20, 12, 0)
    planned = plan_notice("rescheduled", saturday, berlin(2026, 6, 24, 11, 0), rules(window=WEEKDAYS_10_TO_18))
    assert planned is not None and planned.due_at == berlin(2026, 6, 22, 10, 0)


def test_client_who_turned_reminders_off_gets_no_notice() -> None:
    off = rules(reminders=False)
    assert plan_notice("cancelled", berlin(2026, 6, 16, 14, 0), berlin(2026, 6, 17, 13, 0), off) is None


def test_unknown_notice_kind_is_refused() -> None:
    with pytest.raises(ValueError, match=r"not 'reminder'"):
        plan_notice("reminder", berlin(2026, 6, 16, 14, 0), berlin(2026, 6, 17, 13, 0), rules())


# --- the dispatcher's last look ---------------------------------------------------------------------------------------


def test_due_row_at_an_allowed_moment_is_sent_now() -> None:
    now = berlin(2026, 6, 16, 14, 0, 31)
    assert recheck(berlin(2026, 6, 16, 14, 0), berlin(2026, 6, 17, 13, 0), now, rules()) == now


def test_row_found_after_quiet_hours_began_waits_for_the_morning_if_that_is_still_in_time() -> None:
    # Planned for 20:59, the dispatcher was held up until 21:30.
    moved = recheck(berlin(2026, 6, 16, 20, 59), berlin(2026, 6, 17, 9, 0), berlin(2026, 6, 16, 21, 30), rules())
    assert moved == berlin(2026, 6, 17, 8, 0)


def test_row_found_in_quiet_hours_with_no_time_left_before_its_deadline_is_skipped() -> None:
    assert recheck(berlin(2026, 6, 16, 20, 59), berlin(2026, 6, 17, 7, 0), berlin(2026, 6, 16, 21, 30), rules()) is None


def test_row_found_after_its_deadline_is_skipped_even_in_the_daytime() -> None:
    assert recheck(berlin(2026, 6, 17, 11, 0), berlin(2026, 6, 17, 13, 0), berlin(2026, 6, 17, 13, 1), rules()) is None


def test_row_not_yet_due_keeps_its_time() -> None:
    due = berlin(2026, 6, 17, 11, 0)
    assert recheck(due, berlin(2026, 6, 17, 13, 0), berlin(2026, 6, 17, 10, 0), rules()) == due


def test_row_due_after_the_client_narrowed_the_window_moves_to_the_next_allowed_moment() -> None:
    mornings = rules(window=window(("tue", "wed"), time(10), time(12)))
    moved = recheck(berlin(2026, 6, 16, 14, 0), berlin(2026, 6, 17, 13, 0), berlin(2026, 6, 16, 14, 0), mornings)
    assert moved == berlin(2026, 6, 17, 10, 0)  # Wednesday morning, still before the appointment
