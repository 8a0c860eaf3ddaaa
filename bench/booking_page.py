"""The client pages as a browser meets them (issue "Lotse 6/7"): each page's size and time to first byte, slot
searches with 32 clients at once, and a single slot search; against `GET /healthz` measured in the same run.

    python bench/booking_page.py [--clients 32] [--seconds 20] [--runs 100] [--stack embedded|real]

Starts the whole system with the demo calendar in a temporary folder: the embedded default, or with `--stack real`
RabbitMQ + PostgreSQL (databases and a vhost of the bench's own, dropped after; the scheduler on 8 threads, as
docker-compose.yml runs it). With BROKER_URL, GATEWAY_DATABASE_URL, SCHEDULER_DATABASE_URL and
NOTIFIER_DATABASE_URL set in the environment (and DATA_KEY, else one is made) the roles run on those instead
(`--stack env`, chosen by itself when they are set); the demo calendar is loaded into them.

1. **Pages, idle**: every page a client meets, `--runs` times each, one request at a time: the booking page, the
   free days of a week (any topic, any place), a day's times (the longest list), the same with a refused number,
   the manage page (confirmed), the cancel question, the unknown-link page, the stylesheet and the quick-leave
   script. Printed: size of the body (and of the page with the stylesheet and script every page loads), time to
   first byte (request sent → status line and headers read) p50/p95.
2. **Under load**: `--clients` clients search `GET /v1/slots` at once for `--seconds` (14 days from one of the
   next 4 weeks in one of 10 languages, as bench/abuse.py), while one more client loads the pages above in turn.
   Printed: searches answered, % answered 503, search p50/p95, each page's TTFB p50/p95 under that load.
3. **A single search**, nothing else running: `--runs` searches one after the other, the same question each time
   (the gateway's answer cache answers) and a different question each time (every one asks the scheduler).

The baseline in every part is `GET /healthz` at the same moment (the gateway's HTTP floor: no template, no
database), and each figure is printed with its ratio to it. Targets (issue "Lotse 6/7"): 0 % 503 with 32
searching clients, page TTFB p95 < 50 ms at that load, a single search p95 < 10 ms, every page < 30 KB.
A figure, not a test: other work on the machine moves every number.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.abuse import LANGUAGES, percentile, with_system  # noqa: E402
from shared.crypto import generate_data_key  # noqa: E402

ENV_STACK = ("BROKER_URL", "GATEWAY_DATABASE_URL", "SCHEDULER_DATABASE_URL", "NOTIFIER_DATABASE_URL")
PAGE_LIMIT_BYTES = 30 * 1024
TTFB_P95_TARGET_MS = 50.0
SEARCH_P95_TARGET_MS = 10.0
PHONES = (f"+49151{n:08d}" for n in range(30_000_000, 40_000_000))
TOKEN = re.compile(r"/m/([A-Za-z0-9_-]+)$")
# What every page loads besides itself (name → path).
ASSETS = {"stylesheet": "/site.css", "quick-leave script": "/leave.js"}


@dataclass(frozen=True)
class Request:
    """One page as a browser asks for it."""

    name: str
    method: str
    path: str
    form: dict[str, str] | None = None


def timed(http: httpx.Client, request: Request) -> tuple[float, int, int]:
    """(ms to the first byte: the status line and headers read, status, body bytes)."""
    began = time.perf_counter()
    with http.stream(request.method, request.path, data=request.form) as answer:
        first_byte = (time.perf_counter() - began) * 1000
        size = len(answer.read())
    return first_byte, answer.status_code, size


def pages_of(http: httpx.Client) -> list[Request]:
    """The pages of one booking: made here once (a booking confirmed), then asked for again and again."""
    week = {"lang": "de", "topic": "", "place": "", "week": "0"}
    days = http.post("/", data=week)
    day = re.search(r'name="day" value="([0-9-]+)"', days.text)
    if day is None:
        raise SystemExit("the free days page offers no day")
    on_day = {**week, "day": day.group(1)}
    times = http.post("/", data=on_day)
    slot = re.search(r'name="slot_id" value="([^"]+)"', times.text)
    key = re.search(r'name="key" value="([^"]+)"', times.text)
    if slot is None or key is None:
        raise SystemExit("the day's times page offers no time to book")
    booked = http.post("/book", data={**on_day, "slot_id": slot.group(1), "phone": next(PHONES),
                                      "key": key.group(1), "reminders": "yes"})
    token = TOKEN.search(booked.headers.get("location", "").split("?")[0])
    if booked.status_code != 303 or token is None:
        raise SystemExit(f"booking from the page failed: {booked.status_code}")
    deadline = time.monotonic() + 30
    while http.get(f"/v1/bookings/{token.group(1)}").json()["status"] != "confirmed":
        if time.monotonic() > deadline:
            raise SystemExit("the booking was not confirmed within 30 s")
        time.sleep(0.1)
    manage = f"/m/{token.group(1)}"
    return [
        Request("booking page", "GET", "/?lang=de"),
        Request("free days of a week, anywhere", "POST", "/", week),
        Request("times of a day", "POST", "/", on_day),
        Request("times, number refused", "POST", "/book", {**on_day, "slot_id": slot.group(1), "phone": "12",
                                                            "key": "bench-refused-number"}),
        Request("manage page (confirmed)", "GET", manage),
        Request("cancel question", "GET", f"{manage}/cancel"),
        Request("unknown link", "GET", "/m/" + "x" * 22),
        *(Request(name, "GET", path) for name, path in ASSETS.items()),
    ]


BASELINE = Request("baseline: GET /healthz", "GET", "/healthz")


def ratio(value: float, base: float) -> str:
    return f"{value / base:6.1f}×" if base > 0 else "     -"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# --- 1. pages, idle ------------------------------------------------------------------------------------------------

def pages_idle(http: httpx.Client, pages: list[Request], runs: int) -> bool:
    print(f"\n1. pages, one request at a time, {runs} each (TTFB in ms; ratio to the baseline's p50)")
    print(f"{'page':<34} {'bytes':>7} {'+ both':>7} {'status':>6} {'p50':>7} {'p95':>7} {'ratio':>7}")
    assets = sum(len(http.get(path).content) for path in ASSETS.values())
    rows: dict[str, tuple[int, int, list[float]]] = {}
    for request in [BASELINE, *pages]:
        times: list[float] = []
        status = size = 0
        for _ in range(runs):
            took, status, size = timed(http, request)
            times.append(took)
        rows[request.name] = (status, size, times)
    base = percentile(rows[BASELINE.name][2], 0.5)
    ok = True
    for name, (status, size, times) in rows.items():
        whole = size + assets if name not in (BASELINE.name, *ASSETS) else size
        if name != BASELINE.name:
            ok = ok and whole < PAGE_LIMIT_BYTES
        print(f"{name:<34} {size:>7,} {whole:>7,} {status:>6} {percentile(times, 0.5):7.1f} "
              f"{percentile(times, 0.95):7.1f} {ratio(percentile(times, 0.5), base)}")
    largest = max(size + assets for name, (_s, size, _t) in rows.items() if name not in (BASELINE.name, *ASSETS))
    print(f"largest page with the stylesheet and script: {largest:,} bytes; target every page < {PAGE_LIMIT_BYTES:,}: "
          f"{verdict(ok)}")
    return ok


# --- 2. under load -------------------------------------------------------------------------------------------------

def under_load(url: str, pages: list[Request], clients: int, seconds: float) -> bool:
    today = date.today()
    statuses: Counter[int] = Counter()
    search_ms: list[float] = []
    page_ms: dict[str, list[float]] = defaultdict(list)
    page_status: Counter[int] = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def searcher(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=url, timeout=30) as http:
            while time.monotonic() < stop:
                first = today + timedelta(days=7 * rng.randrange(4))
                params = {"language": rng.choice(LANGUAGES), "from": first.isoformat(),
                          "to": (first + timedelta(days=13)).isoformat()}
                began = time.perf_counter()
                status = http.get("/v1/slots", params=params).status_code
                took = (time.perf_counter() - began) * 1000
                with lock:
                    statuses[status] += 1
                    search_ms.append(took)

    def page_loader() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while time.monotonic() < stop:
                for request in [BASELINE, *pages]:
                    took, status, _size = timed(http, request)
                    page_ms[request.name].append(took)
                    page_status[status] += 1

    with ThreadPoolExecutor(clients + 1) as pool:
        futures = [pool.submit(searcher, n) for n in range(clients)] + [pool.submit(page_loader)]
        for future in futures:
            future.result()
    total = sum(statuses.values())
    unavailable = 100 * statuses[503] / max(total, 1)
    base = percentile(page_ms[BASELINE.name], 0.5)
    print(f"\n2. {clients} clients searching 14 days at once for {seconds:.0f} s, one more loading the pages in turn")
    print(f"searches answered {total:,} ({total / seconds:.0f}/s), 503: {unavailable:.1f} % ({statuses[503]}), "
          f"p50 {percentile(search_ms, 0.5):.0f} ms, p95 {percentile(search_ms, 0.95):.0f} ms "
          f"(ratio to the baseline's p50 {ratio(percentile(search_ms, 0.5), base).strip()}); {dict(statuses)}")
    print(f"{'page under that load':<34} {'count':>7} {'p50':>7} {'p95':>7} {'ratio':>7}")
    worst = 0.0
    for name, times in page_ms.items():
        p95 = percentile(times, 0.95)
        if name not in (BASELINE.name, *ASSETS):
            worst = max(worst, p95)
        print(f"{name:<34} {len(times):>7} {percentile(times, 0.5):7.1f} {p95:7.1f} "
              f"{ratio(percentile(times, 0.5), base)}")
    print(f"page statuses under load: {dict(page_status)}")
    no_503 = statuses[503] == 0
    fast = worst < TTFB_P95_TARGET_MS
    print(f"target 0 % 503: {verdict(no_503)}; target page TTFB p95 < {TTFB_P95_TARGET_MS:.0f} ms "
          f"(slowest page's p95 {worst:.1f} ms): {verdict(fast)}")
    return no_503 and fast


# --- 3. a single search ----------------------------------------------------------------------------------------------

def single_search(http: httpx.Client, runs: int) -> bool:
    today = date.today()
    rng = random.Random(7)
    distinct = rng.sample([(language, day) for language in LANGUAGES for day in range(76)], runs)

    def measure(params_of: Callable[[int], dict[str, str]], path: str = "/v1/slots") -> list[float]:
        times = []
        for n in range(runs):
            began = time.perf_counter()
            answer = http.get(path, params=params_of(n))
            times.append((time.perf_counter() - began) * 1000)
            if answer.status_code != 200:
                raise SystemExit(f"{path} answered {answer.status_code}")
        return times

    def fortnight(language: str, day: int) -> dict[str, str]:
        first = today + timedelta(days=day)
        return {"language": language, "from": first.isoformat(), "to": (first + timedelta(days=13)).isoformat()}

    rows = {
        BASELINE.name: measure(lambda n: {}, "/healthz"),
        "the same question (answer cache)": measure(lambda n: fortnight("de", 0)),
        "a new question each time": measure(lambda n: fortnight(*distinct[n])),
    }
    base = percentile(rows[BASELINE.name], 0.5)
    print(f"\n3. a single slot search, {runs} one after the other (ms, request sent → answer read)")
    print(f"{'search':<34} {'p50':>7} {'p95':>7} {'ratio':>7}")
    for name, times in rows.items():
        print(f"{name:<34} {percentile(times, 0.5):7.1f} {percentile(times, 0.95):7.1f} "
              f"{ratio(percentile(times, 0.5), base)}")
    cached = percentile(rows["the same question (answer cache)"], 0.95)
    fresh = percentile(rows["a new question each time"], 0.95)
    print(f"target single search p95 < {SEARCH_P95_TARGET_MS:.0f} ms: answered from the cache {verdict(cached < 10)}"
          f", asked of the scheduler {verdict(fresh < SEARCH_P95_TARGET_MS)}")
    return fresh < SEARCH_P95_TARGET_MS


def run(url: str, args: argparse.Namespace) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        http.get("/v1/slots")  # the scheduler has loaded its calendar before anything is timed
        pages = pages_of(http)
        for request in [BASELINE, *pages]:  # warm: templates compiled, connections open
            timed(http, request)
        results = [pages_idle(http, pages, args.runs)]
        results.append(under_load(url, pages, args.clients, args.seconds))
        results.append(single_search(http, args.runs))
    print(f"\nall targets met: {verdict(all(results))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32, help="clients searching at once in part 2 (default 32)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long part 2 runs (default 20)")
    parser.add_argument("--runs", type=int, default=100, help="requests per page and per search (default 100)")
    given = all(os.environ.get(name) for name in ENV_STACK)
    parser.add_argument("--stack", choices=("embedded", "real", "env"), default="env" if given else "embedded")
    args = parser.parse_args()
    if not 1 <= args.runs <= 760 or args.clients < 1 or args.seconds <= 0:
        parser.error("--runs 1..760, --clients >= 1 and --seconds > 0, please")
    extra: dict[str, str] = {}
    stack = args.stack
    if stack == "env":
        if not given:
            parser.error(f"--stack env needs {', '.join(ENV_STACK)} set")
        extra = {name: os.environ[name] for name in ENV_STACK}
        extra["DATA_KEY"] = os.environ.get("DATA_KEY") or generate_data_key()
        stack = "embedded"  # with_system starts the roles on what `extra` names
    print(f"booking pages on the {args.stack} stack, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"load average {os.getloadavg()[0]:.2f}")
    with_system(extra, lambda url: run(url, args), stack)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
