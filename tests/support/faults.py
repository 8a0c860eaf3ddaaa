"""A stream of bookings to run while a fault is injected, and the checks every fault test ends with.

What a client and an admin would notice, and nothing else:
- every booking the gateway answered 202 is decided (confirmed or rejected), and its page says which;
- no slot is given twice (some bookings of the stream ask for a slot another booking of it already asked for);
- each confirmed client's text (it carries the booking's own link) reached the provider exactly once;
- every text that fell due was sent, or is settled with a reason staff can see (never silently pending).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from notifier.app import build
from notifier.settings import NotifierSettings

from shared.settings import load_settings
from tests.support.system import poll
from tests.support.twilio_proxy import TwilioProxy

# What the manage page says (German: the stream books in German).
PAGE_SAYS = {"confirmed": "Ihr Termin ist bestätigt.", "rejected": "Diese Uhrzeit hat leider nicht geklappt."}


def phone(i: int) -> str:
    return f"+49151{20000000 + i}"


def non_clashing_slots(client: httpx.Client, count: int) -> list[str]:
    """`count` slots no two of which can clash (one counsellor's picks hours apart, buffers included), from three
    days ahead, so that each confirmed booking also plans reminders."""
    first_day = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    slots = client.get("/v1/slots", params={"language": "de", "from": first_day}).json()["slots"]
    last: dict[str, datetime] = {}
    chosen = []
    for slot in slots:
        start, end = datetime.fromisoformat(slot["start"]), datetime.fromisoformat(slot["end"])
        if slot["counsellor"] in last and start < last[slot["counsellor"]] + timedelta(hours=2):
            continue
        last[slot["counsellor"]] = end
        chosen.append(slot["slot_id"])
        if len(chosen) == count:
            return chosen
    raise AssertionError(f"only {len(chosen)} non-clashing slots offered, {count} needed")


@dataclass
class Stream:
    """Books `count` times, one every `interval` seconds, in a thread of its own: every fourth booking asks for
    the slot of the booking before it (a contended slot: at most one of the two may be confirmed). Requests that
    fail while a fault lasts are recorded, not retried: only what the gateway accepted (202) is owed a decision."""

    base_url: str
    count: int = 24
    interval: float = 0.5
    accepted: dict[str, str] = field(default_factory=dict)  # manage token -> slot id
    phones: dict[str, str] = field(default_factory=dict)  # manage token -> number
    refused: Counter[str] = field(default_factory=Counter)  # status (or exception) -> how many
    _thread: threading.Thread | None = None

    def start(self) -> Stream:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            distinct = non_clashing_slots(client, self.count - self.count // 4)
        plan: list[str] = []
        it = iter(distinct)
        for i in range(self.count):
            plan.append(plan[-1] if i % 4 == 3 else next(it))
        self._thread = threading.Thread(target=self._run, args=(plan,), name="booking-stream", daemon=True)
        self._thread.start()
        return self

    def _run(self, plan: list[str]) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as client:
            for i, slot_id in enumerate(plan):
                number = phone(i)
                try:
                    response = client.post("/v1/bookings", json={"slot_id": slot_id, "phone": number,
                                                                 "language": "de", "channel": "web"})
                except httpx.HTTPError as exc:
                    self.refused[type(exc).__name__] += 1
                else:
                    if response.status_code == 202:
                        token = response.json()["manage_token"]
                        self.accepted[token], self.phones[token] = slot_id, number
                    else:
                        self.refused[str(response.status_code)] += 1
                time.sleep(self.interval)

    def join(self) -> Stream:
        assert self._thread is not None
        self._thread.join(timeout=self.count * (self.interval + 10) + 30)
        assert not self._thread.is_alive(), "the booking stream hung"
        return self


def decided(base_url: str, stream: Stream, seconds: float = 90) -> dict[str, str]:
    """Waits until every accepted booking is decided; returns token -> status. Checks each page says it."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        def statuses() -> dict[str, str] | None:
            found = {token: client.get(f"/v1/bookings/{token}").json()["status"] for token in stream.accepted}
            return found if all(s in PAGE_SAYS for s in found.values()) else None

        found: dict[str, str] = poll(statuses, seconds, interval=0.5)
        for token, status in found.items():
            page = client.get(f"/m/{token}")
            assert page.status_code == 200 and PAGE_SAYS[status] in page.text, (token, status)
    return found


def assert_no_slot_twice(stream: Stream, statuses: dict[str, str]) -> None:
    confirmed = Counter(stream.accepted[token] for token, status in statuses.items() if status == "confirmed")
    assert confirmed and max(confirmed.values()) == 1, confirmed
    contended = Counter(stream.accepted.values())
    for slot_id, asked in contended.items():
        if asked > 1:  # asked twice: exactly one of the two got it (the slot was free when the stream began)
            assert confirmed[slot_id] == 1, slot_id


def confirmation_rows(notifier_db: str) -> list[tuple[str, str | None, int]]:
    """(status, outcome, deliveries) of every confirmation the notifier planned."""
    with psycopg.connect(notifier_db) as db:
        rows = db.execute("""
            SELECT r.status, r.outcome, count(d.id) FROM reminders r LEFT JOIN deliveries d ON d.reminder_id = r.id
            WHERE r.kind = 'confirmation' GROUP BY r.id ORDER BY r.id""").fetchall()
    return [(str(status), outcome, int(n)) for status, outcome, n in rows]


def reconcile_as_if(later: timedelta, env: dict[str, str], proxy: TwilioProxy) -> None:
    """Run the beat's reconciliation once, as the notifier would `later` from now (in this process): after 2
    minutes it releases messages a killed worker claimed but never requested and asks the provider about those it
    requested without hearing back; after 15 minutes it settles the latter as `unknown` and alerts."""
    settings = load_settings(
        NotifierSettings, notifier_database_url=env["NOTIFIER_DATABASE_URL"], broker_url=env["BROKER_URL"],
        data_key=env["DATA_KEY"], sms_provider="twilio", twilio_account_sid=env["TWILIO_ACCOUNT_SID"],
        twilio_auth_token=env["TWILIO_AUTH_TOKEN"], twilio_from=env["TWILIO_FROM"], twilio_api_base_url=proxy.url,
        public_base_url=env["PUBLIC_BASE_URL"], lotse_env="production")
    notifier = build(settings, clock=lambda: datetime.now(UTC) + later)
    try:
        notifier.dispatcher.reconcile()
    finally:
        notifier.engine.dispose()


def assert_each_confirmed_client_texted_once(proxy: TwilioProxy, stream: Stream, statuses: dict[str, str],
                                             env: dict[str, str], seconds: float = 120, in_doubt: int = 0) -> None:
    """Each confirmed booking's text reached the provider once; rejected ones got none; nothing is left due.

    `in_doubt`: how many confirmations may end `unknown` (alerted, an admin decides) because a worker was killed
    after it requested them and before it recorded the answer: the notifier cannot tell whether the provider took
    them, so it never sends them again. What a killed worker claimed but never requested is released by the
    reconciliation and sent once. Both are driven here with the reconciliation run as if 3 and 16 minutes later."""
    confirmed = [token for token, status in statuses.items() if status == "confirmed"]
    database = env["NOTIFIER_DATABASE_URL"]

    def statuses_now() -> list[str]:
        return [status for status, _outcome, _n in confirmation_rows(database)]

    def none_due() -> bool:
        found = statuses_now()
        return len(found) == len(confirmed) and all(s in ("sent", "sending") for s in found)

    poll(none_due, seconds, interval=0.5)
    time.sleep(3)  # a send in flight when the poll passed is recorded by now
    if "sending" in statuses_now():
        reconcile_as_if(timedelta(minutes=3), env, proxy)
        poll(none_due, seconds, interval=0.5)  # released ones go out at the dispatcher's next run
        time.sleep(3)
        reconcile_as_if(timedelta(minutes=16), env, proxy)
    rows = confirmation_rows(database)
    bodies = [post.form["Body"] for post in proxy.posts if post.status in (200, 201)]
    texted = {token: sum(f"/m/{token}" in body for body in bodies) for token in stream.accepted}
    assert all(texted[token] == 0 for token in stream.accepted if token not in confirmed), texted
    assert all(texted[token] <= 1 for token in confirmed), texted
    unknown = sum(status == "unknown" for status, _outcome, _n in rows)
    assert all(status in ("sent", "unknown") for status, _outcome, _n in rows), rows
    assert len(rows) == len(confirmed) and unknown <= in_doubt, rows
    assert sum(texted[token] == 0 for token in confirmed) <= unknown, (rows, texted)


def summary(stream: Stream, statuses: dict[str, str], proxy: TwilioProxy) -> dict[str, Any]:
    """For the failure message: what the stream saw."""
    return {"accepted": len(stream.accepted), "refused": dict(stream.refused),
            "decided": Counter(statuses.values()), "attempts": len(proxy.attempts), "posts": len(proxy.posts)}
