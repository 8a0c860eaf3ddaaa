"""The gateway follows the scheduler's decisions: one function per message type, inside the consumer's transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from gateway.moves import MoveState
from gateway.repository import GatewayRepository
from shared.contracts import (
    BookingCancelled,
    BookingConfirmed,
    BookingMoveRefused,
    BookingRejected,
    BookingRescheduled,
    Envelope,
)


def apply_confirmed(envelope: Envelope, bookings: GatewayRepository, clock: Callable[[], datetime]) -> None:
    confirmed = envelope.payload_as(BookingConfirmed)
    # A booking cancelled by the client meanwhile, or unknown here, stays as it is; the scheduler's cancellation
    # follows.
    bookings.decide_pending(confirmed.booking_id, status="confirmed", updated_at=clock(),
                            slot_json=confirmed.slot.model_dump_json(), starts_at=confirmed.slot.start,
                            meeting_json=confirmed.meeting.model_dump_json() if confirmed.meeting else None)


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
    """Staff or the client moved the booking: the manage page shows the new time (and how to meet then); a move
    the client asked for is marked done. Idempotent (the same slot is written again)."""
    rescheduled = envelope.payload_as(BookingRescheduled)
    row = bookings.booking(rescheduled.booking_id)
    if row is None or row.status != "confirmed":
        return
    row.slot_json, row.starts_at, row.updated_at = rescheduled.slot.model_dump_json(), rescheduled.slot.start, clock()
    if rescheduled.meeting is not None:
        row.meeting_json = rescheduled.meeting.model_dump_json()
    move = MoveState.of(row.move_json)
    if move is not None and rescheduled.move_id == move.move_id:
        row.move_json = move.decided("moved").model_dump_json()
    bookings.save_booking(row)


def apply_move_refused(envelope: Envelope, bookings: GatewayRepository, clock: Callable[[], datetime]) -> None:
    """The client's move was refused: the booking keeps its time and the manage page says why. Only the answer to
    the client's latest move counts (an older one arriving late changes nothing)."""
    refused = envelope.payload_as(BookingMoveRefused)
    row = bookings.booking(refused.booking_id)
    move = None if row is None else MoveState.of(row.move_json)
    if row is None or move is None or move.move_id != refused.move_id or move.status != "pending":
        return
    row.move_json = move.decided("refused", refused.reason, refused.alternatives).model_dump_json()
    row.updated_at = clock()
    bookings.save_booking(row)
