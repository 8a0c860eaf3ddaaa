"""Admin only (reading the types: any staff member): appointment types, counsellors, locations; the lists of
counsellors and locations too (their planning is the office's, and no counsellor page needs another's).

Bodies take plain values; the contract's ranges are checked here first so that a bad value is a 422 with a
sentence naming it, and the scheduler checks them again with the calendar they would make.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from gateway.api.schemas import MAX_ID, IdPath
from gateway.api.staff.answers import ERRORS, ask
from gateway.api.staff.inputs import InvalidStaffInput
from gateway.api.staff_deps import AdminStaff, CurrentStaff, no_store
from shared.contracts.limits import HORIZON_DAYS
from shared.contracts.staff import (
    AppointmentTypeAnswer,
    AppointmentTypeData,
    CounsellorAnswer,
    CounsellorData,
    CounsellorsAction,
    CounsellorsAnswer,
    CounsellorsData,
    CreateCounsellorAction,
    CreateLocationAction,
    CreateTypeAction,
    LocationAlias,
    LocationAnswer,
    LocationData,
    LocationsAction,
    LocationsAnswer,
    LocationsData,
    TownName,
    TypesAction,
    TypesAnswer,
    TypesData,
    UpdateCounsellorAction,
    UpdateLocationAction,
    UpdateTypeAction,
    reminder_policy,
)

router = APIRouter()

_TYPE_LIMITS = {
    "duration_minutes": (10, 240, "The duration"),
    "buffer_before_minutes": (0, 120, "The buffer before"),
    "buffer_after_minutes": (0, 120, "The buffer after"),
    "min_notice_minutes": (0, 10080, "The minimum notice"),
    "horizon_days": (1, HORIZON_DAYS, "The booking horizon"),
}
# The admin page's form (gateway.web.staff.type_pages) checks and says the same ranges.
TYPE_LIMITS = _TYPE_LIMITS
_TOPIC = re.compile(r"^[a-z_]{2,40}$")
MODES = ("office", "outreach", "phone", "video")
LANGUAGES = ("de", "en", "ro", "bg", "hu", "pl", "ru", "uk", "es", "th")
_ALIAS = TypeAdapter(LocationAlias)
_TOWN = TypeAdapter(TownName)


class TypeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str | None = Field(default=None, max_length=40, description="a code: a-z and _, 2 to 40 characters")
    duration_minutes: int | None = Field(default=None, description="10 to 240")
    modes: list[str] | None = Field(default=None, max_length=4, description="of office, outreach, phone, video")
    buffer_before_minutes: int | None = Field(default=None, description="0 to 120")
    buffer_after_minutes: int | None = Field(default=None, description="0 to 120")
    min_notice_minutes: int | None = Field(default=None, description="0 to 10080 (a week)")
    horizon_days: int | None = Field(default=None, description=f"1 to {HORIZON_DAYS}")
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


class NewCounsellorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alias: str = Field(max_length=80, description="the name clients see: 2 to 40 letters, digits (at most four) "
                                                  "and spaces, unique")
    languages: list[str] = Field(max_length=10)
    topics: list[str] = Field(default_factory=list, max_length=20)
    location_ids: list[int] = Field(default_factory=list, max_length=50)
    daily_cap: int | None = Field(default=None, description="1 to 20 appointments a day; null for no limit")


class NewLocationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    town: str = Field(max_length=120, description="letters, spaces, '-', '.', \"'\"; for travel times between towns")
    kind: str = Field(max_length=16, description="office, outreach, phone or video")
    alias: str = Field(max_length=80, description="what an SMS shows: 2 to 40 letters, digits (at most four) and "
                                                  "spaces, unique; keep it neutral")
    address: str = Field(default="", max_length=200,
                         description="street address, shown only on a confirmed booking's manage page")
    directions: str = Field(default="", max_length=500,
                            description="how to get in (office) or how the place is agreed (outreach)")


class LocationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    active: bool | None = None
    alias: str | None = Field(default=None, max_length=80)
    address: str | None = Field(default=None, max_length=200,
                                description="street address, shown only on a confirmed booking's manage page")
    directions: str | None = Field(default=None, max_length=500,
                                   description="how to get in (office) or how the place is agreed (outreach)")


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
        if not body.modes or any(mode not in MODES for mode in body.modes):
            raise InvalidStaffInput(f"The modes must be one or more of {', '.join(MODES)}.", "invalid_modes")
        fields["modes"] = sorted(set(body.modes))
    if body.active is not None:
        fields["active"] = body.active
    if body.reminder_offsets_minutes is not None:
        try:
            fields["reminder_offsets_minutes"] = reminder_policy(body.reminder_offsets_minutes)
        except ValueError as refused:
            raise InvalidStaffInput(str(refused), "invalid_reminder_offsets") from None
    return fields


@router.get("/appointment-types", responses=ERRORS)
def appointment_types(staff: CurrentStaff, request: Request, response: Response) -> TypesData:
    """Every appointment type, active or not."""
    no_store(response)
    return ask(request, staff, TypesAction(), TypesAnswer).data


@router.post("/appointment-types", status_code=201, responses=ERRORS)
def create_appointment_type(body: TypeBody, staff: AdminStaff, request: Request) -> AppointmentTypeData:
    """A new appointment type (admin only); refused if it would make a topic and mode ambiguous."""
    fields = _type_fields(body)
    missing = [name for name in ("topic", "duration_minutes", "modes") if name not in fields]
    if missing:
        raise InvalidStaffInput(f"A new appointment type needs {', '.join(missing)}.", "incomplete_type")
    return ask(request, staff, CreateTypeAction(**fields), AppointmentTypeAnswer).data


@router.patch("/appointment-types/{type_id}", responses=ERRORS)
def update_appointment_type(type_id: IdPath, body: TypeBody,
                            staff: AdminStaff, request: Request) -> AppointmentTypeData:
    """Change topic, duration, modes, buffers, minimum notice, horizon, active or the reminder policy (admin
    only). A new reminder policy applies to bookings confirmed or moved from now on."""
    action = UpdateTypeAction(type_id=type_id, **_type_fields(body))
    return ask(request, staff, action, AppointmentTypeAnswer).data


def _check_counsellor(body: CounsellorBody | NewCounsellorBody) -> None:
    """The given fields of a counsellor, checked; a bad value is InvalidStaffInput naming it."""
    if body.languages is not None and (not body.languages or any(c not in LANGUAGES for c in body.languages)):
        raise InvalidStaffInput(f"The languages must be one or more of {', '.join(LANGUAGES)}.",
                                "invalid_languages")
    if body.topics is not None and any(not _TOPIC.match(topic) for topic in body.topics):
        raise InvalidStaffInput("Each topic must be a code of 2 to 40 lower-case letters a-z and '_'.",
                                "invalid_topic")
    if body.location_ids is not None and any(not 1 <= lid <= MAX_ID for lid in body.location_ids):
        raise InvalidStaffInput("Each location id must be a positive number.", "invalid_location")
    if body.daily_cap is not None and not 1 <= body.daily_cap <= 20:
        raise InvalidStaffInput(f"The daily cap must be 1 to 20 (or null for no limit), not {body.daily_cap}.",
                                "invalid_daily_cap")


def _alias(text: str) -> str:
    try:
        return _ALIAS.validate_python(" ".join(text.split()))
    except ValidationError:
        raise InvalidStaffInput("The alias must be 2 to 40 characters: letters, digits (at most four) and "
                                "spaces, no '+' (it is shown in SMS; keep it neutral).", "invalid_alias") from None


def _check_location_texts(*texts: str | None) -> None:
    for text in texts:
        if text is not None and ("+" in text or "＋" in text):
            raise InvalidStaffInput("The address and directions must not contain '+' (no phone numbers: they are "
                                    "shown to clients on the manage page).", "invalid_location_text")


@router.get("/counsellors", responses=ERRORS)
def counsellors(staff: AdminStaff, request: Request, response: Response) -> CounsellorsData:
    """Every counsellor, active or not, by alias (admin only)."""
    no_store(response)
    return ask(request, staff, CounsellorsAction(), CounsellorsAnswer).data


@router.post("/counsellors", status_code=201, responses=ERRORS)
def create_counsellor(body: NewCounsellorBody, staff: AdminStaff, request: Request) -> CounsellorData:
    """A new, active counsellor (admin only); 409 `alias_taken` if another counsellor has the alias, 404 for an
    unknown location. Weekly hours follow on the counsellor's own page; a staff account links to the id."""
    alias = _alias(body.alias)
    _check_counsellor(body)
    action = CreateCounsellorAction(alias=alias, languages=body.languages, topics=body.topics,
                                    location_ids=body.location_ids, daily_cap=body.daily_cap)
    return ask(request, staff, action, CounsellorAnswer).data


@router.patch("/counsellors/{counsellor_id}", responses=ERRORS)
def update_counsellor(counsellor_id: IdPath, body: CounsellorBody,
                      staff: AdminStaff, request: Request) -> CounsellorData:
    """Change languages, topics, served locations, active or the daily cap (admin only). A served location the
    counsellor's weekly rules still use cannot be removed."""
    _check_counsellor(body)
    change_cap = "daily_cap" in body.model_fields_set
    action = UpdateCounsellorAction(counsellor_id=counsellor_id, languages=body.languages, topics=body.topics,
                                    location_ids=body.location_ids, active=body.active,
                                    change_daily_cap=change_cap, daily_cap=body.daily_cap)
    return ask(request, staff, action, CounsellorAnswer).data


@router.patch("/locations/{location_id}", responses=ERRORS)
def update_location(location_id: IdPath, body: LocationBody,
                    staff: AdminStaff, request: Request) -> LocationData:
    """Change whether a location is offered, its neutral alias (what an SMS shows), or its address and directions
    (shown only on a confirmed booking's manage page, never in an SMS) (admin only)."""
    alias = _alias(body.alias) if body.alias is not None else None
    _check_location_texts(body.address, body.directions)
    action = UpdateLocationAction(location_id=location_id, active=body.active, alias=alias, address=body.address,
                                  directions=body.directions)
    return ask(request, staff, action, LocationAnswer).data


@router.get("/locations", responses=ERRORS)
def locations(staff: AdminStaff, request: Request, response: Response) -> LocationsData:
    """Every location, active or not, with address and directions, by town and alias (admin only)."""
    no_store(response)
    return ask(request, staff, LocationsAction(), LocationsAnswer).data


@router.post("/locations", status_code=201, responses=ERRORS)
def create_location(body: NewLocationBody, staff: AdminStaff, request: Request) -> LocationData:
    """A new, active location (admin only); 409 `alias_taken` if another location has the alias. Counsellors serve
    it once it is added to them."""
    if body.kind not in MODES:
        raise InvalidStaffInput(f"The kind must be one of {', '.join(MODES)}.", "invalid_kind")
    try:
        town = _TOWN.validate_python(" ".join(body.town.split()))
    except ValidationError:
        raise InvalidStaffInput("The town must be 2 to 80 letters, spaces, '-', '.' or \"'\", no digits.",
                                "invalid_town") from None
    alias = _alias(body.alias)
    _check_location_texts(body.address, body.directions)
    action = CreateLocationAction(town=town, kind=body.kind, alias=alias,
                                  address=body.address, directions=body.directions)
    return ask(request, staff, action, LocationAnswer).data
