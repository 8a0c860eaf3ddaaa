"""Load benchmark: a morning rush on RabbitMQ + PostgreSQL, with the dispatcher busy and one abusive client.

    python bench/load.py [--seconds 300] [--users-per-second 2] [--max-users 150] [--abuser-tabs 4]
                         [--reminders-per-second 2] [--sms-rate R] [--seed 20261205] [--keep]

Creates its own databases (lotse_load_gateway/scheduler/notifier, dropped and recreated) and RabbitMQ vhost
(lotse-load), starts bench/twilio_recorder.py and the roles as bench/booking_flow.py does (scheduler with 8
threads, two notifier workers, beat, gateway; tests/support/system.py) with SMS_PROVIDER=twilio pointed at the
recorder, seeds the booking bench's calendar, and seeds reminders that fall due one after another during the run
(--reminders-per-second), so the dispatcher works while the clients do. Then, for --seconds:

- well-behaved clients arrive at random (Poisson), at a rate that rises from a fifth of --users-per-second to all
  of it over the first quarter of the run (the morning rush), at most --max-users at a time. Each is a person with
  an address (127.1.x.y) and a phone number of their own, and thinks 1-4 s between steps. A new visitor opens the
  booking page, searches 2-5 times (GET /v1/slots), books one of the slots found with probability 0.35, then
  checks the booking (GET /v1/bookings/{token}, once a second until decided) and opens the manage page
  (/m/{token}); 30 % of visitors come back to an earlier booking instead (manage page, status, 1 in 10 cancels);
- one abusive client (unless --abuser-tabs 0): one address (127.0.0.9), one phone number, --abuser-tabs requests
  in flight without any pause, mixing slot searches, bookings, and cancel-then-rebook of its own bookings.

It prints throughput, p50/p99 per endpoint and client class, the error rate per class (any answer >= 400 or no
answer; target 0 % for well-behaved clients) and the abuser's status-code counts (429 once abuse limits exist),
what the well-behaved bookings became, the SMS sent meanwhile and how late after falling due, and each role's
resident memory at the start and the end of the load (and its peak, sampled every second) and its CPU.

The choices of every client come from --seed, so runs are comparable; what the system answers is not
deterministic (which slot is still free depends on timing). Everything it created is removed at the end, also on
Ctrl-C or an error. It never prints a phone number or a message text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402

from bench.booking_flow import (  # noqa: E402
    SEARCH_DAYS,
    ZONE,
    cpu_between,
    cpu_seconds,
    db_url,
    drop_databases,
    http_session,
    log,
    percentile,
    phone,
    rabbitmqctl,
    start_roles,
)
from bench.reminder_dispatch import ACCOUNT_SID, Recorder, Seeder  # noqa: E402
from shared.crypto import DataCipher  # noqa: E402
from tests.support import infra  # noqa: E402
from tests.support.system import System  # noqa: E402

DB_NAMES = {role: f"lotse_load_{role}" for role in ("gateway", "scheduler", "notifier")}
VHOST = "lotse-load"
ABUSER_ADDRESS = "127.0.0.9"
ABUSER_PHONE = "+4915199999999"
SEEDED_PHONES_FROM = 50_000_000  # the seeded reminders' contacts; the well-behaved clients count up from 1
# Languages of the well-behaved clients, roughly as a German city's advice service sees them.
LANGUAGES = ("de", "en", "ru", "uk", "ro", "bg", "pl", "hu", "es", "th")
LANGUAGE_WEIGHTS = (55, 10, 8, 8, 5, 4, 4, 2, 2, 2)
BOOK_PROBABILITY = 0.35
RETURNING_PROBABILITY = 0.30
CANCEL_PROBABILITY = 0.10
STATUS_POLLS = 10
THINK_SECONDS = (1.0, 4.0)
WELL, ABUSER = "well-behaved", "abuser"
# Endpoint names as printed (path parameters as templates).
PAGE, SEARCH, BOOK, STATUS, MANAGE, CANCEL = ("GET /", "GET /v1/slots", "POST /v1/bookings",
                                              "GET /v1/bookings/{token}", "GET /m/{token}",
                                              "POST /v1/bookings/{token}/cancel")
ENDPOINTS = (PAGE, SEARCH, BOOK, STATUS, MANAGE, CANCEL)


# --- what the clients saw -------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Every request the clients made: (class, endpoint, sent at, latency in ms, HTTP status or 0 for no answer)."""

    samples: list[tuple[str, str, float, float, int]] = field(default_factory=list)
    failures: Counter[tuple[str, str]] = field(default_factory=Counter)  # (class, exception name) without answer
    decisions: Counter[str] = field(default_factory=Counter)  # what well-behaved bookings became
    sessions: Counter[str] = field(default_factory=Counter)
    arrivals_waited: int = 0  # arrivals that found --max-users clients busy and waited for one to leave

    def add(self, cls: str, endpoint: str, sent: float, status: int, error: str | None = None) -> None:
        self.samples.append((cls, endpoint, sent, (time.monotonic() - sent) * 1000, status))
        if error is not None:
            self.failures[cls, error] += 1


async def call(tally: Tally, client: aiohttp.ClientSession, cls: str, endpoint: str, method: str, path: str,
               **kwargs: Any) -> tuple[int, bytes]:
    """One request, timed from sending to the last byte of the answer; (status, body), (0, b"") without answer."""
    sent = time.monotonic()
    try:
        async with client.request(method, path, allow_redirects=False, **kwargs) as response:
            body = await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.add(cls, endpoint, sent, 0, type(exc).__name__)
        return 0, b""
    tally.add(cls, endpoint, sent, response.status)
    return response.status, body


def user_address(i: int) -> str:
    return f"127.1.{i // 250 % 250}.{i % 250 + 1}"


@dataclass
class Owner:
    """A well-behaved client who booked: comes back later from the same address."""

    index: int
    token: str
    language: str


@dataclass
class Load:
    base_url: str
    seconds: float
    users_per_second: float
    max_users: int
    abuser_tabs: int
    seed: int
    tally: Tally = field(default_factory=Tally)
    owners: list[Owner] = field(default_factory=list)
    abuser_bookings: set[str] = field(default_factory=set)  # booking ids: which texts went to the abuser's number
    started: float = 0.0
    end: float = 0.0

    def open(self) -> bool:
        return time.monotonic() < self.end

    async def think(self, rng: random.Random) -> bool:
        """A person's pause between two steps; False when the run is over meanwhile."""
        await asyncio.sleep(rng.uniform(*THINK_SECONDS))
        return self.open()

    # -- well-behaved ------------------------------------------------------------------------------------------

    async def visitor(self, i: int) -> None:
        rng = random.Random(f"{self.seed}:user:{i}")
        if self.owners and rng.random() < RETURNING_PROBABILITY:
            owner = self.owners[rng.randrange(len(self.owners))]
            self.tally.sessions["returning"] += 1
            async with http_session(self.base_url, 2, user_address(owner.index)) as client:
                await self.returning(client, rng, owner)
            return
        self.tally.sessions["new"] += 1
        async with http_session(self.base_url, 2, user_address(i)) as client:
            await self.new_visitor(client, rng, i)

    async def new_visitor(self, client: aiohttp.ClientSession, rng: random.Random, i: int) -> None:
        tally = self.tally
        language = rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0]
        await call(tally, client, WELL, PAGE, "GET", "/", params={"lang": language})
        today = datetime.now(ZONE).date()
        found: list[dict[str, Any]] = []
        for _ in range(rng.randint(2, 5)):
            if not await self.think(rng):
                return
            first: date = today + timedelta(days=rng.randint(1, 21))
            last = first + timedelta(days=rng.choice((0, 0, 2, 6)))
            status, body = await call(tally, client, WELL, SEARCH, "GET", "/v1/slots", params={
                "language": language, "topic": "career", "from": first.isoformat(), "to": last.isoformat()})
            if status == 200:
                found = json.loads(body)["slots"] or found
        if not found or rng.random() >= BOOK_PROBABILITY or not await self.think(rng):
            return
        slot = found[rng.randrange(min(20, len(found)))]  # one of the first results, as people pick
        status, body = await call(tally, client, WELL, BOOK, "POST", "/v1/bookings", json={
            "slot_id": slot["slot_id"], "phone": phone(i + 1), "language": language, "channel": "web"})
        if status != 202:
            return
        token = str(json.loads(body)["manage_token"])
        decision = "pending"
        for _ in range(STATUS_POLLS):  # the page says "we are checking": the person looks again after a second
            await asyncio.sleep(1.0)
            if not self.open():
                break
            status, body = await call(tally, client, WELL, STATUS, "GET", f"/v1/bookings/{token}")
            if status == 200 and (decision := str(json.loads(body)["status"])) != "pending":
                break
        tally.decisions[decision] += 1
        if decision == "confirmed":
            self.owners.append(Owner(i, token, language))
        if await self.think(rng):
            await call(tally, client, WELL, MANAGE, "GET", f"/m/{token}", params={"lang": language})

    async def returning(self, client: aiohttp.ClientSession, rng: random.Random, owner: Owner) -> None:
        tally = self.tally
        await call(tally, client, WELL, MANAGE, "GET", f"/m/{owner.token}", params={"lang": owner.language})
        if not await self.think(rng):
            return
        status, body = await call(tally, client, WELL, STATUS, "GET", f"/v1/bookings/{owner.token}")
        if (status == 200 and json.loads(body)["status"] == "confirmed" and rng.random() < CANCEL_PROBABILITY
                and owner in self.owners and await self.think(rng)):
            self.owners.remove(owner)  # one cancel per booking, as a person would
            await call(tally, client, WELL, CANCEL, "POST", f"/v1/bookings/{owner.token}/cancel")

    async def arrivals(self) -> None:
        """Poisson arrivals; the rate rises from a fifth to all of --users-per-second over the first quarter."""
        rng = random.Random(f"{self.seed}:arrivals")
        gate = asyncio.Semaphore(self.max_users)
        ramp = max(10.0, self.seconds / 4)
        running: set[asyncio.Task[None]] = set()

        def left(task: asyncio.Task[None]) -> None:
            running.discard(task)
            gate.release()

        i = 0
        try:
            while True:
                elapsed = time.monotonic() - self.started
                rate = self.users_per_second * min(1.0, 0.2 + 0.8 * elapsed / ramp)
                await asyncio.sleep(rng.expovariate(rate))
                if not self.open():
                    break
                if gate.locked():
                    self.tally.arrivals_waited += 1
                await gate.acquire()
                task = asyncio.create_task(self.visitor(i))
                running.add(task)
                task.add_done_callback(left)
                i += 1
            await asyncio.wait_for(asyncio.gather(*running, return_exceptions=True), 5.0)
        except TimeoutError:
            pass
        finally:
            for task in list(running):
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    # -- the abuser --------------------------------------------------------------------------------------------

    async def abuser(self) -> None:
        """One address, one number, --abuser-tabs requests in flight, no pause: searches, books whatever it found,
        cancels its bookings and books the same slot again."""
        tally = self.tally
        today = datetime.now(ZONE).date()
        found: list[str] = []
        booked: deque[tuple[str, str, int]] = deque()  # (token, slot, cancel attempts)

        async def book(client: aiohttp.ClientSession, slot: str) -> None:
            status, body = await call(tally, client, ABUSER, BOOK, "POST", "/v1/bookings", json={
                "slot_id": slot, "phone": ABUSER_PHONE, "language": "de", "channel": "web"})
            if status == 202:
                accepted = json.loads(body)
                booked.append((str(accepted["manage_token"]), slot, 0))
                self.abuser_bookings.add(str(accepted["booking_id"]))

        async def tab(client: aiohttp.ClientSession, k: int) -> None:
            rng = random.Random(f"{self.seed}:abuser:{k}")
            while self.open():
                roll = rng.random()
                if roll < 0.35 or not found:
                    day = (today + timedelta(days=rng.randint(1, 30))).isoformat()
                    status, body = await call(tally, client, ABUSER, SEARCH, "GET", "/v1/slots",
                                              params={"language": "de", "from": day, "to": day})
                    if status == 200 and (slots := [s["slot_id"] for s in json.loads(body)["slots"]]):
                        found[:] = slots
                elif roll < 0.70 or not booked:
                    await book(client, found[rng.randrange(len(found))])
                else:
                    token, slot, attempts = booked.popleft()
                    status, _ = await call(tally, client, ABUSER, CANCEL, "POST", f"/v1/bookings/{token}/cancel")
                    if status == 202:
                        await book(client, slot)  # and straight back in
                    elif status == 409 and attempts < 3:  # not decided yet: later
                        booked.append((token, slot, attempts + 1))

        async with http_session(self.base_url, self.abuser_tabs, ABUSER_ADDRESS) as client:
            await asyncio.gather(*(tab(client, k) for k in range(self.abuser_tabs)))

    async def run(self) -> None:
        self.started = time.monotonic()
        self.end = self.started + self.seconds
        jobs = [self.arrivals()]
        if self.abuser_tabs:
            jobs.append(self.abuser())
        await asyncio.gather(*jobs)


# --- the roles' memory -----------------------------------------------------------------------------------------


def rss_of(pid: int) -> int:
    """Resident set of a process and its children (shared pages count once per process)."""
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return int(total)
    except psutil.Error:
        return 0


class Memory:
    """RSS of each role at start and end of the load, and the peak in between (sampled every second)."""

    def __init__(self, system: System) -> None:
        self.pids = {role: process.pid for role, process in system.processes.items()}
        self.start = {role: rss_of(pid) for role, pid in self.pids.items()}
        self.peak = dict(self.start)
        self.end: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True, name="bench-rss")
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            for role, pid in self.pids.items():
                self.peak[role] = max(self.peak[role], rss_of(pid))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.end = {role: rss_of(pid) for role, pid in self.pids.items()}
        for role, size in self.end.items():
            self.peak[role] = max(self.peak[role], size)


# --- reminders falling due, and what the dispatcher did ---------------------------------------------------------


def notifier_db() -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(db_url("notifier", DB_NAMES), autocommit=True)


def spread_due(tag: str, first: float, per_second: float) -> None:
    """The tag's pending reminders fall due one after another from `first` (epoch s), per_second a second."""
    with notifier_db() as connection:
        connection.execute(
            """
            UPDATE reminders r SET due_at = %(first)s + (n.i - 1) * %(step)s * interval '1 second',
                                   not_after = %(first)s + (n.i - 1) * %(step)s * interval '1 second'
                                               + interval '22 hours'
            FROM (SELECT id, row_number() OVER (ORDER BY id) AS i FROM reminders WHERE key LIKE %(tag)s) n
            WHERE r.id = n.id
            """, {"first": datetime.fromtimestamp(first, UTC), "step": 1 / per_second, "tag": f"{tag}:%"})


def deliveries() -> dict[str, tuple[str, float]]:
    """ref → (kind of message, when it fell due as epoch s) for every delivery the notifier made. A confirmation's
    due time is the minute it was planned in (floored), so it counts from when it was planned (created_at)."""
    with notifier_db() as connection:
        rows = connection.execute("SELECT d.ref, r.kind, extract(epoch FROM greatest(r.due_at, r.created_at)) "
                                  "FROM deliveries d JOIN reminders r ON r.id = d.reminder_id").fetchall()
    return {str(ref): (str(kind), float(due)) for ref, kind, due in rows}


def due_unsent(at: float, abuser_bookings: set[str]) -> Counter[str]:
    """Messages due by `at` (epoch s) that no provider request has left for yet, per kind and recipient."""
    with notifier_db() as connection:
        rows = connection.execute("SELECT kind, booking_id FROM reminders WHERE status IN ('pending', 'sending') "
                                  "AND due_at <= %s", (datetime.fromtimestamp(at, UTC),)).fetchall()
    return Counter(f"{kind} {'to the abuser' if booking in abuser_bookings else 'to the others'}"
                   for kind, booking in rows)


# --- report ----------------------------------------------------------------------------------------------------


def is_error(status: int) -> bool:
    return status == 0 or status >= 400


def report(args: argparse.Namespace, load: Load, memory: Memory, cpu: dict[str, float],
           sms: list[tuple[float, str, str, str]], refs: dict[str, tuple[str, float]], unsent: Counter[str],
           load_before: float, window: tuple[float, float]) -> bool:
    tally = load.tally
    samples = [s for s in tally.samples if s[2] < load.end]  # sent within the run
    seconds = load.seconds
    print()
    print(f"load, RabbitMQ + PostgreSQL, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}, {seconds:g} s, "
          f"seed {args.seed}; up to {args.users_per_second:g} well-behaved arrivals/s (at most {args.max_users} at "
          f"once), abuser {args.abuser_tabs} tab(s); scheduler {args.scheduler_concurrency} threads, "
          f"{args.notifiers} notifier worker(s); reminders falling due {args.reminders_per_second:g}/s; "
          f"SMS_RATE_PER_SECOND {args.sms_rate if args.sms_rate is not None else 'default'}")
    print(f"  load average (1 min)     {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
          "(anything else running on this machine skews every figure)")
    by_class: dict[str, list[tuple[str, str, float, float, int]]] = defaultdict(list)
    for sample in samples:
        by_class[sample[0]].append(sample)
    print(f"  throughput               {len(samples) / seconds:7.1f} requests/s   "
          + "   ".join(f"{cls} {len(by_class[cls]) / seconds:.1f}/s" for cls in (WELL, ABUSER) if by_class[cls]))
    print(f"  sessions                 {tally.sessions['new']} new visitors, {tally.sessions['returning']} returning; "
          f"{tally.arrivals_waited} arrivals waited for a free client (--max-users)")
    ok = True
    for cls in (WELL, ABUSER):
        rows = by_class[cls]
        if not rows:
            continue
        errors = sum(1 for s in rows if is_error(s[4]))
        rate = 100 * errors / len(rows)
        target = ""
        if cls == WELL:
            ok = errors == 0
            target = f"   target 0 %: {'met' if ok else 'NOT met'}"
        print(f"  {cls} ({len(rows)} requests)   error rate {rate:.2f} % ({errors}){target}")
        print(f"    {'endpoint':<34} {'count':>7} {'/s':>6} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for endpoint in ENDPOINTS:
            ms = [s[3] for s in rows if s[1] == endpoint]
            if not ms:
                continue
            bad = sum(1 for s in rows if s[1] == endpoint and is_error(s[4]))
            print(f"    {endpoint:<34} {len(ms):7d} {len(ms) / seconds:6.1f} {percentile(ms, 50):8.1f} "
                  f"{percentile(ms, 99):8.1f} {bad:7d}")
        codes = Counter(s[4] for s in rows)
        print("    status codes: " + ", ".join(f"{code or 'no answer'}: {n}" for code, n in sorted(codes.items())))
        failures = {error: n for (c, error), n in tally.failures.items() if c == cls}
        if failures:
            print(f"    no answer: {failures}")
        if cls == ABUSER:
            per_endpoint = {endpoint: dict(sorted(Counter(s[4] for s in rows if s[1] == endpoint).items()))
                            for endpoint in ENDPOINTS if any(s[1] == endpoint for s in rows)}
            for endpoint, counts in per_endpoint.items():
                print(f"      {endpoint:<34} {counts}")
            print(f"    throttled (429)        {codes.get(429, 0)} of {len(rows)}")
    decided = tally.decisions
    print(f"  well-behaved bookings    {sum(decided.values())} accepted: confirmed {decided['confirmed']}, "
          f"rejected {decided['rejected']} (slot gone), still pending after {STATUS_POLLS} s or at the end "
          f"{decided['pending']}")
    well = by_class[WELL]
    posted = sum(1 for s in well if s[1] == BOOK)
    if posted:
        browsing = sum(1 for s in well if s[1] in (PAGE, SEARCH, MANAGE))
        print(f"    per booking posted     {len(well) / posted:.1f} requests, {browsing / posted:.1f} of them "
              "searches and page views")

    # SMS: what left for the Twilio recorder during the run, and how long after falling due.
    first, last = window
    in_window = [r for r in sms if first <= r[0] < last]
    lags: dict[tuple[str, str], list[float]] = defaultdict(list)
    for at, to, _body, ref in in_window:
        kind, due = refs.get(ref, ("unknown", at))
        lags[kind, "to the abuser" if to == ABUSER_PHONE else "to the others"].append((at - due) * 1000)
    to_abuser = sum(1 for r in in_window if r[1] == ABUSER_PHONE)
    print(f"  SMS to the provider      {len(in_window)} in the run ({len(in_window) / seconds:.1f}/s), "
          f"{to_abuser} of them to the abuser's number")
    for (kind, whom), ms in sorted(lags.items()):
        print(f"    {kind + ' ' + whom:<30} {len(ms):6d} sent, due → provider p50 / p99 "
              f"{percentile(ms, 50) / 1000:7.2f} / {percentile(ms, 99) / 1000:.2f} s")
    print("    due at the end of the run and not yet sent: "
          + (", ".join(f"{kind} {n}" for kind, n in sorted(unsent.items())) or "none"))

    print(f"  memory (RSS, MiB)        {'start':>8} {'end':>8} {'peak':>8} {'end-start':>10}")
    for role in memory.pids:
        start, end, peak = memory.start[role], memory.end.get(role, 0), memory.peak[role]
        print(f"    {role:<22} {start / 2**20:8.1f} {end / 2**20:8.1f} {peak / 2**20:8.1f} "
              f"{(end - start) / 2**20:+10.1f}")
    print(f"  CPU over the run (% of one core; {100 * (os.cpu_count() or 1)} % available)")
    for name, used in sorted(cpu.items(), key=lambda kv: -kv[1]):
        print(f"    {name:<22} {100 * used / seconds:7.1f} %")
    print(f"    {'total':<22} {100 * sum(cpu.values()) / seconds:7.1f} %")
    return ok


# --- main ------------------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=300.0, help="how long the clients run (default 300)")
    parser.add_argument("--users-per-second", type=float, default=2.0,
                        help="well-behaved arrivals per second at the peak (default 2)")
    parser.add_argument("--max-users", type=int, default=150,
                        help="well-behaved clients at once at most; later arrivals wait (default 150)")
    parser.add_argument("--abuser-tabs", type=int, default=4,
                        help="the abuser's requests in flight (default 4; 0: no abuser)")
    parser.add_argument("--reminders-per-second", type=float, default=2.0,
                        help="seeded reminders falling due per second during the run (default 2; 0: none)")
    parser.add_argument("--sms-rate", type=float, default=None,
                        help="SMS_RATE_PER_SECOND for the notifiers (default: the notifier's default)")
    parser.add_argument("--seed", type=int, default=20261205, help="random seed of every client's choices")
    parser.add_argument("--scheduler-concurrency", type=int, default=8,
                        help="the scheduler's WORKER_CONCURRENCY (default 8, as docker-compose.yml)")
    parser.add_argument("--notifiers", type=int, default=2,
                        help="notifier worker processes (default 2, as docker-compose.yml's NOTIFIER_REPLICAS)")
    parser.add_argument("--keep", action="store_true", help="keep the var dir with the roles' logs")
    args = parser.parse_args()
    if args.seconds < 5 or args.users_per_second <= 0 or args.max_users < 1 or args.abuser_tabs < 0 \
            or args.reminders_per_second < 0:
        parser.error("--seconds >= 5, --users-per-second > 0, --max-users >= 1, --abuser-tabs >= 0 and "
                     "--reminders-per-second >= 0, please")

    def terminate(_sig: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    infra.ensure_infrastructure()
    var_dir = Path(tempfile.mkdtemp(prefix="lotse-bench-load-"))
    system: System | None = None
    recorder: Recorder | None = None
    ok = False
    try:
        recorder = Recorder()
        env = {
            "SMS_PROVIDER": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": "bench-token",
            "TWILIO_FROM": "Termin",
            "TWILIO_API_BASE_URL": recorder.url,
            "QUIET_HOURS_START": "00:00",  # equal start and end: no quiet hours, whatever the hour of the run
            "QUIET_HOURS_END": "00:00",
        }
        if args.sms_rate is not None:
            env["SMS_RATE_PER_SECOND"] = f"{args.sms_rate:g}"
        system = start_roles(var_dir, args.scheduler_concurrency, args.notifiers, SEARCH_DAYS, names=DB_NAMES,
                             vhost=VHOST, env=env)
        log(f"roles up: {', '.join(system.processes)}; gateway {system.url}; logs in {var_dir / 'logs'}")

        due_count = round(args.reminders_per_second * args.seconds)
        if due_count:
            seeder = Seeder(DataCipher.from_text(system.env["DATA_KEY"]), db_url("notifier", DB_NAMES),
                            first_phone=SEEDED_PHONES_FROM)
            seeded = seeder.bookings(due_count, datetime.now(UTC) + timedelta(days=1))
            far = datetime.now(UTC) + timedelta(days=10)
            seeder.one_reminder_each("load", seeded.booking_ids, far, far + timedelta(hours=22))
            log(f"seeded {due_count} reminders to fall due {args.reminders_per_second:g}/s during the run")

        load = Load(system.url, args.seconds, args.users_per_second, args.max_users, args.abuser_tabs, args.seed)
        memory = Memory(system)
        load_before = os.getloadavg()[0]
        cpu_before = cpu_seconds(system, DB_NAMES)
        window_start = time.time()
        if due_count:
            spread_due("load", window_start + 1.0, args.reminders_per_second)
        log(f"clients running for {args.seconds:g} s")
        asyncio.run(load.run())
        window_end = window_start + args.seconds
        memory.stop()
        cpu = cpu_between(cpu_before, cpu_seconds(system, DB_NAMES))
        unsent = due_unsent(min(time.time(), window_end), load.abuser_bookings)
        sms = recorder.records()
        refs = deliveries()
        ok = report(args, load, memory, cpu, sms, refs, unsent, load_before, (window_start, window_end))
        failed_roles = [role for role, process in system.processes.items() if process.poll() is not None]
        if failed_roles:
            print(f"  !! role(s) exited during the run: {', '.join(failed_roles)}")
            ok = False
        return 0 if ok else 1
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        if system is not None:
            system.stop()
        if recorder is not None:
            recorder.stop()
        rabbitmqctl("delete_vhost", VHOST, check=False)
        try:
            drop_databases(DB_NAMES)
        except Exception as exc:
            log(f"could not drop the load databases: {type(exc).__name__}")
        if args.keep or not ok:
            log(f"logs kept in {var_dir / 'logs'}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
