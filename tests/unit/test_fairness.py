"""'Any counsellor': a start time several people could take goes to the least booked that week, then round-robin."""

from __future__ import annotations

from collections import Counter
from datetime import date, time, timedelta
from itertools import pairwise

from scheduler.domain.availability import Criteria, find_slots
from scheduler.domain.fairness import RoundRobin
from scheduler.domain.occupancy import Appointment, Occupancy

from tests.unit.calendar_examples import (
    ANNA,
    BERLIN,
    BOGDAN,
    CHLOE,
    NOW,
    ROSTOCK,
    booked,
    counsellor,
    make_setup,
    rule,
    search,
)

MON = date(2026, 6, 8)
PEOPLE = (ANNA, BOGDAN, CHLOE)


def same_hours_for_three() -> object:
    return make_setup(
        [rule(weekday, time(9, 0), time(17, 0), counsellor_id=c) for c in PEOPLE for weekday in range(5)],
        counsellors=[counsellor(c) for c in PEOPLE],
    )


def book_first_offered(times: int, setup: object) -> Counter[int]:
    appointments: list[Appointment] = []
    for n in range(times):
        occupancy = Occupancy(appointments, setup, BERLIN)  # type: ignore[arg-type]
        first = find_slots(setup, occupancy, Criteria("health"), MON, MON + timedelta(days=4), NOW)[0]  # type: ignore[arg-type]
        appointments.append(Appointment(f"b{n}", first.counsellor_id, first.location_id, first.start, first.end, 1))
    return Counter(a.counsellor_id for a in appointments)


def test_booking_the_first_offered_slot_again_and_again_spreads_evenly_over_three_counsellors() -> None:
    counts = book_first_offered(30, same_hours_for_three())

    assert set(counts) == set(PEOPLE)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert sum(counts.values()) == 30


def test_spread_stays_even_at_every_step() -> None:
    setup = same_hours_for_three()
    for times in (4, 7, 11):
        counts = book_first_offered(times, setup)
        assert max(counts.get(c, 0) for c in PEOPLE) - min(counts.get(c, 0) for c in PEOPLE) <= 1


def test_least_booked_counsellor_that_iso_week_gets_the_shared_start() -> None:
    setup = same_hours_for_three()
    busy_week = [booked(MON + timedelta(days=2), 9, counsellor_id=ANNA),
                 booked(MON + timedelta(days=2), 9, counsellor_id=BOGDAN, ref="c")]
    last_week = [booked(MON - timedelta(days=7), h, counsellor_id=CHLOE, ref=f"l{h}") for h in (9, 10, 11)]

    slots = search(setup, MON + timedelta(days=1), appointments=busy_week + last_week)  # type: ignore[arg-type]

    # Chloe had three appointments last week but none this week; Anna and Bogdan one each this week.
    assert {s.counsellor_id for s in slots} == {CHLOE}


def test_ties_rotate_so_consecutive_starts_go_to_different_counsellors() -> None:
    slots = search(same_hours_for_three(), MON)  # type: ignore[arg-type]

    chosen = [s.counsellor_id for s in slots if s.location_id == ROSTOCK]
    assert len(chosen) == 15
    assert all(a != b for a, b in pairwise(chosen))
    assert Counter(chosen) == Counter(dict.fromkeys(PEOPLE, 5))


def test_round_robin_orders_by_id_rotated_by_the_turn() -> None:
    rotation = RoundRobin([30, 10, 20])

    assert rotation.order == [10, 20, 30]
    assert [rotation.choose([10, 20, 30], lambda _: 0, turn) for turn in range(4)] == [10, 20, 30, 10]
    assert rotation.choose([10, 30], lambda _: 0, 1) == 30  # 20's turn, but 20 is not free: next in the circle
    assert rotation.choose([10, 20, 30], {10: 2, 20: 1, 30: 1}.__getitem__, 0) == 20


def test_a_given_cursor_fixes_whose_turn_it_is_for_every_start() -> None:
    setup = same_hours_for_three()
    occupancy = Occupancy([], setup, BERLIN)  # type: ignore[arg-type]

    for cursor, expected in ((0, ANNA), (1, BOGDAN), (2, CHLOE), (3, ANNA)):
        slots = find_slots(setup, occupancy, Criteria("health"), MON, MON, NOW, cursor=cursor)  # type: ignore[arg-type]
        assert {s.counsellor_id for s in slots} == {expected}
