"""Abuse and load on the public booking path (issue "Lotse 5/7"), on the embedded default with the demo calendar.

    python bench/abuse.py [--clients 32] [--seconds 20] [--part search|grab|both] [--stack embedded|real]

`--stack real`: the search part on RabbitMQ + PostgreSQL (databases and a vhost of the bench's own, dropped after)
with the scheduler deciding on 8 threads, as docker-compose.yml runs it.

1. "search": `--clients` clients search at once for `--seconds` (GET /v1/slots, each client its own address
   through the trusted proxy 127.0.0.1, `--days` days from one of the next 4 weeks in one of 10 languages), while one
   more client loads the booking page (GET /, which searches too) every 0.5 s. Printed per variant: searches answered,
   % answered 503, p50/p95 of a search and of the booking page. Variants, measured one after the other in this
   run, each on a fresh system: the baseline (`SLOTS_CACHE_SECONDS=0`: every search asks the scheduler), then
   the gateway's answer cache with in-flight coalescing (`SLOTS_CACHE_SECONDS=5`, the default).
2. "grab": one client takes every free slot it finds in the next 90 days as fast as it can (16 in flight), from one
   address, a new phone number for each booking and a new X-Forwarded-For on each request (no proxy trusted: the
   default). Printed per variant: bookings accepted, refused 429, and how many slots it held when it stopped (after
   `--seconds`, or when nothing was left), and the free slots in the next 90 days before and after. Variants: the
   limits out of reach (what the gateway did before it had any), then the default limits.

A figure, not a test. Each variant starts its own system in a temporary folder, so one does not warm the other.
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import httpx  # noqa: E402

from shared.crypto import generate_data_key  # noqa: E402
from tests.support import infra  # noqa: E402
from tests.support.system import ROOMY_LIMITS, System, base_env, free_port  # noqa: E402

LANGUAGES = ("de", "en", "ro", "bg", "hu", "pl", "ru", "uk", "es", "th")
DEFAULT_LIMITS = {name: "" for name in ROOMY_LIMITS if name != "SMS_DAILY_BUDGET"}  # "": the service's default


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def with_system(extra: dict[str, str], work: Callable[[str], None], stack: str = "embedded") -> None:
    var_dir = Path(tempfile.mkdtemp(prefix="lotse-bench-abuse-"))
    databases, vhost = None, None
    try:
        if stack == "real":
            infra.ensure_infrastructure()
            databases, vhost = infra.create_databases("lotse_bench_abuse"), infra.create_vhost()
            extra = {**extra, "GATEWAY_DATABASE_URL": databases.gateway, "NOTIFIER_DATABASE_URL": databases.notifier,
                     "SCHEDULER_DATABASE_URL": databases.scheduler, "BROKER_URL": infra.amqp_url(vhost),
                     "DATA_KEY": generate_data_key()}
        env = base_env(var_dir, free_port(), extra)
        for name, value in extra.items():
            if value == "":
                env.pop(name, None)
        role_env = {"scheduler": {"WORKER_CONCURRENCY": "8"}} if stack == "real" else None
        system = System(env, var_dir, role_env)
        system.prepare(demo=True)
        system.start()
        try:
            system.wait_ready()
            work(system.url)
        finally:
            system.stop()
    finally:
        if databases is not None:
            infra.drop_databases(databases)
        if vhost is not None:
            infra.delete_vhost(vhost)
        shutil.rmtree(var_dir, ignore_errors=True)


# --- 1. searches at once -------------------------------------------------------------------------------------------

def search_load(url: str, clients: int, seconds: float, label: str, days: int = 14) -> None:
    today = date.today()
    statuses: Counter[int] = Counter()
    search_ms: list[float] = []
    page_ms: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def searcher(n: int) -> None:
        rng = random.Random(n)
        headers = {"X-Forwarded-For": f"10.{n // 250}.{n % 250}.7"}
        with httpx.Client(base_url=url, timeout=30, headers=headers) as http:
            while time.monotonic() < stop:
                first = today + timedelta(days=7 * rng.randrange(4))
                params = {"language": rng.choice(LANGUAGES), "from": first.isoformat(),
                          "to": (first + timedelta(days=days - 1)).isoformat()}
                began = time.perf_counter()
                status = http.get("/v1/slots", params=params).status_code
                took = (time.perf_counter() - began) * 1000
                with lock:
                    statuses[status] += 1
                    search_ms.append(took)

    def page_loader() -> None:
        with httpx.Client(base_url=url, timeout=30, headers={"X-Forwarded-For": "10.99.0.1"}) as http:
            while time.monotonic() < stop:
                began = time.perf_counter()
                http.get("/")
                page_ms.append((time.perf_counter() - began) * 1000)
                time.sleep(0.5)

    with httpx.Client(base_url=url, timeout=30) as http:  # one search first: the scheduler has loaded its setup
        http.get("/v1/slots")
    with ThreadPoolExecutor(clients + 1) as pool:
        futures = [pool.submit(searcher, n) for n in range(clients)] + [pool.submit(page_loader)]
        for future in futures:
            future.result()
    total = sum(statuses.values())
    print(f"{label:<34} {total:>7} {100 * statuses[503] / max(total, 1):>7.1f} % "
          f"{percentile(search_ms, 0.5):>8.0f} {percentile(search_ms, 0.95):>8.0f} "
          f"{percentile(page_ms, 0.5):>8.0f} {percentile(page_ms, 0.95):>8.0f}   {dict(statuses)}", flush=True)


# --- 2. one client takes what it can ------------------------------------------------------------------------------

def free_slot_ids(http: httpx.Client) -> list[str]:
    today = date.today()
    found: list[str] = []
    for week in range(13):  # the next 90 days, in searches of at most 14 days
        first = today + timedelta(days=7 * week)
        last = min(first + timedelta(days=6), today + timedelta(days=89))
        if first > last:
            break
        answer = http.get("/v1/slots", params={"from": first.isoformat(), "to": last.isoformat()},
                          headers={"X-Forwarded-For": f"172.16.{week}.1"})
        answer.raise_for_status()
        found += [slot["slot_id"] for slot in answer.json()["slots"]]
    return found


def settled_free_slots(http: httpx.Client, seconds: float = 120) -> list[str]:
    """The free slots once the scheduler has decided what was accepted (the count unchanged for 3 s)."""
    deadline = time.monotonic() + seconds
    counts: list[int] = []
    while True:
        time.sleep(1)
        found = free_slot_ids(http)
        counts.append(len(found))
        if (len(counts) >= 4 and len(set(counts[-4:])) == 1) or time.monotonic() > deadline:
            return found


def grab(url: str, seconds: float, label: str) -> None:
    numbers = (f"+49151{n:08d}" for n in itertools.count(20_000_000))
    forwarded = (f"192.0.{n // 250 % 250}.{n % 250}" for n in itertools.count())
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    with httpx.Client(base_url=url, timeout=30) as http:
        before = free_slot_ids(http)
        stop = time.monotonic() + seconds

        def book(slot_id: str) -> None:
            if time.monotonic() >= stop:
                return
            with lock:
                phone, header = next(numbers), next(forwarded)
            status = http.post("/v1/bookings", json={"slot_id": slot_id, "phone": phone, "language": "de"},
                               headers={"X-Forwarded-For": header}).status_code
            with lock:
                statuses[status] += 1

        began = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(book, before))
        took = time.monotonic() - began
        after = settled_free_slots(http)
    print(f"{label:<34} {statuses[202]:>8} {statuses[429]:>8} {took:>7.1f} s {len(before):>8} {len(after):>8}   "
          f"{dict(statuses)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--part", choices=("search", "grab", "both"), default="both")
    parser.add_argument("--stack", choices=("embedded", "real"), default="embedded")
    parser.add_argument("--days", type=int, default=14,
                        help="days one search covers (14: the API's default; 90 at most)")
    args = parser.parse_args()
    if args.part in ("search", "both"):
        print(f"\n{args.clients} clients searching {args.days} days at once for {args.seconds:.0f} s on the "
              f"{args.stack} stack (ms)")
        print(f"{'variant':<34} {'answers':>7} {'503':>9} {'p50':>8} {'p95':>8} {'page p50':>8} {'page p95':>8}")
        for label, cache in (("baseline: every search asked", "0"), ("answer cache 5 s + coalescing", "5")):
            with_system({"FORWARDED_ALLOW_IPS": "127.0.0.1", "SLOTS_CACHE_SECONDS": cache},
                        lambda url, label=label: search_load(url, args.clients, args.seconds, label, args.days),
                        args.stack)
    if args.part in ("grab", "both"):
        print(f"\none client taking every free slot of the next 90 days (at most {args.seconds:.0f} s)")
        print(f"{'variant':<34} {'accepted':>8} {'429':>8} {'took':>9} {'free before':>8} {'free after':>8}")
        # The bench's own counting of free slots searches many times from this address: searches stay roomy here.
        defaults = {**DEFAULT_LIMITS, "SEARCHES_PER_ADDRESS_MINUTE": ROOMY_LIMITS["SEARCHES_PER_ADDRESS_MINUTE"]}
        for label, limits in (("no limits (as before)", ROOMY_LIMITS), ("default limits", defaults)):
            with_system(dict(limits), lambda url, label=label: grab(url, args.seconds, label))


if __name__ == "__main__":
    main()
