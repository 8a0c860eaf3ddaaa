"""Exactly once: the same text never reaches Twilio twice, whatever dies and whenever.

Real processes (gateway, scheduler, notifier worker(s), notifier beat) on RabbitMQ + PostgreSQL, sending through
the official Twilio SDK to Twilio's contract mock (Prism, ../shared/twilio). A recording proxy sits between the
notifier and the mock: the mock keeps no state and answers every request with the same example, so only the proxy
can say how many requests reached "Twilio" and with which body. Every body carries the booking's own manage link,
so a duplicate is visible as the same body twice, not only as a count.

What the mock cannot show: it stores nothing, so its Messages list (what reconciliation asks) returns a fixed
example that never matches our message; a send whose answer was lost therefore ends `unknown` after 15 minutes
(alerted, never resent) unless Twilio's status callback settles it first. Both paths are driven here: the
reconciliation with a clock moved forward, the callback signed like Twilio's.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
import pytest
from notifier.app import build
from notifier.settings import NotifierSettings
from twilio.request_validator import RequestValidator

from shared.settings import load_settings
from tests.support.faults import non_clashing_slots
from tests.support.rabbit import PrivateRabbit
from tests.support.system import System, assert_stays, base_env, free_port, poll, running_system
from tests.support.twilio_proxy import TwilioProxy, Verdict, twilio_proxy

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "test-token"  # the contract mock checks no token
MESSAGES_POST = re.compile(r"\[HTTP SERVER\] post /2010-04-01/Accounts/AC0{32}/Messages\.json")
MOCK_SID = "SM" + "a" * 32  # the sid in every answer of the mock
TICK_SECONDS = 2  # DISPATCH_EVERY_SECONDS of the system under test (10 by default)


def _phone(i: int) -> str:
    return f"+49151{10000000 + i}"


def _mock_posts() -> int:
    """Messages POSTs in the mock's own log (the session's mock: compare before and after)."""
    log = Path(os.environ["LOTSE_TEST_TWILIO_MOCK_LOG"]).read_text(errors="replace")
    return len(MESSAGES_POST.findall(log))


def _env(tmp_path: Path, real_env: dict[str, str], twilio_url: str) -> dict[str, str]:
    return base_env(tmp_path, free_port(), {
        **real_env,
        "SMS_PROVIDER": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": "+4915187654321",
        "TWILIO_API_BASE_URL": twilio_url,
        "LOTSE_ENV": "production",
        # No quiet hours: a reminder made due in a test goes out whatever the hour the test runs at.
        "DISPATCH_EVERY_SECONDS": str(TICK_SECONDS),  # the beat's tick, shortened: tests wait for ticks
        "QUIET_HOURS_START": "00:00",
        "QUIET_HOURS_END": "00:00",
    })


@contextmanager
def _system(tmp_path: Path, real_env: dict[str, str], twilio_mock_url: str,
            *extra_roles: str) -> Iterator[tuple[System, TwilioProxy, httpx.Client]]:
    with twilio_proxy(twilio_mock_url) as proxy, \
            running_system(_env(tmp_path, real_env, proxy.url), tmp_path) as system:
        if extra_roles:
            system.start(*extra_roles)
        with httpx.Client(base_url=system.url, timeout=10) as client:
            yield system, proxy, client


def _book(client: httpx.Client, count: int, first_phone: int = 0) -> list[str]:
    tokens = []
    for i, slot_id in enumerate(non_clashing_slots(client, count)):
        response = client.post("/v1/bookings", json={"slot_id": slot_id, "phone": _phone(first_phone + i),
                                                     "language": "de", "channel": "web"})
        assert response.status_code == 202, response.text
        tokens.append(response.json()["manage_token"])
    return tokens


def _all_confirmed(client: httpx.Client, tokens: list[str], seconds: float = 45) -> None:
    def check() -> bool:
        statuses = [client.get(f"/v1/bookings/{token}").json()["status"] for token in tokens]
        assert "rejected" not in statuses, statuses
        return all(status == "confirmed" for status in statuses)

    poll(check, seconds, interval=0.3)


def _query(real_env: dict[str, str], sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(real_env["NOTIFIER_DATABASE_URL"]) as db:
        return db.execute(sql, params).fetchall()


def _messages(real_env: dict[str, str]) -> list[tuple[str, str, int, str | None, str | None]]:
    """(kind, reminder status, deliveries, delivery status, provider sid) per message row."""
    return _query(real_env, """
        SELECT r.kind, r.status, count(d.id), min(d.status), min(d.provider_sid)
        FROM reminders r LEFT JOIN deliveries d ON d.reminder_id = r.id
        GROUP BY r.id ORDER BY r.id""")


def _confirmations(real_env: dict[str, str]) -> list[tuple[str, str, int, str | None, str | None]]:
    return [m for m in _messages(real_env) if m[0] == "confirmation"]


def _quiet_for_ticks(system: System, ticks: int = 2) -> None:
    """Give a duplicate every chance to appear: `ticks` more dispatch runs from the beat (every
    TICK_SECONDS; the worker logs no task receipts, so the beat's log file is the clock). A message wrongly
    left claimable goes out at the first; the second covers a tick that found another loop sending."""
    def sent() -> int:
        return system.log("notifier-beat").count("Sending due task dispatch-due-reminders")

    before = sent()
    poll(lambda: sent() >= before + ticks, seconds=ticks * TICK_SECONDS + 20, interval=0.3)


def _bodies(proxy: TwilioProxy) -> list[str]:
    return [post.form["Body"] for post in proxy.posts]


def _bodies_once(bodies: list[str], tokens: list[str]) -> None:
    """Each booking's text (it carries the booking's own link) reached Twilio exactly once."""
    for token in tokens:
        assert sum(f"/m/{token}" in body for body in bodies) == 1, f"{token}: {bodies}"
    assert len(bodies) == len(set(bodies)) == len(tokens)


def _kill(system: System, role: str) -> None:
    system.stop(role, sig=signal.SIGKILL)


@pytest.mark.infra
def test_two_notifier_workers_send_each_confirmation_exactly_once(
    tmp_path: Path, real_env: dict[str, str], twilio_mock_url: str
) -> None:
    bookings = 20
    mock_before = _mock_posts()
    with _system(tmp_path, real_env, twilio_mock_url, "notifier#2") as (system, proxy, client):
        # Both consume before the first booking, or the first one ready could take every message.
        poll(lambda: all(" ready." in system.log(role) for role in ("notifier", "notifier#2")), seconds=60)
        tokens = _book(client, bookings)
        _all_confirmed(client, tokens)
        poll(lambda: len(proxy.attempts) >= bookings, seconds=30)
        _quiet_for_ticks(system)
        logs = {role: system.log(role) for role in ("notifier", "notifier#2")}

    assert len(proxy.attempts) == len(proxy.posts) == bookings
    assert {post.status for post in proxy.posts} == {201}  # the contract mock accepted every one
    assert _mock_posts() - mock_before == bookings
    _bodies_once(_bodies(proxy), tokens)
    assert sorted(post.form["To"] for post in proxy.posts) == sorted(_phone(i) for i in range(bookings))
    messages = [m for m in _messages(real_env) if m[0] == "confirmation"]
    assert messages == [("confirmation", "sent", 1, "sending", MOCK_SID)] * bookings
    # Both workers took part: each consumed booking messages and ran the dispatcher after its commits.
    assert all("notifier: handled" in log for log in logs.values()), {k: v[-2000:] for k, v in logs.items()}
    assert "Traceback" not in "".join(logs.values())


@pytest.mark.infra
def test_confirmations_due_while_the_worker_is_dead_go_out_once_after_it_restarts(
    tmp_path: Path, real_env: dict[str, str], twilio_mock_url: str
) -> None:
    with _system(tmp_path, real_env, twilio_mock_url) as (system, proxy, client):
        _kill(system, "notifier")
        tokens = _book(client, 3)
        _all_confirmed(client, tokens)  # the scheduler decided; the notifier's messages wait in its queue
        _quiet_for_ticks(system)
        assert proxy.attempts == []
        system.start("notifier")
        # Sent and recorded (killed between the two, a message would rightly stay unsettled: the test below).
        poll(lambda: [m[1] for m in _messages(real_env) if m[0] == "confirmation"] == ["sent"] * 3, seconds=40)

        # Killed again, now with message rows falling due (the reminders, days ahead in truth) and the beat's
        # ticks piling up in the queue while nobody takes them.
        _kill(system, "notifier")
        planned = _make_reminders_due(real_env)
        _quiet_for_ticks(system)
        assert len(proxy.attempts) == 3
        system.start("notifier")
        poll(lambda: len(proxy.attempts) >= 3 + planned, seconds=40)
        _quiet_for_ticks(system)

    assert len(proxy.attempts) == len(proxy.posts) == 3 + planned
    _bodies_once(_bodies(proxy)[:3], tokens)
    assert [m[1:] for m in _messages(real_env) if m[1] != "cancelled"] == [("sent", 1, "sending", MOCK_SID)] * \
        (3 + planned)


def _make_reminders_due(real_env: dict[str, str], due_in: timedelta = timedelta(0)) -> int:
    """The planned reminders are days ahead; the clock is not ours to move, so their rows are made due."""
    with psycopg.connect(real_env["NOTIFIER_DATABASE_URL"]) as db:
        changed = db.execute("UPDATE reminders SET due_at = now() + %s WHERE kind = 'reminder' "
                             "AND status = 'pending'", (due_in,)).rowcount
    assert changed >= 1, "no reminder planned: the test books too close to the appointment"
    return changed


def _kill_on_first(system: System, proxy: TwilioProxy, stage: Verdict, at: int = 1) -> None:
    """SIGKILL the notifier worker when its `at`-th Messages POST arrives: before it reaches Twilio ("drop") or
    after Twilio took it but before the answer gets back ("forward_then_drop")."""
    def on_post(number: int) -> Verdict:
        if number != at:
            return "forward"
        if stage == "drop":
            _kill(system, "notifier")
        return stage

    def on_answered(number: int) -> None:
        if number == at and stage == "forward_then_drop":
            _kill(system, "notifier")

    proxy.on_post, proxy.on_answered = on_post, on_answered


def _reconcile_at(real_env: dict[str, str], proxy: TwilioProxy, public_url: str, later: timedelta) -> int:
    """Run the beat's reconciliation once, as the notifier would `later` from now (in this process)."""
    settings = load_settings(
        NotifierSettings, notifier_database_url=real_env["NOTIFIER_DATABASE_URL"], broker_url=real_env["BROKER_URL"],
        data_key=real_env["DATA_KEY"], sms_provider="twilio", twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN, twilio_from="+4915187654321", twilio_api_base_url=proxy.url,
        public_base_url=public_url, lotse_env="production")
    notifier = build(settings, clock=lambda: datetime.now(UTC) + later)
    try:
        return notifier.dispatcher.reconcile()
    finally:
        notifier.engine.dispose()


def _status_callback(system: System, delivery_ref: str, status: str) -> httpx.Response:
    """What Twilio posts to the StatusCallback URL the notifier gave, signed with the auth token."""
    url = f"{system.url}/twilio/status?d={delivery_ref}"
    params = {"MessageSid": MOCK_SID, "MessageStatus": status, "AccountSid": ACCOUNT_SID,
              "From": "+4915187654321", "To": _phone(0), "ApiVersion": "2010-04-01", "SmsSid": MOCK_SID,
              "SmsStatus": status}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    return httpx.post(url, content=urlencode(params), timeout=10, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})


@pytest.mark.infra
def test_worker_killed_after_twilio_took_the_message_never_sends_it_again(
    tmp_path: Path, real_env: dict[str, str], twilio_mock_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with _system(tmp_path, real_env, twilio_mock_url) as (system, proxy, client):
        _kill_on_first(system, proxy, "forward_then_drop")
        tokens = _book(client, 1)
        _all_confirmed(client, tokens)
        poll(lambda: system.processes["notifier"].poll() is not None, seconds=30)
        assert len(proxy.posts) == 1
        # Claimed and handed over, outcome unknown to the notifier: nothing may send it again.
        assert _confirmations(real_env) == [("confirmation", "sending", 1, "queued", None)]
        system.start("notifier")
        _quiet_for_ticks(system)
        assert len(proxy.attempts) == 1

        # Reconciliation asks Twilio (the mock knows nothing): not before two minutes, then it keeps asking,
        # after 15 minutes it gives up as `unknown` (an admin decides). It never sends.
        assert _reconcile_at(real_env, proxy, system.url, timedelta(minutes=3)) == 0
        assert _confirmations(real_env) == [("confirmation", "sending", 1, "queued", None)]
        assert _reconcile_at(real_env, proxy, system.url, timedelta(minutes=16)) == 0
        assert _confirmations(real_env) == [("confirmation", "unknown", 1, "queued", None)]
        assert "ALERT confirmation message: the provider never confirmed it" in caplog.text

        # Twilio's status callback names the delivery by its ref: the message did go out, it is settled as sent.
        answer = _status_callback(system, proxy.posts[0].delivery_ref, "delivered")
        assert answer.status_code == 204, answer.text
        poll(lambda: _confirmations(real_env) == [("confirmation", "sent", 1, "delivered", MOCK_SID)], seconds=30)
        _quiet_for_ticks(system)

    assert len(proxy.attempts) == len(proxy.posts) == 1
    _bodies_once(_bodies(proxy), tokens)


@pytest.mark.infra
def test_worker_killed_before_its_request_reached_twilio_never_sends_it_blindly(
    tmp_path: Path, real_env: dict[str, str], twilio_mock_url: str
) -> None:
    """The narrow gap between the committed claim and the request: the notifier cannot tell it from the case
    above, so it does not resend; with a real Twilio the reconciliation finds nothing and it ends `unknown`."""
    with _system(tmp_path, real_env, twilio_mock_url) as (system, proxy, client):
        _kill_on_first(system, proxy, "drop")
        tokens = _book(client, 1)
        _all_confirmed(client, tokens)
        poll(lambda: system.processes["notifier"].poll() is not None, seconds=30)
        system.start("notifier")
        _quiet_for_ticks(system)
        assert _reconcile_at(real_env, proxy, system.url, timedelta(minutes=16)) == 0
        _quiet_for_ticks(system, 2)

    assert len(proxy.attempts) == 1 and proxy.posts == []
    assert _confirmations(real_env) == [("confirmation", "unknown", 1, "queued", None)]


@pytest.mark.infra
def test_reminders_due_while_rabbitmq_is_down_go_out_once_after_it_returns(
    tmp_path: Path, private_broker_env: dict[str, str], private_rabbit: PrivateRabbit, twilio_mock_url: str
) -> None:
    env = private_broker_env  # a broker of the test's own: the shared one is never stopped
    with _system(tmp_path, env, twilio_mock_url) as (system, proxy, client):
        tokens = _book(client, 3)
        _all_confirmed(client, tokens)
        poll(lambda: len(proxy.posts) >= 3, seconds=30)
        private_rabbit.stop()
        due_in = timedelta(seconds=2)
        planned = _make_reminders_due(env, due_in)
        # Nothing may go out while the broker is down, even once the rows are due: the dispatcher is told by tasks.
        time.sleep(due_in.total_seconds())
        assert_stays(lambda: len(proxy.attempts), 3, seconds=4)
        private_rabbit.start()
        poll(lambda: len(proxy.attempts) >= 3 + planned, seconds=60)
        _quiet_for_ticks(system)

    assert len(proxy.attempts) == len(proxy.posts) == 3 + planned
    _bodies_once(_bodies(proxy)[:3], tokens)
    assert sorted(m[1:] for m in _messages(env) if m[0] == "reminder" and m[1] != "cancelled") == \
        [("sent", 1, "sending", MOCK_SID)] * planned


@pytest.mark.infra
def test_worker_killed_during_a_batch_still_sends_the_rest_of_it_once(
    tmp_path: Path, real_env: dict[str, str], twilio_mock_url: str
) -> None:
    with _system(tmp_path, real_env, twilio_mock_url) as (system, proxy, client):
        tokens = _book(client, 3)
        _all_confirmed(client, tokens)
        poll(lambda: [m[1] for m in _messages(real_env) if m[0] == "confirmation"] == ["sent"] * 3, seconds=40)
        _kill(system, "notifier")
        planned = _make_reminders_due(real_env)  # all due at once: the restarted worker claims them in one batch
        assert planned >= 6  # 24 h and 2 h before each of the three
        _kill_on_first(system, proxy, "forward_then_drop", at=4)
        system.start("notifier")
        poll(lambda: system.processes["notifier"].poll() is not None, seconds=40)
        system.start("notifier")
        _quiet_for_ticks(system)
        # The claimed but never requested ones are released (the one Twilio took is not: its outcome is unknown).
        assert _reconcile_at(real_env, proxy, system.url, timedelta(minutes=16)) == planned - 1
        _quiet_for_ticks(system, 2)
        reminders = sorted(m[1] for m in _messages(real_env) if m[0] == "reminder" and m[1] != "cancelled")

    # The one Twilio took is unknown to the notifier (it ends `unknown`); every other reminder must still go out.
    assert len(proxy.attempts) == len(proxy.posts) == 3 + planned, (planned, reminders)
