"""NOTIFIER_PUBLIC_KEY / NOTIFIER_PRIVATE_KEY on the real system: the gateway seals the number and the link for the
notifier with its public key, the notifier opens them, stores them under DATA_KEY and sends; a notifier without the
private key dead-letters such a contact instead of losing or guessing it."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from uuid import uuid4

import httpx
from notifier.app import build
from notifier.settings import NotifierSettings

from shared.contracts import ContactRegistered, wrap
from shared.contracts.contacts import manage_token_context, phone_context
from shared.crypto import DataCipher, SealingKey, generate_box_key, generate_data_key, parse_data_key
from shared.settings import load_settings
from tests.support.dead_letters import take_dead_letters
from tests.support.system import base_env, book_first_free_slot, free_port, poll, running_system, wait_for_status

PHONE = "+4915112348765"


def test_a_booking_sealed_for_the_notifier_is_confirmed_by_sms(tmp_path: Path) -> None:
    private, public = generate_box_key()
    env = base_env(tmp_path, free_port(), {"NOTIFIER_PUBLIC_KEY": public, "NOTIFIER_PRIVATE_KEY": private})
    with running_system(env, tmp_path) as system, httpx.Client(base_url=system.url, timeout=15) as client:
        system.stop("notifier")  # the contact waits in the broker, where it can be looked at
        booked = book_first_free_slot(client, PHONE, language="en")
        wait_for_status(client, booked["manage_token"], "confirmed")
        waiting = poll(lambda: _queued(tmp_path, "contact.registered"), seconds=30)
        assert '"phone": "x1.' in waiting and PHONE not in waiting and PHONE[3:] not in waiting
        system.start("notifier")
        [sms] = poll(lambda: [m for m in system.sink() if booked["manage_token"] in m["body"]], seconds=30)
        logs = system.all_logs()
    assert sms["to"].endswith("765")
    with sqlite3.connect(tmp_path / "notifier.sqlite") as db:
        [(stored,)] = db.execute("SELECT phone_ciphertext FROM contacts").fetchall()
    assert stored.startswith("v1."), "stored under DATA_KEY, which the rotation and the dispatcher read"
    assert PHONE not in logs and PHONE[3:] not in logs


def _queued(var_dir: Path, message_type: str) -> str | None:
    """The body of a message of this type waiting in the embedded broker, if one is."""
    with sqlite3.connect(var_dir / "broker.sqlite", timeout=30) as db:
        for (payload,) in db.execute("SELECT payload FROM lotse_broker_messages"):
            if message_type in payload:  # the routing key, in clear; the body is base64 (kombu's encoding)
                return base64.b64decode(json.loads(payload)["body"]).decode()
    return None


def test_a_notifier_without_the_private_key_dead_letters_the_sealed_contact(tmp_path: Path) -> None:
    _private, public = generate_box_key()
    data_key = generate_data_key()
    gateway = DataCipher(parse_data_key(data_key), sealing=SealingKey(public))
    booking_id = uuid4()
    raw = wrap(ContactRegistered(booking_id=booking_id, language="de",
                                 phone=gateway.seal_for_notifier(PHONE, phone_context(booking_id)),
                                 manage_token=gateway.seal_for_notifier("B" * 22, manage_token_context(booking_id))),
               booking_id).to_wire()
    settings = load_settings(NotifierSettings, var_dir=tmp_path, data_key=data_key)
    notifier = build(settings)
    try:
        notifier.consumer.handle(raw)  # must not raise: the worker goes on
        with notifier.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM contacts").scalar() == 0
    finally:
        notifier.engine.dispose()
    [letter] = take_dead_letters(settings)
    assert letter["message"] == raw and letter["reason"] == "handler failed: DecryptionError"
