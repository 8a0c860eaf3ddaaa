"""`python -m notifier rotate-key`: the stored numbers and links are sealed again under DATA_KEY's first key, in
batches, while the notifier goes on working with both keys; idempotent, resumable, and it never overwrites a value a
handler changed meanwhile or one no key opens."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from notifier import migrations
from notifier.app import build
from notifier.repository import SEALED_COLUMNS, key_usage, replace_sealed, sealed_not_under
from notifier.rotation import rotate
from notifier.settings import NotifierSettings
from notifier.tables import Contact, Reminder
from sqlalchemy import Engine, insert
from sqlmodel import Session, select

from shared.contracts import BookingConfirmed, Mode, PublicLocation, Slot, wrap
from shared.contracts.contacts import manage_token_context, phone_context
from shared.contracts.deliveries import inbound_phone_context
from shared.crypto import DataCipher, generate_data_key, key_id_of
from shared.db import make_engine
from shared.settings import load_settings
from tests.support import infra
from tests.support.system import REPO, base_env, free_port

OLD, NEW = generate_data_key("k1"), generate_data_key("k2")
NOW = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)


def phone(i: int) -> str:
    return f"+49151{i:08d}"


def fill(engine: Engine, cipher: DataCipher, contacts: int, answers: int = 0) -> list[UUID]:
    """Contacts sealed by `cipher` (the old key), and answers to STOP that carry their own sealed number."""
    ids = [uuid4() for _ in range(contacts)]
    rows = [{"booking_id": str(b), "phone_ciphertext": cipher.encrypt(phone(i), phone_context(b)),
             "phone_hash": cipher.lookup_hash(phone(i)),
             "manage_token_ciphertext": cipher.encrypt(f"token{i:017d}", manage_token_context(b)),
             "language": "de", "reminders": True, "created_at": NOW, "purge_after": NOW + timedelta(days=30)}
            for i, b in enumerate(ids)]
    reminders = [{"key": f"stop-{i}", "kind": "opted_out", "language": "de", "due_at": NOW, "not_after": NOW,
                  "status": "sent", "attempts": 1, "phone_context": inbound_phone_context(f"SM{i:032x}"),
                  "phone_ciphertext": cipher.encrypt(phone(i), inbound_phone_context(f"SM{i:032x}")),
                  "created_at": NOW} for i in range(answers)]
    with engine.begin() as connection:
        for start in range(0, len(rows), 1000):
            connection.execute(insert(Contact.__table__), rows[start:start + 1000])  # type: ignore[attr-defined]
        if reminders:
            connection.execute(insert(Reminder.__table__), reminders)  # type: ignore[attr-defined]
    return ids


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    built = make_engine(f"sqlite:///{tmp_path / 'notifier.sqlite'}")
    migrations.upgrade(built)
    yield built
    built.dispose()


def test_every_sealed_value_moves_to_the_new_key_and_still_opens_to_the_same_number(engine: Engine) -> None:
    old = DataCipher.from_text(OLD)
    ids = fill(engine, old, contacts=25, answers=3)
    both = DataCipher.from_text(f"{NEW},{OLD}")  # during rotation: the new key seals, both open

    report = rotate(engine, both, batch_size=7)

    assert (report.resealed, report.unreadable, report.changed_meanwhile) == (25 + 25 + 3, 0, 0)
    assert report.remaining == {"k2": 53}
    with Session(engine) as session:
        contacts = {c.booking_id: c for c in session.exec(select(Contact))}
        answers = list(session.exec(select(Reminder)))
    for i, booking in enumerate(ids):
        contact = contacts[str(booking)]
        assert key_id_of(contact.phone_ciphertext) == "k2"
        assert both.decrypt(contact.phone_ciphertext, phone_context(booking)) == phone(i)
        assert both.decrypt(contact.manage_token_ciphertext, manage_token_context(booking)) == f"token{i:017d}"
        # The look-up hash comes from the last key listed (k1, still), so opt-outs keep matching.
        assert contact.phone_hash == old.lookup_hash(phone(i)) == both.lookup_hash(phone(i))
    for answer in answers:
        assert answer.phone_ciphertext is not None and key_id_of(answer.phone_ciphertext) == "k2"
        assert both.decrypt(answer.phone_ciphertext, answer.phone_context or "").startswith("+49151")

    again = rotate(engine, both, batch_size=7)
    assert (again.resealed, again.batches) == (0, 0), "a second run finds nothing to do"


def test_a_stopped_rotation_resumes_where_it_left_off(engine: Engine) -> None:
    fill(engine, DataCipher.from_text(OLD), contacts=20)
    both = DataCipher.from_text(f"{NEW},{OLD}")

    first = rotate(engine, both, batch_size=6, max_batches=2)  # stopped after two transactions
    assert first.resealed == 12
    assert first.remaining == {"k1": 28, "k2": 12}
    rest = rotate(engine, both, batch_size=6)
    assert rest.resealed == 28 and rest.remaining == {"k2": 40}


def test_a_value_no_listed_key_opens_is_counted_and_left_alone(engine: Engine) -> None:
    fill(engine, DataCipher.from_text(OLD), contacts=3)
    stranger = DataCipher.from_text(generate_data_key("k0"))
    [odd] = fill(engine, stranger, contacts=1)
    both = DataCipher.from_text(f"{NEW},{OLD}")

    report = rotate(engine, both, batch_size=2)

    assert (report.resealed, report.unreadable) == (6, 2)
    with Session(engine) as session:
        kept = session.get(Contact, str(odd))
    assert kept is not None and key_id_of(kept.phone_ciphertext) == "k0", "never overwritten"


def test_a_value_a_handler_changed_meanwhile_is_not_overwritten(engine: Engine) -> None:
    """On PostgreSQL a handler may write the contact between a batch's read and its write (on SQLite the batch's
    write lock keeps it out): the write is a compare-and-set, so the handler's value stays."""
    [booking] = fill(engine, DataCipher.from_text(OLD), contacts=1)
    both = DataCipher.from_text(f"{NEW},{OLD}")
    column = SEALED_COLUMNS[0]  # contacts.phone_ciphertext
    with engine.begin() as connection:
        [read] = sealed_not_under(connection, column, "k2", None, 10)
    handlers_value = both.encrypt("+4915199999999", phone_context(booking))
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE contacts SET phone_ciphertext = ?", (handlers_value,))
    with engine.begin() as connection:
        written = replace_sealed(connection, column, [(read, both.encrypt(phone(0), phone_context(booking)))])

    assert written == 0
    with Session(engine) as session:
        contact = session.get(Contact, str(booking))
    assert contact is not None and contact.phone_ciphertext == handlers_value


def test_the_notifier_sends_with_both_keys_during_rotation(tmp_path: Path) -> None:
    """A contact sealed under the old key, rotated while the notifier runs with `new,old`: its confirmation goes out
    to the right number, and look-ups by hash still find it."""
    settings = load_settings(NotifierSettings, var_dir=tmp_path, data_key=f"{NEW},{OLD}")
    notifier = build(settings, clock=lambda: NOW)
    try:
        [booking] = fill(notifier.engine, DataCipher.from_text(OLD), contacts=1)
        rotate(notifier.engine, DataCipher.from_text(f"{NEW},{OLD}"))
        start = NOW + timedelta(days=2)
        notifier.consumer.handle(wrap(BookingConfirmed(
            booking_id=booking,
            slot=Slot(slot_id=f"s2-1-1-1-{int(start.timestamp()) // 60}", start=start,
                      end=start + timedelta(minutes=50), mode=Mode.office, counsellor="Anna",
                      location=PublicLocation(location_id=1, town="Rostock", kind=Mode.office, alias="Rostock 1")),
            language="de"), booking).to_wire())
        notifier.dispatcher.dispatch_due()
    finally:
        notifier.engine.dispose()
    [sent] = [json.loads(line) for line in (tmp_path / "sms-sink.jsonl").read_text().splitlines()]
    assert sent["to"].endswith("000") and "token00000000000000000" in sent["body"]


def test_the_command_reports_counts_and_figures_never_a_value(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'notifier.sqlite'}")
    migrations.upgrade(engine)
    fill(engine, DataCipher.from_text(OLD), contacts=4)
    engine.dispose()
    env = base_env(tmp_path, free_port(), {"DATA_KEY": f"{NEW},{OLD}"})

    result = subprocess.run([sys.executable, "-m", "notifier", "rotate-key", "--batch-size", "3"], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    assert "resealed 8 values under key 'k2' in 4 batches" in result.stdout
    assert "values stored under each key now: k2: 8" in result.stdout
    assert "look-up hashes come from the last key in DATA_KEY ('k1'): keep it listed" in result.stdout
    assert "+49151" not in result.stdout + result.stderr and "token" not in result.stdout + result.stderr


def test_rotation_rate(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    """A figure for the report: contacts resealed per second on SQLite (two values each)."""
    fill(engine, DataCipher.from_text(OLD), contacts=5000)
    started = time.monotonic()
    report = rotate(engine, DataCipher.from_text(f"{NEW},{OLD}"))
    elapsed = time.monotonic() - started
    with engine.connect() as connection:
        assert key_usage(connection) == {"k2": 10000}
    with capsys.disabled():
        print(f"\nrotation: {report.resealed} values in {elapsed:.2f} s = {report.resealed / elapsed:.0f} values/s "
              f"({report.resealed / 2 / elapsed:.0f} contacts/s), batch 500, SQLite")


@pytest.mark.infra
def test_rotation_on_postgresql(migrated_databases: infra.Databases, capsys: pytest.CaptureFixture[str]) -> None:
    """The same walk on PostgreSQL (substr, keyset order over text keys, compare-and-set), with its figure."""
    engine = make_engine(migrated_databases.notifier)
    try:
        ids = fill(engine, DataCipher.from_text(OLD), contacts=5000, answers=5)
        both = DataCipher.from_text(f"{NEW},{OLD}")
        first = rotate(engine, both, max_batches=3)  # stopped early, resumed below
        started = time.monotonic()
        rest = rotate(engine, both)
        elapsed = time.monotonic() - started
        with engine.connect() as connection:
            usage = key_usage(connection)
        with Session(engine) as session:
            contact = session.get(Contact, str(ids[17]))
    finally:
        engine.dispose()
    assert first.resealed == 1500 and first.resealed + rest.resealed == 10005
    assert usage == {"k2": 10005}
    assert contact is not None and both.decrypt(contact.phone_ciphertext, phone_context(ids[17])) == phone(17)
    with capsys.disabled():
        print(f"\nrotation on PostgreSQL: {rest.resealed} values in {elapsed:.2f} s = "
              f"{rest.resealed / elapsed:.0f} values/s, batch 500")
