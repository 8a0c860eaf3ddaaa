"""The delivery dashboard's queries over 1,000,000 deliveries on PostgreSQL.

    python bench/dashboard_queries.py [--rows 1000000] [--runs 30] [--seed 7] [--keep]

Makes a fresh database lotse_bench_dashboard on 127.0.0.1:5432 (dropped after, unless --keep), migrates it with the
notifier's history, and fills a year (ending NOW) with `--rows` messages and one delivery each, written by
PostgreSQL itself (generate_series): 85 % delivered (2 s to 10 min after), 4 % sent, 1 % sending, 0.5 % queued,
5 % undelivered and 4.5 % failed with Twilio codes, ten languages. Then VACUUM ANALYZE, as autovacuum leaves a
table that stopped growing.

Times, for a day, a month and a year ending NOW, what the notifier runs for an answer (the queries and building the
contract model, no broker): the whole report (notifier.delivery_dashboard.build_report) and the first page of the
failed list (50 rows), `--runs` times each after a first run; prints the first run (for the report: the one that
counts the settled days into the day tables), p50/p95 in ms, and EXPLAIN (ANALYZE, BUFFERS) of every statement of
the slowest. The periods are asked day, month, year: each first run counts only the days the one before did
not. A figure, not a test. Target: p95 < 200 ms each.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "services" / "notifier")]

import psycopg  # noqa: E402
from notifier import delivery_dashboard, migrations  # noqa: E402
from sqlalchemy import Engine, event, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from shared.contracts import FailedDeliveriesRequested  # noqa: E402
from shared.db import make_engine  # noqa: E402

PG_DATABASE = "lotse_bench_dashboard"
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2030, 12, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.astimezone(BERLIN).date()
PERIODS = {"day": 1, "month": 30, "year": 365}

# One statement per table: a year of messages, then one delivery per message. Codes are drawn for the failed and
# undelivered ones only, as the provider gives them.
_FILL = """
SELECT setseed(:seed);
INSERT INTO reminders (key, booking_id, kind, language, due_at, not_after, status, attempts, created_at)
SELECT 'bench:' || n, NULL, (ARRAY['confirmation', 'reminder', 'reminder', 'rescheduled'])[1 + n % 4],
       (ARRAY['de', 'de', 'de', 'en', 'ro', 'bg', 'hu', 'pl', 'ru', 'uk', 'es', 'th'])[1 + (n * 7) % 12],
       at, at + interval '2 days', 'sent', 1, at
FROM (SELECT n, :now - (random() * interval '365 days') AS at FROM generate_series(1, :rows) AS n) AS m;
INSERT INTO deliveries (reminder_id, attempt, booking_id, ref, provider, status, provider_sid, error_code,
                        to_masked, segments, created_at, updated_at, requested_at, language, delivered_at)
SELECT id, 1, NULL, 'ref' || id, 'twilio', status, 'SM' || md5(id::text),
       CASE WHEN status IN ('failed', 'undelivered') THEN
            (ARRAY['30003', '30003', '30005', '30006', '30007', '30008', '30008', '21211', '21610', '21614',
                   '30001', '20003', '30002', '21606', '30034', '20429'])[1 + (id * 13) % 16] END,
       '+49151•••••678', 1, created_at, created_at, created_at, language,
       CASE WHEN status = 'delivered' THEN created_at + (2 + random() * 598) * interval '1 second' END
FROM (SELECT id, created_at, language,
             CASE WHEN r < 0.85 THEN 'delivered' WHEN r < 0.89 THEN 'sent' WHEN r < 0.90 THEN 'sending'
                  WHEN r < 0.905 THEN 'queued' WHEN r < 0.955 THEN 'undelivered' ELSE 'failed' END AS status
      FROM (SELECT id, created_at, language, random() AS r FROM reminders) AS x) AS d;
UPDATE reminders SET status = 'failed' WHERE id IN (SELECT reminder_id FROM deliveries
                                                    WHERE status IN ('failed', 'undelivered'));
"""


@contextmanager
def postgres(keep: bool) -> Iterator[Engine]:
    admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    engine = make_engine(f"postgresql://postgres@127.0.0.1:5432/{PG_DATABASE}")
    try:
        yield engine
    finally:
        engine.dispose()
        if not keep:
            admin.execute(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
        admin.close()


def fill(engine: Engine, rows: int, seed: int) -> None:
    started = time.perf_counter()
    with engine.begin() as connection:
        for statement in filter(str.strip, _FILL.split(";")):
            connection.execute(text(statement), {"seed": (seed % 1000) / 1000, "now": NOW, "rows": rows})
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        count = connection.execute(text("SELECT count(*) FROM deliveries")).scalar()
        size = connection.execute(text("SELECT pg_size_pretty(pg_total_relation_size('deliveries'))")).scalar()
    print(f"filled {count:,} deliveries ({size} with indexes) in {time.perf_counter() - started:.0f} s")


def timed(runs: int, work: Callable[[], object]) -> tuple[float, list[float]]:
    """The first run (it counts the settled days no report asked for before, and warms the cache), then `runs`."""
    started = time.perf_counter()
    work()
    first = (time.perf_counter() - started) * 1000
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return first, times


def p(times: list[float], q: int) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[q - 1]


def work(engine: Engine, what: str, first: date, end: date) -> Callable[[], object]:
    def report() -> object:
        with Session(engine) as session:
            return delivery_dashboard.build_report(session, first, end, BERLIN, NOW)

    def failed() -> object:
        asked = FailedDeliveriesRequested(date_from=first, date_to=end, limit=50,
                                          reply_to="gateway.replies.0123456789ab")
        with Session(engine) as session:
            return delivery_dashboard.list_failed(session, asked, BERLIN, NOW)

    return report if what == "report" else failed


def explain(engine: Engine, run: Callable[[], object]) -> None:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in seen:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            print("\n" + statement.strip())
            print("\n".join("    " + row[0] for row in cursor.fetchall()))
    finally:
        raw.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="leave the database for a look")
    args = parser.parse_args()
    with postgres(args.keep) as engine:
        migrations.upgrade(engine)
        fill(engine, args.rows, args.seed)
        results: dict[tuple[str, str], list[float]] = {}
        print(f"\n{'query':<8} {'period':<6} {'rows':>9} {'first ms':>9} {'p50 ms':>8} {'p95 ms':>8}")
        for what in ("report", "failed"):
            for period, days in PERIODS.items():
                end = TODAY + timedelta(days=1)
                first = end - timedelta(days=days)
                once, times = timed(args.runs, work(engine, what, first, end))
                results[(what, period)] = times
                with Session(engine) as session:
                    start, stop = delivery_dashboard.period(first, end, BERLIN)
                    rows = session.execute(text("SELECT count(*) FROM deliveries WHERE created_at >= :a AND "
                                                "created_at < :b"), {"a": start, "b": stop}).scalar()
                print(f"{what:<8} {period:<6} {rows:>9,} {once:>9.1f} {p(times, 50):>8.1f} {p(times, 95):>8.1f}")
        slowest = max(results, key=lambda k: p(results[k], 95))
        print(f"\nslowest: {slowest[0]} over a {slowest[1]}; its statements:")
        end = TODAY + timedelta(days=1)
        explain(engine, work(engine, slowest[0], end - timedelta(days=PERIODS[slowest[1]]), end))


if __name__ == "__main__":
    main()
