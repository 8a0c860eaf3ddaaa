"""How client and counsellor meet, as the manage page shows it once a booking is confirmed: the place's address and
directions (office, outreach), nothing more for a phone call (the counsellor calls the number the client gave, which
the scheduler never sees), or a video link made for this appointment alone. Never put into an SMS."""

from __future__ import annotations

import secrets

from scheduler.repository import StoredCalendar
from shared.contracts import Meeting, Mode

# 128 random bits from the operating system's CSPRNG, URL-safe: nobody guesses a room, and the name says nothing
# about the topic, the counsellor or the client.
VIDEO_ROOM_BYTES = 16


def new_video_room() -> str:
    return secrets.token_urlsafe(VIDEO_ROOM_BYTES)


def video_room_for(kind: str, room: str | None) -> str | None:
    """The room a video appointment keeps (made on its first video slot, kept across moves); None otherwise."""
    if kind != Mode.video:
        return room  # kept: a later move back to video shows the same link
    return room or new_video_room()


def meeting_for(stored: StoredCalendar, location_id: int, video_room: str | None, video_base_url: str) -> Meeting:
    place = stored.locations[location_id]
    mode = Mode(place.kind)
    if mode == Mode.video:
        url = f"{video_base_url.rstrip('/')}/{video_room}" if video_room else None
        return Meeting(mode=mode, video_url=url)
    if mode == Mode.phone:
        return Meeting(mode=mode)
    return Meeting(mode=mode, address=place.address or None, directions=place.directions or None)
