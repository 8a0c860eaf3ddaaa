"""Asking the notifier about texts for the admins' delivery dashboard (request/reply, like the SMS preview): the
gateway never reads the notifier's deliveries. No answer in time is SchedulerUnavailable (503)."""

from __future__ import annotations

from datetime import date
from uuid import uuid4
from zoneinfo import ZoneInfo

from gateway.errors import GatewayError
from gateway.slots import ReplyWaiter, ask_scheduler
from shared.clock import Clock
from shared.contracts import (
    DeliveriesReported,
    DeliveriesReportRequested,
    DeliveryRetried,
    DeliveryRetryRequested,
    FailedDeliveriesListed,
    FailedDeliveriesRequested,
)
from shared.contracts.envelope import P, Payload
from shared.messaging import Publisher

_LATE = " Please try again in a moment."


class RetryRefused(GatewayError):
    """The notifier would not send this text again: its reason's code and sentence; no such text is 404."""

    def __init__(self, answer: DeliveryRetried) -> None:
        super().__init__(answer.message)
        self.code = answer.refused or "refused"
        self.status = 404 if answer.refused == "unknown_delivery" else 409


class DeliveryReports:
    def __init__(self, publisher: Publisher, waiter: ReplyWaiter, reply_to: str, timeout: float, clock: Clock,
                 zone: ZoneInfo) -> None:
        self.publisher, self.waiter, self.reply_to, self.timeout = publisher, waiter, reply_to, timeout
        self.clock, self.zone = clock, zone

    def today(self) -> date:
        """The business day now: a period is named in these days."""
        return self.clock().astimezone(self.zone).date()

    def _ask(self, request: Payload, expect: type[P]) -> P:
        return ask_scheduler(self.publisher, self.waiter, uuid4().hex, request, self.timeout, _LATE,
                             who="The text service", expect=expect)

    def report(self, date_from: date, date_to: date) -> DeliveriesReported:
        return self._ask(DeliveriesReportRequested(date_from=date_from, date_to=date_to, reply_to=self.reply_to),
                         DeliveriesReported)

    def failed(self, date_from: date, date_to: date, limit: int, cursor: str | None) -> FailedDeliveriesListed:
        return self._ask(FailedDeliveriesRequested(date_from=date_from, date_to=date_to, limit=limit, cursor=cursor,
                                                   reply_to=self.reply_to), FailedDeliveriesListed)

    def send_again(self, delivery_id: int) -> DeliveryRetried:
        """Queued again, or RetryRefused with the notifier's reason."""
        answer = self._ask(DeliveryRetryRequested(delivery_id=delivery_id, reply_to=self.reply_to), DeliveryRetried)
        if answer.refused is not None:
            raise RetryRefused(answer)
        return answer
