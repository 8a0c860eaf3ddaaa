"""Sends that never reported back: released if they never left, otherwise settled by asking the provider, never
resent."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from notifier import deliveries
from notifier.dispatch.jobs import Composer, job_for
from notifier.repository import NotifierRepository
from notifier.sms import SmsSender

log = logging.getLogger(__name__)

UNSETTLED_AFTER = timedelta(minutes=2)  # a send that has not reported back after this is asked about
GIVE_UP_ASKING_AFTER = timedelta(minutes=15)


def reconcile(repo: NotifierRepository, sender: SmsSender, composer: Composer, now: datetime, limit: int) -> int:
    """Returns how many messages were settled (released to be sent, or found at the provider)."""
    settled = release_never_requested(repo, now, limit)
    for delivery in repo.unsettled(now - UNSETTLED_AFTER, limit):
        reminder = repo.reminder(delivery.reminder_id)
        if reminder is None or reminder.status != "sending":
            continue
        booking_id = reminder.booking_id
        job = job_for(reminder, delivery, repo.contact(booking_id) if booking_id else None,
                      repo.facts(booking_id) if booking_id else None)
        found = None
        if job is not None:
            found = sender.find_sent(composer.phone_of(job), composer.text_of(job).body, delivery.created_at)
        if found is not None:
            delivery.provider_sid = found.provider_sid
            deliveries.advance(delivery, deliveries.PROVIDER_STATUS.get(found.status, "sending"))
            reminder.status, reminder.outcome = "sent", None
            settled += 1
        elif now - delivery.created_at > GIVE_UP_ASKING_AFTER:
            reminder.status, reminder.outcome = "unknown", "outcome_unknown"
            log.error("ALERT %s message: the provider never confirmed it and does not know it; not resent "
                      "(an admin decides)", reminder.kind)
        else:
            continue
        delivery.updated_at = now
        repo.save(delivery, reminder)
    return settled


def release_never_requested(repo: NotifierRepository, now: datetime, limit: int) -> int:
    """A dispatcher that died between its claim and the provider call left messages that never left: they go back
    to pending (the attempt did not count) and are sent by the next dispatch, once."""
    released = 0
    for delivery in repo.never_requested(now - UNSETTLED_AFTER, limit):
        won = repo.give_back(delivery.id or 0, now)
        reminder = repo.reminder(delivery.reminder_id)
        if not won or reminder is None:
            continue
        reminder.status, reminder.outcome = "pending", "released"
        reminder.attempts = max(0, reminder.attempts - 1)
        repo.save(reminder)
        released += 1
        log.warning("%s message claimed by a dispatcher that stopped before sending it: released", reminder.kind)
    return released
