"""Prometheus metrics of the scheduler: what it decided. Labels are operations, decisions and refusal reasons
(fixed sets), never an id.

Counted in the handler, inside the consumer's transaction: a handler run again after a database outage counts its
decision again, which is rare and only ever over-counts.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter

from scheduler.domain.decisions import BookingDecision, Changed, ChangeDecision, Confirmed, Refused, Unchanged

# What asked: a client's booking, cancellation or move (messages), or a staff change (scheduler.staff).
Operation = Literal["book", "cancel", "move", "staff"]

DECISIONS = Counter("lotse_scheduler_decisions_total", "Booking operations decided, by operation and decision",
                    ["operation", "decision"])
BOOKINGS = Counter("lotse_scheduler_bookings_total",
                   "Bookings by outcome: confirmed or rejected (with the reason) when asked for, later cancelled, "
                   "rescheduled, no_show or attended", ["outcome", "reason"])
_NAMES: dict[type, str] = {Confirmed: "confirmed", Changed: "changed", Refused: "refused", Unchanged: "unchanged"}


def count_decision(operation: Operation, decision: BookingDecision | ChangeDecision) -> None:
    name = _NAMES[type(decision)]
    DECISIONS.labels(operation, name).inc()
    if isinstance(decision, Confirmed):
        BOOKINGS.labels("confirmed", "").inc()
    elif isinstance(decision, Refused) and operation == "book":
        BOOKINGS.labels("rejected", decision.reason).inc()
    elif isinstance(decision, Changed):  # the event's type names the outcome: booking.cancelled -> cancelled
        BOOKINGS.labels(decision.event.message_type.removeprefix("booking."), "").inc()
