"""What admins set up: appointment types, counsellors, locations. A change that would make a calendar the slot
engine cannot honour is refused with the engine's sentence."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from scheduler import repository
from scheduler.domain import calendar_setup as engine
from scheduler.staff.checks import Refused, StaffDeps, new_problems, refuse_problems, today, unknown_counsellor
from scheduler.staff.describe import describe_counsellor, describe_location, describe_type
from scheduler.tables import AppointmentType, Counsellor, Location, format_offsets
from shared.contracts.staff import (
    AppointmentTypeData,
    CounsellorData,
    CounsellorsData,
    CreateCounsellorAction,
    CreateLocationAction,
    CreateTypeAction,
    LocationData,
    LocationsData,
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
        _refuse_taken_location_alias(session, row.alias, action.location_id)
    if action.address is not None:
        row.address = action.address.strip()
    if action.directions is not None:
        row.directions = action.directions.strip()
    session.add(row)
    session.flush()
    return describe_location(row)


# --- the lists and new counsellors and locations (admin pages) -----------------------------------------------------


def _same_alias(one: str, other: str) -> bool:
    """Aliases that a client or colleague could not tell apart: case and spacing aside."""
    return " ".join(one.split()).casefold() == " ".join(other.split()).casefold()


def _alias_taken(what: str, alias: str) -> Refused:
    return Refused(RefusalKind.CONFLICT, "alias_taken",
                   f"Another {what} is already called {alias!r}; an alias must tell it apart. Please choose another.")


def _refuse_taken_location_alias(session: Session, alias: str, location_id: int | None) -> None:
    """Two places of one alias would read the same in an SMS: the alias must name one place (active or not, as a
    deactivated one may be active again)."""
    if any(_same_alias(place.alias, alias) for place_id, place in repository.locations(session).items()
           if place_id != location_id):
        raise _alias_taken("location", alias)


def list_counsellors(session: Session) -> CounsellorsData:
    served = repository.served_by_counsellor(session)
    people = sorted(repository.counsellors(session), key=lambda row: (row.alias.casefold(), row.id or 0))
    return CounsellorsData(counsellors=[
        CounsellorData(counsellor_id=row.id, alias=row.alias, languages=sorted(row.language_set),
                       topics=sorted(row.topic_set), location_ids=served.get(row.id, []), active=row.active,
                       daily_cap=row.daily_cap)
        for row in people if row.id is not None])


def list_locations(session: Session) -> LocationsData:
    places = sorted(repository.locations(session).values(),
                    key=lambda row: (row.town.casefold(), row.alias.casefold(), row.id or 0))
    return LocationsData(locations=[describe_location(row) for row in places])


def create_counsellor(session: Session, action: CreateCounsellorAction, deps: StaffDeps) -> CounsellorData:
    """A new, active counsellor; refused if the alias is another's (conflict), a location id is unknown (unknown)
    or a topic is none of the calendar's (invalid). Served locations may be inactive: they are offered again once
    reactivated."""
    alias = " ".join(action.alias.split())
    if any(_same_alias(person.alias, alias) for person in repository.counsellors(session)):
        raise _alias_taken("counsellor", alias)
    places = repository.locations(session)
    unknown = sorted(set(action.location_ids) - places.keys())
    if unknown:
        raise Refused(RefusalKind.UNKNOWN, "unknown_location",
                      f"There is no location with id {', '.join(map(str, unknown))}.")
    row = Counsellor(alias=alias, languages=",".join(sorted(set(action.languages))),
                     topics=",".join(sorted(set(action.topics))), daily_cap=action.daily_cap, active=True)
    # As for a new type: an id above every stored one stands for the new counsellor in the check.
    stored = repository.load_calendar(session, today(deps))
    person = engine.Counsellor(id=repository.newest_counsellor_id(session) + 1, alias=alias,
                               languages=row.language_set, topics=row.topic_set,
                               location_ids=frozenset(action.location_ids), daily_cap=action.daily_cap)
    refuse_problems(stored.setup, replace(stored.setup, counsellors=(*stored.setup.counsellors, person)))
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # the same alias saved by another request a moment ago (the column is unique)
        raise _alias_taken("counsellor", alias) from None
    assert row.id is not None
    repository.replace_served_locations(session, row.id, frozenset(action.location_ids))
    session.flush()
    return describe_counsellor(session, row)


def create_location(session: Session, action: CreateLocationAction) -> LocationData:
    """A new, active location; refused if another location has the alias. Nobody serves it yet: an admin adds it
    to counsellors, who then give it hours."""
    alias = " ".join(action.alias.split())
    _refuse_taken_location_alias(session, alias, None)
    row = Location(town=" ".join(action.town.split()), kind=action.kind, alias=alias,
                   address=action.address.strip(), directions=action.directions.strip(), active=True)
    session.add(row)
    session.flush()
    return describe_location(row)
