"""The gateway follows the scheduler's decisions: one function per message type, inside the consumer's transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from gateway.tables import BookingRequest
from shared.contracts import BookingCancelled, BookingConfirmed, BookingRejected, BookingRescheduled, Envelope


def _row(session: Session, booking_id: object) -> BookingRequest | None:
    return session.get(BookingRequest, str(booking_id))


def apply_confirmed(envelope: Envelope, session: Session, clock: Callable[[], datetime]) -> None:
    confirmed = envelope.payload
    assert isinstance(confirmed, BookingConfirmed)
    row = _row(session, confirmed.booking_id)
    if row is None or row.status != "pending":
        return  # cancelled by the client meanwhile: the scheduler's cancellation follows
    row.status, row.updated_at = "confirmed", clock()
    row.slot_json = confirmed.slot.model_dump_json()
    session.add(row)


def apply_rejected(envelope: Envelope, session: Session, clock: Callable[[], datetime]) -> None:
    rejected = envelope.payload
    assert isinstance(rejected, BookingRejected)
    row = _row(session, rejected.booking_id)
    if row is None or row.status != "pending":
        return
    row.status, row.reason, row.updated_at = "rejected", rejected.reason, clock()
    row.alternatives_json = json.dumps([s.model_dump(mode="json") for s in rejected.alternatives])
    session.add(row)


def apply_cancelled(envelope: Envelope, session: Session, clock: Callable[[], datetime]) -> None:
    cancelled = envelope.payload
    assert isinstance(cancelled, BookingCancelled)
    row = _row(session, cancelled.booking_id)
    if row is None or row.status == "cancelled":
        return
    row.status, row.updated_at = "cancelled", clock()
    session.add(row)


def apply_rescheduled(envelope: Envelope, session: Session, clock: Callable[[], datetime]) -> None:
    """Staff moved the booking: the manage page shows the new time. Idempotent (the same slot is written again)."""
    rescheduled = envelope.payload
    assert isinstance(rescheduled, BookingRescheduled)
    row = _row(session, rescheduled.booking_id)
    if row is None or row.status != "confirmed":
        return
    row.slot_json, row.updated_at = rescheduled.slot.model_dump_json(), clock()
    session.add(row)
