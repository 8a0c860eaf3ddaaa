"""Prometheus metrics of the scheduler: what it decided. Labels are operations, decisions and refusal reasons
(fixed sets), never an id.

Counted in the handler, inside the consumer's transaction: a handler run again after a database outage counts its
decision again, which is rare and only ever over-counts.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter

from scheduler.domain.decisions import BookingDecision, Changed, ChangeDecision, Confirmed, Refused, Unchanged

Operation = Literal["book", "cancel", "move"]

DECISIONS = Counter("lotse_scheduler_decisions_total", "Booking operations decided, by operation and decision",
                    ["operation", "decision"])
BOOKINGS = Counter("lotse_scheduler_bookings_total",
                   "Booking requests by outcome (confirmed, rejected) and the reason of a rejection",
                   ["outcome", "reason"])
_NAMES: dict[type, str] = {Confirmed: "confirmed", Changed: "changed", Refused: "refused", Unchanged: "unchanged"}


def count_decision(operation: Operation, decision: BookingDecision | ChangeDecision) -> None:
    name = _NAMES[type(decision)]
    DECISIONS.labels(operation, name).inc()
    if operation != "book":
        return
    if isinstance(decision, Confirmed):
        BOOKINGS.labels("confirmed", "").inc()
    elif isinstance(decision, Refused):
        BOOKINGS.labels("rejected", decision.reason).inc()
