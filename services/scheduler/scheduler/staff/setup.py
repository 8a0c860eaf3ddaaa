"""What admins set up: appointment types, counsellors, locations. A change that would make a calendar the slot
engine cannot honour is refused with the engine's sentence."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import Session

from scheduler import repository
from scheduler.domain import calendar_setup as engine
from scheduler.staff.checks import Refused, StaffDeps, new_problems, refuse_problems, today, unknown_counsellor
from scheduler.staff.describe import describe_counsellor, describe_type
from scheduler.tables import AppointmentType, Counsellor, Location, format_offsets
from shared.contracts.staff import (
    AppointmentTypeData,
    CounsellorData,
    CreateTypeAction,
    LocationData,
    RefusalKind,
    TypesData,
    UpdateCounsellorAction,
    UpdateLocationAction,
    UpdateTypeAction,
)


def list_types(session: Session) -> TypesData:
    return TypesData(types=[describe_type(row) for row in repository.appointment_types(session)])


def _engine_type(row: AppointmentType, type_id: int) -> engine.AppointmentType:
    """The row as the slot engine sees it (its own checks raise CalendarError for a value out of range)."""
    return engine.AppointmentType(
        id=type_id, topic=row.topic, duration_minutes=row.duration_minutes,
        modes=row.mode_set,  # type: ignore[arg-type]
        buffer_before_minutes=row.buffer_before_minutes, buffer_after_minutes=row.buffer_after_minutes,
        min_notice_minutes=row.min_notice_minutes, horizon_days=row.horizon_days)


def _refuse_type_setup(session: Session, row: AppointmentType, type_id: int, deps: StaffDeps) -> None:
    """Refuse a type that would make the calendar one the engine cannot honour (such as two active types for one
    topic and mode); an inactive type is not part of the calendar."""
    stored = repository.load_calendar(session, today(deps))
    others = tuple(t for t in stored.setup.types if t.id != type_id)
    kind_type = _engine_type(row, type_id)
    types = (*others, kind_type) if row.active else others
    after = replace(stored.setup, types=tuple(sorted(types, key=lambda t: t.id)),
                    topics=stored.setup.topics | {row.topic})
    refuse_problems(stored.setup, after)


_TYPE_FIELDS = ("topic", "duration_minutes", "buffer_before_minutes", "buffer_after_minutes", "min_notice_minutes",
                "horizon_days", "active")


def create_type(session: Session, action: CreateTypeAction, deps: StaffDeps) -> AppointmentTypeData:
    row = AppointmentType(modes=",".join(sorted(set(action.modes))),
                          reminder_offsets_minutes=format_offsets(action.reminder_offsets_minutes),
                          **{name: getattr(action, name) for name in _TYPE_FIELDS})
    # A new type has no id yet; one above every stored id stands for it in the check.
    _refuse_type_setup(session, row, repository.newest_type_id(session) + 1, deps)
    session.add(row)
    session.flush()
    return describe_type(row)


def update_type(session: Session, action: UpdateTypeAction, deps: StaffDeps) -> AppointmentTypeData:
    row = session.get(AppointmentType, action.type_id)
    if row is None:
        raise Refused(RefusalKind.UNKNOWN, "unknown_type", f"There is no appointment type with id {action.type_id}.")
    for name in _TYPE_FIELDS:
        value = getattr(action, name)
        if value is not None:
            setattr(row, name, value)
    if action.modes is not None:
        row.modes = ",".join(sorted(set(action.modes)))
    if action.reminder_offsets_minutes is not None:
        # Only what is announced from now on: bookings already confirmed keep the reminders the notifier planned.
        row.reminder_offsets_minutes = format_offsets(action.reminder_offsets_minutes)
    _refuse_type_setup(session, row, action.type_id, deps)
    session.add(row)
    session.flush()
    return describe_type(row)


def counsellor(session: Session, counsellor_id: int) -> CounsellorData:
    row = session.get(Counsellor, counsellor_id)
    if row is None:
        raise unknown_counsellor(counsellor_id)
    return describe_counsellor(session, row)


def update_counsellor(session: Session, action: UpdateCounsellorAction, deps: StaffDeps) -> CounsellorData:
    row = session.get(Counsellor, action.counsellor_id)
    if row is None:
        raise unknown_counsellor(action.counsellor_id)
    repository.lock_counsellor(session, action.counsellor_id)
    if action.languages is not None:
        row.languages = ",".join(sorted(set(action.languages)))
    if action.topics is not None:
        row.topics = ",".join(sorted(set(action.topics)))
    if action.active is not None:
        row.active = action.active
    if action.change_daily_cap:
        row.daily_cap = action.daily_cap
    served = frozenset(action.location_ids) if action.location_ids is not None \
        else frozenset(repository.served_locations(session, action.counsellor_id))
    stored = repository.load_calendar(session, today(deps))
    person = engine.Counsellor(id=action.counsellor_id, alias=row.alias, languages=row.language_set,
                               topics=row.topic_set, location_ids=served, active=row.active,
                               daily_cap=row.daily_cap)
    after = replace(stored.setup, counsellors=tuple(
        person if c.id == action.counsellor_id else c for c in stored.setup.counsellors))
    problems = new_problems(stored.setup, after)
    if problems:
        first = problems[0]
        if isinstance(first, engine.LocationNotServed):
            raise engine.LocationNotServed(
                "A location the counsellor's weekly rules or extra hours still use cannot be removed; change "
                f"those first. {first.message}")
        raise first
    if action.location_ids is not None:
        repository.replace_served_locations(session, action.counsellor_id, served)
    session.add(row)
    session.flush()
    return describe_counsellor(session, row)


def update_location(session: Session, action: UpdateLocationAction) -> LocationData:
    row = session.get(Location, action.location_id)
    if row is None:
        raise Refused(RefusalKind.UNKNOWN, "unknown_location", f"There is no location with id {action.location_id}.")
    if action.active is not None:
        row.active = action.active
    if action.alias is not None:
        row.alias = " ".join(action.alias.split())
    if action.address is not None:
        row.address = action.address.strip()
    if action.directions is not None:
        row.directions = action.directions.strip()
    session.add(row)
    session.flush()
    assert row.id is not None
    return LocationData(location_id=row.id, town=row.town, kind=row.kind, alias=row.alias, active=row.active,
                        address=row.address, directions=row.directions)
