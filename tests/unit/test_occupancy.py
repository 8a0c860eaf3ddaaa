"""Existing appointments: which ones a new absence hits (so staff move them), and the per-counsellor index."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from scheduler.domain.calendar_setup import Absence
from scheduler.domain.occupancy import Appointment, Occupancy, conflicting_appointments

from tests.unit.calendar_examples import (
    ANNA,
    BERLIN,
    BOGDAN,
    PHONE,
    ROSTOCK,
    SCHWERIN,
    booked,
    make_setup,
)

MON = date(2026, 6, 8)
TUE, WED, THU = (MON + timedelta(days=n) for n in (1, 2, 3))


def minute(moment: datetime) -> int:
    return int(moment.timestamp()) // 60


def test_leave_lists_the_counsellors_appointments_inside_it_sorted_by_start() -> None:
    inside = [booked(WED, 15, ref="w15"), booked(TUE, 9, ref="t9"), booked(TUE, 23, 30, ref="t2330")]
    outside = [booked(MON, 23, 0, ref="m23"), booked(THU, 0, 0, ref="th0"), booked(TUE, 10, counsellor_id=BOGDAN)]

    hit = conflicting_appointments(Absence(ANNA, TUE, WED), inside + outside, BERLIN)

    assert [a.ref for a in hit] == ["t9", "t2330", "w15"]


def test_leave_over_a_few_hours_lists_only_appointments_overlapping_them() -> None:
    appointments = [booked(TUE, 9, ref="9-10"), booked(TUE, 10, 30, ref="10:30"), booked(TUE, 11, 45, ref="11:45"),
                    booked(TUE, 12, ref="12-13")]

    hit = conflicting_appointments(Absence(ANNA, TUE, TUE, time(10, 0), time(12, 0), "sick"), appointments, BERLIN)

    assert [a.ref for a in hit] == ["10:30", "11:45"]


def test_leave_on_the_night_clocks_go_back_covers_all_25_hours_of_that_day() -> None:
    sunday = date(2026, 10, 25)
    late = Appointment("late", ANNA, PHONE, datetime(2026, 10, 25, 22, 30, tzinfo=UTC),
                       datetime(2026, 10, 25, 22, 50, tzinfo=UTC))  # 23:30 CET
    after = Appointment("after", ANNA, PHONE, datetime(2026, 10, 25, 23, 0, tzinfo=UTC),
                        datetime(2026, 10, 25, 23, 30, tzinfo=UTC))  # Monday 00:00 CET

    assert [a.ref for a in conflicting_appointments(Absence(ANNA, sunday, sunday), [late, after], BERLIN)] == ["late"]


def test_index_sees_a_long_appointment_that_began_before_shorter_ones() -> None:
    setup = make_setup()
    long_one = Appointment("long", ANNA, ROSTOCK, datetime(2026, 6, 8, 6, 0, tzinfo=UTC),
                           datetime(2026, 6, 8, 12, 0, tzinfo=UTC))
    short = [booked(MON, h, minutes=15, ref=f"s{h}", location_id=PHONE) for h in (8, 9, 10)]
    occupancy = Occupancy([long_one, *short], setup, BERLIN)
    noon_local = minute(datetime(2026, 6, 8, 11, 0, tzinfo=UTC))

    assert occupancy.clashes(ANNA, noon_local, noon_local + 30, None, 60)
    assert not occupancy.clashes(ANNA, noon_local + 60, noon_local + 90, None, 60)
    assert not occupancy.clashes(BOGDAN, noon_local, noon_local + 30, None, 60)


def test_index_keeps_travel_only_between_different_towns() -> None:
    setup = make_setup()
    occupancy = Occupancy([booked(MON, 10, location_id=SCHWERIN)], setup, BERLIN)
    eleven = minute(datetime(2026, 6, 8, 9, 0, tzinfo=UTC))  # 11:00 local, right after the Schwerin appointment

    assert occupancy.clashes(ANNA, eleven, eleven + 60, "rostock", 60)
    assert not occupancy.clashes(ANNA, eleven, eleven + 60, "schwerin", 60)
    assert not occupancy.clashes(ANNA, eleven, eleven + 60, None, 60)
    assert not occupancy.clashes(ANNA, eleven + 60, eleven + 120, "rostock", 60)


def test_index_counts_appointments_per_local_day_and_iso_week() -> None:
    setup = make_setup()
    late_sunday = Appointment("x", ANNA, PHONE, datetime(2026, 6, 7, 22, 30, tzinfo=UTC),
                              datetime(2026, 6, 7, 23, 0, tzinfo=UTC))  # Monday 00:30 local
    occupancy = Occupancy([late_sunday, booked(MON, 10), booked(WED, 10)], setup, BERLIN)

    assert occupancy.count_on(ANNA, MON) == 2
    assert occupancy.count_on(ANNA, MON - timedelta(days=1)) == 0
    assert occupancy.count_in_week(ANNA, 2026, 24) == 3
    assert occupancy.count_in_week(BOGDAN, 2026, 24) == 0
