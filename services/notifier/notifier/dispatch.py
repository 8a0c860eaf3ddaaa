"""The dispatcher: claims due reminders, renders them and hands them to the SMS provider, once.

A reminder is claimed (pending → sending) and its delivery row written in one committed transaction before the
provider is called, so no second dispatcher, retry or redelivery can send it again. If the process dies during
the provider call the delivery stays `sending`: its outcome is unknown and it is never resent blindly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, update
from sqlmodel import Session, col, delete, select

from notifier.domain.texts import render
from notifier.sms import SendFailed, SmsSender
from notifier.tables import BookingFacts, Contact, Delivery, Reminder
from shared.contracts.contacts import manage_token_context, phone_context
from shared.crypto import DataCipher
from shared.db import is_postgres
from shared.logging import correlation_id
from shared.phones import mask_phone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Job:
    reminder_id: int
    delivery_id: int
    booking_id: str
    kind: str
    phone_ciphertext: str
    token_ciphertext: str
    language: str
    starts_at: datetime
    place_alias: str


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        cipher: DataCipher,
        sender: SmsSender,
        zone: ZoneInfo,
        public_base_url: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.cipher = cipher
        self.sender = sender
        self.zone = zone
        self.public_base_url = public_base_url
        self.clock = clock

    def dispatch_due(self, limit: int = 50) -> int:
        jobs = self._claim(limit)
        for job in jobs:
            token = correlation_id.set(job.booking_id)
            try:
                self._send(job)
            finally:
                correlation_id.reset(token)
        return len(jobs)

    def _claim(self, limit: int) -> list[_Job]:
        now = self.clock()
        with Session(self.engine, expire_on_commit=False) as session:
            query = (
                select(Reminder, Contact, BookingFacts)
                .join(Contact, col(Contact.booking_id) == Reminder.booking_id)
                .join(BookingFacts, col(BookingFacts.booking_id) == Reminder.booking_id)
                .where(Reminder.status == "pending", col(Reminder.due_at) <= now, BookingFacts.status == "confirmed")
                .order_by(col(Reminder.due_at))
                .limit(limit)
            )
            if is_postgres(self.engine):
                query = query.with_for_update(skip_locked=True, of=Reminder)
            jobs = []
            for reminder, contact, facts in session.exec(query).all():
                reminder.status = "sending"
                session.add(reminder)
                delivery = Delivery(
                    reminder_id=reminder.id or 0,
                    booking_id=reminder.booking_id,
                    provider=self.sender.name,
                    status="sending",
                    to_masked="",
                    created_at=now,
                    updated_at=now,
                )
                session.add(delivery)
                session.flush()
                jobs.append(_Job(reminder.id or 0, delivery.id or 0, reminder.booking_id, reminder.kind,
                                 contact.phone_ciphertext, contact.manage_token_ciphertext, contact.language,
                                 facts.starts_at, facts.place_alias))
            session.commit()
            return jobs

    def _send(self, job: _Job) -> None:
        booking = UUID(job.booking_id)
        phone = self.cipher.decrypt(job.phone_ciphertext, phone_context(booking))
        manage_token = self.cipher.decrypt(job.token_ciphertext, manage_token_context(booking))
        link = f"{self.public_base_url}/m/{manage_token}"
        text = render(job.kind, job.language, job.starts_at, job.place_alias, link, self.zone)
        status, sid, code = "sent", None, None
        try:
            result = self.sender.send(phone, text.body)
            sid = result.provider_sid
        except SendFailed as failed:
            status, code = "failed", failed.code
            log.warning("%s message refused by %s (code %s)", job.kind, self.sender.name, code)
        except Exception:
            log.exception("%s message: outcome unknown, left as sending for reconciliation", job.kind)
            return
        # Two UPDATEs by primary key in one transaction (no look-ups first: both rows were written by _claim).
        deliveries, reminders = Delivery.__table__, Reminder.__table__  # type: ignore[attr-defined]
        with self.engine.begin() as connection:
            connection.execute(update(deliveries).where(deliveries.c.id == job.delivery_id).values(
                status=status, provider_sid=sid, error_code=code, to_masked=mask_phone(phone),
                updated_at=self.clock()))
            connection.execute(update(reminders).where(reminders.c.id == job.reminder_id).values(status=status))
        if status == "sent":
            log.info("%s message handed to %s", job.kind, self.sender.name)

    def purge_expired(self) -> int:
        """Personal data expires: contacts whose appointment is long past are deleted."""
        now = self.clock()
        with Session(self.engine) as session:
            result = session.exec(delete(Contact).where(col(Contact.purge_after) < now))
            session.commit()
            count = int(result.rowcount or 0)
        if count:
            log.info("purged %d expired contacts", count)
        return count
