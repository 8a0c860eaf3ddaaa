"""Staff calendar API under /v1/staff/: the week, bookings with status, weekly rules, absences and extra hours,
cancel / no-show / attended / move, the private calendar feed, and (admin only) appointment types, counsellors and
locations.

Served here, decided by the scheduler over the broker (`staff.requested`). Routes naming a counsellor are checked
here first (that counsellor or an admin); the scheduler checks every request again, and alone can check a booking
route (it knows whose calendar a booking is in). Writes need the X-Lotse-CSRF header like every staff write.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from gateway.api.deps import SettingsDep, gateway
from gateway.api.schemas import Problem
from gateway.api.staff_deps import AdminStaff, CalendarStaff, CurrentStaff
from gateway.errors import GatewayError
from gateway.feeds import FeedTokens
from gateway.staff.accounts import Staff
from gateway.staff_client import StaffClient
from shared.contracts.common import SLOT_ID_PATTERN, FreeText
from shared.contracts.staff import (
    MAX_STAFF_RANGE_DAYS,
    AddExceptionAction,
    AppointmentStatus,
    AppointmentTypeData,
    BookingChangeData,
    BookingsAction,
    BookingsData,
    CancelAction,
    CounsellorData,
    CreateTypeAction,
    ExceptionData,
    LocationAlias,
    LocationData,
    MoveAction,
    OutcomeAction,
    RemoveExceptionAction,
    RuleIn,
    RulesData,
    SetRulesAction,
    StaffAction,
    TypesAction,
    TypesData,
    UpdateCounsellorAction,
    UpdateLocationAction,
    UpdateTypeAction,
    WeekAction,
    WeekData,
    ZoneName,
    reminder_policy,
)

router = APIRouter(prefix="/v1/staff", tags=["staff calendars"])

# How far ahead staff may look or plan (as for a client's slot search); the scheduler enforces it too.
HORIZON_DAYS = 366
DEFAULT_DAYS = 14
_WALL_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (401, 403, 404, 409, 422, 503)
}
Model = TypeVar("Model", bound=BaseModel)


class InvalidStaffInput(GatewayError):
    code, status = "invalid_request", 422

    def __init__(self, message: str, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.code = code


class NoCalendar(GatewayError):
    code, status = "no_calendar", 404


# --- dependencies ----------------------------------------------------------------------------------------------------


def _client(request: Request) -> StaffClient:
    return gateway(request).calendars


def _feeds(request: Request) -> FeedTokens:
    return gateway(request).feeds


# --- bodies ----------------------------------------------------------------------------------------------------------


class RuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    location_id: int = Field(ge=1, le=2_000_000_000)
    weekday: int = Field(description="0 = Monday ... 6 = Sunday")
    start: str = Field(max_length=8, description="local wall time HH:MM")
    end: str = Field(max_length=8, description="local wall time HH:MM; before midnight (23:59 at the latest)")
    valid_from: date | None = None
    valid_until: date | None = None
    on_holidays: bool = False


class RulesBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[RuleBody] = Field(max_length=100)


class ExceptionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["absence", "extra_hours"]
    first_day: date
    last_day: date | None = None  # default: first_day
    start: str | None = Field(default=None, max_length=8, description="HH:MM; an absence of part of one day")
    end: str | None = Field(default=None, max_length=8)
    location_id: int | None = Field(default=None, ge=1, le=2_000_000_000, description="for extra hours")
    reason: str | None = Field(default=None, max_length=200)


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=200)


class MoveBody(ReasonBody):
    slot_id: str = Field(min_length=1, max_length=64)


class FeedIssued(BaseModel):
    counsellor_id: int
    feed_url: str
    token: str


# --- checks that need no calendar ------------------------------------------------------------------------------------

_REASON = TypeAdapter(FreeText)
_ZONE = TypeAdapter(ZoneName)


def _reason(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return _REASON.validate_python(value.strip())
    except ValidationError:
        raise InvalidStaffInput("The reason may have at most 200 characters, at most four digits and no '+' "
                                "(it must not hold a phone number).", "invalid_reason") from None


def _wall(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not _WALL_TIME.match(value):
        raise InvalidStaffInput(f"{what} must be a time of day as HH:MM, such as 09:30 (00:00 to 23:59).",
                                "invalid_time")
    return value


def _zone(value: str) -> str:
    try:
        _ZONE.validate_python(value)
        ZoneInfo(value)
    except (ValidationError, ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidStaffInput("The timezone is not a time zone name; use an IANA name such as 'Europe/Berlin'.",
                                "unknown_timezone") from None
    return value


def _today(zone_name: str) -> date:
    return datetime.now(ZoneInfo(zone_name)).date()


def _check_range(first: date, last: date, today: date) -> None:
    if last < first:
        raise InvalidStaffInput(f"The range ends on {last}, before it starts on {first}.", "range_reversed")
    if (last - first).days >= MAX_STAFF_RANGE_DAYS:
        raise InvalidStaffInput(f"A range may cover at most {MAX_STAFF_RANGE_DAYS} days; this one covers "
                                f"{(last - first).days + 1}.", "range_too_long")
    if last > today + timedelta(days=HORIZON_DAYS):
        raise InvalidStaffInput(f"A range may reach at most {HORIZON_DAYS} days ahead (until "
                                f"{today + timedelta(days=HORIZON_DAYS)}).", "beyond_horizon")


def _data(model: type[Model], data: dict[str, Any]) -> Model:
    return model.model_validate(data)


def _no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"


# --- routes ----------------------------------------------------------------------------------------------------------

Start = Annotated[date | None, Query(alias="start", description="any day of the week; default: this week")]
Timezone = Annotated[str, Query(max_length=64, description="show times in this IANA zone")]


def _week(client: StaffClient, staff: Staff, counsellor_id: int, start: date | None, timezone: str,
          settings_zone: str) -> WeekData:
    zone = _zone(timezone)
    today = _today(settings_zone)
    first = start or today
    if first > today + timedelta(days=HORIZON_DAYS):
        raise InvalidStaffInput(f"A week may start at most {HORIZON_DAYS} days ahead.", "beyond_horizon")
    answer = client.ask(staff, WeekAction(counsellor_id=counsellor_id, week_start=first, timezone=zone))
    return _data(WeekData, answer.data)


@router.get("/me/week", responses=_ERRORS)
def my_week(staff: CurrentStaff, request: Request, response: Response, settings: SettingsDep,
            start: Start = None, timezone: Timezone = "Europe/Berlin") -> WeekData:
    """The signed-in counsellor's week: windows after absences and holidays, and appointments."""
    if staff.counsellor_id is None:
        raise NoCalendar("An admin account has no calendar of its own; use /v1/staff/calendars/{id}/week.")
    _no_store(response)
    return _week(_client(request), staff, staff.counsellor_id, start, timezone, settings.timezone)


@router.get("/calendars/{counsellor_id}/week", responses=_ERRORS)
def calendar_week(counsellor_id: int, staff: CalendarStaff, request: Request, response: Response,
                  settings: SettingsDep, start: Start = None, timezone: Timezone = "Europe/Berlin") -> WeekData:
    _no_store(response)
    return _week(_client(request), staff, counsellor_id, start, timezone, settings.timezone)


@router.get("/calendars/{counsellor_id}/bookings", responses=_ERRORS)
def calendar_bookings(
    counsellor_id: int, staff: CalendarStaff, request: Request, response: Response, settings: SettingsDep,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    status: AppointmentStatus | None = None,
    timezone: Timezone = "Europe/Berlin",
) -> BookingsData:
    """Appointments starting on the days from..to (at most 90 days; default the next two weeks), with status."""
    zone = _zone(timezone)
    today = _today(settings.timezone)
    first = date_from or today
    last = date_to or first + timedelta(days=DEFAULT_DAYS - 1)
    _check_range(first, last, today)
    answer = _client(request).ask(staff, BookingsAction(counsellor_id=counsellor_id, date_from=first, date_to=last,
                                                        status=status, timezone=zone))
    _no_store(response)
    return _data(BookingsData, answer.data)


@router.put("/calendars/{counsellor_id}/rules", responses=_ERRORS)
def replace_rules(counsellor_id: int, body: RulesBody, staff: CalendarStaff, request: Request) -> RulesData:
    """Replace all weekly rules of the calendar at once; nothing is saved if any rule is refused."""
    rules = []
    for number, rule in enumerate(body.rules, start=1):
        what = f"Rule {number}"
        if not 0 <= rule.weekday <= 6:
            raise InvalidStaffInput(f"{what}: weekday must be 0 (Monday) to 6 (Sunday).", "invalid_weekday")
        rules.append(RuleIn(location_id=rule.location_id, weekday=rule.weekday,
                            start=_wall(rule.start, f"{what}: start") or "", end=_wall(rule.end, f"{what}: end") or "",
                            valid_from=rule.valid_from, valid_until=rule.valid_until, on_holidays=rule.on_holidays))
    answer = _client(request).ask(staff, SetRulesAction(counsellor_id=counsellor_id, rules=rules))
    return _data(RulesData, answer.data)


@router.post("/calendars/{counsellor_id}/exceptions", status_code=201, responses=_ERRORS)
def add_exception(counsellor_id: int, body: ExceptionBody, staff: CalendarStaff, request: Request,
                  settings: SettingsDep) -> ExceptionData:
    """An absence (whole days, or start..end on one day) or extra hours at a location on one day. An absence over
    booked appointments keeps them, flags them and lists them in `bookings_to_move`."""
    last = body.last_day or body.first_day
    _check_range(body.first_day, last, _today(settings.timezone))
    action = AddExceptionAction(counsellor_id=counsellor_id, kind=body.kind, first_day=body.first_day, last_day=last,
                                start=_wall(body.start, "start"), end=_wall(body.end, "end"),
                                location_id=body.location_id, reason=_reason(body.reason))
    return _data(ExceptionData, _client(request).ask(staff, action).data)


@router.delete("/calendars/{counsellor_id}/exceptions/{exception_id}", responses=_ERRORS)
def remove_exception(counsellor_id: int, exception_id: Annotated[int, Path(ge=1, le=2_000_000_000)],
                     staff: CalendarStaff, request: Request) -> ExceptionData:
    action = RemoveExceptionAction(counsellor_id=counsellor_id, exception_id=exception_id)
    return _data(ExceptionData, _client(request).ask(staff, action).data)


def _change(request: Request, staff: Staff, action: StaffAction) -> BookingChangeData:
    return _data(BookingChangeData, _client(request).ask(staff, action).data)


@router.post("/bookings/{booking_id}/cancel", responses=_ERRORS)
def cancel_booking(booking_id: UUID, staff: CurrentStaff, request: Request,
                   body: ReasonBody | None = None) -> BookingChangeData:
    """Cancel a confirmed booking that has not begun; the client is told as with any cancellation."""
    return _change(request, staff, CancelAction(booking_id=booking_id, reason=_reason(body.reason if body else None)))


@router.post("/bookings/{booking_id}/no-show", responses=_ERRORS)
def record_no_show(booking_id: UUID, staff: CurrentStaff, request: Request,
                   body: ReasonBody | None = None) -> BookingChangeData:
    """The client did not come; only once the appointment has begun."""
    return _change(request, staff, OutcomeAction(action="no_show", booking_id=booking_id,
                                                 reason=_reason(body.reason if body else None)))


@router.post("/bookings/{booking_id}/attended", responses=_ERRORS)
def record_attended(booking_id: UUID, staff: CurrentStaff, request: Request,
                    body: ReasonBody | None = None) -> BookingChangeData:
    """The client came; only once the appointment has begun."""
    return _change(request, staff, OutcomeAction(action="attended", booking_id=booking_id,
                                                 reason=_reason(body.reason if body else None)))


@router.post("/bookings/{booking_id}/move", responses=_ERRORS)
def move_booking(booking_id: UUID, body: MoveBody, staff: CurrentStaff, request: Request) -> BookingChangeData:
    """Move a confirmed booking to a free slot (one from GET /v1/slots); the client's manage page shows the new
    time. A taken slot is refused with up to three alternatives."""
    if not re.match(SLOT_ID_PATTERN, body.slot_id):
        raise InvalidStaffInput("The slot_id is not a slot from the list (GET /v1/slots).", "invalid_slot_id")
    return _change(request, staff, MoveAction(booking_id=booking_id, slot_id=body.slot_id,
                                              reason=_reason(body.reason)))


@router.post("/calendars/{counsellor_id}/feed", status_code=201, responses=_ERRORS)
def issue_feed(counsellor_id: int, staff: CalendarStaff, request: Request, response: Response,
               settings: SettingsDep) -> FeedIssued:
    """A new private feed URL for the calendar (shown only now); an earlier one stops working."""
    # The scheduler confirms the calendar exists (and, again, that this staff member may see it).
    _client(request).ask(staff, WeekAction(counsellor_id=counsellor_id, week_start=_today(settings.timezone)))
    token = _feeds(request).issue(counsellor_id, staff.id)
    _no_store(response)
    return FeedIssued(counsellor_id=counsellor_id, token=token,
                      feed_url=f"{settings.public_base_url.rstrip('/')}/v1/feeds/{token}.ics")


@router.delete("/calendars/{counsellor_id}/feed", status_code=204, responses=_ERRORS)
def revoke_feed(counsellor_id: int, staff: CalendarStaff, request: Request) -> Response:
    """The feed URL stops working at once."""
    if not _feeds(request).revoke(counsellor_id):
        raise NoCalendar("This calendar has no feed to revoke.")
    return Response(status_code=204)


# --- admin: appointment types, counsellors, locations ----------------------------------------------------------------
# Bodies take plain values; the contract's ranges are checked here first so that a bad value is a 422 with a
# sentence naming it, and the scheduler checks them again with the calendar they would make.

_TYPE_LIMITS = {
    "duration_minutes": (10, 240, "The duration"),
    "buffer_before_minutes": (0, 120, "The buffer before"),
    "buffer_after_minutes": (0, 120, "The buffer after"),
    "min_notice_minutes": (0, 10080, "The minimum notice"),
    "horizon_days": (1, 366, "The booking horizon"),
}
_TOPIC = re.compile(r"^[a-z_]{2,40}$")
_MODES = ("office", "outreach", "phone", "video")
_LANGUAGES = ("de", "en", "ro", "bg", "hu", "pl", "ru", "uk", "es", "th")
_ALIAS = TypeAdapter(LocationAlias)


class TypeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str | None = Field(default=None, max_length=40, description="a code: a-z and _, 2 to 40 characters")
    duration_minutes: int | None = Field(default=None, description="10 to 240")
    modes: list[str] | None = Field(default=None, max_length=4, description="of office, outreach, phone, video")
    buffer_before_minutes: int | None = Field(default=None, description="0 to 120")
    buffer_after_minutes: int | None = Field(default=None, description="0 to 120")
    min_notice_minutes: int | None = Field(default=None, description="0 to 10080 (a week)")
    horizon_days: int | None = Field(default=None, description="1 to 366")
    active: bool | None = None
    reminder_offsets_minutes: list[int] | None = Field(
        default=None,
        description="reminders, in minutes before the start: at most 5, each 15 to 20160 (14 days), none twice; "
                    "[] for no reminders; default on create 1440 and 120. A change applies to bookings confirmed "
                    "or moved afterwards; earlier bookings keep their reminders")


class CounsellorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    languages: list[str] | None = Field(default=None, max_length=10)
    topics: list[str] | None = Field(default=None, max_length=20)
    location_ids: list[int] | None = Field(default=None, max_length=50)
    active: bool | None = None
    daily_cap: int | None = Field(default=None, description="1 to 20 appointments a day; null for no limit")


class LocationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool | None = None
    alias: str | None = Field(default=None, max_length=80)


def _type_fields(body: TypeBody) -> dict[str, Any]:
    """The given fields, checked; a bad value is InvalidStaffInput naming it."""
    fields: dict[str, Any] = {}
    if body.topic is not None:
        if not _TOPIC.match(body.topic):
            raise InvalidStaffInput("The topic must be a code of 2 to 40 lower-case letters a-z and '_', such as "
                                    "'career'.", "invalid_topic")
        fields["topic"] = body.topic
    for name, (low, high, what) in _TYPE_LIMITS.items():
        value = getattr(body, name)
        if value is not None:
            if not low <= value <= high:
                raise InvalidStaffInput(f"{what} must be {low} to {high}, not {value}.", f"invalid_{name}")
            fields[name] = value
    if body.modes is not None:
        if not body.modes or any(mode not in _MODES for mode in body.modes):
            raise InvalidStaffInput(f"The modes must be one or more of {', '.join(_MODES)}.", "invalid_modes")
        fields["modes"] = sorted(set(body.modes))
    if body.active is not None:
        fields["active"] = body.active
    if body.reminder_offsets_minutes is not None:
        try:
            fields["reminder_offsets_minutes"] = reminder_policy(body.reminder_offsets_minutes)
        except ValueError as refused:
            raise InvalidStaffInput(str(refused), "invalid_reminder_offsets") from None
    return fields


@router.get("/appointment-types", responses=_ERRORS)
def appointment_types(staff: CurrentStaff, request: Request, response: Response) -> TypesData:
    """Every appointment type, active or not."""
    _no_store(response)
    return _data(TypesData, _client(request).ask(staff, TypesAction()).data)


@router.post("/appointment-types", status_code=201, responses=_ERRORS)
def create_appointment_type(body: TypeBody, staff: AdminStaff, request: Request) -> AppointmentTypeData:
    """A new appointment type (admin only); refused if it would make a topic and mode ambiguous."""
    fields = _type_fields(body)
    missing = [name for name in ("topic", "duration_minutes", "modes") if name not in fields]
    if missing:
        raise InvalidStaffInput(f"A new appointment type needs {', '.join(missing)}.", "incomplete_type")
    return _data(AppointmentTypeData, _client(request).ask(staff, CreateTypeAction(**fields)).data)


@router.patch("/appointment-types/{type_id}", responses=_ERRORS)
def update_appointment_type(type_id: Annotated[int, Path(ge=1, le=2_000_000_000)], body: TypeBody,
                            staff: AdminStaff, request: Request) -> AppointmentTypeData:
    """Change topic, duration, modes, buffers, minimum notice, horizon, active or the reminder policy (admin
    only). A new reminder policy applies to bookings confirmed or moved from now on."""
    action = UpdateTypeAction(type_id=type_id, **_type_fields(body))
    return _data(AppointmentTypeData, _client(request).ask(staff, action).data)


@router.patch("/counsellors/{counsellor_id}", responses=_ERRORS)
def update_counsellor(counsellor_id: Annotated[int, Path(ge=1, le=2_000_000_000)], body: CounsellorBody,
                      staff: AdminStaff, request: Request) -> CounsellorData:
    """Change languages, topics, served locations, active or the daily cap (admin only). A served location the
    counsellor's weekly rules still use cannot be removed."""
    if body.languages is not None and (not body.languages or any(c not in _LANGUAGES for c in body.languages)):
        raise InvalidStaffInput(f"The languages must be one or more of {', '.join(_LANGUAGES)}.",
                                "invalid_languages")
    if body.topics is not None and any(not _TOPIC.match(topic) for topic in body.topics):
        raise InvalidStaffInput("Each topic must be a code of 2 to 40 lower-case letters a-z and '_'.",
                                "invalid_topic")
    if body.location_ids is not None and any(not 1 <= lid <= 2_000_000_000 for lid in body.location_ids):
        raise InvalidStaffInput("Each location id must be a positive number.", "invalid_location")
    change_cap = "daily_cap" in body.model_fields_set
    if body.daily_cap is not None and not 1 <= body.daily_cap <= 20:
        raise InvalidStaffInput(f"The daily cap must be 1 to 20 (or null for no limit), not {body.daily_cap}.",
                                "invalid_daily_cap")
    action = UpdateCounsellorAction(counsellor_id=counsellor_id, languages=body.languages, topics=body.topics,
                                    location_ids=body.location_ids, active=body.active,
                                    change_daily_cap=change_cap, daily_cap=body.daily_cap)
    return _data(CounsellorData, _client(request).ask(staff, action).data)


@router.patch("/locations/{location_id}", responses=_ERRORS)
def update_location(location_id: Annotated[int, Path(ge=1, le=2_000_000_000)], body: LocationBody,
                    staff: AdminStaff, request: Request) -> LocationData:
    """Change whether a location is offered, or its neutral alias (what an SMS shows) (admin only)."""
    alias = None
    if body.alias is not None:
        try:
            alias = _ALIAS.validate_python(" ".join(body.alias.split()))
        except ValidationError:
            raise InvalidStaffInput("The alias must be 2 to 40 characters: letters, digits (at most four) and "
                                    "spaces, no '+' (it is shown in SMS; keep it neutral).", "invalid_alias") from None
    action = UpdateLocationAction(location_id=location_id, active=body.active, alias=alias)
    return _data(LocationData, _client(request).ask(staff, action).data)
