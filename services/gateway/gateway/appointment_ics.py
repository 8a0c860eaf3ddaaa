"""The client's own appointment as an .ics file: only the time and the place's neutral alias, a neutral summary
("Termin" / "Appointment"); no organisation, no topic, no address or link (a calendar syncs to places a lock screen
or a shared account shows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone

from gateway.booking_views import BookingView
from gateway.feeds import calendar_time

PRODUCT_ID = "-//Termin//DE"


def render_appointment(view: BookingView, zone: ZoneInfo, now: datetime) -> bytes:
    assert view.slot is not None
    start = datetime.fromisoformat(view.slot["start"])
    end = datetime.fromisoformat(view.slot["end"])
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add_component(Timezone.from_tzinfo(zone, zone.key, start - timedelta(days=1), end + timedelta(days=1)))
    event = Event()
    event.add("uid", f"{view.booking_id}@termin")  # the same per booking: a moved appointment replaces the event
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", calendar_time(start, zone))
    event.add("dtend", calendar_time(end, zone))
    event.add("summary", "Termin" if view.language == "de" else "Appointment")
    alias = str(view.slot.get("location", {}).get("alias", ""))
    if alias:
        event.add("location", alias)
    event.add("class", "PRIVATE")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return bytes(calendar.to_ical())
