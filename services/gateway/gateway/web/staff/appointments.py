"""An appointment as a staff page shows it: its local time (the business zone, so a day with a clock change is
right), place, mode, type, the client's language and whether a mediator is needed, its status, and which changes
fit it now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from gateway.web.slot_rows import day_label
from gateway.web.staff.catalogs import language_label
from gateway.web.staff.rendering import named, say
from shared.contracts.staff import StaffBooking


@dataclass(frozen=True)
class AppointmentRow:
    booking_id: UUID
    day: date
    time: str  # "10:00–11:00", local
    place: str
    mode: str
    kind: str  # the type: topic and length
    language: str
    mediator: bool
    conversation: str
    status: str
    state: str  # the status code, for the page's styles and the forms shown
    attention: list[str]
    may_record_outcome: bool  # begun and still confirmed: attended / no-show
    may_cancel: bool  # confirmed and not begun
    # A confirmed phone appointment: its counsellor may ask, by a deliberate click, to see the client's number.
    may_show_number: bool = False


@dataclass(frozen=True)
class Day:
    label: str
    iso: str
    appointments: list[AppointmentRow]


def appointment_row(booking: StaffBooking, lang: str, zone: ZoneInfo, now: datetime) -> AppointmentRow:
    start, end = booking.start.astimezone(zone), booking.end.astimezone(zone)
    topic = booking.topic or "none"
    minutes = booking.duration_minutes
    attention = []
    if booking.needs_attention:
        attention.append(say(lang, "needs_attention"))
    if booking.contact_problem is not None:
        attention.append(say(lang, "contact_problem"))
    confirmed = booking.status == "confirmed"
    return AppointmentRow(
        booking_id=booking.booking_id, day=start.date(), time=f"{start:%H:%M}–{end:%H:%M}",
        place=booking.location.alias, mode=named(lang, "mode", booking.location.kind),
        kind=f"{named(lang, 'topic', topic)}, {minutes} min",
        language=language_label(booking.language, lang), mediator=booking.conversation == "mediator",
        conversation=say(lang, f"conversation.{booking.conversation}"),
        status=named(lang, "status", booking.status), state=booking.status, attention=attention,
        may_record_outcome=confirmed and booking.start <= now, may_cancel=confirmed and booking.start > now,
        may_show_number=confirmed and booking.location.kind == "phone")


def by_day(bookings: list[StaffBooking], lang: str, zone: ZoneInfo, now: datetime, days: list[date]) -> list[Day]:
    """The appointments on each of `days` in order of their start; a day without any is listed empty."""
    rows = sorted((appointment_row(b, lang, zone, now) for b in bookings), key=lambda r: (r.day, r.time))
    return [Day(day_label(day, lang), day.isoformat(), [r for r in rows if r.day == day]) for day in days]
