"""Recording what the provider said about each message of a batch, in one transaction."""

from __future__ import annotations

from datetime import datetime

from notifier import deliveries
from notifier.dispatch.sending import Outcome
from notifier.domain.provider_errors import Retries
from notifier.metrics import count_text
from notifier.repository import Accepted, NotifierRepository


def record_outcomes(repo: NotifierRepository, outcomes: list[Outcome], now: datetime, retries: Retries) -> None:
    """Accepted messages are sent (their deliveries move forward with the provider's status); refused ones and
    those that could not be rendered go through the rules for retries and unreachable numbers; unknown ones stay
    as they are, for reconciliation or the status callback."""
    accepted = [Accepted(o.job.delivery_id, o.job.reminder_id, o.result.provider_sid,
                         deliveries.PROVIDER_STATUS.get(o.result.status, "sending"), o.to_masked, o.segments)
                for o in outcomes if o.result is not None]
    if accepted:
        repo.record_accepted(accepted, now, {a.status: deliveries.lower_than(a.status) for a in accepted})
        for item in accepted:
            count_text(item.status, None)
    settled = [o for o in outcomes if o.result is None and not o.unknown]
    if not settled:
        return
    reminders = repo.reminders_by_id([o.job.reminder_id for o in settled])
    found = repo.deliveries_by_id([o.job.delivery_id for o in settled])
    for outcome in settled:
        reminder, delivery = reminders[outcome.job.reminder_id], found[outcome.job.delivery_id]
        delivery.to_masked, delivery.segments, delivery.updated_at = outcome.to_masked, outcome.segments, now
        if outcome.destination_refused:
            # Never sent, never retried: the number is not one texts may go to (SMS_ALLOWED_COUNTRIES, kind).
            delivery.status, delivery.error_code = "failed", "destination"
            reminder.status, reminder.outcome = "failed", "destination_refused"
        elif outcome.refused is None:
            delivery.status, delivery.error_code = "failed", "render"
            reminder.status, reminder.outcome = "failed", "render_failed"
        else:
            delivery.status, delivery.error_code = "failed", outcome.refused.code
            deliveries.refused(repo, reminder, outcome.refused.code, outcome.refused.http_status, now, retries)
        repo.save(delivery, reminder)
        count_text(delivery.status, delivery.error_code)
