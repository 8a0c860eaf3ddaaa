"""The bookings behind a counsellor's private calendar feed (`feed.requested`), answered on the asker's queue.

The gateway holds the feed tokens (as hashes) and has checked one before asking; the scheduler only says which
appointments the counsellor has: times, the neutral place alias and, for the counsellor, the place's address.
Nothing about the client: the scheduler has no phone number, and the topic stays out of a calendar that syncs to
phones and lock screens.
"""

from __future__ import annotations

from sqlmodel import Session

from scheduler import repository
from scheduler.staff import StaffDeps
from scheduler.tables import Counsellor, Location
from shared.contracts import Envelope, FeedRequested, StaffAnswered, wrap
from shared.contracts.staff import FeedAnswer, FeedData, FeedEvent, RefusalKind, StaffRefusal

SHOWN = ("confirmed", "attended", "no_show")  # a cancelled booking simply leaves the feed


def feed_data(session: Session, request: FeedRequested, deps: StaffDeps) -> FeedData | None:
    if session.get(Counsellor, request.counsellor_id) is None:
        return None
    start, end = repository.day_bounds(request.date_from, request.date_to, deps.booking.calendar.zone)
    places: dict[int, Location | None] = {}
    events = []
    for row in repository.appointments_between(session, request.counsellor_id, start, end):
        if row.status not in SHOWN:
            continue
        if row.location_id not in places:
            places[row.location_id] = session.get(Location, row.location_id)
        place = places[row.location_id]
        events.append(FeedEvent(booking_id=row.booking_id, start=row.starts_at, end=row.ends_at,
                                location_alias=place.alias if place else "",
                                location_address=place.address if place else ""))
    return FeedData(counsellor_id=request.counsellor_id, events=events)


def answer_feed_request(envelope: Envelope, session: Session, deps: StaffDeps) -> None:
    request = envelope.payload_as(FeedRequested)
    data = feed_data(session, request, deps)
    if data is None:
        answer = StaffAnswered(request_id=request.request_id, message="There is no such calendar.",
                               refusal=StaffRefusal(kind=RefusalKind.UNKNOWN, code="unknown_counsellor"))
    else:
        answer = StaffAnswered(request_id=request.request_id, message="Feed.", answer=FeedAnswer(data=data))
    deps.booking.reply(request.reply_to, wrap(answer, envelope.correlation_id), deps.booking.reply_ttl_seconds)
