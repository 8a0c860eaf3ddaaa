"""SMS conversations at once: webhook → reply handed to the provider (the SMS sink), p50/p99.

    python bench/sms_conversations.py [--conversations 200] [--concurrency 32] [--rate 10] [--real-stack] [--keep]

Starts the four roles on the embedded default (as tests/support/system.py does) with a webhook token, then has
--conversations phones (each a number of its own) text "Termin" at once, --concurrency webhooks in flight, each
signed as Twilio signs it. For each it measures the webhook's answer time and the time from sending the text until
its reply (the list of free times) is in the sink. The slot search is shared between the same questions asked at
once and remembered for SLOTS_CACHE_SECONDS (the default, 5 s), as in production. Replies go out at
SMS_RATE_PER_SECOND (--rate, default 10 as in production): 200 replies then take 20 s by design; --rate 0 shows
what the system itself takes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from starlette.datastructures import ImmutableMultiDict  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from shared.phones import mask_phone  # noqa: E402
from tests.support import infra  # noqa: E402
from tests.support.system import base_env, free_port, running_system  # noqa: E402

TOKEN = "bench-sms-conversations-token-0123456789"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=10.0, help="SMS_RATE_PER_SECOND (0: no limit)")
    parser.add_argument("--real-stack", action="store_true",
                        help="RabbitMQ and PostgreSQL of this machine (a vhost and databases of its own)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="lotse-bench-sms-"))
    extra = {"TWILIO_AUTH_TOKEN": TOKEN, "SMS_PER_PHONE_MINUTE": "1000", "SMS_RATE_PER_SECOND": f"{args.rate:g}"}
    databases, vhost = None, None
    if args.real_stack:
        infra.ensure_infrastructure()
        databases, vhost = infra.create_databases("lotse_bench", migrated=True), infra.create_vhost()
        extra |= {"BROKER_URL": infra.amqp_url(vhost), "GATEWAY_DATABASE_URL": databases.gateway,
                  "SCHEDULER_DATABASE_URL": databases.scheduler, "NOTIFIER_DATABASE_URL": databases.notifier}
    env = base_env(var_dir, free_port(), extra)
    try:
        with running_system(env, var_dir) as system:
            run(system.url, var_dir / "sms-sink.jsonl", args.conversations, args.concurrency)
    finally:
        if vhost is not None:
            infra.delete_vhost(vhost)
        if databases is not None:
            infra.drop_databases(databases)
        if args.keep:
            print(f"kept: {var_dir}")
        else:
            shutil.rmtree(var_dir, ignore_errors=True)


def run(url: str, sink: Path, count: int, concurrency: int) -> None:
    phones = [f"+4915170{n:06d}" for n in range(count)]
    sent: dict[str, float] = {}
    replied: dict[str, float] = {}
    answered: list[float] = []
    done = threading.Event()

    def watch() -> None:
        offset = 0
        while not done.is_set():
            if sink.exists():
                with sink.open(encoding="utf-8") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
                    offset += len(chunk.encode("utf-8"))
                now = time.monotonic()
                for line in chunk.splitlines():
                    replied.setdefault(json.loads(line)["to"], now)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    validator = RequestValidator(TOKEN)

    def text(index: int) -> None:
        phone, sid = phones[index], "SM" + f"{index:032x}"
        params = [("MessageSid", sid), ("SmsSid", sid), ("AccountSid", "AC" + "0" * 32), ("From", phone),
                  ("To", "+4915199990000"), ("Body", "Termin"), ("NumMedia", "0"), ("NumSegments", "1")]
        signature = validator.compute_signature(f"{url}/twilio/sms", ImmutableMultiDict(params))
        sent[mask_phone(phone)] = start = time.monotonic()
        response = httpx.post(f"{url}/twilio/sms", content=urlencode(params), timeout=60, headers={
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
        answered.append(time.monotonic() - start)
        response.raise_for_status()

    began = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(text, range(count)))
    deadline = time.monotonic() + 120
    while len(replied) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    done.set()
    latencies = [replied[masked] - sent[masked] for masked in sent if masked in replied]
    print(f"{count} conversations, {concurrency} webhooks in flight: {len(latencies)} replies in "
          f"{time.monotonic() - began:.1f} s")
    print(f"webhook answered: p50 {percentile(answered, 0.5) * 1000:.0f} ms, p99 "
          f"{percentile(answered, 0.99) * 1000:.0f} ms")
    if latencies:
        print(f"text -> reply in the sink: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, p99 "
              f"{percentile(latencies, 0.99) * 1000:.0f} ms, mean {statistics.mean(latencies) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
