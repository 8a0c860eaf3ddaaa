"""Pure slot search figure: "any counsellor, one topic, next 14 days" over 80 counsellors, 12 locations,
12 weeks of rules, 30 % of the possible appointments booked. No database, no broker.

    python bench/slot_search_engine.py [--runs 200] [--seed 7]

Prints p50/p95 of
1. the search alone (appointments already indexed),
2. indexing the appointments a request would fetch (the search range plus a day either side) and searching,
and the same search by a naive implementation (zoneinfo per candidate, every appointment scanned per candidate),
whose answer must be identical. A figure, not a test.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time as clock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "services" / "scheduler")]

from scheduler.domain.availability import Criteria, OfferedSlot, by_start, find_slots  # noqa: E402
from scheduler.domain.calendar_setup import (  # noqa: E402
    Absence,
    AppointmentType,
    CalendarSetup,
    Counsellor,
    ExtraHours,
    Kind,
    Location,
    WeeklyRule,
    validate_setup,
)
from scheduler.domain.fairness import RoundRobin  # noqa: E402
from scheduler.domain.occupancy import Appointment, Occupancy  # noqa: E402
from scheduler.domain.public_holidays import is_public_holiday  # noqa: E402

BERLIN = ZoneInfo("Europe/Berlin")
TOWNS = ["Rostock", "Schwerin", "Neubrandenburg", "Stralsund", "Greifswald", "Wismar", "Güstrow", "Waren"]
TOPICS = ["career", "health", "safety_legal", "psychosocial"]
LANGUAGES = ["en", "ru", "uk", "ro", "bg", "pl", "es", "th"]
FIRST = date(2026, 5, 4)  # a Monday; the 14 days searched include Ascension Day (14 May)
NOW = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)
STEP, TRAVEL = 30, 60


def build(seed: int) -> tuple[CalendarSetup, list[Appointment]]:
    rnd = random.Random(seed)
    locations = [Location(i + 1, town, "office") for i, town in enumerate(TOWNS)]
    locations += [Location(9, "Rostock", "outreach"), Location(10, "Schwerin", "outreach"),
                  Location(11, "", "phone"), Location(12, "", "video")]
    types: list[AppointmentType] = []
    for n, topic in enumerate(TOPICS):
        in_person: frozenset[Kind] = frozenset({"office", "outreach"})
        remote: frozenset[Kind] = frozenset({"phone", "video"})
        types.append(AppointmentType(2 * n + 1, topic, 60, in_person, 10, 10, 60, 90))
        types.append(AppointmentType(2 * n + 2, topic, 30, remote, 0, 5, 60, 90))
    counsellors, rules, absences, extra = [], [], [], []
    until = FIRST + timedelta(weeks=12) - timedelta(days=1)
    for cid in range(1, 81):
        home = rnd.randrange(1, 9)
        second = rnd.choice([home % 8 + 1, 9, 10, 11, 12])
        counsellors.append(Counsellor(
            cid, f"C{cid}", frozenset({"de", *rnd.sample(LANGUAGES, rnd.randint(1, 2))}),
            frozenset(rnd.sample(TOPICS, rnd.randint(2, 3))), frozenset({home, second}),
            daily_cap=rnd.choice([None, 6, 8]),
        ))
        for weekday in rnd.sample(range(5), 4):
            rules.append(WeeklyRule(cid, home, weekday, time(9, 0), time(12, 30), FIRST, until))
            rules.append(WeeklyRule(cid, second, weekday, time(13, 30), time(16, 30), FIRST, until))
        if rnd.random() < 0.15:
            leave = FIRST + timedelta(days=rnd.randrange(0, 70))
            absences.append(Absence(cid, leave, leave + timedelta(days=rnd.randrange(0, 10))))
        if rnd.random() < 0.2:
            extra.append(ExtraHours(cid, home, FIRST + timedelta(days=rnd.randrange(0, 70)), time(17, 0), time(19, 0)))
    setup = CalendarSetup(tuple(locations), tuple(counsellors), tuple(types), tuple(rules), tuple(absences),
                          tuple(extra))
    validate_setup(setup)

    # 30 % of the hourly starts of every rule over the 12 weeks are booked.
    kinds = {loc.id: loc.kind for loc in locations}
    appointments = []
    for r in rules:
        person = setup.index.counsellors[r.counsellor_id]
        topic = rnd.choice(sorted(person.topics))
        kind = setup.index.type_for[topic, kinds[r.location_id]]
        for week in range(12):
            day = FIRST + timedelta(days=7 * week + r.weekday)
            wall = datetime.combine(day, r.start)
            while wall + timedelta(minutes=60) <= datetime.combine(day, r.end):
                if rnd.random() < 0.3:
                    start = wall.replace(tzinfo=BERLIN).astimezone(UTC)
                    appointments.append(Appointment(f"b{len(appointments)}", r.counsellor_id, r.location_id, start,
                                                    start + timedelta(minutes=kind.duration_minutes), kind.id))
                wall += timedelta(minutes=60)
    return setup, appointments


def naive_search(setup: CalendarSetup, appointments: list[Appointment], criteria: Criteria, first: date,
                 last: date, now: datetime) -> list[OfferedSlot]:
    """The obvious way: zoneinfo for every candidate, every appointment and absence scanned for every candidate."""
    locations = {loc.id: loc for loc in setup.locations}
    types = {t.id: t for t in setup.types}
    people = [c for c in setup.counsellors if c.active and criteria.topic in c.topics]
    groups: dict[tuple[datetime, int], tuple[datetime, int, list[int]]] = {}

    def place(location_id: int) -> str | None:
        loc = locations.get(location_id)
        return loc.town.strip().casefold() if loc and loc.kind in ("office", "outreach") else None

    def clashes(cid: int, start: datetime, end: datetime, where: str | None) -> bool:
        for a in appointments:
            if a.counsellor_id != cid:
                continue
            t = types.get(a.type_id) if a.type_id else None
            s = a.start - timedelta(minutes=t.buffer_before_minutes if t else 0)
            e = a.end + timedelta(minutes=t.buffer_after_minutes if t else 0)
            if s < end and e > start:
                return True
            other = place(a.location_id)
            gap = timedelta(minutes=TRAVEL)
            if where and other and other != where and s < end + gap and e > start - gap:
                return True
        return False

    day = first
    while day <= last:
        holiday = is_public_holiday(day)
        for c in people:
            count = sum(1 for a in appointments
                        if a.counsellor_id == c.id and a.start.astimezone(BERLIN).date() == day)
            if c.daily_cap is not None and count >= c.daily_cap:
                continue
            windows = [(r.location_id, r.start, r.end) for r in setup.rules
                       if r.counsellor_id == c.id and r.applies_on(day) and (r.on_holidays or not holiday)]
            windows += [(e.location_id, e.start, e.end) for e in setup.extra_hours
                        if e.counsellor_id == c.id and e.day == day]
            for location_id, opens, closes in windows:
                loc = locations[location_id]
                if not loc.active or location_id not in c.location_ids:
                    continue
                kind = next((t for t in setup.types if t.topic == criteria.topic and loc.kind in t.modes), None)
                if kind is None:
                    continue
                wall = datetime.combine(day, opens)
                while wall + timedelta(minutes=kind.duration_minutes) <= datetime.combine(day, closes):
                    start = wall.replace(tzinfo=BERLIN).astimezone(UTC)
                    wall += timedelta(minutes=STEP)
                    end = start + timedelta(minutes=kind.duration_minutes)
                    if start < now + timedelta(minutes=kind.min_notice_minutes):
                        continue
                    if any(a.counsellor_id == c.id and a.first_day <= day <= a.last_day for a in setup.absences):
                        continue
                    if clashes(c.id, start - timedelta(minutes=kind.buffer_before_minutes),
                               end + timedelta(minutes=kind.buffer_after_minutes), place(location_id)):
                        continue
                    groups.setdefault((start, location_id), (end, kind.id, []))[2].append(c.id)
        day += timedelta(days=1)

    rotation = RoundRobin(c.id for c in people)
    slots = []
    for (start, location_id), (end, type_id, free) in groups.items():
        year, week, _ = start.astimezone(BERLIN).isocalendar()

        def load(cid: int, year: int = year, week: int = week) -> int:
            return sum(1 for a in appointments if a.counsellor_id == cid
                       and a.start.astimezone(BERLIN).isocalendar()[:2] == (year, week))

        turn = int(start.timestamp()) // 60 // STEP
        slots.append(OfferedSlot(start, end, location_id, rotation.choose(free, load, turn), type_id))
    return sorted(slots, key=by_start)


def timed(runs: int, work: Callable[[], object]) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per run; on a busy machine the CPU time is the engine's own cost."""
    wall, cpu = [], []
    for _ in range(runs):
        began, began_cpu = clock.perf_counter(), clock.thread_time()
        work()
        wall.append((clock.perf_counter() - began) * 1000)
        cpu.append((clock.thread_time() - began_cpu) * 1000)
    return wall, cpu


def p(times: list[float], q: float) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[int(q) - 1] if len(times) > 1 else times[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--naive-runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    setup, appointments = build(args.seed)
    criteria = Criteria(topic="health")
    first, last = FIRST, FIRST + timedelta(days=13)
    occupancy = Occupancy(appointments, setup, BERLIN)
    fetch_from = datetime.combine(first - timedelta(days=1), time(0), tzinfo=BERLIN)
    fetch_to = datetime.combine(last + timedelta(days=2), time(0), tzinfo=BERLIN)
    in_range = [a for a in appointments if fetch_from <= a.start < fetch_to]

    result = find_slots(setup, occupancy, criteria, first, last, NOW)
    windowed = find_slots(setup, Occupancy(in_range, setup, BERLIN), criteria, first, last, NOW)
    assert windowed == result, "indexing only the fetched range must not change the answer"
    naive = naive_search(setup, in_range, criteria, first, last, NOW)
    assert naive == result, f"naive and engine disagree: {len(naive)} vs {len(result)} slots"

    timed(10, lambda: find_slots(setup, occupancy, criteria, first, last, NOW))  # warm caches
    search_only = timed(args.runs, lambda: find_slots(setup, occupancy, criteria, first, last, NOW))
    with_index = timed(args.runs, lambda: find_slots(setup, Occupancy(in_range, setup, BERLIN), criteria, first, last,
                                                     NOW))
    naive_wall, naive_cpu = timed(args.naive_runs, lambda: naive_search(setup, in_range, criteria, first, last, NOW))

    health_people = sum(1 for c in setup.counsellors if "health" in c.topics)
    print(f"data: {len(setup.counsellors)} counsellors ({health_people} offer health), {len(setup.locations)} "
          f"locations, {len(setup.rules)} weekly rules over 12 weeks, {len(appointments)} appointments "
          f"({len(in_range)} in the fetched range)")
    print(f"answer: {len(result)} slots (one per start and location), identical to the naive search")
    print(f"{'':22}{'wall p50':>10}{'wall p95':>10}{'cpu p50':>10}{'cpu p95':>10}   (ms)")
    for name, (wall, cpu) in (("search only", search_only), ("index + search", with_index)):
        print(f"{name:22}{p(wall, 50):10.2f}{p(wall, 95):10.2f}{p(cpu, 50):10.2f}{p(cpu, 95):10.2f}   "
              f"({args.runs} runs)")
    naive = statistics.median(naive_cpu)
    print(f"{'naive':22}{statistics.median(naive_wall):10.1f}{'':10}{naive:10.1f}{'':10}   ({args.naive_runs} runs); "
          f"index + search is {naive / p(with_index[1], 50):.0f}x faster (cpu p50)")


if __name__ == "__main__":
    main()
