"""What each staff request to the scheduler is in the audit log: its action, its target and a detail of codes,
days, counts and field names (a reason's or an address's text stays out: it may hold anything)."""

from __future__ import annotations

from pydantic import BaseModel

from gateway.staff.audit import Action, Event, TargetKind
from shared.contracts.staff import (
    AddExceptionAction,
    BookingAction,
    BookingsAction,
    CancelAction,
    CounsellorsAction,
    CreateCounsellorAction,
    CreateLocationAction,
    CreateTypeAction,
    LocationsAction,
    MoveAction,
    OutcomeAction,
    RemoveExceptionAction,
    RulesAction,
    SetRulesAction,
    StaffAction,
    TypesAction,
    UpdateCounsellorAction,
    UpdateLocationAction,
    UpdateTypeAction,
    WeekAction,
)


def _changed(action: BaseModel, *ids: str) -> list[str]:
    """The names of the fields the request sets (not their values)."""
    return sorted(name for name in action.model_fields_set - {"action", *ids}
                  if getattr(action, name) is not None)


def event_of(action: StaffAction) -> Event:
    counsellor = TargetKind.COUNSELLOR
    match action:
        case WeekAction():
            return Event(Action.CALENDAR_READ, target_kind=counsellor, target_id=action.counsellor_id,
                         detail={"week_start": action.week_start.isoformat()})
        case BookingsAction():
            return Event(Action.BOOKINGS_READ, target_kind=counsellor, target_id=action.counsellor_id,
                         detail={"from": action.date_from.isoformat(), "to": action.date_to.isoformat(),
                                 "status": action.status})
        case BookingAction():
            return Event(Action.BOOKING_READ, target_kind=TargetKind.BOOKING, target_id=action.booking_id)
        case RulesAction():
            return Event(Action.RULES_READ, target_kind=counsellor, target_id=action.counsellor_id)
        case SetRulesAction():
            return Event(Action.RULES_REPLACED, target_kind=counsellor, target_id=action.counsellor_id,
                         detail={"rules": len(action.rules)})
        case AddExceptionAction():
            return Event(Action.EXCEPTION_ADDED, target_kind=counsellor, target_id=action.counsellor_id,
                         detail={"kind": action.kind, "first_day": action.first_day.isoformat(),
                                 "last_day": action.last_day.isoformat(), "reason_given": action.reason is not None})
        case RemoveExceptionAction():
            return Event(Action.EXCEPTION_REMOVED, target_kind=counsellor, target_id=action.counsellor_id,
                         detail={"exception_id": action.exception_id})
        case CancelAction():
            return Event(Action.BOOKING_CANCELLED, target_kind=TargetKind.BOOKING, target_id=action.booking_id,
                         detail={"reason_given": action.reason is not None})
        case OutcomeAction():
            return Event(Action.BOOKING_NO_SHOW if action.action == "no_show" else Action.BOOKING_ATTENDED,
                         target_kind=TargetKind.BOOKING, target_id=action.booking_id,
                         detail={"reason_given": action.reason is not None})
        case MoveAction():
            return Event(Action.BOOKING_MOVED, target_kind=TargetKind.BOOKING, target_id=action.booking_id,
                         detail={"slot_id": action.slot_id, "reason_given": action.reason is not None})
        case TypesAction():
            return Event(Action.TYPES_READ)
        case CreateTypeAction():
            return Event(Action.TYPE_CREATED, target_kind=TargetKind.APPOINTMENT_TYPE,
                         detail={"topic": action.topic, "fields": _changed(action)})
        case UpdateTypeAction():
            return Event(Action.TYPE_UPDATED, target_kind=TargetKind.APPOINTMENT_TYPE, target_id=action.type_id,
                         detail={"fields": _changed(action, "type_id")})
        case UpdateCounsellorAction():
            fields = _changed(action, "counsellor_id", "change_daily_cap", "daily_cap")
            return Event(Action.COUNSELLOR_UPDATED, target_kind=counsellor, target_id=action.counsellor_id,
                         detail={"fields": sorted([*fields, "daily_cap"]) if action.change_daily_cap else fields})
        case UpdateLocationAction():
            return Event(Action.LOCATION_UPDATED, target_kind=TargetKind.LOCATION, target_id=action.location_id,
                         detail={"fields": _changed(action, "location_id")})
        case CounsellorsAction():
            return Event(Action.COUNSELLORS_READ)
        case LocationsAction():
            return Event(Action.LOCATIONS_READ)
        case CreateCounsellorAction():
            # The alias is a name a person chose: not in the log (the new id is in the scheduler's answer).
            return Event(Action.COUNSELLOR_CREATED, target_kind=counsellor,
                         detail={"languages": action.languages, "topics": action.topics,
                                 "locations": len(action.location_ids), "daily_cap": action.daily_cap})
        case CreateLocationAction():
            # Alias, town, address and directions are text an admin typed: only the kind and what was given.
            return Event(Action.LOCATION_CREATED, target_kind=TargetKind.LOCATION,
                         detail={"kind": action.kind, "fields": _changed(action)})
    raise TypeError(f"no audit event for the staff action {type(action).__name__}")
