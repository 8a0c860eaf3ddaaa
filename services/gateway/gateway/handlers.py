"""The gateway follows the scheduler's decisions: one function per message type, inside the consumer's transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from gateway.repository import GatewayRepository
from shared.contracts import BookingCancelled, BookingConfirmed, BookingRejected, BookingRescheduled, Envelope


def apply_confirmed(envelope: Envelope, bookings: GatewayRepository, clock: Callable[[], datetime]) -> None:
    confirmed = envelope.payload_as(BookingConfirmed)
    # A booking cancelled by the client meanwhile, or unknown here, stays as it is; the scheduler's cancellation
    # follows.
    bookings.decide_pending(confirmed.booking_id, status="confirmed", updated_at=clock(),
                            slot_json=confirmed.slot.model_dump_json(), starts_at=confirmed.slot.start)


def apply_rejected(envelope: Envelope, bookings: GatewayRepository, clock: Callable[[], datetime]) -> None:
    rejected = envelope.payload_as(BookingRejected)
    bookings.decide_pending(rejected.booking_id, status="rejected", reason=rejected.reason, updated_at=clock(),
                            alternatives_json=json.dumps([s.model_dump(mode="json") for s in rejected.alternatives]))


def apply_cancelled(envelope: Envelope, bookings: GatewayRepository, clock: Callable[[], datetime]) -> None:
    cancelled = envelope.payload_as(BookingCancelled)
    row = bookings.booking(cancelled.booking_id)
    if row is None or row.status == "cancelled":
        return
    row.status, row.updated_at = "cancelled", clock()
    bookings.save_booking(row)


def apply_rescheduled(envelope: Envelope, bookings: GatewayRepository, clock: Callable[[], datetime]) -> None:
    """Staff moved the booking: the manage page shows the new time. Idempotent (the same slot is written again)."""
    rescheduled = envelope.payload_as(BookingRescheduled)
    row = bookings.booking(rescheduled.booking_id)
    if row is None or row.status != "confirmed":
        return
    row.slot_json, row.starts_at, row.updated_at = rescheduled.slot.model_dump_json(), rescheduled.slot.start, clock()
    bookings.save_booking(row)
