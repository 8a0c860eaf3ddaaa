"""A booking through HTTP reaches the handset: on RabbitMQ + PostgreSQL + Twilio's API contract, and embedded."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.system import (
    assert_stays,
    base_env,
    book_first_free_slot,
    free_port,
    poll,
    running_system,
    wait_for_status,
)
from tests.support.twilio_proxy import twilio_proxy

PHONE = "+4915112345678"
ACCOUNT_SID = "AC" + "0" * 32
MOCK_SID = "SM" + "a" * 32  # the sid in every answer of the contract mock
MESSAGES_POST = re.compile(r"\[HTTP SERVER\] post /2010-04-01/Accounts/AC0{32}/Messages\.json")


def _mock_requests() -> list[str]:
    log = Path(os.environ["LOTSE_TEST_TWILIO_MOCK_LOG"]).read_text(errors="replace")
    return MESSAGES_POST.findall(log)


def _assert_phone_nowhere(system_logs: str, *files: Path) -> None:
    for needle in (PHONE, PHONE[1:], "015112345678", "15112345678"):
        assert needle not in system_logs
        for path in files:
            if path.exists():
                assert needle.encode() not in path.read_bytes(), f"phone number in clear in {path.name}"


@pytest.mark.infra
def test_booking_on_rabbitmq_postgres_reaches_twilio_exactly_once(
    tmp_path: Path, real_env: dict[str, str], twilio_mock_url: str
) -> None:
    before = len(_mock_requests())
    # The recording proxy keeps what the mock answered: the mock's log alone does not say it accepted the request.
    with twilio_proxy(twilio_mock_url) as proxy:
        env = base_env(tmp_path, free_port(), {
            **real_env,
            "SMS_PROVIDER": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": "test-token",
            "TWILIO_FROM": "+4915187654321",
            "TWILIO_API_BASE_URL": proxy.url,
            "LOTSE_ENV": "production",
        })
        with running_system(env, tmp_path) as system, httpx.Client(base_url=system.url, timeout=10) as client:
            accepted = book_first_free_slot(client, PHONE, language="en")
            assert accepted["status"] == "pending"
            confirmed = wait_for_status(client, accepted["manage_token"], "confirmed")
            assert confirmed["slot"]["location"]["alias"]
            poll(lambda: [post for post in proxy.attempts if post.status is not None], seconds=30)
            assert_stays(lambda: len(proxy.attempts), 1)
            logs = system.all_logs()

    [post] = proxy.posts
    assert post.status == 201, "Twilio's contract mock refused the Messages request"  # 201 Created, as Twilio
    assert (post.form["To"], post.form["From"]) == (PHONE, "+4915187654321")
    assert post.form["Body"].startswith("Appointment confirmed")
    assert f"/m/{accepted['manage_token']}" in post.form["Body"]
    assert len(_mock_requests()) == before + 1
    # The notifier read the mock's answer as a sent message: the delivery carries the sid the mock gave.
    with psycopg.connect(real_env["NOTIFIER_DATABASE_URL"]) as db:
        sent = db.execute("SELECT r.status, d.provider_sid FROM reminders r JOIN deliveries d ON d.reminder_id = r.id "
                          "WHERE r.kind = 'confirmation'").fetchall()
    assert sent == [("sent", MOCK_SID)]
    assert "Traceback" not in logs
    _assert_phone_nowhere(logs)


def test_booking_on_embedded_default_lands_in_the_sink_once(tmp_path: Path) -> None:
    env = base_env(tmp_path, free_port())
    with running_system(env, tmp_path) as system, httpx.Client(base_url=system.url, timeout=10) as client:
        accepted = book_first_free_slot(client, PHONE, language="de")
        wait_for_status(client, accepted["manage_token"], "confirmed")
        poll(system.sink, seconds=20)
        assert_stays(lambda: len(system.sink()), 1)
        messages = system.sink()
        logs = system.all_logs()
    sms = messages[0]
    assert sms["to"] != PHONE and sms["to"].endswith("678")
    assert sms["body"].startswith("Termin bestätigt")
    assert f"/m/{accepted['manage_token']}" in sms["body"]
    assert "Traceback" not in logs
    var_files = [p for p in tmp_path.iterdir() if p.is_file()]
    _assert_phone_nowhere(logs, *var_files)
