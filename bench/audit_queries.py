"""The staff audit log's queries over 1,000,000 rows on PostgreSQL (issue "Lotse 7/7": p95 < 200 ms each).

    python bench/audit_queries.py [--rows 1000000] [--runs 50] [--keep]

Makes a gateway database of its own on the machine's PostgreSQL (127.0.0.1:5432), brings it to head (the indexes
of migration 0007), fills it with `--rows` audit rows over 400 days (60 staff members, 50 calendars, 200,000
bookings, the mix of actions a counselling office makes: mostly calendar reads), ANALYZEs it, then times the
listing as the API runs it (gateway.staff.audit.AuditLog.page, 100 rows a page, a new random staff member, target
or week each run) for several filter shapes, first page and a page deep behind a cursor; and the CSV export of one
month (every row, formatted). Prints p50/p95 per shape and EXPLAIN (ANALYZE, BUFFERS) of the slowest. The database
is dropped afterwards (`--keep` leaves it, and says its name).

A figure, not a test.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "services" / "gateway")]

from gateway import migrations  # noqa: E402
from gateway.api.staff.audit import csv_chunks  # noqa: E402
from gateway.staff.audit import AuditLog  # noqa: E402
from gateway.staff.audit_repository import AuditFilter, Position  # noqa: E402
from sqlalchemy import Engine, event, text  # noqa: E402

from shared.db import make_engine  # noqa: E402
from tests.support import infra  # noqa: E402

END = datetime(2026, 12, 1, tzinfo=UTC)
DAYS = 400
STAFF, COUNSELLORS, BOOKINGS = 60, 50, 200_000
PAGE = 100
# (action, weight, target kind): what an office does in a year, by how often.
MIX = [("calendar_read", 40, "counsellor"), ("bookings_read", 18, "counsellor"), ("types_read", 5, None),
       ("sign_in", 8, None), ("sign_out", 6, None), ("sign_in_failed", 2, None), ("booking_attended", 6, "booking"),
       ("booking_moved", 5, "booking"), ("booking_cancelled", 3, "booking"), ("booking_no_show", 1, "booking"),
       ("exception_added", 2, "counsellor"), ("rules_replaced", 1, "counsellor"), ("feed_issued", 1, "counsellor"),
       ("password_changed", 1, "account"), ("accounts_read", 1, None)]


def fill(engine: Engine, rows: int) -> float:
    """`rows` rows in one INSERT … SELECT; ids rise with `at`, as they do when rows are written as things happen."""
    actions = [action for action, weight, _kind in MIX for _ in range(weight)]
    kinds = {action: kind for action, _weight, kind in MIX}
    kind_case = " ".join(f"WHEN '{action}' THEN {repr(kind) if kind else 'NULL'}" for action, kind in kinds.items())
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text(f"""
            INSERT INTO staff_audit (at, staff_id, username, action, target_kind, target_id, outcome, source,
                                     detail_json)
            SELECT at, staff, 'staff' || staff, action,
                   CASE action {kind_case} END,
                   CASE CASE action {kind_case} END
                       WHEN 'counsellor' THEN (1 + floor(random() * {COUNSELLORS}))::int::text
                       WHEN 'booking' THEN md5('b' || floor(random() * {BOOKINGS})::int)::uuid::text
                       WHEN 'account' THEN staff::text END,
                   CASE WHEN random() < 0.03 THEN 'refused' ELSE 'ok' END,
                   '10.' || (staff % 250) || '.0.' || (1 + floor(random() * 250))::int,
                   '{{"code":"x"}}'
            FROM (SELECT CAST(:start AS timestamptz)
                             + (g * (CAST(:span AS float8) / :rows)) * interval '1 second' AS at,
                         1 + floor(random() * {STAFF})::int AS staff,
                         (CAST(:actions AS text[]))[1 + floor(random() * :n_actions)::int] AS action
                  FROM generate_series(1, :rows) AS g) AS made
            ORDER BY at"""),
            {"start": END - timedelta(days=DAYS), "span": DAYS * 86400.0, "rows": rows, "actions": actions,
             "n_actions": len(actions)})
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE staff_audit"))
    return time.perf_counter() - started


class LastStatement:
    """The last SELECT the engine ran, with its parameters, to explain the slowest shape."""

    def __init__(self, engine: Engine) -> None:
        self.sql: str = ""
        self.parameters: Any = None

        @event.listens_for(engine, "before_cursor_execute")
        def _seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                self.sql, self.parameters = statement, parameters


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def deep_position(log: AuditLog, where: AuditFilter) -> Position | None:
    """A cursor about half-way down the filter's rows (as a reader who paged far would hold)."""
    rows, _ = log.page(where, None, 1)
    if not rows:
        return None
    # Half-way in time is near half-way in rows for every shape here: rows are spread evenly over the days.
    middle = rows[0].at - (rows[0].at - (END - timedelta(days=DAYS))) / 2
    found, _ = log.page(AuditFilter(**{**vars(where), "until": middle}), None, 1)
    return (found[0].at, found[0].id) if found and found[0].id is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    infra.ensure_infrastructure()
    databases = infra.create_databases("lotse_bench_audit")
    engine = make_engine(databases.gateway)
    try:
        migrations.upgrade(engine)
        took = fill(engine, args.rows)
        print(f"{args.rows:,} audit rows over {DAYS} days written and analysed in {took:.1f} s")
        log = AuditLog(engine)
        last = LastStatement(engine)
        rng = random.Random(7)

        def week() -> tuple[datetime, datetime]:
            start = END - timedelta(days=rng.uniform(7, DAYS))
            return start, start + timedelta(days=7)

        def booking() -> str:
            with engine.connect() as connection:
                return str(connection.execute(text("SELECT md5('b' || :n)::uuid::text"),
                                              {"n": rng.randrange(BOOKINGS)}).scalar_one())

        shapes: list[tuple[str, Callable[[], AuditFilter]]] = [
            ("everything", lambda: AuditFilter()),
            ("one staff member", lambda: AuditFilter(staff_id=rng.randint(1, STAFF))),
            ("one username", lambda: AuditFilter(username=f"staff{rng.randint(1, STAFF)}")),
            ("a common action", lambda: AuditFilter(action="calendar_read")),
            ("a rare action", lambda: AuditFilter(action="password_changed")),
            ("one booking", lambda: AuditFilter(target_kind="booking", target_id=booking())),
            ("one calendar", lambda: AuditFilter(target_kind="counsellor", target_id=str(rng.randint(1, 50)))),
            ("every booking target", lambda: AuditFilter(target_kind="booking")),
            ("a week", lambda: AuditFilter(since=(w := week())[0], until=w[1])),
            ("an action in a week", lambda: AuditFilter(action="booking_cancelled", since=(w := week())[0],
                                                        until=w[1])),
            ("staff member + rare action", lambda: AuditFilter(staff_id=rng.randint(1, STAFF),
                                                               action="password_changed")),
            ("calendar + action + month", lambda: AuditFilter(
                target_kind="counsellor", target_id=str(rng.randint(1, 50)), action="bookings_read",
                since=END - timedelta(days=60), until=END - timedelta(days=30))),
        ]
        results: list[tuple[str, float, float, str, Any]] = []
        print(f"\n{args.runs} runs each, {PAGE} rows a page; ms")
        print(f"{'shape':<30} {'page':<6} {'p50':>8} {'p95':>8} {'max':>8}")
        for name, make in shapes:
            for depth in ("first", "deep"):
                times: list[float] = []
                slowest, slowest_time = ("", None), -1.0
                log.page(make(), None, PAGE)  # untimed: the statement's first run compiles and prepares it
                for _ in range(args.runs):
                    where = make()
                    after = deep_position(log, where) if depth == "deep" else None
                    if depth == "deep" and after is None:
                        continue
                    started = time.perf_counter()
                    log.page(where, after, PAGE)
                    elapsed = (time.perf_counter() - started) * 1000
                    times.append(elapsed)
                    if elapsed > slowest_time:
                        slowest, slowest_time = (last.sql, last.parameters), elapsed
                if not times:
                    continue
                p50, p95 = percentile(times, 0.5), percentile(times, 0.95)
                print(f"{name:<30} {depth:<6} {p50:>8.1f} {p95:>8.1f} {max(times):>8.1f}")
                results.append((f"{name} ({depth} page)", p50, p95, *slowest))

        exports: list[float] = []
        first_bytes: list[float] = []
        counted = lines = 0
        for _ in range(max(3, args.runs // 5)):
            start = END - timedelta(days=rng.uniform(30, DAYS))
            started = time.perf_counter()
            counted = lines = 0
            for chunk in csv_chunks(log.every_row(AuditFilter(since=start, until=start + timedelta(days=30)))):
                if not counted:
                    first_bytes.append((time.perf_counter() - started) * 1000)
                counted += len(chunk)
                lines += chunk.count("\n")
            exports.append((time.perf_counter() - started) * 1000)
        print(f"{'CSV of one month: first bytes':<30} {'':<6} {percentile(first_bytes, 0.5):>8.1f} "
              f"{percentile(first_bytes, 0.95):>8.1f} {max(first_bytes):>8.1f}")
        print(f"{'CSV of one month: all':<30} {'':<6} {percentile(exports, 0.5):>8.1f} "
              f"{percentile(exports, 0.95):>8.1f} {max(exports):>8.1f}   ({lines - 1:,} rows, {counted // 1024:,} KB)")

        name, _p50, p95, sql, parameters = max(results, key=lambda result: result[2])
        print(f"\nslowest listing: {name}, p95 {p95:.1f} ms; its plan (the slowest run's parameters):")
        with engine.connect() as connection:
            cursor = connection.connection.cursor()
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, parameters)
            for (line,) in cursor.fetchall():
                print("   ", line)
    finally:
        engine.dispose()
        if args.keep:
            print(f"\nkept: {databases.gateway}")
        else:
            infra.drop_databases(databases)


if __name__ == "__main__":
    main()
