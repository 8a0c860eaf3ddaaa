"""What became of a message: the provider's answer and its later status callbacks, as a forward-only machine.

A delivery's status never moves back (a late `sent` never overwrites `delivered`); a final status never changes;
the same callback twice changes nothing. A refusal is classified (provider_errors): transient → the message is
tried again later, permanent → never again to this number and staff are told, configuration → failed and alerted.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from notifier.delivery_stats import SETTLE, DeliveryStats
from notifier.domain.provider_errors import Reason, Retries, classify
from notifier.metrics import count_text
from notifier.plans import cancel_pending
from notifier.repository import NotifierRepository
from notifier.tables import Delivery, OptOut, Reminder
from shared.contracts import ContactUnreachable, DeliveryStatusReported, wrap

log = logging.getLogger(__name__)

RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3}
FINAL = {"delivered", "undelivered", "failed"}
# Twilio's message statuses mapped onto ours (read/partially_delivered count as delivered; canceled as failed).
PROVIDER_STATUS = {
    "accepted": "sending", "scheduled": "sending", "queued": "sending", "sending": "sending", "sent": "sent",
    "delivered": "delivered", "read": "delivered", "partially_delivered": "delivered",
    "undelivered": "undelivered", "failed": "failed", "canceled": "failed",
}
_random = random.SystemRandom()


def advance(delivery: Delivery, status: str) -> bool:
    """Move forward only. Returns whether anything changed."""
    if delivery.status in FINAL or RANK[status] <= RANK[delivery.status]:
        return False
    delivery.status = status
    return True


def lower_than(status: str) -> list[str]:
    """The statuses a delivery may move to `status` from."""
    return [s for s, rank in RANK.items() if rank < RANK[status]]


def apply_report(repo: NotifierRepository, report: DeliveryStatusReported, now: datetime, retries: Retries) -> None:
    delivery = repo.delivery_reported(report.delivery_ref or None, report.message_sid)
    if delivery is None:
        log.warning("status callback for a message this notifier does not know (%s): ignored", report.status)
        return
    status = PROVIDER_STATUS.get(report.status)
    if status is None:
        return  # receiving/received belong to inbound messages
    if delivery.provider_sid is None:
        # The send's answer was lost (a crash, a timeout): the callback tells us it did reach the provider.
        delivery.provider_sid = report.message_sid
        _settle_unknown(repo, delivery)
    if not advance(delivery, status):
        repo.save(delivery)
        return
    delivery.updated_at = now
    if delivery.created_at < now - SETTLE:  # a very late callback: the dashboard counts that day again
        DeliveryStats(repo.session).forget_counted(delivery.created_at)
    if status == "delivered":
        delivery.delivered_at = now
    if status in ("undelivered", "failed"):
        delivery.error_code = report.error_code
        reminder = repo.reminder(delivery.reminder_id)
        if reminder is not None:
            refused(repo, reminder, report.error_code, None, now, retries)
    repo.save(delivery)
    count_text(delivery.status, delivery.error_code)
    log.info("delivery %s", delivery.status)


def _settle_unknown(repo: NotifierRepository, delivery: Delivery) -> None:
    reminder = repo.reminder(delivery.reminder_id)
    if reminder is not None and reminder.status in ("sending", "unknown"):
        reminder.status, reminder.outcome = "sent", None
        repo.save(reminder)


def refused(repo: NotifierRepository, reminder: Reminder, code: str | None, http_status: int | None,
            now: datetime, retries: Retries) -> None:
    """The provider refused or could not deliver this attempt: retry, or give up and say why."""
    verdict = classify(code, http_status)
    if verdict.verdict == "transient":
        wait = timedelta(seconds=retries.wait_seconds(reminder.attempts, _random.random()))
        if reminder.attempts < retries.max_attempts and now + wait <= reminder.not_after:
            reminder.status, reminder.due_at, reminder.outcome = "pending", now + wait, f"retry:{code or 'none'}"
            log.warning("%s message refused (code %s): retry %d in %d s", reminder.kind, code, reminder.attempts,
                        wait.total_seconds())
        else:
            reminder.status, reminder.outcome = "failed", f"gave_up:{code or 'none'}"
            log.error("%s message refused (code %s) after %d attempts: given up", reminder.kind, code,
                      reminder.attempts)
    elif verdict.verdict == "config":
        reminder.status, reminder.outcome = "failed", f"config:{code or http_status}"
        log.error("ALERT %s message refused because of our SMS configuration (code %s, HTTP %s)", reminder.kind,
                  code, http_status)
    else:
        reminder.status, reminder.outcome = "failed", f"{verdict.reason}:{code}"
        log.warning("%s message: the number cannot receive texts (%s, code %s); no retry", reminder.kind,
                    verdict.reason, code)
        assert verdict.reason is not None
        mark_unreachable(repo, reminder, verdict.reason, code, now)
    repo.save(reminder)


def mark_unreachable(repo: NotifierRepository, reminder: Reminder, reason: Reason, code: str | None,
                     now: datetime) -> None:
    """No more texts to this booking's number; staff see why on the booking (ContactUnreachable)."""
    if reminder.booking_id is None:
        return
    contact = repo.contact(reminder.booking_id)
    if contact is None or contact.unreachable == reason:
        return
    contact.unreachable = reason
    repo.save(contact)
    if reason == "opted_out" and repo.opt_out(contact.phone_hash) is None:
        repo.save(OptOut(phone_hash=contact.phone_hash, opted_out=True, changed_at=now, last_message_sid="provider"))
    cancel_pending(repo, reminder.booking_id, reason)
    repo.announce(wrap(ContactUnreachable(booking_id=reminder.booking_id, reason=reason, error_code=code),
                       reminder.booking_id))
