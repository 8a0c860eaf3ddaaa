"""Reconciliation keeps up: sends given up as `unknown` never crowd out the ones still to be asked about.

Each reconciliation run asks the provider about at most 50 deliveries left `queued` by a lost answer. One that
was given up (its message marked `unknown` after 15 minutes) stays `queued`: it may still be settled by a late
status callback. It must not be picked again, or after 50 such cases every later lost answer waits forever: never
settled, never marked `unknown`, no alert.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from notifier.app import build
from notifier.settings import NotifierSettings
from notifier.sms import SendOutcomeUnknown, SendResult, SinkSender
from notifier.tables import Delivery, Reminder
from sqlmodel import Session, select

from shared.contracts.deliveries import inbound_phone_context
from shared.crypto import generate_data_key
from shared.settings import load_settings

PHONE = "+4915112345678"


class AnswerLost(SinkSender):
    """Twilio took the message (it is in the sink) but its answer never came back."""

    def send(self, to: str, body: str, ref: str) -> SendResult:
        super().send(to, body, ref)
        raise SendOutcomeUnknown("ReadTimeout")


def test_a_lost_answer_is_settled_even_after_fifty_sends_were_given_up(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    clock = [now]
    settings = load_settings(NotifierSettings, notifier_database_url=f"sqlite:///{tmp_path / 'notifier.sqlite'}",
                             broker_url="memory://", data_key=generate_data_key(), var_dir=tmp_path)
    notifier = build(settings, clock=lambda: clock[0], sender=AnswerLost(tmp_path / "sink.jsonl", "Termin"))
    cipher = notifier.dispatcher.cipher
    with Session(notifier.engine) as session:
        for i in range(50):  # an hour ago: sent, never confirmed, given up
            reminder = Reminder(key=f"given-up-{i}", kind="opted_out", language="en", due_at=now - timedelta(hours=1),
                                not_after=now, status="unknown", attempts=1, outcome="outcome_unknown")
            session.add(reminder)
            session.flush()
            session.add(Delivery(reminder_id=reminder.id or 0, ref=f"old{i}", provider="sink", status="queued",
                                 created_at=now - timedelta(hours=1), updated_at=now - timedelta(minutes=44)))
        context = inbound_phone_context("SM" + "1" * 32)
        session.add(Reminder(key="answer", kind="opted_out", language="en", due_at=now,
                             not_after=now + timedelta(hours=12), phone_ciphertext=cipher.encrypt(PHONE, context),
                             phone_context=context))
        session.commit()

    notifier.dispatcher.dispatch_due()  # handed over, answer lost: left for reconciliation
    clock[0] = now + timedelta(minutes=3)
    settled = notifier.dispatcher.reconcile()

    with Session(notifier.engine) as session:
        answer = session.exec(select(Reminder).where(Reminder.key == "answer")).one()
        delivery = session.exec(select(Delivery).where(Delivery.reminder_id == answer.id)).one()
    notifier.engine.dispose()
    assert len((tmp_path / "sink.jsonl").read_text().splitlines()) == 1
    assert (settled, answer.status, delivery.provider_sid is not None) == (1, "sent", True)
