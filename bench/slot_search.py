"""Slot search and booking decisions through the scheduler's real path, on PostgreSQL and SQLite.

    python bench/slot_search.py [--runs 200] [--seed 7] [--backend both|postgresql|sqlite]

The calendar of bench/slot_search_engine.py (80 counsellors, 12 locations, 12 weeks of rules, absences, extra
hours, 30 % of the possible appointments booked) is written to the scheduler's tables: on PostgreSQL in a fresh
database lotse_bench_slots (dropped after), on SQLite in a temporary directory. Prints per backend

1. "any counsellor, one topic, next 14 days": p50/p95 of the whole search path as answer_slot_query runs it
   (calendar version, the cached setup, the appointments near the days and the week counts from the tables,
   engine, describe the first 200 slots), beside, measured in the same run on the same data:
   - the path before the setup cache (baseline): the setup loaded from the tables on every search and the
     appointments of the whole ISO weeks loaded as rows (what the scheduler did before migration 0002);
   - the setup loaded on every search (the cache switched off), appointments loaded narrowly;
   - the engine alone (no database);
2. booking decisions per second under contention: 8 threads deciding bookings through handlers.decide_booking
   with real sessions, four bookings racing for each of the chosen slots; exactly one per slot may win. Run
   twice, on different slots: with the setup loaded on every decision (baseline), then with the cache.

A figure, not a test. Target: search p95 < 30 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import threading
import time as clock
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "services" / "scheduler")]

import psycopg  # noqa: E402
from scheduler import handlers, migrations, repository  # noqa: E402
from scheduler.calendar import Calendar, SearchCriteria  # noqa: E402
from scheduler.domain.availability import Criteria, SearchSettings, find_slots  # noqa: E402
from scheduler.domain.occupancy import Occupancy  # noqa: E402
from scheduler.tables import (  # noqa: E402
    Appointment,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Counsellor,
    CounsellorLocation,
    Location,
)
from sqlalchemy import Engine, insert  # noqa: E402
from sqlmodel import Session  # noqa: E402

from shared.contracts import BookingRequested, SlotsRequested, wrap  # noqa: E402
from shared.db import make_engine  # noqa: E402

_spec = importlib.util.spec_from_file_location("slot_search_engine", REPO / "bench" / "slot_search_engine.py")
assert _spec is not None and _spec.loader is not None
engine_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(engine_bench)

BERLIN, FIRST, NOW = engine_bench.BERLIN, engine_bench.FIRST, engine_bench.NOW
PG_DATABASE = "lotse_bench_slots"
THREADS, RACERS = 8, 4
LIMIT = SlotsRequested.model_fields["limit"].default


def fill(engine: Engine, seed: int) -> tuple[object, int]:
    setup, appointments = engine_bench.build(seed)
    index = setup.index
    kept, last_end = [], {}
    for a in sorted(appointments, key=lambda a: (a.counsellor_id, a.start)):  # the constraint forbids overlaps
        kind = index.types[a.type_id]
        blocked_from = a.start - timedelta(minutes=kind.buffer_before_minutes)
        blocked_until = a.end + timedelta(minutes=kind.buffer_after_minutes)
        if a.counsellor_id in last_end and blocked_from < last_end[a.counsellor_id]:
            continue
        last_end[a.counsellor_id] = blocked_until
        kept.append({"booking_id": str(uuid4()), "counsellor_id": a.counsellor_id, "location_id": a.location_id,
                     "type_id": a.type_id, "starts_at": a.start, "ends_at": a.end, "blocked_from": blocked_from,
                     "blocked_until": blocked_until, "status": "confirmed", "needs_attention": False,
                     "topic": kind.topic, "language": "de", "channel": "web", "created_at": NOW, "updated_at": NOW})
    with Session(engine) as session:
        session.execute(insert(Location), [{"id": loc.id, "town": loc.town or loc.kind, "kind": loc.kind,
                                            "alias": f"{loc.town or loc.kind} {loc.id}", "address": "",
                                            "active": True} for loc in setup.locations])
        session.execute(insert(Counsellor), [{"id": c.id, "alias": c.alias, "languages": ",".join(sorted(c.languages)),
                                              "topics": ",".join(sorted(c.topics)), "daily_cap": c.daily_cap,
                                              "active": True} for c in setup.counsellors])
        session.execute(insert(CounsellorLocation), [{"counsellor_id": c.id, "location_id": lid}
                                                     for c in setup.counsellors for lid in c.location_ids])
        session.execute(insert(AppointmentType), [
            {"id": t.id, "topic": t.topic, "duration_minutes": t.duration_minutes, "modes": ",".join(sorted(t.modes)),
             "buffer_before_minutes": t.buffer_before_minutes, "buffer_after_minutes": t.buffer_after_minutes,
             "min_notice_minutes": t.min_notice_minutes, "horizon_days": t.horizon_days, "active": True}
            for t in setup.types])
        session.execute(insert(AvailabilityRule), [
            {"counsellor_id": r.counsellor_id, "location_id": r.location_id, "weekday": r.weekday, "starts": r.start,
             "ends": r.end, "valid_from": r.valid_from, "valid_until": r.valid_until, "on_holidays": r.on_holidays}
            for r in setup.rules])
        exceptions = [{"kind": "absence", "counsellor_id": a.counsellor_id, "location_id": None,
                       "first_day": a.first_day, "last_day": a.last_day, "starts": None, "ends": None,
                       "reason": "leave", "created_at": NOW} for a in setup.absences]
        exceptions += [{"kind": "extra_hours", "counsellor_id": e.counsellor_id, "location_id": e.location_id,
                        "first_day": e.day, "last_day": e.day, "starts": e.start, "ends": e.end, "reason": "",
                        "created_at": NOW} for e in setup.extra_hours]
        session.execute(insert(AvailabilityException), exceptions)
        session.execute(insert(Appointment), kept)
        session.commit()
    return setup, len(kept)


def timed(runs: int, work: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(runs):
        started = clock.perf_counter()
        work()
        times.append((clock.perf_counter() - started) * 1000)
    return times


def p(times: list[float], q: int) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[q - 1]


@contextmanager
def postgres() -> Iterator[Engine]:
    admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    engine = make_engine(f"postgresql://postgres@127.0.0.1:5432/{PG_DATABASE}", pool_size=THREADS)
    try:
        yield engine
    finally:
        engine.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        admin.close()


@contextmanager
def sqlite() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{directory}/scheduler.sqlite")
        try:
            yield engine
        finally:
            engine.dispose()


def search_path(engine: Engine, calendar: Calendar, criteria: SearchCriteria) -> Callable[[], int]:
    def search() -> int:
        with Session(engine) as session:
            stored, found = calendar.free_slots(session, criteria, NOW)
            calendar.describe(stored, found[:LIMIT])  # what answer_slot_query does for the default limit
            return len(found)
    return search


def path_before_cache(engine: Engine, calendar: Calendar, criteria: SearchCriteria) -> Callable[[], int]:
    """The search as the scheduler ran it before migration 0002: setup from the tables, whole weeks of rows."""
    wanted = Criteria(topic=criteria.topic)

    def search() -> int:
        with Session(engine) as session:
            stored = repository.load_calendar(session, calendar.today(NOW) - timedelta(days=1))
            first, last = criteria.date_from, criteria.date_to
            start, end = repository.day_bounds(first - timedelta(days=first.weekday() + 1),
                                               last + timedelta(days=7 - last.weekday()), BERLIN)
            occupancy = Occupancy(repository.confirmed_between(session, start, end), stored.setup, BERLIN)
            found = find_slots(stored.setup, occupancy, wanted, first, last, NOW, calendar.settings)
            calendar.describe(stored, found[:LIMIT])
            return len(found)
    return search


def line(label: str, times: list[float], extra: str = "") -> str:
    return f"{label:<52} p50 {p(times, 50):6.2f} ms  p95 {p(times, 95):6.2f} ms{extra}"


def decisions(name: str, engine: Engine, calendar: Calendar, criteria: SearchCriteria, label: str) -> float:
    """Bookings raced for 100 free slots; decisions per second."""
    with Session(engine) as session:
        _, free = calendar.free_slots(session, criteria, NOW)
    chosen = free[:: max(1, len(free) // 100)][:100]
    requests = [wrap(BookingRequested(booking_id=uuid4(), slot_id=s.slot_id, language="de", channel="web"), uuid4())
                for s in chosen for _ in range(RACERS)]
    deps = handlers.SchedulerDeps(calendar=calendar, clock=lambda: NOW, reply=lambda *_: None)
    lock = threading.Lock()
    outcome: dict[str, int] = defaultdict(int)

    def decide(envelope: object) -> None:
        with Session(engine, expire_on_commit=False) as session:
            handlers.decide_booking(envelope, session, deps)  # type: ignore[arg-type]
            session.commit()
            confirmed = handlers.repository.appointment_for_booking(
                session, str(envelope.payload.booking_id)) is not None  # type: ignore[attr-defined]
        with lock:
            outcome["confirmed" if confirmed else "rejected"] += 1

    started = clock.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(decide, requests))
    elapsed = clock.perf_counter() - started
    assert outcome["confirmed"] <= len(chosen), "a slot was given twice"
    rate = len(requests) / elapsed
    print(f"[{name}] decisions, {label}: {len(requests)} bookings for {len(chosen)} slots ({RACERS} per slot), "
          f"{THREADS} threads: {rate:6.1f} decisions/s; {outcome['confirmed']} confirmed, "
          f"{outcome['rejected']} rejected")
    return rate


def bench(name: str, engine: Engine, runs: int, seed: int) -> None:
    migrations.upgrade(engine)
    _, booked = fill(engine, seed)
    calendar = Calendar(SearchSettings())
    uncached = Calendar(SearchSettings(), repository.SetupCache(enabled=False))
    criteria = SearchCriteria(FIRST, FIRST + timedelta(days=13), topic="health")
    search = search_path(engine, calendar, criteria)
    before = path_before_cache(engine, calendar, criteria)
    reloading = search_path(engine, uncached, criteria)

    with Session(engine) as session:
        stored = calendar.load(session, NOW)
        occupancy = calendar.occupancy(session, stored, criteria.date_from, criteria.date_to)
        weeks = repository.week_counts(session, BERLIN, criteria.date_from, criteria.date_to)
    engine_only = Criteria(topic="health")

    def pure() -> int:
        return len(find_slots(stored.setup, Occupancy(occupancy.appointments, stored.setup, BERLIN, week_counts=weeks),
                              engine_only, criteria.date_from, criteria.date_to, NOW))

    assert search() == pure() == before() == reloading(), "the search paths and the engine must agree"
    timed(10, search)
    timed(10, before)
    cached_times = timed(runs, search)
    before_times = timed(runs, before)
    reloading_times = timed(runs, reloading)
    engine_times = timed(runs, pure)
    print(f"[{name}] {booked} appointments stored; answer: {search()} slots; setup loads by the cached path: "
          f"{calendar.cache.loads}")
    print(f"[{name}] " + line("search path (cached setup, narrow appointments):", cached_times,
                              f"   target p95 < 30 ms: {'met' if p(cached_times, 95) < 30 else 'MISSED'}"))
    print(f"[{name}] " + line("before the cache (reload setup, whole weeks; baseline):", before_times,
                              f"   {p(before_times, 50) / p(cached_times, 50):.1f}x the cached p50, "
                              f"{p(before_times, 95) / p(cached_times, 95):.1f}x its p95"))
    print(f"[{name}] " + line("setup reloaded, narrow appointments:", reloading_times))
    print(f"[{name}] " + line("engine alone:", engine_times,
                              f"   the database adds {p(cached_times, 50) / p(engine_times, 50):.1f}x at p50"))

    # Booking decisions under contention: RACERS bookings per slot, THREADS deciding at once.
    slow = decisions(name, engine, uncached, criteria, "setup reloaded per decision (baseline)")
    fast = decisions(name, engine, calendar, criteria, "cached setup")
    print(f"[{name}] decisions: cached / reloaded = {fast / slow:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backend", choices=["both", "postgresql", "sqlite"], default="both")
    args = parser.parse_args()
    if args.backend in ("both", "postgresql"):
        with postgres() as engine:
            bench("postgresql", engine, args.runs, args.seed)
    if args.backend in ("both", "sqlite"):
        with sqlite() as engine:
            bench("sqlite", engine, args.runs, args.seed)


if __name__ == "__main__":
    main()
