"""POST /v1/bookings, GET /v1/bookings/{token}, POST /v1/bookings/{token}/cancel and /preferences."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from gateway.api.deps import BookingsDep, ClientAddress, SettingsDep
from gateway.api.schemas import BookingAccepted, BookingIn, BookingStatus, problems
from gateway.booking_views import BookingView
from gateway.bookings import NewBooking
from gateway.metrics import BOOKINGS_ACCEPTED
from shared.contracts import ContactPreferences

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])

_ERRORS = problems(400, 404, 409, 413, 422, 429, 503)


def status_body(view: BookingView) -> BookingStatus:
    return BookingStatus(booking_id=view.booking_id, status=view.status, reason=view.reason, message=view.message,
                         slot=view.slot, alternatives=view.alternatives, preferences=view.preferences)


@router.post("", status_code=202, responses=_ERRORS)
def create_booking(
    body: BookingIn,
    bookings: BookingsDep,
    settings: SettingsDep,
    response: Response,
    client: ClientAddress,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> BookingAccepted:
    accepted = bookings.request(
        NewBooking(slot_id=body.slot_id, phone=body.phone, language=body.language, channel=body.channel,
                   topic=body.topic, preferences=body.preferences),
        idempotency_key,
        client,
    )
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        BOOKINGS_ACCEPTED.inc()
    response.headers["Cache-Control"] = "no-store"
    return BookingAccepted(booking_id=accepted.booking_id, status=accepted.status,
                           manage_token=accepted.manage_token,
                           manage_url=f"{settings.public_base_url}/m/{accepted.manage_token}")


@router.get("/{manage_token}", responses=_ERRORS)
def get_booking(manage_token: str, bookings: BookingsDep, response: Response) -> BookingStatus:
    response.headers["Cache-Control"] = "no-store"
    return status_body(bookings.view(manage_token))


@router.post("/{manage_token}/cancel", status_code=202, responses=_ERRORS)
def cancel_booking(manage_token: str, bookings: BookingsDep, response: Response,
                   client: ClientAddress) -> BookingStatus:
    response.headers["Cache-Control"] = "no-store"
    return status_body(bookings.cancel(manage_token, client))


@router.post("/{manage_token}/preferences", status_code=202, responses=_ERRORS)
def change_preferences(manage_token: str, body: ContactPreferences, bookings: BookingsDep,
                       response: Response) -> BookingStatus:
    """Replace the client's choices about texts (the whole object: what is left out takes its default)."""
    response.headers["Cache-Control"] = "no-store"
    return status_body(bookings.change_preferences(manage_token, body))
