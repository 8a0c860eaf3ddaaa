"""Rows described as staff see them: times in the asked zone, places by alias, never a phone number."""

from __future__ import annotations

from uuid import UUID
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler import repository
from scheduler.tables import Appointment, AppointmentType, AvailabilityException, Counsellor, Location
from shared.contracts.staff import (
    AppointmentTypeData,
    ContactProblem,
    CounsellorData,
    LocationData,
    StaffBooking,
    StaffException,
    StaffLocation,
)


def place(locations: dict[int, Location], location_id: int) -> StaffLocation:
    row = locations.get(location_id)
    return StaffLocation(location_id=location_id, alias=row.alias if row else "?", kind=row.kind if row else "?")


def describe_contact_problem(row: Appointment, zone: ZoneInfo) -> ContactProblem | None:
    if row.contact_problem is None or row.contact_problem_since is None:
        return None
    return ContactProblem(reason=row.contact_problem,  # stored from contact.unreachable, validated again here
                          error_code=row.contact_problem_code,
                          since=row.contact_problem_since.astimezone(zone).replace(microsecond=0))


def describe_booking(row: Appointment, locations: dict[int, Location], zone: ZoneInfo) -> StaffBooking:
    return StaffBooking(
        booking_id=UUID(row.booking_id), status=row.status,
        start=row.starts_at.astimezone(zone), end=row.ends_at.astimezone(zone),
        location=place(locations, row.location_id), topic=row.topic,
        duration_minutes=int((row.ends_at - row.starts_at).total_seconds() // 60), language=row.language,
        channel=row.channel, needs_attention=row.needs_attention, status_reason=row.status_reason,
        contact_problem=describe_contact_problem(row, zone),
        conversation="mediator" if row.conversation == "mediator" else "own_language")


def describe_exception(row: AvailabilityException) -> StaffException:
    assert row.id is not None
    return StaffException(exception_id=row.id, kind=row.kind, first_day=row.first_day, last_day=row.last_day,
                          start=f"{row.starts:%H:%M}" if row.starts else None,
                          end=f"{row.ends:%H:%M}" if row.ends else None, location_id=row.location_id,
                          reason=row.reason)


def describe_type(row: AppointmentType) -> AppointmentTypeData:
    assert row.id is not None
    return AppointmentTypeData(type_id=row.id, topic=row.topic, duration_minutes=row.duration_minutes,
                               modes=sorted(row.mode_set), buffer_before_minutes=row.buffer_before_minutes,
                               buffer_after_minutes=row.buffer_after_minutes,
                               min_notice_minutes=row.min_notice_minutes, horizon_days=row.horizon_days,
                               active=row.active, reminder_offsets_minutes=list(row.reminder_offsets))


def describe_counsellor(session: Session, row: Counsellor) -> CounsellorData:
    assert row.id is not None
    return CounsellorData(counsellor_id=row.id, alias=row.alias, languages=sorted(row.language_set),
                          topics=sorted(row.topic_set), location_ids=repository.served_locations(session, row.id),
                          active=row.active, daily_cap=row.daily_cap)


def describe_location(row: Location) -> LocationData:
    assert row.id is not None
    return LocationData(location_id=row.id, town=row.town, kind=row.kind, alias=row.alias, active=row.active,
                        address=row.address, directions=row.directions)
