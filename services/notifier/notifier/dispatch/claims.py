"""Claiming what is due: each message is either claimed (sending, with a queued delivery) or settled without a
send (skipped, and why), or moved to the next moment the client allows."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from notifier.dispatch.jobs import Job, job_for, link_booking_of
from notifier.domain.planning import recheck
from notifier.plans import Policy, rules_for
from notifier.repository import NotifierRepository
from notifier.tables import BookingFacts, Contact, Delivery, Reminder

log = logging.getLogger(__name__)

_WINDOW_KINDS = ("reminder", "rescheduled", "cancelled")  # what the client's safe window and quiet hours govern


def claim_due(repo: NotifierRepository, now: datetime, limit: int, policy: Policy, provider: str) -> list[Job]:
    """Up to `limit` messages due by `now`, oldest due first, claimed for `provider`."""
    rows = repo.due_reminders(now, limit)
    booking_ids = [r.booking_id for r in rows if r.booking_id]
    links = {row.id: link for row in rows if (link := link_booking_of(row))}
    contacts = repo.contacts_of(booking_ids + list(links.values()))
    facts = repo.facts_of(booking_ids)
    opted_out = repo.opted_out_among([contacts[b].phone_hash for b in booking_ids if b in contacts])
    claimed = []
    for row in rows:
        contact = contacts.get(row.booking_id) if row.booking_id else contacts.get(links.get(row.id, ""))
        fact = facts.get(row.booking_id) if row.booking_id else None
        delivery = _decide(repo, row, contact, fact, opted_out, now, policy, provider)
        if delivery is not None:
            claimed.append((row, delivery, contact, fact))
    # One flush for the batch (the deliveries' ids come back from one multi-row INSERT): a flush per row cost two
    # round trips each and was half the time of a burst.
    repo.flush()
    return [job for row, delivery, contact, fact in claimed
            if (job := job_for(row, delivery, contact, fact)) is not None]


def _decide(repo: NotifierRepository, row: Reminder, contact: Contact | None, facts: BookingFacts | None,
            opted_out: set[str], now: datetime, policy: Policy, provider: str) -> Delivery | None:
    def skip(outcome: str) -> None:
        row.status, row.outcome = "skipped", outcome
        repo.save(row)
        log.info("%s message not sent: %s", row.kind, outcome)

    if now > row.not_after:
        skip("too_late")  # never late: past this moment the message would only confuse
        return None
    if row.booking_id is not None:
        if contact is None or facts is None:
            skip("no_contact")
            return None
        if contact.phone_hash in opted_out:
            skip("opted_out")
            return None
        if contact.unreachable in ("invalid_number", "unreachable"):
            skip(contact.unreachable)
            return None
        wanted_status = "cancelled" if row.kind == "cancelled" else "confirmed"
        if facts.status != wanted_status:
            skip(f"booking_{facts.status}")
            return None
        if row.kind in _WINDOW_KINDS:
            if not contact.reminders:
                skip("texts_off")
                return None
            # The plan honoured quiet hours and the client's window; a dispatcher running late must too.
            moment = recheck(row.due_at, row.not_after, now, rules_for(contact, policy))
            if moment is None:
                skip("no_safe_time")
                return None
            if moment > now:
                row.due_at = moment
                repo.save(row)
                return None
    row.status, row.attempts = "sending", row.attempts + 1
    delivery = Delivery(reminder_id=row.id or 0, attempt=row.attempts, booking_id=row.booking_id,
                        ref=secrets.token_urlsafe(16), provider=provider, status="queued", created_at=now,
                        updated_at=now, language=row.language)
    repo.save(row, delivery)
    return delivery
