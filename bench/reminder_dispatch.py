"""Reminder dispatch benchmark on PostgreSQL + RabbitMQ against a local Twilio-compatible server.

    python bench/reminder_dispatch.py [--due 20000] [--rate 50] [--window 30] [--future 1000000]
                                      [--eta-tasks 50000] [--quick] [--keep]

Creates its own notifier database (lotse_bench_reminders, dropped and recreated) and RabbitMQ vhost
(lotse-bench-reminders), starts bench/twilio_recorder.py (answers like Twilio's Messages API, records each request)
and the notifier's worker and beat as processes (SMS_PROVIDER=twilio, TWILIO_API_BASE_URL at the recorder, no
quiet hours so the figures do not depend on the hour), seeds the notifier's tables directly (contacts sealed with
the notifier's cipher, confirmed booking facts, pending reminder rows), then:

a. --due reminders fall due at once (one UPDATE sets their due_at), rate limit off: sends/s (first to last
   provider request), lag from due time to provider request p50/p99, duplicates (a ref or a To+Body twice: must be
   0), and in the database: every reminder sent, one delivery each;
b. SMS_RATE_PER_SECOND=--rate with enough due rows for --window seconds: the achieved rate over the window and its
   per-second min/max;
c. the notifier worker's peak RSS with 1,000 and with --future reminders stored days ahead while the beat ticks,
   against a Celery worker (bench/eta_worker.py) holding --eta-tasks ETA tasks, measured in the same run.

Everything it created is removed at the end, also on Ctrl-C or an error. It never prints a phone number or a
message text. Environment variables the notifier reads (WORKER_CONCURRENCY, LOG_LEVEL) are passed through.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "bench", REPO / "services/notifier"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import httpx  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402
from notifier.app import DISPATCH_EVERY_SECONDS  # noqa: E402

from bench.booking_flow import log, percentile, rabbitmqctl  # noqa: E402
from shared.crypto import DataCipher, generate_data_key, new_token  # noqa: E402
from tests.support import infra  # noqa: E402
from tests.support.system import System, base_env, free_port  # noqa: E402

DB_NAME = "lotse_bench_reminders"
VHOST = "lotse-bench-reminders"
LANGUAGES = ("de", "en", "ro", "bg", "hu", "pl", "ru", "uk", "es", "th")
REMINDERS_PER_CONTACT = 1000  # (c): future rows share contacts, as a busy service's many bookings would
TARGET_SENDS_PER_SECOND = 300.0
RATE_TOLERANCE = 0.10
FLAT_TOLERANCE = 0.10  # (c): "flat" = peak RSS with the large store within 10 % of the small one
IDLE_SECONDS = 20.0  # (c): how long the beat ticks while the worker's memory is sampled
ACCOUNT_SID = "AC" + "b" * 32
_LINK = re.compile(r"/m/([A-Za-z0-9_-]+)")


def db_url() -> str:
    return f"postgresql://{infra.PG_USER}@{infra.PG_HOST}:{infra.PG_PORT}/{DB_NAME}"


def connect(url: str | None = None) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(url or db_url(), autocommit=True)


def admin() -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(host=infra.PG_HOST, port=infra.PG_PORT, user=infra.PG_USER, dbname="postgres",
                           autocommit=True)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


# --- the recording server ------------------------------------------------------------------------------------


class Recorder:
    """bench/twilio_recorder.py in a process of its own."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, str(REPO / "bench/twilio_recorder.py"), str(self.port)],
                                        start_new_session=True)
        self.http = httpx.Client(base_url=self.url, timeout=30)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.count()
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("the recording server did not start") from None
                time.sleep(0.1)

    def count(self) -> int:
        return int(self.http.get("/_bench/count").json())

    def records(self) -> list[tuple[float, str, str, str]]:
        rows = self.http.get("/_bench/records").json()
        return [(float(at), str(to), str(body), str(ref)) for at, to, body, ref in rows]

    def reset(self) -> None:
        self.http.post("/_bench/reset").raise_for_status()

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def stop(self) -> None:
        self.http.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)


def measure_recorder(recorder: Recorder, seconds: float) -> tuple[float, float]:
    """Requests/s through the official SDK with 8 threads (the notifier's way of sending), and the server's own
    CPU per request (its capacity per core is the inverse)."""
    from notifier.sms import BaseUrlHttpClient
    from twilio.rest import Client

    stop = time.monotonic() + seconds
    done = [0] * 8

    def work(slot: int) -> None:
        client = Client(ACCOUNT_SID, "bench", http_client=BaseUrlHttpClient(recorder.url, timeout=10))
        while time.monotonic() < stop:
            client.messages.create(to=f"+49170{slot:02d}{done[slot]:06d}", body="capacity check",
                                   from_="Termin", status_callback=f"{recorder.url}/status?d=cap")
            done[slot] += 1

    cpu_before, started = recorder.cpu_seconds(), time.monotonic()
    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, cpu = time.monotonic() - started, recorder.cpu_seconds() - cpu_before
    recorder.reset()
    total = sum(done)
    return total / wall, cpu * 1000 / max(1, total)


# --- memory ----------------------------------------------------------------------------------------------------


class PeakRss:
    """Samples the resident set of a process and its children every 0.1 s; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _rss(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return int(total)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._rss())
                self.samples += 1
            except psutil.Error:
                return
            self._stop.wait(0.1)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


# --- seeding ---------------------------------------------------------------------------------------------------


@dataclass
class Seeded:
    booking_ids: list[str]
    phone_of_token: dict[str, str]  # manage token → phone: the body's link must go to its own booking's phone


class Seeder:
    """Writes the notifier's rows directly, in bulk, the way its handlers would have left them, into this bench's
    notifier database or the one at `url` (bench/load.py seeds its own)."""

    def __init__(self, cipher: DataCipher, url: str | None = None, first_phone: int = 0) -> None:
        self.cipher = cipher
        self.url = url or db_url()
        self.next_phone = first_phone

    def bookings(self, n: int, starts_at: datetime) -> Seeded:
        from shared.contracts.contacts import manage_token_context, phone_context

        now = datetime.now(UTC)
        ids, phones = [], {}
        contacts: list[tuple[Any, ...]] = []
        facts: list[tuple[Any, ...]] = []
        for i in range(n):
            booking = uuid.uuid4()
            phone = f"+49151{self.next_phone % 10**8:08d}"
            self.next_phone += 1
            token = new_token()
            language = LANGUAGES[i % len(LANGUAGES)]
            ids.append(str(booking))
            phones[token] = phone
            contacts.append((str(booking), self.cipher.encrypt(phone, phone_context(booking)),
                             self.cipher.lookup_hash(phone), self.cipher.encrypt(token, manage_token_context(booking)),
                             language, True, now, starts_at + timedelta(days=14)))
            facts.append((str(booking), starts_at, f"Beratung {i % 40 + 1}", language, "confirmed", "[1440, 120]", 0))
        with connect(self.url) as connection, connection.cursor() as cursor:
            with cursor.copy("COPY contacts (booking_id, phone_ciphertext, phone_hash, manage_token_ciphertext, "
                             "language, reminders, created_at, purge_after) FROM STDIN") as copy:
                for row in contacts:
                    copy.write_row(row)
            with cursor.copy("COPY booking_facts (booking_id, starts_at, place_alias, language, status, "
                             "reminder_offsets, generation) FROM STDIN") as copy:
                for row in facts:
                    copy.write_row(row)
        return Seeded(ids, phones)

    def one_reminder_each(self, tag: str, booking_ids: Iterable[str], due_at: datetime, not_after: datetime) -> None:
        """One pending 'reminder' row per booking, in the booking's language (from its facts)."""
        now = datetime.now(UTC)
        with connect(self.url) as connection, connection.cursor() as cursor:
            languages = dict(cursor.execute("SELECT booking_id, language FROM booking_facts").fetchall())
            with cursor.copy("COPY reminders (key, booking_id, kind, language, due_at, not_after, status, attempts, "
                             "created_at) FROM STDIN") as copy:
                for booking in booking_ids:
                    copy.write_row((f"{tag}:{booking}:g0:1440", booking, "reminder", languages[booking], due_at,
                                    not_after, "pending", 0, now))
            cursor.execute("ANALYZE reminders")

    def future(self, tag: str, booking_ids: list[str], n: int, first_due: datetime) -> None:
        """n pending reminders spread over the 60 days after first_due, sharing the given bookings."""
        with connect(self.url) as connection:
            connection.execute(
                """
                INSERT INTO reminders (key, booking_id, kind, language, due_at, not_after, status, attempts,
                                       created_at)
                SELECT %(tag)s || ':' || g, (%(ids)s::text[])[1 + g %% cardinality(%(ids)s::text[])], 'reminder',
                       'de', %(first)s + (g %% 86400) * interval '1 minute',
                       %(first)s + (g %% 86400) * interval '1 minute' + interval '22 hours', 'pending', 0, now()
                FROM generate_series(1, %(n)s) AS g
                """,
                {"tag": tag, "ids": booking_ids, "first": first_due, "n": n})
            connection.execute("ANALYZE reminders")


def make_due(tag: str) -> float:
    """Every pending reminder of the tag falls due now, in one transaction; returns that due time (epoch s)."""
    due = time.time()
    with connect() as connection:
        connection.execute("UPDATE reminders SET due_at = %s WHERE key LIKE %s AND status = 'pending'",
                           (datetime.fromtimestamp(due, UTC), f"{tag}:%"))
    return due


def status_counts(tag: str) -> dict[str, int]:
    with connect() as connection:
        rows = connection.execute("SELECT status, count(*) FROM reminders WHERE key LIKE %s GROUP BY status",
                                  (f"{tag}:%",)).fetchall()
    return {str(s): int(c) for s, c in rows}


def delivery_check(tag: str) -> tuple[int, int, set[str]]:
    """(reminders with no delivery, reminders with more than one, the refs of the tag's deliveries)."""
    with connect() as connection:
        rows = connection.execute(
            "SELECT r.id, count(d.id), array_agg(d.ref) FROM reminders r LEFT JOIN deliveries d ON d.reminder_id = "
            "r.id WHERE r.key LIKE %s GROUP BY r.id", (f"{tag}:%",)).fetchall()
    none = sum(1 for _, count, _ in rows if count == 0)
    many = sum(1 for _, count, _ in rows if count > 1)
    refs = {ref for _, _, found in rows for ref in found if ref}
    return none, many, refs


# --- the notifier ----------------------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    var_dir: Path
    broker_url: str
    recorder: Recorder
    seeder: Seeder
    data_key: str
    results: dict[str, Any] = field(default_factory=dict)
    warmups: int = 0

    def env(self, rate: float) -> dict[str, str]:
        return base_env(self.var_dir, free_port(), {
            "NOTIFIER_DATABASE_URL": db_url(),
            "BROKER_URL": self.broker_url,
            "DATA_KEY": self.data_key,
            "SMS_PROVIDER": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": "bench-token",
            "TWILIO_FROM": "Termin",
            "TWILIO_API_BASE_URL": self.recorder.url,
            "SMS_RATE_PER_SECOND": f"{rate:g}",
            "QUIET_HOURS_START": "00:00",  # equal start and end: no quiet hours, whatever the hour of the run
            "QUIET_HOURS_END": "00:00",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        })

    def start_notifier(self, rate: float, workers: int = 1) -> System:
        """Worker(s) and beat; returns once a message due now has reached the recorder (the path is warm)."""
        self.warmups += 1
        warm = self.seeder.bookings(1, datetime.now(UTC) + timedelta(days=1))
        now = datetime.now(UTC)
        self.seeder.one_reminder_each(f"warm{self.warmups}", warm.booking_ids, now, now + timedelta(hours=2))
        system = System(self.env(rate), self.var_dir)
        system.start("notifier", *[f"notifier#{i}" for i in range(2, workers + 1)], "notifier-beat")
        deadline = time.monotonic() + 120
        while self.recorder.count() < 1:
            for role, process in system.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{role} exited with {process.returncode}:\n{system.log(role)[-3000:]}")
            if time.monotonic() > deadline:
                system.stop()
                raise RuntimeError("the notifier sent nothing within 120 s:\n" + system.log("notifier")[-3000:])
            time.sleep(0.2)
        self.recorder.reset()
        return system

    def worker_pid(self, system: System) -> int:
        return system.processes["notifier"].pid

    def worker_pids(self, system: System) -> list[int]:
        return [process.pid for role, process in system.processes.items() if role.startswith("notifier") and
                role != "notifier-beat"]


def broker_outages(system: System) -> int:
    """How often the notifier's worker lost RabbitMQ (other work on this machine may restart it): the figures of
    a phase with an outage include it."""
    return system.log("notifier").count("Connection to broker lost")


def cpu_of(pid: int) -> float:
    try:
        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system + times.children_user + times.children_system)
    except psutil.Error:
        return 0.0


def wait_for_sends(bench: Bench, want: int, stall_seconds: float, tag: str) -> None:
    """Until the recorder has `want` requests and none of the tag's rows is still being sent, or nothing moved
    for stall_seconds."""
    last_count, last_change = -1, time.monotonic()
    while True:
        count = bench.recorder.count()
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        if count >= want and status_counts(tag).get("sending", 0) == 0:
            return
        if time.monotonic() - last_change > stall_seconds:
            log(f"no progress for {stall_seconds:.0f} s at {count} of {want} requests; going on")
            return
        time.sleep(0.5)


def check_records(records: list[tuple[float, str, str, str]], seeded: Seeded, refs: set[str]) -> dict[str, int]:
    by_ref = Counter(ref for _, _, _, ref in records)
    by_text = Counter((to, body) for _, to, body, _ in records)
    wrong = 0
    for _, to, body, _ in records:
        match = _LINK.search(body)
        if match is None or seeded.phone_of_token.get(match.group(1)) != to:
            wrong += 1
    return {"duplicate_refs": sum(c - 1 for c in by_ref.values() if c > 1),
            "duplicate_texts": sum(c - 1 for c in by_text.values() if c > 1),
            "wrong_recipient": wrong,
            "unknown_refs": sum(1 for ref in by_ref if ref not in refs)}


# --- (a) burst -------------------------------------------------------------------------------------------------


def burst(bench: Bench) -> None:
    n = bench.args.due
    log(f"(a) seeding {n} bookings with one reminder each")
    started = time.monotonic()
    seeded = bench.seeder.bookings(n, datetime.now(UTC) + timedelta(days=1))
    later = datetime.now(UTC) + timedelta(days=10)
    bench.seeder.one_reminder_each("a", seeded.booking_ids, later, later + timedelta(hours=22))
    log(f"(a) seeded in {time.monotonic() - started:.1f} s; starting the notifier (rate limit off)")
    system = bench.start_notifier(rate=0, workers=bench.args.workers)
    outages_before = broker_outages(system)  # the log file is shared by every phase
    try:
        pid = bench.worker_pid(system)
        pids = bench.worker_pids(system)
        rss = PeakRss(pid)
        load_before = load()
        cpu_before, pg_before, server_before = sum(map(cpu_of, pids)), postgres_cpu(), bench.recorder.cpu_seconds()
        due = make_due("a")
        log(f"(a) {n} reminders due at once; waiting for the sends")
        wait_for_sends(bench, n, 60, "a")
        cpu = sum(map(cpu_of, pids)) - cpu_before
        pg_cpu = postgres_cpu() - pg_before
        server_cpu = bench.recorder.cpu_seconds() - server_before
        peak = rss.stop()
        load_after = load()
    finally:
        system.stop()
    outages = broker_outages(system) - outages_before
    records = bench.recorder.records()
    bench.recorder.reset()
    statuses = status_counts("a")
    without, several, refs = delivery_check("a")
    checks = check_records(records, seeded, refs)
    times = sorted(at for at, _, _, _ in records)
    lags = [(at - due) * 1000 for at in times]
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    bench.results["a"] = {
        "n": n, "workers": bench.args.workers, "requests": len(records), "span": span,
        "rate": (len(times) - 1) / span if span > 0 else 0.0,
        "lag_p50": percentile(lags, 50) if lags else float("nan"),
        "lag_p99": percentile(lags, 99) if lags else float("nan"),
        "first_lag": lags[0] if lags else float("nan"),
        "sent": statuses.get("sent", 0), "statuses": statuses, "without_delivery": without,
        "several_deliveries": several, "missing": len(refs - {r for _, _, _, r in records}),
        "cpu_ms": cpu * 1000 / max(1, len(records)), "pg_cpu_ms": pg_cpu * 1000 / max(1, len(records)),
        "server_cpu_ms": server_cpu * 1000 / max(1, len(records)),
        "peak_rss": peak, "load": (load_before, load_after), "outages": outages, **checks,
    }


def postgres_cpu() -> float:
    total = 0.0
    for process in psutil.process_iter(["name"]):
        if (process.info["name"] or "").startswith("postgres"):
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
    return total


# --- (b) paced -------------------------------------------------------------------------------------------------


def paced(bench: Bench) -> None:
    rate, window = bench.args.rate, bench.args.window
    n = int(rate * (window + 3))
    log(f"(b) seeding {n} bookings with one reminder each")
    seeded = bench.seeder.bookings(n, datetime.now(UTC) + timedelta(days=1))
    later = datetime.now(UTC) + timedelta(days=10)
    bench.seeder.one_reminder_each("b", seeded.booking_ids, later, later + timedelta(hours=22))
    log(f"(b) starting the notifier with SMS_RATE_PER_SECOND={rate:g}")
    system = bench.start_notifier(rate=rate, workers=bench.args.workers)
    outages_before = broker_outages(system)
    try:
        load_before = load()
        due = make_due("b")
        log(f"(b) {n} reminders due at once; sending at {rate:g}/s takes about {n / rate:.0f} s")
        wait_for_sends(bench, n, 30, "b")
        load_after = load()
    finally:
        system.stop()
    outages = broker_outages(system) - outages_before
    records = bench.recorder.records()
    bench.recorder.reset()
    _, several, refs = delivery_check("b")
    checks = check_records(records, seeded, refs)
    times = sorted(at for at, _, _, _ in records)
    first = times[0] if times else due
    in_window = [t for t in times if first <= t < first + window]
    per_second = Counter(int(t - first) for t in in_window)
    seconds = [per_second.get(s, 0) for s in range(int(window))]
    achieved = len(in_window) / window
    # Pauses longer than 1.5 send intervals: where the pacing lost time (claiming and recording between batches,
    # the wait for the next beat tick), not made up afterwards.
    interval = 1 / rate
    pauses = [later - earlier for earlier, later in pairwise(in_window)
              if later - earlier > 1.5 * interval]
    bench.results["b"] = {
        "rate": rate, "workers": bench.args.workers, "window": window, "n": n, "requests": len(records),
        "achieved": achieved,
        "min": min(seconds) if seconds else 0, "max": max(seconds) if seconds else 0,
        "pauses": len(pauses), "lost": sum(p - interval for p in pauses),
        "longest_pause": max(pauses, default=0.0),
        "start_lag": (first - due) * 1000, "several_deliveries": several, "load": (load_before, load_after),
        "outages": outages, **checks,
    }


# --- (c) memory --------------------------------------------------------------------------------------------------


def idle_peak(bench: Bench, label: str) -> int:
    """Peak RSS of a fresh notifier worker while the beat ticks for IDLE_SECONDS."""
    system = bench.start_notifier(rate=0)
    try:
        pid = bench.worker_pid(system)
        rss = PeakRss(pid)
        time.sleep(IDLE_SECONDS)
        peak = rss.stop()
    finally:
        system.stop()
    log(f"(c) {label}: peak RSS {mib(peak)} over {IDLE_SECONDS:.0f} s")
    return peak


def memory(bench: Bench) -> None:
    future = bench.args.future
    small = 1000
    with connect() as connection:
        connection.execute("TRUNCATE deliveries, reminders, contacts, booking_facts")
    first_due = datetime.now(UTC) + timedelta(days=2)
    shared = bench.seeder.bookings(max(1, future // REMINDERS_PER_CONTACT), first_due + timedelta(days=61))
    bench.seeder.future("c", shared.booking_ids[:1], small, first_due)
    log(f"(c) {small} future reminders stored; notifier worker with the beat ticking for {IDLE_SECONDS:.0f} s")
    small_peak = idle_peak(bench, f"{small} future reminders")
    started = time.monotonic()
    log(f"(c) storing {future - small} more future reminders ({len(shared.booking_ids)} contacts)")
    bench.seeder.future("c2", shared.booking_ids, future - small, first_due)
    seeded_in = time.monotonic() - started
    with connect() as connection:
        row = connection.execute("SELECT count(*) FROM reminders WHERE status = 'pending'").fetchone()
    stored = int(row[0]) if row else 0
    log(f"(c) {stored} pending reminders stored ({seeded_in:.1f} s); notifier worker again")
    large_peak = idle_peak(bench, f"{stored} future reminders")
    eta = celery_eta_peak(bench)
    bench.results["c"] = {"small": small, "small_peak": small_peak, "future": stored, "large_peak": large_peak,
                          "seed_seconds": seeded_in, **eta}


def queue_counts(queue: str) -> tuple[int, int, int] | None:
    """(ready, unacknowledged, consumers) of a queue of the bench vhost, or None if it does not exist yet."""
    listed = subprocess.run(["rabbitmqctl", "list_queues", "-p", VHOST, "-q", "--no-table-headers", "name",
                             "messages_ready", "messages_unacknowledged", "consumers"],
                            capture_output=True, text=True, timeout=60)
    for line in listed.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == queue and all(p.isdigit() for p in parts[1:]):
            return int(parts[1]), int(parts[2]), int(parts[3])
    return None


def celery_eta_peak(bench: Bench) -> dict[str, Any]:
    """A Celery worker on the same vhost receives --eta-tasks tasks due in a day; its peak RSS once it holds them."""
    import eta_worker

    n = bench.args.eta_tasks
    env = {**os.environ, "BENCH_ETA_BROKER": bench.broker_url}
    handle = (bench.var_dir / "logs" / "eta-worker.log").open("ab")
    process = subprocess.Popen([sys.executable, str(REPO / "bench/eta_worker.py")], env=env, cwd=REPO,
                               stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while (counts := queue_counts(eta_worker.QUEUE)) is None or counts[2] < 1:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the Celery ETA worker did not start: see eta-worker.log")
            time.sleep(0.5)
        rss = PeakRss(process.pid)
        time.sleep(3)
        idle = rss.peak
        log(f"(c) Celery worker idle at {mib(idle)}; publishing {n} ETA tasks due in a day")
        app = eta_worker.app
        app.conf.broker_url = bench.broker_url
        eta = datetime.now(UTC) + timedelta(days=1)
        started = time.monotonic()
        with app.producer_or_acquire() as producer:
            for i in range(n):
                app.send_task(eta_worker.TASK, args=(str(uuid.uuid4()), "reminder", LANGUAGES[i % len(LANGUAGES)]),
                              eta=eta + timedelta(seconds=i), queue=eta_worker.QUEUE, producer=producer)
        published = time.monotonic() - started
        log(f"(c) published in {published:.1f} s; waiting until the worker holds them")
        deadline = time.monotonic() + 300
        held = 0
        while time.monotonic() < deadline:
            counts = queue_counts(eta_worker.QUEUE)
            held = counts[1] if counts else 0
            if counts and counts[0] == 0 and held >= n:
                break
            time.sleep(1)
        time.sleep(3)  # let the last ones settle into the worker's timer before the final samples
        peak = rss.stop()
        log(f"(c) Celery worker holds {held} ETA tasks; peak RSS {mib(peak)}")
        return {"eta_tasks": n, "eta_held": held, "eta_idle": idle, "eta_peak": peak, "eta_publish_s": published}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        handle.close()


# --- report ------------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(bench: Bench, capacity: tuple[float, float], load_start: str) -> bool:
    ok = True
    print()
    print(f"reminder dispatch, PostgreSQL + RabbitMQ + local Twilio-compatible server, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, WORKER_CONCURRENCY={os.environ.get('WORKER_CONCURRENCY', 'default')}")
    print(f"  load average 1/5/15 min at start   {load_start}")
    rate, server_ms = capacity
    print(f"  recording server                   {rate:7.1f} requests/s through the twilio SDK, 8 threads "
          f"(server CPU {server_ms:.2f} ms/request: ~{1000 / max(server_ms, 1e-9):.0f}/s per core)")
    if a := bench.results.get("a"):
        print(f"  (a) {a['n']} reminders due at once, rate limit off, {a['workers']} notifier worker(s) "
              f"(load {a['load'][0]} before, "
              f"{a['load'][1]} after)")
        met = a["rate"] >= TARGET_SENDS_PER_SECOND
        clean = (a["duplicate_refs"] == 0 and a["duplicate_texts"] == 0 and a["wrong_recipient"] == 0
                 and a["sent"] == a["n"] and a["several_deliveries"] == 0 and a["without_delivery"] == 0
                 and a["requests"] == a["n"])
        ok = ok and met and clean
        print(f"    sends/s (first to last request)  {a['rate']:7.1f}   {a['requests']} requests in {a['span']:.1f} s"
              f"   target >= {TARGET_SENDS_PER_SECOND:.0f}: {verdict(met)}")
        print(f"    lag due -> request p50 / p99     {a['lag_p50']:7.0f} / {a['lag_p99']:.0f} ms   "
              f"(first request {a['first_lag']:.0f} ms after due; the beat ticks every "
              f"{DISPATCH_EVERY_SECONDS:g} s)")
        print(f"    duplicates: same ref / To+Body   {a['duplicate_refs']} / {a['duplicate_texts']}   "
              f"link to another booking's phone: {a['wrong_recipient']}   must be 0: "
              f"{verdict(a['duplicate_refs'] == 0 and a['duplicate_texts'] == 0 and a['wrong_recipient'] == 0)}")
        print(f"    database                         sent {a['sent']}/{a['n']} {dict(a['statuses'])}; reminders "
              f"without a delivery {a['without_delivery']}, with more than one {a['several_deliveries']}; "
              f"delivery refs never requested {a['missing']}: {verdict(clean)}")
        if a["outages"]:
            print(f"    !! the notifier lost RabbitMQ {a['outages']}x during (a) (restarted by other work?)")
        print(f"    CPU per message                  notifier {a['cpu_ms']:.2f} ms, PostgreSQL {a['pg_cpu_ms']:.2f} "
              f"ms, recording server {a['server_cpu_ms']:.2f} ms; notifier peak RSS {mib(a['peak_rss'])}")
    if b := bench.results.get("b"):
        low, high = b["rate"] * (1 - RATE_TOLERANCE), b["rate"] * (1 + RATE_TOLERANCE)
        met = low <= b["achieved"] <= high
        clean = b["duplicate_refs"] == 0 and b["duplicate_texts"] == 0 and b["wrong_recipient"] == 0
        ok = ok and met and clean
        print(f"  (b) SMS_RATE_PER_SECOND={b['rate']:g}, {b['n']} due at once, {b['workers']} notifier worker(s) "
              f"(load {b['load'][0]} before, "
              f"{b['load'][1]} after)")
        print(f"    achieved over {b['window']:.0f} s              {b['achieved']:7.1f}/s   per second min {b['min']} "
              f"max {b['max']}   target {low:.0f}-{high:.0f}/s: {verdict(met)}")
        print(f"    pauses > 1.5 send intervals      {b['pauses']:7d}   {b['lost']:.2f} s lost in the window, "
              f"longest {b['longest_pause'] * 1000:.0f} ms (claiming/recording between batches, waiting for a tick)")
        if b["outages"]:
            print(f"    !! the notifier lost RabbitMQ {b['outages']}x during (b) (restarted by other work?)")
        print(f"    first request after due          {b['start_lag']:7.0f} ms;   duplicates {b['duplicate_refs']} / "
              f"{b['duplicate_texts']}, wrong recipient {b['wrong_recipient']}: {verdict(clean)}")
    if c := bench.results.get("c"):
        growth = c["large_peak"] / max(1, c["small_peak"]) - 1
        flat = growth <= FLAT_TOLERANCE
        ok = ok and flat
        print(f"  (c) memory, beat ticking {IDLE_SECONDS:.0f} s, fresh worker each")
        print(f"    notifier, {c['small']:>9} future reminders {mib(c['small_peak']):>12} peak RSS")
        print(f"    notifier, {c['future']:>9} future reminders {mib(c['large_peak']):>12} peak RSS   "
              f"{growth * 100:+.1f} %   flat (within {FLAT_TOLERANCE * 100:.0f} %): {verdict(flat)}   "
              f"(stored in {c['seed_seconds']:.0f} s)")
        per_task = (c["eta_peak"] - c["eta_idle"]) / max(1, c["eta_held"])
        print(f"    Celery worker, {c['eta_held']:>5} ETA tasks held {mib(c['eta_peak']):>12} peak RSS   "
              f"(idle {mib(c['eta_idle'])}, ~{per_task / 1024:.1f} KiB per task; published in "
              f"{c['eta_publish_s']:.1f} s)")
        print(f"    Celery ({c['eta_held']} ETA) / notifier ({c['future']} rows)   "
              f"{c['eta_peak'] / max(1, c['large_peak']):.1f}x")
        if c["eta_held"] < c["eta_tasks"]:
            print(f"    !! the Celery worker held only {c['eta_held']} of {c['eta_tasks']} tasks within the wait")
    print(f"  load average 1/5/15 min at the end {load()}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--due", type=int, default=20000, help="(a) reminders due at once (default 20000)")
    parser.add_argument("--rate", type=float, default=50.0, help="(b) SMS_RATE_PER_SECOND (default 50)")
    parser.add_argument("--window", type=float, default=30.0, help="(b) seconds measured (default 30)")
    parser.add_argument("--future", type=int, default=1_000_000, help="(c) future reminders (default 1000000)")
    parser.add_argument("--eta-tasks", type=int, default=50_000, help="(c) Celery ETA tasks (default 50000)")
    parser.add_argument("--workers", type=int, default=2,
                        help="(a), (b) notifier worker processes (default 2, as docker-compose.yml runs them; "
                             "without a rate limit they send side by side, with it the limit holds for all)")
    parser.add_argument("--quick", action="store_true", help="sanity run: 2000 / 10 s / 100000 / 5000")
    parser.add_argument("--only", choices=["a", "b", "c"], action="append", help="run only these parts")
    parser.add_argument("--keep", action="store_true", help="keep the var dir with the roles' logs")
    args = parser.parse_args()
    if args.quick:
        args.due, args.window, args.future, args.eta_tasks = 2000, 10.0, 100_000, 5000
    if args.due < 2 or args.rate <= 0 or args.window < 1 or args.future < 2000 or args.eta_tasks < 1:
        parser.error("--due >= 2, --rate > 0, --window >= 1, --future >= 2000 and --eta-tasks >= 1, please")
    parts = args.only or ["a", "b", "c"]

    def terminate(_sig: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    infra.ensure_infrastructure()
    load_start = load()
    var_dir = Path(tempfile.mkdtemp(prefix="lotse-bench-reminders-"))
    recorder: Recorder | None = None
    ok = False
    try:
        with admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{DB_NAME}"')
        rabbitmqctl("delete_vhost", VHOST, check=False)
        rabbitmqctl("add_vhost", VHOST)
        rabbitmqctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
        recorder = Recorder()
        capacity = measure_recorder(recorder, 3.0)
        log(f"recording server: {capacity[0]:.0f} requests/s through the SDK; {capacity[1]:.2f} ms CPU/request")
        data_key = generate_data_key()
        bench = Bench(args, var_dir, infra.amqp_url(VHOST), recorder, Seeder(DataCipher.from_text(data_key)),
                      data_key)
        subprocess.run([sys.executable, "-m", "notifier", "init"], env=bench.env(0), check=True, cwd=REPO)
        for part, run in (("a", burst), ("b", paced), ("c", memory)):
            if part in parts:
                run(bench)
        ok = report(bench, capacity, load_start)
        print(json.dumps({"results": bench.results}, default=str), file=sys.stderr)
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        if recorder is not None:
            recorder.stop()
        with admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        rabbitmqctl("delete_vhost", VHOST, check=False)
        if args.keep:
            log(f"logs kept in {var_dir / 'logs'}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
