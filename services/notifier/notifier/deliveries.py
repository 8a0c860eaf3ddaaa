"""What became of a message: the provider's answer and its later status callbacks, as a forward-only machine.

A delivery's status never moves back (a late `sent` never overwrites `delivered`); a final status never changes;
the same callback twice changes nothing. A refusal is classified (provider_errors): transient → the message is
tried again later, permanent → never again to this number and staff are told, configuration → failed and alerted.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from notifier.domain.provider_errors import Reason, backoff_seconds, classify
from notifier.plans import cancel_pending
from notifier.tables import Contact, Delivery, OptOut, Reminder
from shared.contracts import ContactUnreachable, DeliveryStatusReported, wrap
from shared.outbox import add_to_outbox

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


def apply_report(session: Session, report: DeliveryStatusReported, now: datetime, max_attempts: int) -> None:
    delivery = None
    # Locked: the dispatcher recording the provider's answer at the same moment must not overwrite this report.
    lock = session.get_bind().dialect.name == "postgresql"
    if report.delivery_ref:
        by_ref = select(Delivery).where(Delivery.ref == report.delivery_ref)
        delivery = session.exec(by_ref.with_for_update() if lock else by_ref).first()
    if delivery is None:
        by_sid = select(Delivery).where(Delivery.provider_sid == report.message_sid)
        delivery = session.exec(by_sid.with_for_update() if lock else by_sid).first()
    if delivery is None:
        log.warning("status callback for a message this notifier does not know (%s): ignored", report.status)
        return
    status = PROVIDER_STATUS.get(report.status)
    if status is None:
        return  # receiving/received belong to inbound messages
    if delivery.provider_sid is None:
        # The send's answer was lost (a crash, a timeout): the callback tells us it did reach the provider.
        delivery.provider_sid = report.message_sid
        _settle_unknown(session, delivery)
    if not advance(delivery, status):
        session.add(delivery)
        return
    delivery.updated_at = now
    if status in ("undelivered", "failed"):
        delivery.error_code = report.error_code
        reminder = session.get(Reminder, delivery.reminder_id)
        if reminder is not None:
            refused(session, reminder, delivery, report.error_code, None, now, max_attempts)
    session.add(delivery)
    log.info("delivery %s", delivery.status)


def _settle_unknown(session: Session, delivery: Delivery) -> None:
    reminder = session.get(Reminder, delivery.reminder_id)
    if reminder is not None and reminder.status in ("sending", "unknown"):
        reminder.status, reminder.outcome = "sent", None
        session.add(reminder)


def refused(session: Session, reminder: Reminder, delivery: Delivery, code: str | None, http_status: int | None,
            now: datetime, max_attempts: int) -> None:
    """The provider refused or could not deliver this attempt: retry, or give up and say why."""
    verdict = classify(code, http_status)
    if verdict.verdict == "transient":
        wait = timedelta(seconds=backoff_seconds(reminder.attempts, _random.random()))
        if reminder.attempts < max_attempts and now + wait <= reminder.not_after:
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
        mark_unreachable(session, reminder, verdict.reason, code, now)
    session.add(reminder)


def mark_unreachable(session: Session, reminder: Reminder, reason: Reason, code: str | None, now: datetime) -> None:
    """No more texts to this booking's number; staff see why on the booking (ContactUnreachable)."""
    if reminder.booking_id is None:
        return
    contact = session.get(Contact, reminder.booking_id)
    if contact is None or contact.unreachable == reason:
        return
    contact.unreachable = reason
    session.add(contact)
    if reason == "opted_out" and session.get(OptOut, contact.phone_hash) is None:
        session.add(OptOut(phone_hash=contact.phone_hash, opted_out=True, changed_at=now,
                           last_message_sid="provider"))
    cancel_pending(session, reminder.booking_id, reason)
    add_to_outbox(session, wrap(ContactUnreachable(booking_id=reminder.booking_id, reason=reason, error_code=code),
                                reminder.booking_id))


def unsettled(session: Session, older_than: datetime, limit: int) -> list[Delivery]:
    """Deliveries whose send never reported back and whose message still waits for an answer (`sending`): the
    provider is asked what became of them. One given up (`unknown`) stays `queued` for a late callback but is not
    asked again, or 50 of them would fill every run and starve the newer ones."""
    return list(session.exec(select(Delivery).join(Reminder, col(Reminder.id) == col(Delivery.reminder_id))
                             .where(Delivery.status == "queued", col(Delivery.created_at) < older_than,
                                    col(Delivery.requested_at).is_not(None), Reminder.status == "sending")
                             .order_by(col(Delivery.created_at)).limit(limit)))


def never_requested(session: Session, older_than: datetime, limit: int) -> list[Delivery]:
    """Claimed by a dispatcher that died before it asked the provider: these messages never left."""
    return list(session.exec(select(Delivery).join(Reminder, col(Reminder.id) == col(Delivery.reminder_id))
                             .where(Delivery.status == "queued", col(Delivery.requested_at).is_(None),
                                    col(Delivery.created_at) < older_than, Reminder.status == "sending")
                             .order_by(col(Delivery.created_at)).limit(limit)))
