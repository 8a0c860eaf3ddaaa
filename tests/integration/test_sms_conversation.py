"""Booking by SMS on the real system (embedded default, the roles as processes): a phone's texts posted to
/twilio/sms as Twilio posts them (signed with the twilio SDK's RequestValidator), the replies read from the SMS sink.

Issue "Lotse 6/7", "Booking by SMS": a client texts a word for appointment in their language, gets the next free
times numbered, answers with a number and gets the usual confirmation with the manage link; CHANGE lists the times
the appointment may move to and a number moves it (the "moved" notice confirms; a time taken meanwhile keeps the old
one and gets fresh times); CANCEL asks first and never opts out; STOP says what happens to a booked appointment; a
retried webhook is answered once; a list past its timeout books nothing; a time taken between the list and the
answer is said so with fresh times; gibberish gets one reply, not a loop; too many texts a minute from one number
pause it. One system serves the module; each test texts from a number of its own.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy import text as text_sql
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator

from shared.crypto import DataCipher
from shared.phones import mask_phone
from tests.support import infra
from tests.support.system import REPO, System, assert_stays, poll, running_system_in_own_dir, wait_for_status

AUTH_TOKEN = "sms-conversation-test-token-0123456789"
PER_MINUTE = 4
LINK = re.compile(r"http://127\.0\.0\.1:\d+/m/([A-Za-z0-9_-]{16,64})")
LISTED = re.compile(r"^(\d)\) ", re.MULTILINE)
QUIET_SECONDS = 3.0  # how long "no further reply" is watched


class Systems:
    """The module's running systems, started on first use: the embedded default serves every test; RabbitMQ +
    PostgreSQL (where the number's lock is an advisory lock and the gateway's threads really answer webhooks side by
    side) serves the tests marked BOTH_DATABASES, those where the database's locking and time handling matter."""

    def __init__(self, stack: ExitStack) -> None:
        self.stack = stack
        self.running: dict[str, System] = {}

    def __call__(self, kind: str) -> System:
        if kind not in self.running:
            self.running[kind] = self.stack.enter_context(self._start(kind))
        return self.running[kind]

    @contextmanager
    def _start(self, kind: str) -> Iterator[System]:
        extra = {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "SMS_PER_PHONE_MINUTE": str(PER_MINUTE)}
        if kind == "embedded":
            with running_system_in_own_dir("lotse-sms-", extra) as running:
                yield running
            return
        databases, vhost = infra.create_databases(migrated=True), infra.create_vhost()
        try:
            with running_system_in_own_dir("lotse-sms-pg-", {
                    **extra, "BROKER_URL": infra.amqp_url(vhost), "GATEWAY_DATABASE_URL": databases.gateway,
                    "SCHEDULER_DATABASE_URL": databases.scheduler,
                    "NOTIFIER_DATABASE_URL": databases.notifier}) as running:
                yield running
        finally:
            infra.delete_vhost(vhost)
            infra.drop_databases(databases)


@pytest.fixture(scope="module")
def systems() -> Iterator[Systems]:
    with ExitStack() as stack:
        yield Systems(stack)


@pytest.fixture
def system(request: pytest.FixtureRequest, systems: Systems) -> System:
    kind = getattr(request, "param", "embedded")
    if kind == "postgresql":
        request.getfixturevalue("infrastructure")
    return systems(kind)


# The tests run on RabbitMQ + PostgreSQL as well as on the embedded default.
BOTH_DATABASES = pytest.mark.parametrize(
    "system", ["embedded", pytest.param("postgresql", marks=pytest.mark.infra)], indirect=True)


@pytest.fixture
def client(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.url, timeout=20) as http:
        yield http


_numbers = iter(range(100, 1000))


@pytest.fixture
def phone() -> str:
    """A mobile number of this test's own (the sink shows numbers masked to their last three digits)."""
    return f"+4915198765{next(_numbers):03d}"


def new_sid() -> str:
    return "SM" + secrets.token_hex(16)


def text(system: System, phone: str, body: str, sid: str | None = None) -> str:
    """Send a text as the phone would: Twilio posts the form to the webhook, signed over the public URL."""
    sid = sid or new_sid()
    params = [("MessageSid", sid), ("SmsSid", sid), ("AccountSid", "AC" + "0" * 32), ("From", phone),
              ("To", "+4915199990000"), ("Body", body), ("NumMedia", "0"), ("NumSegments", "1")]
    url = f"{system.url}/twilio/sms"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, ImmutableMultiDict(params))
    response = httpx.post(url, content=urlencode(params), timeout=20, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
    assert response.status_code == 200, response.text
    return sid


def replies(system: System, phone: str) -> list[str]:
    return [entry["body"] for entry in system.sink() if entry["to"] == mask_phone(phone)]


def wait_replies(system: System, phone: str, count: int) -> list[str]:
    return list(poll(lambda: (found := replies(system, phone)) and len(found) >= count and found, seconds=30))


def gateway_rows(system: System, sql: str, **params: object) -> list[tuple[Any, ...]]:
    """Rows of the gateway's database (SQLite file or PostgreSQL), by plain SQL with :named parameters."""
    url = system.env.get("GATEWAY_DATABASE_URL") or f"sqlite:///{system.var_dir / 'gateway.sqlite'}"
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as connection:
            result = connection.execute(text_sql(sql), params)
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def phone_hash(system: System, phone: str) -> str:
    cipher = DataCipher.from_text((system.var_dir / "data.key").read_text().strip())
    return cipher.lookup_hash(f"lotse-client-phone:{phone}")


def listed_count(body: str) -> int:
    return len(LISTED.findall(body))


def book_on_the_web(client: httpx.Client, phone: str, slot_id: str | None = None) -> str:
    if slot_id is None:
        slot_id = client.get("/v1/slots", params={"language": "de"}).json()["slots"][0]["slot_id"]
    response = client.post("/v1/bookings", json={"slot_id": slot_id, "phone": phone, "language": "de",
                                                 "channel": "web"})
    assert response.status_code == 202, response.text
    token = str(response.json()["manage_token"])
    wait_for_status(client, token, "confirmed")
    return token


# --- booking ------------------------------------------------------------------------------------------------------


@BOTH_DATABASES
def test_a_client_books_by_sms_in_romanian_and_gets_the_confirmation_with_the_manage_link(
        system: System, client: httpx.Client, phone: str) -> None:
    text(system, phone, "Programare")
    [offer] = wait_replies(system, phone, 1)
    assert offer.startswith("Ore libere, raspundeti cu numarul:\n1) ")
    assert 1 <= listed_count(offer) <= 5

    text(system, phone, "2" if listed_count(offer) > 1 else "1")
    confirmation = wait_replies(system, phone, 2)[1]
    assert confirmation.startswith("Programare confirmata: ")
    token = LINK.search(confirmation).group(1)  # type: ignore[union-attr]
    # The notifier and the gateway each hear booking.confirmed: the text can arrive before the gateway recorded it.
    wait_for_status(client, token, "confirmed")
    assert gateway_rows(system, "SELECT channel, language FROM booking_requests WHERE phone_hash = :h",
                        h=phone_hash(system, phone)) == [("sms", "ro")]
    # The number and the words stay out of every log.
    logs = system.all_logs()
    assert phone not in logs and phone[3:] not in logs and "Programare" not in logs


def test_a_thai_client_books_by_sms_with_a_language_mediator_and_gets_every_text_in_thai(
        system: System, client: httpx.Client, phone: str) -> None:
    text(system, phone, "นัดค่ะ")
    [offer] = wait_replies(system, phone, 1)
    assert offer.startswith("เวลาว่าง ตอบด้วยหมายเลข:\n1) ")
    text(system, phone, "๑")  # the Thai digit one
    confirmation = wait_replies(system, phone, 2)[1]
    # No counsellor of the demo calendar speaks Thai: booked with any counsellor and a language mediator, in Thai.
    assert confirmation.startswith("ยืนยันนัด ")
    token = LINK.search(confirmation).group(1)  # type: ignore[union-attr]
    # The notifier and the gateway each hear booking.confirmed: the text can arrive before the gateway recorded it.
    assert wait_for_status(client, token, "confirmed")["conversation"] == "mediator"
    assert gateway_rows(system, "SELECT language, conversation FROM booking_requests WHERE phone_hash = :h",
                        h=phone_hash(system, phone)) == [("th", "mediator")]


@pytest.mark.parametrize(("word", "opening"), [
    ("час", "Свободни часове, отговорете с номера:"),
    ("นัดค่ะ", "เวลาว่าง ตอบด้วยหมายเลข:"),
    ("Hallo, ich hätte gern einen Termin", "Freie Termine, antworten Sie mit der Nummer:"),
    ("I want to book", "Free times, reply with the number:"),
])
def test_the_times_come_in_the_language_of_the_word(system: System, phone: str, word: str, opening: str) -> None:
    text(system, phone, word)
    [offer] = wait_replies(system, phone, 1)
    assert offer.startswith(opening + "\n1) ")


def test_a_word_several_languages_share_is_answered_in_german_and_english(system: System, phone: str) -> None:
    text(system, phone, "1")  # "1" is how the flyer says "an appointment"
    [offer] = wait_replies(system, phone, 1)
    assert offer.startswith("Freie Termine, antworten Sie mit der Nummer:\n1) ")
    assert "\nFree times, reply with the number:\n1) " in offer


@BOTH_DATABASES
def test_a_webhook_twilio_retries_is_answered_once(system: System, phone: str) -> None:
    sid = text(system, phone, "Termin")
    text(system, phone, "Termin", sid=sid)
    wait_replies(system, phone, 1)
    text(system, phone, "Termin", sid=sid)
    assert_stays(lambda: len(replies(system, phone)), 1, seconds=QUIET_SECONDS)


@BOTH_DATABASES
def test_a_number_after_the_list_timed_out_books_nothing_and_gets_fresh_times(system: System, phone: str) -> None:
    text(system, phone, "appointment")
    wait_replies(system, phone, 1)
    subject = phone_hash(system, phone)
    gateway_rows(system, "UPDATE sms_conversations SET expires_at = :past WHERE phone_hash = :h",  # 15 minutes pass
                 past=datetime(2000, 1, 1, tzinfo=UTC) if system.env.get("GATEWAY_DATABASE_URL")
                 else "2000-01-01 00:00:00.000000", h=subject)

    text(system, phone, "1")
    fresh = wait_replies(system, phone, 2)[1]
    assert fresh.startswith("That list has expired. Free times now, reply with the number:\n1) ")
    assert gateway_rows(system, "SELECT count(*) FROM booking_requests WHERE phone_hash = :h", h=subject) == [(0,)]


@BOTH_DATABASES
def test_a_time_taken_between_the_list_and_the_answer_is_said_so_with_fresh_times(
        system: System, client: httpx.Client, phone: str) -> None:
    text(system, phone, "Termin")
    wait_replies(system, phone, 1)
    [(context,)] = gateway_rows(system, "SELECT context_json FROM sms_conversations WHERE phone_hash = :h",
                                h=phone_hash(system, phone))
    first = re.search(r'"slot_id": "([^"]+)"', context).group(1)  # type: ignore[union-attr]
    book_on_the_web(client, "+4915112399001", first)  # someone else takes the first time listed

    text(system, phone, "1")
    taken = wait_replies(system, phone, 2)[1]
    assert taken.startswith("Diese Zeit wurde leider gerade vergeben. Freie Termine, antworten Sie mit der "
                            "Nummer:\n1) ")
    assert listed_count(taken) >= 1
    assert_stays(lambda: len(replies(system, phone)), 2, seconds=QUIET_SECONDS)  # no confirmation of anything


# --- change, cancel, stop -----------------------------------------------------------------------------------------


def test_cancel_asks_first_no_keeps_the_appointment_and_yes_cancels_it(
        system: System, client: httpx.Client, phone: str) -> None:
    token = book_on_the_web(client, phone)
    wait_replies(system, phone, 1)  # the confirmation

    text(system, phone, "ABSAGEN")
    question = wait_replies(system, phone, 2)[1]
    assert question.startswith("Ihren Termin ") and question.endswith("absagen? Antworten Sie JA oder NEIN.")
    text(system, phone, "nein")
    assert wait_replies(system, phone, 3)[2].endswith("bleibt.")
    assert client.get(f"/v1/bookings/{token}").json()["status"] == "confirmed"

    text(system, phone, "absagen")
    wait_replies(system, phone, 4)
    text(system, phone, "Ja")
    answers = wait_replies(system, phone, 6)  # "is being cancelled" and the notice of the cancellation
    assert any(a.startswith("OK, Ihr Termin ") and a.endswith("wird abgesagt.") for a in answers[4:])
    wait_for_status(client, token, "cancelled")
    # Cancelling is not opting out: the cancellation notice itself arrived, and the number can still book.
    assert any(a.startswith("Termin abgesagt: ") for a in answers[4:])


def listed_slot_ids(system: System, phone: str) -> list[str]:
    """The slots behind the numbers of the list the conversation showed last, in their order."""
    [(context,)] = gateway_rows(system, "SELECT context_json FROM sms_conversations WHERE phone_hash = :h",
                                h=phone_hash(system, phone))
    return [str(offer["slot_id"]) for offer in json.loads(context)["offers"]]


def test_change_lists_times_to_move_to_and_a_number_moves_the_appointment_the_web_way(
        system: System, client: httpx.Client, phone: str) -> None:
    token = book_on_the_web(client, phone)
    wait_replies(system, phone, 1)
    before = client.get(f"/v1/bookings/{token}").json()["slot"]

    text(system, phone, "ÄNDERN")
    listed = wait_replies(system, phone, 2)[1]
    assert listed.startswith("Ihr Termin: ") and "Andere freie Termine, antworten Sie mit der Nummer:\n1) " in listed
    assert "/m/" not in listed  # the times only: nothing on a lock screen but when and the place's alias
    chosen = listed_slot_ids(system, phone)[listed_count(listed) - 1]
    assert chosen != before["slot_id"]

    sid = text(system, phone, str(listed_count(listed)))
    text(system, phone, str(listed_count(listed)), sid=sid)  # Twilio retries the webhook: one move
    moved = wait_replies(system, phone, 3)[2]
    assert moved.startswith("Termin verschoben auf ") and moved.endswith("STOP = keine SMS mehr")
    booking = wait_for_status(client, token, "confirmed")
    assert poll(lambda: client.get(f"/v1/bookings/{token}").json()["slot"]["slot_id"] == chosen)
    assert client.get(f"/v1/bookings/{token}").json()["move"]["status"] == "moved"
    assert booking["status"] == "confirmed"
    assert_stays(lambda: len(replies(system, phone)), 3, seconds=QUIET_SECONDS)


@BOTH_DATABASES
def test_a_time_taken_between_the_move_list_and_the_answer_keeps_the_appointment_and_lists_fresh_times(
        system: System, client: httpx.Client, phone: str) -> None:
    token = book_on_the_web(client, phone)
    wait_replies(system, phone, 1)
    before = client.get(f"/v1/bookings/{token}").json()["slot"]
    text(system, phone, "CHANGE")
    listed = wait_replies(system, phone, 2)[1]
    assert listed.startswith("Your appointment ") and "Other free times, reply with the number:\n1) " in listed
    # Someone else takes the last time listed (the first ones may overlap the appointment's own time: free for it,
    # not for others).
    book_on_the_web(client, "+4915112399002", listed_slot_ids(system, phone)[listed_count(listed) - 1])

    text(system, phone, str(listed_count(listed)))
    taken = wait_replies(system, phone, 3)[2]
    assert taken.startswith("Sorry, that time was just taken. Your appointment ")
    assert " stays. Free times, reply with the number:\n1) " in taken
    booking = client.get(f"/v1/bookings/{token}").json()
    assert booking["slot"] == before and booking["move"]["status"] == "refused"
    assert_stays(lambda: len(replies(system, phone)), 3, seconds=QUIET_SECONDS)  # no "moved" notice

    text(system, phone, "1")  # the fresh list moves it
    moved = wait_replies(system, phone, 4)[3]
    assert moved.startswith("Termin verschoben auf ")  # the notice comes in the booking's language
    assert poll(lambda: client.get(f"/v1/bookings/{token}").json()["move"]["status"] == "moved")


def test_a_move_refused_on_the_manage_page_is_not_answered_by_sms(
        system: System, client: httpx.Client, phone: str) -> None:
    token = book_on_the_web(client, phone)
    wait_replies(system, phone, 1)
    text(system, phone, "HILFE")  # the number has a conversation too
    wait_replies(system, phone, 2)
    # The last time listed: the first ones may overlap the appointment's own time (free for it, not for others).
    taken = client.get(f"/v1/bookings/{token}/slots").json()["slots"][-1]["slot_id"]
    book_on_the_web(client, "+4915112399003", taken)
    assert client.post(f"/v1/bookings/{token}/move", json={"slot_id": taken}).status_code == 202
    poll(lambda: client.get(f"/v1/bookings/{token}").json()["move"]["status"] == "refused")
    assert_stays(lambda: len(replies(system, phone)), 2, seconds=QUIET_SECONDS)  # the page says why


def test_change_without_an_appointment_says_there_is_none(system: System, phone: str) -> None:
    text(system, phone, "ändern")
    [answer] = wait_replies(system, phone, 1)
    assert answer == "Für diese Nummer ist kein Termin geplant. Senden Sie TERMIN, um einen zu buchen."


def test_cancel_without_an_appointment_says_there_is_none(system: System, phone: str) -> None:
    text(system, phone, "отмена")
    [answer] = wait_replies(system, phone, 1)
    assert answer == "Нет предстоящей записи для этого номера. Отправьте ЗАПИСЬ, чтобы записаться."


def test_stop_with_a_booked_appointment_says_it_stays_and_where_to_cancel_it(
        system: System, client: httpx.Client, phone: str) -> None:
    token = book_on_the_web(client, phone)
    wait_replies(system, phone, 1)
    text(system, phone, "STOP")
    answer = wait_replies(system, phone, 2)[1]
    assert answer.startswith("Keine SMS mehr von uns. Ihr Termin ") and "bleibt gebucht" in answer
    assert f"/m/{token}" in answer and answer.endswith("START = wieder SMS")
    assert client.get(f"/v1/bookings/{token}").json()["status"] == "confirmed"


# --- not a loop ---------------------------------------------------------------------------------------------------


def test_gibberish_is_answered_once_in_the_language_of_the_conversation(system: System, phone: str) -> None:
    text(system, phone, "ajutor")
    wait_replies(system, phone, 1)
    text(system, phone, "asdf qwer")
    answer = wait_replies(system, phone, 2)[1]
    assert answer == "Nu am inteles. Trimiteti PROGRAMARE pentru ore libere sau AJUTOR."
    text(system, phone, "???? zzz")
    text(system, phone, "hmm")
    assert_stays(lambda: len(replies(system, phone)), 2, seconds=QUIET_SECONDS)


@BOTH_DATABASES
def test_too_many_texts_a_minute_pause_the_number_with_one_reply(system: System, phone: str) -> None:
    for _ in range(PER_MINUTE + 3):
        text(system, phone, "HILFE")
    answers = wait_replies(system, phone, PER_MINUTE + 1)
    assert_stays(lambda: len(replies(system, phone)), PER_MINUTE + 1, seconds=QUIET_SECONDS)
    assert sorted(answers).count(answers[0]) == PER_MINUTE  # the help text, once per text let through
    assert [a for a in answers if a.startswith("Zu viele Nachrichten.")] == [
        "Zu viele Nachrichten. Ihre nächsten lesen wir in ein paar Minuten."]


# --- trying it without Twilio -------------------------------------------------------------------------------------


def test_lotse_phone_texts_through_the_signed_webhook_and_prints_the_replies(system: System, phone: str) -> None:
    done = subprocess.run([sys.executable, "-m", "lotse", "phone", "--from", phone, "--wait", "20", "Termin"],
                          env=system.env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert f"→ {mask_phone(phone)}: Termin" in done.stdout
    assert "← Freie Termine, antworten Sie mit der Nummer:\n1) " in done.stdout
    assert len(replies(system, phone)) == 1
