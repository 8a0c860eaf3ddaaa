"""Staff change a booking: cancel, no-show, attended, move."""

from __future__ import annotations

import re
from uuid import UUID

from fastapi import APIRouter, Request

from gateway.api.staff.answers import ERRORS, ask
from gateway.api.staff.inputs import InvalidStaffInput, MoveBody, ReasonBody, reason
from gateway.api.staff_deps import CurrentStaff
from gateway.staff.accounts import Staff
from shared.contracts.common import SLOT_ID_PATTERN
from shared.contracts.staff import (
    BookingChangeAnswer,
    BookingChangeData,
    CancelAction,
    MoveAction,
    OutcomeAction,
    StaffAction,
)

router = APIRouter()


def _change(request: Request, staff: Staff, action: StaffAction) -> BookingChangeData:
    return ask(request, staff, action, BookingChangeAnswer).data


@router.post("/bookings/{booking_id}/cancel", responses=ERRORS)
def cancel_booking(booking_id: UUID, staff: CurrentStaff, request: Request,
                   body: ReasonBody | None = None) -> BookingChangeData:
    """Cancel a confirmed booking that has not begun; the client is told as with any cancellation."""
    return _change(request, staff, CancelAction(booking_id=booking_id, reason=reason(body.reason if body else None)))


@router.post("/bookings/{booking_id}/no-show", responses=ERRORS)
def record_no_show(booking_id: UUID, staff: CurrentStaff, request: Request,
                   body: ReasonBody | None = None) -> BookingChangeData:
    """The client did not come; only once the appointment has begun."""
    return _change(request, staff, OutcomeAction(action="no_show", booking_id=booking_id,
                                                 reason=reason(body.reason if body else None)))


@router.post("/bookings/{booking_id}/attended", responses=ERRORS)
def record_attended(booking_id: UUID, staff: CurrentStaff, request: Request,
                    body: ReasonBody | None = None) -> BookingChangeData:
    """The client came; only once the appointment has begun."""
    return _change(request, staff, OutcomeAction(action="attended", booking_id=booking_id,
                                                 reason=reason(body.reason if body else None)))


@router.post("/bookings/{booking_id}/move", responses=ERRORS)
def move_booking(booking_id: UUID, body: MoveBody, staff: CurrentStaff, request: Request) -> BookingChangeData:
    """Move a confirmed booking to a free slot (one from GET /v1/slots); the client's manage page shows the new
    time. A taken slot is refused with up to three alternatives."""
    if not re.match(SLOT_ID_PATTERN, body.slot_id):
        raise InvalidStaffInput("The slot_id is not a slot from the list (GET /v1/slots).", "invalid_slot_id")
    return _change(request, staff, MoveAction(booking_id=booking_id, slot_id=body.slot_id,
                                              reason=reason(body.reason)))
