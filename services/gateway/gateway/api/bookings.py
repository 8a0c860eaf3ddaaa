"""POST /v1/bookings, GET /v1/bookings/{token}, POST /v1/bookings/{token}/cancel, /move and /preferences, and
GET /v1/bookings/{token}/appointment.ics."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Header, Query, Response

from gateway.api.deps import BookingsDep, ClientAddress, LimitsDep, SettingsDep, SlotsDep
from gateway.api.schemas import (
    BookingAccepted,
    BookingIn,
    BookingStatus,
    MeetingOut,
    MoveIn,
    MoveOut,
    SlotList,
    problems,
)
from gateway.api.slots import search_range
from gateway.appointment_ics import render_appointment
from gateway.booking_views import BookingView
from gateway.bookings import NewBooking
from gateway.errors import NotConfirmed, NotMovable
from gateway.metrics import BOOKINGS_ACCEPTED
from shared.contracts import ContactPreferences, Mode

router = APIRouter(prefix="/v1/bookings", tags=["bookings"])

_ERRORS = problems(400, 404, 409, 413, 422, 429, 503)


def status_body(view: BookingView) -> BookingStatus:
    move = None
    if view.move is not None:
        move = MoveOut(status=view.move.status, slot_id=view.move.slot_id, reason=view.move.reason,
                       message=view.move.message, alternatives=view.move.alternatives)
    meeting = None
    if view.meeting is not None:
        meeting = MeetingOut(**view.meeting.model_dump(), starts_at=(
            view.slot.get("start") if view.slot and view.meeting.mode == Mode.phone else None))
    return BookingStatus(booking_id=view.booking_id, status=view.status, reason=view.reason, message=view.message,
                         slot=view.slot, alternatives=view.alternatives, preferences=view.preferences,
                         conversation=view.conversation,
                         move=move, meeting=meeting)


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
                   topic=body.topic, preferences=body.preferences, conversation=body.conversation),
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


@router.post("/{manage_token}/move", status_code=202, responses=_ERRORS)
def move_booking(manage_token: str, body: MoveIn, bookings: BookingsDep, response: Response,
                 client: ClientAddress) -> BookingStatus:
    """Move a confirmed appointment to another free slot (from `GET /v1/slots`, same topic). Answered at once with
    `move.status` pending; the scheduler holds the new time before it gives up the old one, then `GET` shows the
    new `slot` (`move.status` moved) or the old one with `move.status` refused and why (taken, past, not offered).
    409 for a booking that is not confirmed (pending, rejected, cancelled)."""
    response.headers["Cache-Control"] = "no-store"
    return status_body(bookings.move(manage_token, body.slot_id, client))


@router.get("/{manage_token}/slots", responses=_ERRORS)
def slots_to_move_to(manage_token: str, bookings: BookingsDep, slots: SlotsDep, settings: SettingsDep,
                     limits: LimitsDep, client: ClientAddress,
                     date_from: Annotated[date | None, Query(alias="from")] = None,
                     date_to: Annotated[date | None, Query(alias="to")] = None) -> SlotList:
    """The free times this confirmed booking may move to (its own topic, language and conversation choice; its own
    time left out), for `POST .../move`. Default: the next 14 days; at most 90. 409 unless confirmed."""
    view = bookings.view(manage_token)
    if view.status != "confirmed":
        raise NotMovable("Only a confirmed appointment can be moved.")
    first, last = search_range(date_from, date_to, settings.timezone)
    if last is None:
        return SlotList(slots=[])
    limits.take_search(client)
    return SlotList(slots=slots.search(first, last, for_booking=view.booking_id))


@router.get("/{manage_token}/appointment.ics", response_class=Response, responses={
    200: {"content": {"text/calendar": {}}, "description": "the appointment as iCalendar: time and place alias"},
    **problems(404, 409, 503)})
def appointment_ics(manage_token: str, bookings: BookingsDep, settings: SettingsDep) -> Response:
    """The client's own confirmed appointment for their calendar: only the time and the place's neutral alias,
    summary "Termin"/"Appointment"; no organisation, topic, address or link. 409 unless confirmed."""
    view = bookings.view(manage_token)
    if view.status != "confirmed" or view.slot is None:
        raise NotConfirmed("Only a confirmed appointment can be added to a calendar.")
    body = render_appointment(view, ZoneInfo(settings.timezone), datetime.now(UTC))
    return Response(body, media_type="text/calendar; charset=utf-8", headers={
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
        "Content-Disposition": 'attachment; filename="termin.ics"'})


@router.post("/{manage_token}/preferences", status_code=202, responses=_ERRORS)
def change_preferences(manage_token: str, body: ContactPreferences, bookings: BookingsDep,
                       response: Response) -> BookingStatus:
    """Replace the client's choices about texts (the whole object: what is left out takes its default)."""
    response.headers["Cache-Control"] = "no-store"
    return status_body(bookings.change_preferences(manage_token, body))
