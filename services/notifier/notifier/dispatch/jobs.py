"""A claimed message on its way out (a Job), and its text as the client's phone will show it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from notifier.domain import texts
from notifier.tables import BookingFacts, Contact, Delivery, Reminder
from shared.contracts.contacts import manage_token_context, phone_context
from shared.crypto import DataCipher


@dataclass(frozen=True)
class Job:
    reminder_id: int
    delivery_id: int
    ref: str
    booking_id: str | None
    kind: str
    language: str
    phone_ciphertext: str
    phone_context: str
    token_ciphertext: str | None
    starts_at: datetime | None
    place_alias: str | None


def job_for(reminder: Reminder, delivery: Delivery, contact: Contact | None, facts: BookingFacts | None) -> Job | None:
    """None if the message can no longer be addressed (its contact or facts are gone, its sealed number purged)."""
    if reminder.booking_id is None:
        if reminder.phone_ciphertext is None or reminder.phone_context is None:
            return None
        return Job(reminder.id or 0, delivery.id or 0, delivery.ref, None, reminder.kind, reminder.language,
                   reminder.phone_ciphertext, reminder.phone_context, None, None, None)
    if contact is None or facts is None:
        return None
    return Job(reminder.id or 0, delivery.id or 0, delivery.ref, reminder.booking_id, reminder.kind,
               reminder.language, contact.phone_ciphertext, phone_context(UUID(reminder.booking_id)),
               contact.manage_token_ciphertext, facts.starts_at, facts.place_alias)


@dataclass(frozen=True)
class Composer:
    """Opens a job's sealed number and manage link and renders its text."""

    cipher: DataCipher
    zone: ZoneInfo
    signature: str
    public_base_url: str

    def phone_of(self, job: Job) -> str:
        return self.cipher.decrypt(job.phone_ciphertext, job.phone_context)

    def text_of(self, job: Job) -> texts.Rendered:
        link = None
        if job.token_ciphertext is not None and job.booking_id is not None:
            token = self.cipher.decrypt(job.token_ciphertext, manage_token_context(UUID(job.booking_id)))
            link = f"{self.public_base_url}/m/{token}"
        return texts.render(job.kind, job.language, starts_at=job.starts_at, place=job.place_alias, link=link,
                            zone=self.zone, signature=self.signature)
