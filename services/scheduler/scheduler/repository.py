"""Queries over the scheduler's tables; the only module here that builds SQL."""

from __future__ import annotations

from datetime import datetime, time

from sqlmodel import Session, col, select

from scheduler.domain.slots import WeeklyWindow
from scheduler.tables import Appointment, Counsellor, Location, OpeningRule


def _wall(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def windows(
    session: Session,
    counsellor_ids: set[int] | None = None,
    location_id: int | None = None,
) -> list[WeeklyWindow]:
    query = (
        select(OpeningRule)
        .join(Counsellor, col(Counsellor.id) == OpeningRule.counsellor_id)
        .join(Location, col(Location.id) == OpeningRule.location_id)
        .where(col(Counsellor.active), col(Location.active))
    )
    if counsellor_ids is not None:
        query = query.where(col(OpeningRule.counsellor_id).in_(counsellor_ids))
    if location_id is not None:
        query = query.where(OpeningRule.location_id == location_id)
    return [
        WeeklyWindow(
            counsellor_id=rule.counsellor_id,
            location_id=rule.location_id,
            weekday=rule.weekday,
            opens=_wall(rule.opens),
            closes=_wall(rule.closes),
            slot_minutes=rule.slot_minutes,
            duration_minutes=rule.duration_minutes,
        )
        for rule in session.exec(query)
    ]


def counsellors(session: Session, language: str | None, topic: str | None) -> dict[int, Counsellor]:
    found = {}
    for counsellor in session.exec(select(Counsellor).where(col(Counsellor.active))):
        if language and language not in counsellor.language_set:
            continue
        if topic and topic not in counsellor.topic_set:
            continue
        assert counsellor.id is not None
        found[counsellor.id] = counsellor
    return found


def locations(session: Session) -> dict[int, Location]:
    return {loc.id: loc for loc in session.exec(select(Location)) if loc.id is not None}


def taken_slots(session: Session, start: datetime, end: datetime) -> set[tuple[int, datetime]]:
    query = select(Appointment.counsellor_id, Appointment.starts_at).where(
        Appointment.status == "confirmed",
        col(Appointment.starts_at) >= start,
        col(Appointment.starts_at) < end,
    )
    return {(counsellor_id, starts_at) for counsellor_id, starts_at in session.exec(query)}


def appointment_for_booking(session: Session, booking_id: str) -> Appointment | None:
    return session.exec(select(Appointment).where(Appointment.booking_id == booking_id)).first()
