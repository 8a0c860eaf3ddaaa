"""A claimed message on its way out (a Job), and its text as the client's phone will show it."""

from __future__ import annotations

import json
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
    params: str | None = None  # a reply's (Reminder.params)
    link_booking_id: str | None = None  # whose manage link the text carries, if not the job's booking


def link_booking_of(reminder: Reminder) -> str | None:
    """The booking whose manage link a reply carries (a CHANGE, STOP with an appointment to come)."""
    if reminder.booking_id is not None or reminder.params is None:
        return None
    link = json.loads(reminder.params).get("link_booking")
    return str(link) if link else None


def job_for(reminder: Reminder, delivery: Delivery, contact: Contact | None, facts: BookingFacts | None) -> Job | None:
    """None if the message can no longer be addressed (its contact or facts are gone, its sealed number purged).
    For a message to a number of its own (a reply), `contact` is the one whose manage link it carries, if any."""
    if reminder.booking_id is None:
        if reminder.phone_ciphertext is None or reminder.phone_context is None:
            return None
        return Job(reminder.id or 0, delivery.id or 0, delivery.ref, None, reminder.kind, reminder.language,
                   reminder.phone_ciphertext, reminder.phone_context,
                   contact.manage_token_ciphertext if contact else None, None, None, reminder.params,
                   contact.booking_id if contact else None)
    if contact is None or facts is None:
        return None
    return Job(reminder.id or 0, delivery.id or 0, delivery.ref, reminder.booking_id, reminder.kind,
               reminder.language, contact.phone_ciphertext, phone_context(UUID(reminder.booking_id)),
               contact.manage_token_ciphertext, facts.starts_at, facts.place_alias, None, reminder.booking_id)


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
        if job.token_ciphertext is not None and job.link_booking_id is not None:
            token = self.cipher.decrypt(job.token_ciphertext, manage_token_context(UUID(job.link_booking_id)))
            link = f"{self.public_base_url}/m/{token}"
        if job.kind in texts.REPLIES:
            return self._reply(job, link)
        return texts.render(job.kind, job.language, starts_at=job.starts_at, place=job.place_alias, link=link,
                            zone=self.zone, signature=self.signature)

    def _reply(self, job: Job, link: str | None) -> texts.Rendered:
        params = json.loads(job.params) if job.params else {}
        times = [(datetime.fromisoformat(start), place) for start, place in params.get("times", ())]
        shown = params.get("appointment")
        kind = job.kind
        if "{link}" in texts.REPLIES[kind] and link is None:
            kind = "reply_help"  # the appointment's contact is gone (erased, purged): say what can be sent instead
        return texts.render_reply(kind, job.language, self.zone, times=times,
                                  starts_at=datetime.fromisoformat(shown[0]) if shown else None,
                                  place=shown[1] if shown else None, link=link, also=params.get("also"),
                                  signature=self.signature)
