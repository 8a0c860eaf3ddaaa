"""Booking flow benchmark on RabbitMQ + PostgreSQL: N bookings over HTTP, and the raw two-hop kombu floor.

    python bench/booking_flow.py [-n 2000] [--concurrency 16] [--quick]

Creates its own databases (lotse_bench_gateway/scheduler/notifier, dropped and recreated) and its own RabbitMQ
vhost (lotse-bench), starts the four roles as processes (SMS_PROVIDER=sink), seeds a bench calendar with enough
free slots, then:

1. floor: sequential round trips producer → queue A → a process that republishes → queue B → consumer, quorum
   queues, persistent messages, publisher confirms, acks after the republish, a booking.requested-sized body;
2. N bookings, each for a distinct free slot fetched with GET /v1/slots, POSTed with bounded concurrency;
   a separate process consumes booking.confirmed/booking.rejected from lotse.events on its own queue and takes
   the arrival time of each booking's decision (CLOCK_MONOTONIC is shared by all processes on Linux).

Everything it created is removed at the end, also on Ctrl-C or an error. It never prints a phone number.
Environment variables the roles read (e.g. WORKER_CONCURRENCY, LOG_LEVEL) are passed through.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "services/gateway", REPO / "services/scheduler", REPO / "services/notifier"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from kombu import Connection, Exchange, Queue  # noqa: E402

from tests.support import infra  # noqa: E402
from tests.support.system import System, base_env, free_port  # noqa: E402

DB_NAMES = {role: f"lotse_bench_{role}" for role in ("gateway", "scheduler", "notifier")}
VHOST = "lotse-bench"
ZONE = ZoneInfo("Europe/Berlin")
# Bench calendar: COUNSELLORS people, each open every day OPENS..CLOSES local time with hourly slots, so one day
# has COUNSELLORS * (CLOSES - OPENS) slots: below the 200 a slot search returns, so one search per day finds all.
COUNSELLORS = 12
OPENS, CLOSES = 8, 20
SLOTS_PER_DAY = COUNSELLORS * (CLOSES - OPENS)
SEARCH_DAYS = 90
TARGET_CONFIRMED_PER_SECOND = 100.0
TARGET_P99_FACTOR = 10.0
FLOOR_EXCHANGE = Exchange("bench.floor", type="direct", durable=True)
QUORUM = {"x-queue-type": "quorum"}
FLOOR_A = Queue("bench.floor.a", FLOOR_EXCHANGE, routing_key="a", durable=True, queue_arguments=QUORUM)
FLOOR_B = Queue("bench.floor.b", FLOOR_EXCHANGE, routing_key="b", durable=True, queue_arguments=QUORUM)


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def phone(i: int) -> str:
    """A valid German mobile number made up for booking i (never printed)."""
    return f"+49151{i % 10**8:08d}"


# --- infrastructure -------------------------------------------------------------------------------------------


def _admin() -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(host=infra.PG_HOST, port=infra.PG_PORT, user=infra.PG_USER, dbname="postgres",
                           autocommit=True)


def db_url(role: str) -> str:
    return f"postgresql://{infra.PG_USER}@{infra.PG_HOST}:{infra.PG_PORT}/{DB_NAMES[role]}"


def create_databases() -> None:
    with _admin() as connection:
        for name in DB_NAMES.values():
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')


def drop_databases() -> None:
    with _admin() as connection:
        for name in DB_NAMES.values():
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rabbitmqctl(*args: str, check: bool = True) -> None:
    subprocess.run(["rabbitmqctl", *args], check=check, capture_output=True, timeout=60)


def create_vhost() -> str:
    rabbitmqctl("delete_vhost", VHOST, check=False)
    rabbitmqctl("add_vhost", VHOST)
    rabbitmqctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
    return infra.amqp_url(VHOST)


def seed_calendar(scheduler_url: str, days: int) -> None:
    """Bench-only opening hours in the scheduler's own tables: COUNSELLORS people, every day, OPENS..CLOSES."""
    from scheduler.tables import Counsellor, Location, OpeningRule
    from sqlmodel import Session

    from shared.db import make_engine

    engine = make_engine(scheduler_url)
    with Session(engine) as session:
        place = Location(town="Rostock", kind="office", alias="Bench 1", address="Benchstraße 1, 18055 Rostock")
        session.add(place)
        people = [Counsellor(alias=f"bench-{i:02d}", languages="de,en", topics="career,health,safety,psychosocial")
                  for i in range(COUNSELLORS)]
        session.add_all(people)
        session.flush()
        assert place.id is not None
        for person in people:
            assert person.id is not None
            for weekday in range(7):
                session.add(OpeningRule(counsellor_id=person.id, location_id=place.id, weekday=weekday,
                                        opens=f"{OPENS:02d}:00", closes=f"{CLOSES:02d}:00"))
        session.commit()
    engine.dispose()
    log(f"seeded {COUNSELLORS} counsellors x {CLOSES - OPENS} hourly slots x 7 days/week "
        f"(~{SLOTS_PER_DAY * days} slots in the next {days} days)")


# --- child processes: confirmation recorder and floor republisher --------------------------------------------


def record_decisions(url: str, ready: Any, stop: Any, seen: Any, out: Any) -> None:
    """Child process: arrival time (CLOCK_MONOTONIC) of booking.confirmed / booking.rejected per booking id."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    events = Exchange("lotse.events", type="topic", durable=True)
    queue = Queue(f"bench.decisions.{uuid4().hex[:8]}", exchange=events, routing_key="booking.confirmed",
                  durable=False, exclusive=True, auto_delete=True)
    arrivals: dict[str, tuple[str, float]] = {}

    def on_message(body: Any, message: Any) -> None:
        arrived = time.monotonic()
        try:
            envelope = body[0][0]  # Celery task protocol 2: [args, kwargs, embed]
        except (TypeError, IndexError, KeyError):
            envelope = body
        booking_id = str(envelope["payload"]["booking_id"])
        if booking_id not in arrivals:
            arrivals[booking_id] = (str(envelope["type"]), arrived)
            with seen.get_lock():
                seen.value += 1

    with Connection(url) as connection:
        channel = connection.channel()
        bound = queue(channel)
        events(channel).declare()
        bound.declare()
        bound.bind_to(exchange=events, routing_key="booking.rejected")
        with connection.Consumer(bound, callbacks=[on_message], accept=["json"], no_ack=True):
            ready.set()
            while not stop.is_set():
                try:
                    connection.drain_events(timeout=0.2)
                except TimeoutError:
                    pass
    out.put(arrivals)


def republish(url: str, ready: Any, stop: Any) -> None:
    """Child process: the floor's middle hop. Consumes A (prefetch 1), publishes to B with a confirm, then acks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with Connection(url, transport_options={"confirm_publish": True}) as connection:
        producer = connection.Producer(serializer="json")

        def on_message(body: Any, message: Any) -> None:
            producer.publish(body, exchange=FLOOR_EXCHANGE, routing_key="b", delivery_mode=2)
            message.ack()

        consumer = connection.Consumer(FLOOR_A, callbacks=[on_message], accept=["json"], prefetch_count=1)
        with consumer:
            ready.set()
            while not stop.is_set():
                try:
                    connection.drain_events(timeout=0.2)
                except TimeoutError:
                    pass


def booking_requested_body() -> dict[str, Any]:
    """A real booking.requested envelope, as the gateway's relay publishes it (same size)."""
    from shared.contracts import BookingRequested, wrap

    booking_id = uuid4()
    request = BookingRequested(booking_id=booking_id, slot_id="s1-12-1-29412345", topic=None, language="de",
                               channel="web")
    return wrap(request, booking_id).to_wire()


def measure_floor(url: str, trips: int) -> tuple[list[float], int]:
    """Sequential round trips through two hops; returns latencies in ms and the body size in bytes."""
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    with Connection(url) as setup:
        channel = setup.channel()
        FLOOR_EXCHANGE(channel).declare()
        FLOOR_A(channel).declare()
        FLOOR_B(channel).declare()
    middle = ctx.Process(target=republish, args=(url, ready, stop), name="bench-floor-republisher")
    middle.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("floor republisher did not start")
        body = booking_requested_body()
        size = len(json.dumps([[body], {}, {"callbacks": None, "errbacks": None, "chain": None, "chord": None}]))
        latencies: list[float] = []
        arrived: list[float] = []

        def on_arrival(_body: Any, message: Any) -> None:
            arrived.append(time.monotonic())
            message.ack()

        with Connection(url, transport_options={"confirm_publish": True}) as connection:
            producer = connection.Producer(serializer="json")
            consumer = connection.Consumer(FLOOR_B, accept=["json"], prefetch_count=1, callbacks=[on_arrival])
            with consumer:
                for i in range(trips + 50):  # the first 50 warm up connections and queues
                    arrived.clear()
                    started = time.monotonic()
                    producer.publish([[body], {}, {}], exchange=FLOOR_EXCHANGE, routing_key="a", delivery_mode=2)
                    while not arrived:
                        connection.drain_events(timeout=10)
                    if i >= 50:
                        latencies.append((arrived[0] - started) * 1000)
        return latencies, size
    finally:
        stop.set()
        middle.join(10)
        if middle.is_alive():
            middle.kill()


# --- the booking run -----------------------------------------------------------------------------------------


@dataclass
class Booking:
    index: int
    slot_id: str
    sent: float = 0.0
    accepted: float = 0.0
    status: int = 0
    booking_id: str = ""


@dataclass
class Run:
    bookings: list[Booking]
    started: float = 0.0
    finished: float = 0.0
    errors: list[str] = field(default_factory=list)


def fetch_slots(client: httpx.Client, n: int) -> list[str]:
    today = datetime.now(ZONE).date()
    found: list[str] = []
    for offset in range(SEARCH_DAYS):
        day: date = today + timedelta(days=offset)
        response = client.get("/v1/slots", params={"language": "de", "from": day.isoformat(),
                                                   "to": day.isoformat()})
        response.raise_for_status()
        found.extend(s["slot_id"] for s in response.json()["slots"])
        if len(found) >= n:
            break
    if len(set(found)) != len(found):
        raise RuntimeError("slot search returned a slot twice")
    if len(found) < n:
        raise RuntimeError(f"only {len(found)} free slots found in {SEARCH_DAYS} days, {n} needed")
    return found[:n]


async def post_bookings(base_url: str, slots: list[str], concurrency: int) -> Run:
    run = Run([Booking(i, slot) for i, slot in enumerate(slots)])
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:

        async def book(item: Booking) -> None:
            async with gate:
                item.sent = time.monotonic()
                try:
                    response = await client.post("/v1/bookings", json={
                        "slot_id": item.slot_id, "phone": phone(item.index), "language": "de", "channel": "web"})
                except httpx.HTTPError as exc:
                    item.accepted = time.monotonic()
                    run.errors.append(type(exc).__name__)
                    return
                item.accepted = time.monotonic()
                item.status = response.status_code
                if response.status_code == 202:
                    item.booking_id = str(response.json()["booking_id"])
                else:
                    run.errors.append(f"HTTP {response.status_code}")

        run.started = time.monotonic()
        await asyncio.gather(*(book(item) for item in run.bookings))
        run.finished = time.monotonic()
    return run


def cpu_seconds(system: System) -> dict[str, float]:
    """CPU time (user + system) used so far by each role, this bench (with its children), PostgreSQL, RabbitMQ."""
    import psutil

    def used(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
            return float(times.user + times.system)
        except psutil.Error:
            return 0.0

    totals = {role: used(psutil.Process(p.pid)) for role, p in system.processes.items() if p.poll() is None}
    me = psutil.Process()
    totals["bench"] = used(me) + sum(used(child) for child in me.children(recursive=False)
                                     if child.pid not in {p.pid for p in system.processes.values()})
    totals["postgresql"] = totals["rabbitmq"] = 0.0
    for process in psutil.process_iter(["name"]):
        name = process.info["name"] or ""
        if name.startswith("postgres"):
            totals["postgresql"] += used(process)
        elif name.startswith("beam"):
            totals["rabbitmq"] += used(process)
    return totals


def gateway_confirmed_count() -> int:
    with psycopg.connect(db_url("gateway"), autocommit=True) as connection:
        row = connection.execute("SELECT count(*) FROM booking_requests WHERE status = 'confirmed'").fetchone()
    return int(row[0]) if row else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=2000, help="bookings (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="HTTP requests in flight (default 16)")
    parser.add_argument("--quick", action="store_true", help="sanity run: n=200, floor 200 round trips")
    parser.add_argument("--floor-trips", type=int, default=2000, help="floor round trips (default 2000)")
    parser.add_argument("--keep", action="store_true", help="keep the var dir with the roles' logs")
    args = parser.parse_args()
    if args.quick:
        args.n, args.floor_trips = 200, 200
    days = min(SEARCH_DAYS, args.n // SLOTS_PER_DAY + 3)
    if args.n > SLOTS_PER_DAY * (SEARCH_DAYS - 2):
        parser.error(f"-n may be at most {SLOTS_PER_DAY * (SEARCH_DAYS - 2)}")

    def terminate(_sig: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    infra.ensure_infrastructure()
    var_dir = Path(tempfile.mkdtemp(prefix="lotse-bench-"))
    system: System | None = None
    recorder: Any = None
    recorder_stop: Any = None
    ok = False
    try:
        create_databases()
        url = create_vhost()
        port = free_port()
        from shared.crypto import generate_data_key

        env = base_env(var_dir, port, {
            "GATEWAY_DATABASE_URL": db_url("gateway"),
            "SCHEDULER_DATABASE_URL": db_url("scheduler"),
            "NOTIFIER_DATABASE_URL": db_url("notifier"),
            "BROKER_URL": url,
            "DATA_KEY": generate_data_key(),
            "SMS_PROVIDER": "sink",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        })
        system = System(env, var_dir)
        system.prepare(demo=False)
        seed_calendar(db_url("scheduler"), days)
        system.start()
        system.wait_ready()
        log(f"roles up: {', '.join(system.processes)}; gateway {system.url}; logs in {var_dir / 'logs'}")

        log(f"floor: {args.floor_trips} sequential two-hop round trips")
        floor, size = measure_floor(url, args.floor_trips)

        with httpx.Client(base_url=system.url, timeout=30) as client:
            slots = fetch_slots(client, args.n)
        log(f"{len(slots)} distinct free slots fetched")

        ctx = mp.get_context("spawn")
        ready, recorder_stop, seen, out = ctx.Event(), ctx.Event(), ctx.Value("i", 0), ctx.Queue()
        recorder = ctx.Process(target=record_decisions, args=(url, ready, recorder_stop, seen, out),
                               name="bench-decisions")
        recorder.start()
        if not ready.wait(30):
            raise RuntimeError("decision recorder did not start")

        log(f"posting {args.n} bookings, {args.concurrency} in flight")
        cpu_before = cpu_seconds(system)
        load_before = os.getloadavg()[0]
        wall_start = time.monotonic()
        run = asyncio.run(post_bookings(system.url, slots, args.concurrency))
        accepted = [b for b in run.bookings if b.status == 202]
        log(f"{len(accepted)} accepted in {run.finished - run.started:.2f} s; waiting for decisions")
        deadline = time.monotonic() + 60 + args.n / 20
        while seen.value < len(accepted) and time.monotonic() < deadline:
            time.sleep(0.05)
        wall = time.monotonic() - wall_start
        cpu_used = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_seconds(system).items()}
        recorder_stop.set()
        arrivals: dict[str, tuple[str, float]] = out.get(timeout=30)
        recorder.join(10)

        accept_ms = [(b.accepted - b.sent) * 1000 for b in accepted]
        confirmed = [(b, arrivals[b.booking_id][1]) for b in accepted
                     if arrivals.get(b.booking_id, ("", 0.0))[0] == "booking.confirmed"]
        rejected = sum(1 for b in accepted if arrivals.get(b.booking_id, ("", 0.0))[0] == "booking.rejected")
        missing = len(accepted) - len(confirmed) - rejected
        to_confirmed_ms = [(at - b.accepted) * 1000 for b, at in confirmed]
        first_accept = min(b.accepted for b in accepted)
        last_confirmed = max(at for _, at in confirmed) if confirmed else first_accept
        floor_p50, floor_p99 = percentile(floor, 50), percentile(floor, 99)

        # The gateway applies the same booking.confirmed to its own table; check it caught up (not timed).
        try:
            gateway_seen = poll_count(gateway_confirmed_count, len(confirmed), 30)
        except Exception as exc:
            gateway_seen = -1
            log(f"could not read the gateway's table: {type(exc).__name__}")

        print()
        print(f"booking flow, RabbitMQ + PostgreSQL, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}")
        print(f"  load average (1 min)      {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
              "(anything else running on this machine skews every figure)")
        print(f"  N                         {args.n}  (concurrency {args.concurrency})")
        print(f"  wall time                 {wall:8.2f} s   (first POST to last decision)")
        print(f"  accepted                  {len(accepted)}  (HTTP errors: {len(run.errors)})")
        print(f"  accepted/s                {len(accepted) / (run.finished - run.started):8.1f}")
        print(f"  accept latency p50 / p99  {percentile(accept_ms, 50):8.1f} / {percentile(accept_ms, 99):.1f} ms")
        print(f"  confirmed                 {len(confirmed)}  (rejected {rejected}, no decision {missing})")
        if confirmed:
            confirmed_rate = len(confirmed) / (last_confirmed - first_accept)
            p50, p99 = percentile(to_confirmed_ms, 50), percentile(to_confirmed_ms, 99)
            print(f"  confirmed/s               {confirmed_rate:8.1f}   (first accept to last confirmation)")
            print(f"  accept→confirmed p50/p99  {p50:8.1f} / {p99:.1f} ms")
        print(f"  gateway shows confirmed   {gateway_seen}")
        print(f"  floor (2 hops, {size} B)   {floor_p50:8.2f} / {floor_p99:.2f} ms  p50/p99 over {len(floor)} trips")
        if confirmed:
            ratio = p99 / floor_p99
            rate_ok = confirmed_rate >= TARGET_CONFIRMED_PER_SECOND
            ratio_ok = ratio <= TARGET_P99_FACTOR
            print(f"  ratio confirmed p99/floor p99  {ratio:.1f}x")
            print(f"  target ≥ {TARGET_CONFIRMED_PER_SECOND:.0f} confirmed/s     {'met' if rate_ok else 'NOT met'}")
            print(f"  target p99 ≤ {TARGET_P99_FACTOR:.0f}× floor       {'met' if ratio_ok else 'NOT met'}")
        print(f"  CPU during the run (s, ms/booking; {wall * (os.cpu_count() or 1):.1f} CPU-s available):")
        for name, seconds in sorted(cpu_used.items(), key=lambda kv: -kv[1]):
            print(f"    {name:<14} {seconds:7.2f} s  {seconds * 1000 / max(1, len(accepted)):6.2f} ms")
        print(f"    {'total':<14} {sum(cpu_used.values()):7.2f} s  "
              f"{sum(cpu_used.values()) * 1000 / max(1, len(accepted)):6.2f} ms")
        ok = bool(confirmed) and missing == 0 and not run.errors
        return 0 if ok else 1
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        if recorder is not None and recorder.is_alive():
            recorder_stop.set()
            recorder.join(5)
            if recorder.is_alive():
                recorder.kill()
        if system is not None:
            system.stop()
        infra.delete_vhost(VHOST)
        try:
            drop_databases()
        except Exception as exc:
            log(f"could not drop the bench databases: {type(exc).__name__}")
        if args.keep or not ok:
            log(f"logs kept in {var_dir / 'logs'}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


def poll_count(read: Any, want: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    value = int(read())
    while value < want and time.monotonic() < deadline:
        time.sleep(0.2)
        value = int(read())
    return value


if __name__ == "__main__":
    sys.exit(main())
