"""Booking flow benchmark on RabbitMQ + PostgreSQL: N bookings over HTTP, and the raw two-hop kombu floor.

    python bench/booking_flow.py [-n 2000] [--concurrency 16] [--rate R] [--paced-seconds 20] [--quick]

Creates its own databases (lotse_bench_gateway/scheduler/notifier, dropped and recreated) and its own RabbitMQ
vhost (lotse-bench), starts the four roles as processes (SMS_PROVIDER=sink), seeds a bench calendar with enough
free slots, then:

1. floor: sequential round trips producer → queue A → a process that republishes → queue B → consumer, quorum
   queues, persistent messages, publisher confirms, acks after the republish, a booking.requested-sized body;
2. saturating phase (throughput): N bookings, each for a distinct free slot fetched with GET /v1/slots,
   POSTed with bounded concurrency; a backlog forms when accepting outpaces deciding;
3. paced phase (path latency): bookings offered at a fixed rate (--rate, default half the confirmed rate of
   the saturating phase) for --paced-seconds, after the first phase's decisions have all arrived, so no
   backlog forms and accept→confirmed measures the path, compared with the floor.
A separate process consumes booking.confirmed/booking.rejected from lotse.events on its own queue and takes the
arrival time of each booking's decision (CLOCK_MONOTONIC is shared by all processes on Linux).

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

import aiohttp  # noqa: E402
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


def db_url(role: str, names: dict[str, str] = DB_NAMES) -> str:
    return f"postgresql://{infra.PG_USER}@{infra.PG_HOST}:{infra.PG_PORT}/{names[role]}"


def create_databases(names: dict[str, str] = DB_NAMES) -> None:
    """Drops and recreates one database per role (another bench passes names of its own, so both may run)."""
    with _admin() as connection:
        for name in names.values():
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')


def drop_databases(names: dict[str, str] = DB_NAMES) -> None:
    with _admin() as connection:
        for name in names.values():
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rabbitmqctl(*args: str, check: bool = True) -> None:
    subprocess.run(["rabbitmqctl", *args], check=check, capture_output=True, timeout=60)


def create_vhost(vhost: str = VHOST) -> str:
    rabbitmqctl("delete_vhost", vhost, check=False)
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    return infra.amqp_url(vhost)


def seed_calendar(scheduler_url: str, days: int) -> None:
    """Bench-only opening hours in the scheduler's own tables: COUNSELLORS people, each at a place of their own,
    every day (public holidays included), OPENS..CLOSES, one appointment type of 50 minutes without buffers; with
    SLOT_STEP_MINUTES=60 (set below) the slots are hourly and no two of them overlap."""
    from datetime import time as wall_time

    from scheduler.tables import AppointmentType, AvailabilityRule, Counsellor, CounsellorLocation, Location
    from sqlmodel import Session

    from shared.db import make_engine

    engine = make_engine(scheduler_url)
    with Session(engine) as session:
        # One place per person: "any counsellor" offers one slot per start and place, so with everyone at one
        # place a search would show only one of them per hour.
        places = [Location(town="Rostock", kind="office", alias=f"Bench {i + 1}", address=f"Benchstraße {i + 1}")
                  for i in range(COUNSELLORS)]
        session.add_all(places)
        session.add(AppointmentType(topic="career", duration_minutes=50, modes="office", buffer_before_minutes=0,
                                    buffer_after_minutes=0, min_notice_minutes=60, horizon_days=SEARCH_DAYS + 10))
        people = [Counsellor(alias=f"bench-{i:02d}", languages="de,en", topics="career")
                  for i in range(COUNSELLORS)]
        session.add_all(people)
        session.flush()
        for person, place in zip(people, places, strict=True):
            assert person.id is not None and place.id is not None
            session.add(CounsellorLocation(counsellor_id=person.id, location_id=place.id))
            for weekday in range(7):
                session.add(AvailabilityRule(counsellor_id=person.id, location_id=place.id, weekday=weekday,
                                             starts=wall_time(OPENS), ends=wall_time(CLOSES), on_holidays=True))
        session.commit()
    engine.dispose()
    log(f"seeded {COUNSELLORS} counsellors x {CLOSES - OPENS} hourly slots x 7 days/week "
        f"(~{SLOTS_PER_DAY * days} slots in the next {days} days)")


def start_roles(var_dir: Path, scheduler_concurrency: int, notifiers: int, days: int, *,
                names: dict[str, str] = DB_NAMES, vhost: str = VHOST, env: dict[str, str] | None = None) -> System:
    """Fresh databases and vhost, the bench calendar for `days`, and the roles as processes as `docker-compose.yml`
    runs them: the scheduler with `scheduler_concurrency` threads, `notifiers` notifier workers, beat and gateway,
    with a fresh DATA_KEY and SMS_PROVIDER=sink unless `env` (added to the roles' variables) says otherwise;
    returns once the gateway is ready (the broker URL is `system.env["BROKER_URL"]`). The roles are stopped again
    if they do not come up."""
    from shared.crypto import generate_data_key

    create_databases(names)
    url = create_vhost(vhost)
    variables = base_env(var_dir, free_port(), {
        "GATEWAY_DATABASE_URL": db_url("gateway", names),
        "SCHEDULER_DATABASE_URL": db_url("scheduler", names),
        "NOTIFIER_DATABASE_URL": db_url("notifier", names),
        "BROKER_URL": url,
        "DATA_KEY": generate_data_key(),
        "SMS_PROVIDER": "sink",
        "SLOT_STEP_MINUTES": "60",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        **(env or {}),
    })
    # As docker-compose.yml runs them: the scheduler with SCHEDULER_CONCURRENCY threads, NOTIFIER_REPLICAS
    # notifier workers.
    system = System(variables, var_dir, role_env={"scheduler": {"WORKER_CONCURRENCY": str(scheduler_concurrency)}})
    try:
        system.prepare(demo=False)
        seed_calendar(db_url("scheduler", names), days)
        system.start("scheduler", "notifier", *[f"notifier#{i}" for i in range(2, notifiers + 1)],
                     "notifier-beat", "gateway")
        system.wait_ready()
    except BaseException:
        system.stop()
        raise
    return system


# --- child processes: confirmation recorder and floor republisher --------------------------------------------


def record_decisions(url: str, ready: Any, stop: Any, seen: Any, outages: Any, out: Any) -> None:
    """Child process: arrival time (CLOCK_MONOTONIC) of booking.confirmed / booking.rejected per booking id.

    Its queue is durable and each delivery is acknowledged, so a broker restart during the run (other work on
    this machine may restart RabbitMQ) loses no decision; it reconnects and counts the outages it saw."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    events = Exchange("lotse.events", type="topic", durable=True)
    queue = Queue(f"bench.decisions.{uuid4().hex[:8]}", exchange=events, routing_key="booking.confirmed",
                  durable=True)
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
        message.ack()

    while not stop.is_set():
        try:
            with Connection(url) as connection:
                channel = connection.channel()
                bound = queue(channel)
                events(channel).declare()
                bound.declare()
                bound.bind_to(exchange=events, routing_key="booking.rejected")
                with connection.Consumer(bound, callbacks=[on_message], accept=["json"], prefetch_count=100):
                    ready.set()
                    while not stop.is_set():
                        try:
                            connection.drain_events(timeout=0.2)
                        except TimeoutError:
                            pass
        except (OSError, *Connection(url).connection_errors) as exc:
            with outages.get_lock():
                outages.value += 1
            print(f"[bench] decision recorder: broker connection lost ({type(exc).__name__}), reconnecting",
                  file=sys.stderr, flush=True)
            time.sleep(1)
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
    request = BookingRequested(booking_id=booking_id, slot_id="s2-12-1-1-29412345", topic=None, language="de",
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


async def post_one(client: aiohttp.ClientSession, run: Run, item: Booking) -> None:
    """POST one booking, recording when it was sent and when its answer came; errors go to the run."""
    item.sent = time.monotonic()
    try:
        async with client.post("/v1/bookings", json={
                "slot_id": item.slot_id, "phone": phone(item.index), "language": "de", "channel": "web"}) as response:
            body = await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        item.accepted = time.monotonic()
        run.errors.append(type(exc).__name__)
        return
    item.accepted = time.monotonic()
    item.status = response.status
    if response.status == 202:
        item.booking_id = str(json.loads(body)["booking_id"])
    else:
        run.errors.append(f"HTTP {response.status}")


def http_session(base_url: str, connections: int, local_address: str | None = None) -> aiohttp.ClientSession:
    """`local_address`: the loopback address the connections come from (127.0.0.0/8 all reaches the gateway), so a
    client of bench/load.py shows the gateway an address of its own."""
    # aiohttp rather than httpx for the load: the bench shares the machine's two cores with what it measures, and
    # httpx's async client took ~3.6 ms of CPU per booking.
    connector = aiohttp.TCPConnector(limit=connections,
                                     local_addr=(local_address, 0) if local_address is not None else None)
    return aiohttp.ClientSession(base_url=base_url, connector=connector, timeout=aiohttp.ClientTimeout(total=30))


async def post_bookings(base_url: str, slots: list[str], concurrency: int) -> Run:
    run = Run([Booking(i, slot) for i, slot in enumerate(slots)])
    gate = asyncio.Semaphore(concurrency)
    async with http_session(base_url, concurrency) as client:

        async def book(item: Booking) -> None:
            async with gate:
                await post_one(client, run, item)

        run.started = time.monotonic()
        await asyncio.gather(*(book(item) for item in run.bookings))
        run.finished = time.monotonic()
    return run


async def post_paced(base_url: str, slots: list[str], rate: float, first_index: int) -> Run:
    """Offers booking i at start + i / rate whatever happened to the earlier ones (open loop, no backlog as long
    as the system keeps up with the rate); the number in flight is not capped."""
    run = Run([Booking(first_index + i, slot) for i, slot in enumerate(slots)])
    async with http_session(base_url, 256) as client:
        # Warm the connection pool outside the measurement so the first requests do not pay the TCP set-up.

        async def warm() -> None:
            async with client.get("/healthz") as response:
                await response.read()

        await asyncio.gather(*(warm() for _ in range(4)), return_exceptions=True)

        async def book(item: Booking, due: float) -> None:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            await post_one(client, run, item)

        run.started = time.monotonic() + 0.05
        await asyncio.gather(*(book(item, run.started + i / rate) for i, item in enumerate(run.bookings)))
        run.finished = time.monotonic()
    return run


@dataclass
class Phase:
    """What one phase measured; decisions are filled in at the end from the recorder's arrivals."""

    name: str
    run: Run
    cpu: dict[str, float]
    wall: float
    load_before: float
    rate: float | None = None  # offered rate (paced phase)
    outages: int = 0  # broker connection losses the recorder saw during the phase (figures then mean little)
    cpu_drained: dict[str, float] | None = None  # CPU from the first POST until every queue was empty
    drain_seconds: float = 0.0


def wait_for_empty_queues(seconds: float) -> float:
    """Polls RabbitMQ until no queue of the bench vhost holds a message (ready or unacknowledged) twice in a row;
    returns how long that took."""
    started = time.monotonic()
    empty_polls = 0
    while time.monotonic() - started < seconds and empty_polls < 2:
        listed = subprocess.run(["rabbitmqctl", "list_queues", "-p", VHOST, "-q", "--no-table-headers", "name",
                                 "messages"], capture_output=True, text=True, timeout=60)
        waiting = sum(int(line.split()[-1]) for line in listed.stdout.splitlines()
                      if line.split() and line.split()[-1].isdigit())
        empty_polls = empty_polls + 1 if listed.returncode == 0 and waiting == 0 else 0
        time.sleep(0.5)
    return time.monotonic() - started


def wait_for_decisions(seen: Any, want: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while seen.value < want and time.monotonic() < deadline:
        time.sleep(0.05)


def report_phase(phase: Phase, arrivals: dict[str, tuple[str, float]], floor_p99: float) -> dict[str, Any]:
    run = phase.run
    accepted = [b for b in run.bookings if b.status == 202]
    accept_ms = [(b.accepted - b.sent) * 1000 for b in accepted]
    confirmed = [(b, arrivals[b.booking_id][1]) for b in accepted
                 if arrivals.get(b.booking_id, ("", 0.0))[0] == "booking.confirmed"]
    rejected = sum(1 for b in accepted if arrivals.get(b.booking_id, ("", 0.0))[0] == "booking.rejected")
    missing = len(accepted) - len(confirmed) - rejected
    result: dict[str, Any] = {"accepted": len(accepted), "confirmed": len(confirmed), "missing": missing,
                              "errors": len(run.errors)}
    print(f"  -- {phase.name} --")
    print(f"  load average (1 min)      {phase.load_before:.2f} before")
    if phase.outages:
        print(f"  !! the broker went away {phase.outages}x during this phase (restarted by other work on this "
              "machine?): its figures include the outage")
    if phase.rate is not None:
        offered = len(run.bookings) / max(1e-9, run.bookings[-1].sent - run.bookings[0].sent) * (
            (len(run.bookings) - 1) / len(run.bookings)) if len(run.bookings) > 1 else 0.0
        print(f"  offered rate              {phase.rate:8.1f} /s  (achieved {offered:.1f} /s, "
              f"{len(run.bookings)} bookings)")
    print(f"  wall time                 {phase.wall:8.2f} s   (first POST to last decision)")
    print(f"  accepted                  {len(accepted)}  (HTTP errors: {len(run.errors)})")
    if not accepted:
        return result
    print(f"  accepted/s                {len(accepted) / (run.finished - run.started):8.1f}")
    print(f"  accept latency p50 / p99  {percentile(accept_ms, 50):8.1f} / {percentile(accept_ms, 99):.1f} ms")
    print(f"  confirmed                 {len(confirmed)}  (rejected {rejected}, no decision {missing})")
    if confirmed:
        to_confirmed_ms = [(at - b.accepted) * 1000 for b, at in confirmed]
        first_accept = min(b.accepted for b in accepted)
        last_confirmed = max(at for _, at in confirmed)
        result["confirmed_rate"] = len(confirmed) / max(1e-9, last_confirmed - first_accept)
        result["p50"], result["p99"] = percentile(to_confirmed_ms, 50), percentile(to_confirmed_ms, 99)
        result["ratio"] = result["p99"] / floor_p99
        print(f"  confirmed/s               {result['confirmed_rate']:8.1f}   (first accept to last confirmation)")
        print(f"  accept→confirmed p50/p99  {result['p50']:8.1f} / {result['p99']:.1f} ms")
        print(f"  ratio p99 / floor p99     {result['ratio']:8.1f}x")
    total = sum(phase.cpu.values())
    print(f"  CPU (s, ms/booking; {phase.wall * (os.cpu_count() or 1):.1f} CPU-s available):")
    for name, seconds in sorted(phase.cpu.items(), key=lambda kv: -kv[1]):
        print(f"    {name:<14} {seconds:7.2f} s  {seconds * 1000 / len(accepted):6.2f} ms")
    print(f"    {'total':<14} {total:7.2f} s  {total * 1000 / len(accepted):6.2f} ms")
    if phase.cpu_drained is not None:
        drained_total = sum(phase.cpu_drained.values())
        print(f"  CPU until every queue was empty ({phase.drain_seconds:.1f} s after the last decision; "
              "the work of the phase's bookings, notifier included):")
        for name, seconds in sorted(phase.cpu_drained.items(), key=lambda kv: -kv[1]):
            print(f"    {name:<14} {seconds:7.2f} s  {seconds * 1000 / len(accepted):6.2f} ms")
        print(f"    {'total':<14} {drained_total:7.2f} s  {drained_total * 1000 / len(accepted):6.2f} ms")
        result["cpu_ms_per_booking"] = drained_total * 1000 / len(accepted)
    return result


CpuSnapshot = dict[str, dict[int, float]]


def cpu_seconds(system: System, names: dict[str, str] = DB_NAMES) -> CpuSnapshot:
    """CPU time (user + system) used so far by each process of each role, this bench (with its children),
    PostgreSQL (its background processes and the backends of the bench's databases only: other work on this
    machine has backends too) and RabbitMQ, per process id."""
    import psutil

    def used(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
            return float(times.user + times.system)
        except psutil.Error:
            return 0.0

    snapshot: CpuSnapshot = {role: {p.pid: used(psutil.Process(p.pid))}
                             for role, p in system.processes.items() if p.poll() is None}
    me = psutil.Process()
    roles = {p.pid for p in system.processes.values()}
    snapshot["bench"] = {process.pid: used(process) for process in (me, *me.children(recursive=False))
                         if process.pid not in roles}
    with _admin() as connection:
        ours = {int(pid) for (pid,) in connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s) OR backend_type <> 'client backend'",
            (list(names.values()),))}
    snapshot["postgresql"], snapshot["rabbitmq"] = {}, {}
    for process in psutil.process_iter(["name"]):
        name = process.info["name"] or ""
        if name.startswith("postgres") and process.pid in ours:
            snapshot["postgresql"][process.pid] = used(process)
        elif name.startswith("beam"):
            snapshot["rabbitmq"][process.pid] = used(process)
    return snapshot


def cpu_between(before: CpuSnapshot, after: CpuSnapshot) -> dict[str, float]:
    """CPU seconds per role between two snapshots, summed per process: a process that ended in between is not
    counted (before, PostgreSQL backends of other work that ended made the figure negative)."""
    return {name: sum(max(0.0, seconds - before.get(name, {}).get(pid, 0.0)) for pid, seconds in pids.items())
            for name, pids in after.items()}


def gateway_confirmed_count() -> int:
    with psycopg.connect(db_url("gateway"), autocommit=True) as connection:
        row = connection.execute("SELECT count(*) FROM booking_requests WHERE status = 'confirmed'").fetchone()
    return int(row[0]) if row else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=2000, help="bookings (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="HTTP requests in flight (default 16)")
    parser.add_argument("--rate", type=float, default=None,
                        help="paced phase: bookings offered per second (default: half the confirmed rate of the "
                             "saturating phase)")
    parser.add_argument("--paced-seconds", type=float, default=20.0,
                        help="paced phase: how long bookings are offered (default 20 s; 0 skips the phase)")
    parser.add_argument("--quick", action="store_true",
                        help="sanity run: n=200, floor 200 round trips, paced phase 5 s")
    parser.add_argument("--floor-trips", type=int, default=2000, help="floor round trips (default 2000)")
    parser.add_argument("--scheduler-concurrency", type=int, default=8,
                        help="the scheduler's WORKER_CONCURRENCY (default 8, as docker-compose.yml)")
    parser.add_argument("--notifiers", type=int, default=2,
                        help="notifier worker processes (default 2, as docker-compose.yml's NOTIFIER_REPLICAS)")
    parser.add_argument("--keep", action="store_true", help="keep the var dir with the roles' logs")
    args = parser.parse_args()
    if args.quick:
        args.n, args.floor_trips, args.paced_seconds = 200, 200, 5.0
    days = min(SEARCH_DAYS, args.n // SLOTS_PER_DAY + 3)
    if args.n > SLOTS_PER_DAY * (SEARCH_DAYS - 2):
        parser.error(f"-n may be at most {SLOTS_PER_DAY * (SEARCH_DAYS - 2)}")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be positive")

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
        system = start_roles(var_dir, args.scheduler_concurrency, args.notifiers, days)
        url = system.env["BROKER_URL"]
        log(f"roles up: {', '.join(system.processes)}; gateway {system.url}; logs in {var_dir / 'logs'}")

        log(f"floor: {args.floor_trips} sequential two-hop round trips")
        floor, size = measure_floor(url, args.floor_trips)

        with httpx.Client(base_url=system.url, timeout=30) as client:
            slots = fetch_slots(client, args.n)
        log(f"{len(slots)} distinct free slots fetched")

        ctx = mp.get_context("spawn")
        ready, recorder_stop, seen, out = ctx.Event(), ctx.Event(), ctx.Value("i", 0), ctx.Queue()
        outages = ctx.Value("i", 0)
        recorder = ctx.Process(target=record_decisions, args=(url, ready, recorder_stop, seen, outages, out),
                               name="bench-decisions")
        recorder.start()
        if not ready.wait(30):
            raise RuntimeError("decision recorder did not start")

        # Phase 1, saturating: throughput.
        log(f"saturating phase: posting {args.n} bookings, {args.concurrency} in flight")
        cpu_before = cpu_seconds(system)
        load_before = os.getloadavg()[0]
        outages_before = outages.value
        wall_start = time.monotonic()
        run = asyncio.run(post_bookings(system.url, slots, args.concurrency))
        n_accepted = sum(1 for b in run.bookings if b.status == 202)
        log(f"{n_accepted} accepted in {run.finished - run.started:.2f} s; waiting for decisions")
        wait_for_decisions(seen, n_accepted, 60 + args.n / 20)
        wall = time.monotonic() - wall_start
        cpu_used = cpu_between(cpu_before, cpu_seconds(system))
        # The notifier (and the gateway's listener) may still work through the phase's messages after the last
        # decision: CPU per booking counts that too, until every queue of the vhost is empty.
        drained = wait_for_empty_queues(120)
        log(f"queues drained {drained:.1f} s after the last decision")
        cpu_drained = cpu_between(cpu_before, cpu_seconds(system))
        phases = [Phase(f"saturating phase: {args.n} bookings, {args.concurrency} in flight (throughput)", run,
                        cpu_used, wall, load_before, outages=outages.value - outages_before,
                        cpu_drained=cpu_drained, drain_seconds=drained)]
        decided = seen.value

        # Phase 2, paced: the path's latency without a backlog.
        if args.paced_seconds > 0 and decided:
            # Half the rate the whole system finished the first phase's work at: from the first POST until every
            # queue was empty, the notifiers' share included. (Half the confirmed/s, as before, offered more than
            # the notifiers keep up with once the decision path got faster than them: a backlog formed in the
            # paced phase too, 58.2/s with p99 19.4x the floor, on 2026-12-03.)
            rate = args.rate or 0.5 * decided / max(1e-9, wall + drained)
            count = max(10, round(rate * args.paced_seconds))
            with httpx.Client(base_url=system.url, timeout=30) as client:
                paced_slots = fetch_slots(client, count)
            if set(paced_slots) & set(slots):
                raise RuntimeError("slot search offered a slot booked in the saturating phase")
            # The first phase's queues were drained above: none of its work lands in this phase.
            log(f"paced phase: {count} bookings offered at {rate:.1f}/s")
            cpu_before = cpu_seconds(system)
            load_before = os.getloadavg()[0]
            outages_before = outages.value
            wall_start = time.monotonic()
            paced = asyncio.run(post_paced(system.url, paced_slots, rate, args.n))
            n_paced = sum(1 for b in paced.bookings if b.status == 202)
            wait_for_decisions(seen, decided + n_paced, 60 + count / 20)
            wall = time.monotonic() - wall_start
            cpu_used = cpu_between(cpu_before, cpu_seconds(system))
            phases.append(Phase(f"paced phase: {count} bookings at {rate:.1f}/s (path latency)", paced, cpu_used,
                                wall, load_before, rate=rate, outages=outages.value - outages_before))

        recorder_stop.set()
        arrivals: dict[str, tuple[str, float]] = out.get(timeout=30)
        recorder.join(10)
        floor_p50, floor_p99 = percentile(floor, 50), percentile(floor, 99)
        total_confirmed = sum(1 for b in (*run.bookings, *(b for p in phases[1:] for b in p.run.bookings))
                              if arrivals.get(b.booking_id, ("", 0.0))[0] == "booking.confirmed")

        # The gateway applies the same booking.confirmed to its own table; check it caught up (not timed).
        try:
            gateway_seen = poll_count(gateway_confirmed_count, total_confirmed, 30)
        except Exception as exc:
            gateway_seen = -1
            log(f"could not read the gateway's table: {type(exc).__name__}")

        print()
        print(f"booking flow, RabbitMQ + PostgreSQL, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}, "
              f"scheduler {args.scheduler_concurrency} threads, {args.notifiers} notifier worker(s), other workers "
              f"WORKER_CONCURRENCY={os.environ.get('WORKER_CONCURRENCY', 'default')}")
        print(f"  floor (2 hops, {size} B)   {floor_p50:8.2f} / {floor_p99:.2f} ms  p50/p99 over {len(floor)} trips")
        results = [report_phase(phase, arrivals, floor_p99) for phase in phases]
        print("  --")
        print(f"  gateway shows confirmed   {gateway_seen} of {total_confirmed}")
        print(f"  load average (1 min)      {os.getloadavg()[0]:.2f} after "
              "(anything else running on this machine skews every figure)")
        if "confirmed_rate" in results[0]:
            rate_ok = results[0]["confirmed_rate"] >= TARGET_CONFIRMED_PER_SECOND
            print(f"  target ≥ {TARGET_CONFIRMED_PER_SECOND:.0f} confirmed/s (saturating)   "
                  f"{results[0]['confirmed_rate']:.1f}/s  {'met' if rate_ok else 'NOT met'}")
        if len(results) > 1 and "ratio" in results[1]:
            ratio_ok = results[1]["ratio"] <= TARGET_P99_FACTOR
            print(f"  target p99 ≤ {TARGET_P99_FACTOR:.0f}× floor (paced)        "
                  f"{results[1]['ratio']:.1f}x  {'met' if ratio_ok else 'NOT met'}")
        ok = all(r["confirmed"] and r["missing"] == 0 and not r["errors"] for r in results)
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
