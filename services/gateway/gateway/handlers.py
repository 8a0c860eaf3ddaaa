"""The gateway follows the scheduler's decisions: one function per message type, inside the consumer's transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, update
from sqlmodel import Session

from gateway.tables import BookingRequest
from shared.contracts import BookingCancelled, BookingConfirmed, BookingRejected, BookingRescheduled, Envelope


def _row(session: Session, booking_id: object) -> BookingRequest | None:
    return session.get(BookingRequest, str(booking_id))


_PENDING = BookingRequest.__table__  # type: ignore[attr-defined]
# Built once (the columns to set come with the parameters): every decision the gateway follows runs it.
_DECIDE = update(_PENDING).where(_PENDING.c.booking_id == bindparam("decided_booking_id"),
                                 _PENDING.c.status == "pending")


def _decide(session: Session, booking_id: object, **values: object) -> None:
    """One UPDATE … WHERE status = 'pending' (no look-up first): a booking cancelled by the client meanwhile, or
    unknown here, is left alone; the scheduler's cancellation follows."""
    session.connection().execute(_DECIDE, {"decided_booking_id": str(booking_id), **values})


def apply_confirmed(envelope: Envelope, session: Session, clock: Callable[[], datetime]) -> None:
    confirmed = envelope.payload
    assert isinstance(confirmed, BookingConfirmed)
    _decide(session, confirmed.booking_id, status="confirmed", updated_at=clock(),
            slot_json=confirmed.slot.model_dump_json())


def apply_rejected(envelope: Envelope, session: Session, clock: Callable[[], datetime]) -> None:
    rejected = envelope.payload
    assert isinstance(rejected, BookingRejected)
    _decide(session, rejected.booking_id, status="rejected", reason=rejected.reason, updated_at=clock(),
            alternatives_json=json.dumps([s.model_dump(mode="json") for s in rejected.alternatives]))


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
