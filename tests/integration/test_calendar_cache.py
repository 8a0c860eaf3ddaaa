"""The scheduler caches the calendar's setup per process and checks it against the database's calendar version on
every request (migration 0002): any change to a calendar table — through the ORM, by direct SQL, from another
engine or another process — is seen by the next search, on PostgreSQL and SQLite."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from scheduler import migrations, repository
from scheduler.calendar import Calendar, SearchCriteria
from scheduler.demo import seed
from scheduler.domain.availability import SearchSettings
from scheduler.domain.occupancy import Occupancy
from sqlalchemy import Engine, text
from sqlmodel import Session

from shared.db import make_engine
from tests.support import infra

NOW = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)
MONDAY = date(2026, 6, 8)  # demo data: Anna (1) is in Rostock (1) on Mondays and Wednesdays 09:00-16:00
TUESDAY, WEDNESDAY = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
ANNA, ROSTOCK, HEALTH = 1, 1, 2
WEEK = SearchCriteria(MONDAY, MONDAY + timedelta(days=4), topic="health")
CALENDAR_TABLES = ("locations", "counsellors", "counsellor_locations", "appointment_types", "availability_rules",
                   "availability_exceptions")


@dataclass
class Database:
    url: str
    backend: str
    first: Engine  # two engines with their own pools: two processes, as far as the database can tell
    second: Engine


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url, dbs = f"sqlite:///{tmp_path / 'scheduler.sqlite'}", None
    else:
        infra.ensure_postgres()
        dbs = infra.create_databases("lotse_k", migrated=True)
        url = dbs.scheduler
    first, second = make_engine(url), make_engine(url)
    migrations.upgrade(first)
    seed(first)
    yield Database(url, request.param, first, second)
    first.dispose()
    second.dispose()
    if dbs is not None:
        infra.drop_databases(dbs)


def slots(engine: Engine, calendar: Calendar, criteria: SearchCriteria = WEEK) -> set[tuple[int, date, str]]:
    """(counsellor, local day, local start) of every slot offered."""
    with Session(engine) as session:
        _, found = calendar.free_slots(session, criteria, NOW)
        return {(s.counsellor_id, s.start.astimezone(calendar.zone).date(),
                 s.start.astimezone(calendar.zone).strftime("%H:%M")) for s in found}


def anna_on(offered: set[tuple[int, date, str]], day: date) -> set[str]:
    return {start for cid, d, start in offered if cid == ANNA and d == day}


def run(engine: Engine, *statements: str) -> None:
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))


def version(engine: Engine) -> int:
    with Session(engine) as session:
        return repository.calendar_version(session)


# Each change is made by direct SQL on the other engine (the statements before the last one prepare a state, which
# both processes search and cache first); `seen` says whether a search shows the last statement's effect.
Seen = Callable[[set[tuple[int, date, str]]], bool]
CHANGES: dict[str, tuple[list[str], Seen]] = {
    "insert a rule": (
        [f"INSERT INTO availability_rules (counsellor_id, location_id, weekday, starts, ends, on_holidays) "
         f"VALUES ({ANNA}, {ROSTOCK}, 1, '09:00:00', '12:00:00', false)"],
        lambda offered: bool(anna_on(offered, TUESDAY))),
    "update a rule": (
        [f"UPDATE availability_rules SET ends = '12:00:00' WHERE counsellor_id = {ANNA} AND weekday = 0"],
        lambda offered: bool(anna_on(offered, MONDAY)) and max(anna_on(offered, MONDAY)) < "12:00"),
    "delete a rule": (
        [f"DELETE FROM availability_rules WHERE counsellor_id = {ANNA} AND weekday = 0"],
        lambda offered: not anna_on(offered, MONDAY) and bool(anna_on(offered, WEDNESDAY))),
    "insert an exception": (
        [f"INSERT INTO availability_exceptions (kind, counsellor_id, first_day, last_day, reason, created_at) "
         f"VALUES ('absence', {ANNA}, '{MONDAY}', '{MONDAY}', 'leave', '2026-06-01 08:00:00')"],
        lambda offered: not anna_on(offered, MONDAY) and bool(anna_on(offered, WEDNESDAY))),
    "update an exception": (
        [f"INSERT INTO availability_exceptions (kind, counsellor_id, first_day, last_day, reason, created_at) "
         f"VALUES ('absence', {ANNA}, '{MONDAY}', '{MONDAY}', 'leave', '2026-06-01 08:00:00')",
         f"UPDATE availability_exceptions SET first_day = '{WEDNESDAY}', last_day = '{WEDNESDAY}'"],
        lambda offered: bool(anna_on(offered, MONDAY)) and not anna_on(offered, WEDNESDAY)),
    "delete an exception": (
        [f"INSERT INTO availability_exceptions (kind, counsellor_id, first_day, last_day, reason, created_at) "
         f"VALUES ('absence', {ANNA}, '{MONDAY}', '{MONDAY}', 'leave', '2026-06-01 08:00:00')",
         "DELETE FROM availability_exceptions"],
        lambda offered: bool(anna_on(offered, MONDAY))),
    "a counsellor inactive": (
        [f"UPDATE counsellors SET active = false WHERE id = {ANNA}"],
        lambda offered: not any(cid == ANNA for cid, _, _ in offered)),
    "a counsellor active again": (
        [f"UPDATE counsellors SET active = false WHERE id = {ANNA}",
         f"UPDATE counsellors SET active = true WHERE id = {ANNA}"],
        lambda offered: bool(anna_on(offered, MONDAY))),
    "a location inactive": (
        [f"UPDATE locations SET active = false WHERE id = {ROSTOCK}"],
        lambda offered: not anna_on(offered, MONDAY)),
    "a served location removed": (
        [f"DELETE FROM counsellor_locations WHERE counsellor_id = {ANNA} AND location_id = {ROSTOCK}"],
        lambda offered: not anna_on(offered, MONDAY)),
    "an appointment type changed": (
        [f"UPDATE appointment_types SET duration_minutes = 300 WHERE id = {HEALTH}"],
        lambda offered: bool(anna_on(offered, MONDAY)) and max(anna_on(offered, MONDAY)) <= "11:00"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_by_another_engine_is_seen_by_the_next_search(database: Database, change: str) -> None:
    statements, seen = CHANGES[change]
    here, there = Calendar(SearchSettings()), Calendar(SearchSettings())
    before = slots(database.first, here)
    assert anna_on(before, MONDAY) and not anna_on(before, TUESDAY)
    *earlier, last = statements
    for statement in earlier:  # a state to change back from, cached by both processes
        run(database.second, statement)
        slots(database.second, there)
    prior = slots(database.first, here)
    assert not seen(prior)
    run(database.second, last)
    loads = here.cache.loads
    after = slots(database.first, here)
    assert seen(after), change
    assert here.cache.loads == loads + 1
    assert seen(slots(database.second, there)), "a second process sees it as well"
    assert slots(database.first, here) == after and here.cache.loads == loads + 1  # and caches it again


def test_the_setup_is_loaded_once_while_nothing_changes_and_appointments_are_not_cached(database: Database) -> None:
    calendar = Calendar(SearchSettings())
    before = slots(database.first, calendar)
    assert slots(database.first, calendar) == before
    assert calendar.cache.loads == 1
    first_anna = min(anna_on(before, MONDAY))
    start = datetime.combine(MONDAY, datetime.strptime(first_anna, "%H:%M").time(), calendar.zone)
    unchanged = version(database.first)
    with Session(database.second) as session:  # a booking: the appointments table has no version trigger
        session.execute(text(
            "INSERT INTO appointments (booking_id, counsellor_id, location_id, type_id, starts_at, ends_at, "
            "blocked_from, blocked_until, status, needs_attention, language, channel, created_at, updated_at) "
            "VALUES (:booking, :anna, :rostock, :health, :start, :end, :start, :end, 'confirmed', false, 'de', "
            "'web', :start, :start)"),
            {"booking": str(uuid4()), "anna": ANNA, "rostock": ROSTOCK, "health": HEALTH,
             "start": _stored(database, start), "end": _stored(database, start + timedelta(minutes=45))})
        session.commit()
    assert version(database.first) == unchanged
    after = slots(database.first, calendar)
    assert (ANNA, MONDAY, first_anna) not in after
    assert calendar.cache.loads == 1


def _stored(database: Database, moment: datetime) -> object:
    utc = moment.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(" ") if database.backend == "sqlite" else utc


def test_every_calendar_table_changes_the_version_on_insert_update_and_delete(database: Database) -> None:
    statements = {
        "locations": ["INSERT INTO locations (id, town, kind, alias, address, active) "
                      "VALUES (99, 'Wismar', 'office', 'Wismar 1', '', true)",
                      "UPDATE locations SET town = 'Wismar!' WHERE id = 99"],
        "counsellors": ["INSERT INTO counsellors (id, alias, languages, topics, active) "
                        "VALUES (99, 'Emil', 'de', 'health', true)",
                        "UPDATE counsellors SET daily_cap = 3 WHERE id = 99"],
        "counsellor_locations": ["INSERT INTO counsellor_locations (counsellor_id, location_id) VALUES (99, 99)",
                                 "UPDATE counsellor_locations SET location_id = 1 WHERE counsellor_id = 99",
                                 "DELETE FROM counsellor_locations WHERE counsellor_id = 99"],
        "appointment_types": ["INSERT INTO appointment_types (id, topic, duration_minutes, modes, active) "
                              "VALUES (99, 'health', 30, 'office', false)",
                              "UPDATE appointment_types SET duration_minutes = 40 WHERE id = 99",
                              "DELETE FROM appointment_types WHERE id = 99"],
        "availability_rules": ["INSERT INTO availability_rules (id, counsellor_id, location_id, weekday, starts, "
                               "ends, on_holidays) VALUES (999, 99, 99, 1, '09:00:00', '10:00:00', false)",
                               "UPDATE availability_rules SET ends = '11:00:00' WHERE id = 999",
                               "DELETE FROM availability_rules WHERE id = 999"],
        "availability_exceptions": ["INSERT INTO availability_exceptions (id, kind, location_id, first_day, "
                                    "last_day, reason, created_at) VALUES (999, 'closure', 99, '2026-06-08', "
                                    "'2026-06-08', '', '2026-06-01 08:00:00')",
                                    "UPDATE availability_exceptions SET reason = 'x' WHERE id = 999",
                                    "DELETE FROM availability_exceptions WHERE id = 999"],
    }
    statements["counsellors"].append("DELETE FROM counsellors WHERE id = 99")
    statements["locations"].append("DELETE FROM locations WHERE id = 99")
    order = ["locations", "counsellors", "counsellor_locations", "appointment_types", "availability_rules",
             "availability_exceptions"]
    seen = {version(database.first)}
    changed: dict[str, int] = {}
    for table in order:
        for statement in statements[table]:
            if statement.startswith("DELETE FROM counsellors") or statement.startswith("DELETE FROM locations"):
                continue  # after the rows that refer to them
            run(database.second, statement)
            now = version(database.first)
            assert now not in seen, statement
            seen.add(now)
            changed[table] = changed.get(table, 0) + 1
    for statement in (statements["counsellors"][-1], statements["locations"][-1]):
        run(database.second, statement)
        now = version(database.first)
        assert now not in seen, statement
        seen.add(now)
    assert set(changed) == set(CALENDAR_TABLES)


def test_a_change_from_another_os_process_is_seen(database: Database) -> None:
    calendar = Calendar(SearchSettings())
    assert not anna_on(slots(database.first, calendar), TUESDAY)
    statement = (f"INSERT INTO availability_rules (counsellor_id, location_id, weekday, starts, ends, on_holidays) "
                 f"VALUES ({ANNA}, {ROSTOCK}, 1, '09:00:00', '12:00:00', false)")
    if database.backend == "sqlite":
        path = database.url.removeprefix("sqlite:///")
        script = (f"import sqlite3; c = sqlite3.connect({path!r}); c.execute({statement!r}); c.commit(); "
                  "c.close()")
    else:
        script = (f"import psycopg; c = psycopg.connect({database.url!r}); c.execute({statement!r}); c.commit(); "
                  "c.close()")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert anna_on(slots(database.first, calendar), TUESDAY)


def test_a_rolled_back_change_is_not_kept_by_the_cache(database: Database) -> None:
    """A search inside the transaction that changed the calendar caches what it saw; after the rollback the
    version is the old one again, and the next committed change gets a number never used before."""
    calendar = Calendar(SearchSettings())
    original = slots(database.first, calendar)
    with Session(database.first) as session:
        session.execute(text(f"DELETE FROM availability_rules WHERE counsellor_id = {ANNA} AND weekday = 0"))
        _, found = calendar.free_slots(session, WEEK, NOW)
        assert not any(s.counsellor_id == ANNA and s.start.astimezone(calendar.zone).date() == MONDAY
                       for s in found)
        session.rollback()
    assert slots(database.first, calendar) == original
    run(database.second, f"UPDATE availability_rules SET ends = '12:00:00' WHERE counsellor_id = {ANNA} "
                         "AND weekday = 0")
    changed = slots(database.first, calendar)
    assert anna_on(changed, MONDAY) and max(anna_on(changed, MONDAY)) < "12:00"


def test_week_counts_match_the_engine_counting_rows(database: Database) -> None:
    """The database's per-week counts equal what Occupancy counts from the rows (local weeks, Monday 00:00)."""
    zone = SearchSettings().zone
    sunday_late = datetime.combine(MONDAY - timedelta(days=1), datetime.min.time(), zone) + timedelta(hours=23,
                                                                                                       minutes=30)
    monday_early = sunday_late + timedelta(hours=1)  # 00:30 local Monday, still Sunday in UTC
    with Session(database.second) as session:
        for start in (sunday_late, monday_early, monday_early + timedelta(days=3)):
            session.execute(text(
                "INSERT INTO appointments (booking_id, counsellor_id, location_id, starts_at, ends_at, blocked_from, "
                "blocked_until, status, needs_attention, language, channel, created_at, updated_at) VALUES "
                "(:booking, :anna, 6, :start, :end, :start, :end, 'confirmed', false, 'de', 'phone', :start, :start)"),
                {"booking": str(uuid4()), "anna": ANNA, "start": _stored(database, start),
                 "end": _stored(database, start + timedelta(minutes=20))})
        session.commit()
    with Session(database.first) as session:
        counts = repository.week_counts(session, zone, MONDAY - timedelta(days=3), MONDAY + timedelta(days=3))
        start, end = repository.day_bounds(MONDAY - timedelta(days=7), MONDAY + timedelta(days=7), zone)
        rows = repository.confirmed_between(session, start, end)
        stored = repository.load_calendar(session)
    year, week, _ = MONDAY.isocalendar()
    assert counts == {(ANNA, year, week - 1): 1, (ANNA, year, week): 2}
    from_rows = Occupancy(rows, stored.setup, zone)
    assert all(from_rows.count_in_week(cid, y, w) == n for (cid, y, w), n in counts.items())


def test_a_decision_reads_the_calendar_version_with_the_counsellors_lock_and_reloads_after_a_change(
        database: Database) -> None:
    calendar = Calendar(SearchSettings())
    with Session(database.first) as session:
        locked = repository.lock_counsellor(session, ANNA)
        # SQLite has no row locks (its transactions are serial): the version is read on its own there.
        assert locked == (None if database.backend == "sqlite" else repository.calendar_version(session))
        calendar.load(session, NOW, version=locked)
        assert repository.lock_counsellor(session, 999) is None  # no such counsellor: nothing read, nothing locked
    run(database.second, f"UPDATE counsellors SET active = false WHERE id = {ANNA}")
    with Session(database.first) as session:
        relocked = repository.lock_counsellor(session, ANNA)
        if database.backend == "postgresql":
            assert relocked is not None and relocked != locked
        calendar.load(session, NOW, version=relocked)
    assert calendar.cache.loads == 2  # the change was seen
    assert not any(cid == ANNA for cid, _, _ in slots(database.first, calendar))
    assert calendar.cache.loads == 2
