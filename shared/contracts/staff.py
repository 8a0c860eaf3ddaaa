"""Staff calendar questions and changes: a request/reply between gateway and scheduler, answered on the asker's
reply queue. The scheduler decides and re-checks who may do what; the gateway only signs staff in.

No field can hold a phone number: the scheduler never has one, and staff reasons are `FreeText` (at most four
digits, no "+").
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.contracts.common import FreeText, Slot, SlotId
from shared.contracts.envelope import Payload, register

# Local wall-clock hours and minutes in the business time zone, "09:30".
WallTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
# An IANA zone name such as "Europe/Berlin": letters, "_", "-" and "/", no digits (nothing that could be a number).
ZoneName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]{1,32}(/[A-Za-z_-]{1,32}){0,2}$")]
ReplyQueue = Annotated[str, StringConstraints(pattern=r"^gateway\.replies\.[0-9a-f]{12}$")]
CounsellorId = Annotated[int, Field(ge=1, le=2_000_000_000)]
AppointmentStatus = Literal["confirmed", "cancelled", "no_show", "attended"]
# The longest range a staff question may cover, as for a slot search.
MAX_STAFF_RANGE_DAYS = 90


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Actor(_Model):
    """Who asks, as the gateway signed them in: an admin, or a counsellor with their scheduler counsellor id."""

    staff_id: int = Field(ge=1)
    role: Literal["counsellor", "admin"]
    counsellor_id: CounsellorId | None = None

    @model_validator(mode="after")
    def _counsellor_has_a_calendar(self) -> Actor:
        if self.role == "counsellor" and self.counsellor_id is None:
            raise ValueError("a counsellor actor needs a counsellor_id")
        return self


class WeekAction(_Model):
    """The counsellor's windows (after exceptions and holidays) and appointments in the ISO week from `week_start`."""

    action: Literal["week"] = "week"
    counsellor_id: CounsellorId
    week_start: date
    timezone: ZoneName = "Europe/Berlin"


class BookingsAction(_Model):
    """The counsellor's appointments starting on the local days date_from..date_to, optionally of one status."""

    action: Literal["bookings"] = "bookings"
    counsellor_id: CounsellorId
    date_from: date
    date_to: date
    status: AppointmentStatus | None = None
    timezone: ZoneName = "Europe/Berlin"


class RuleIn(_Model):
    """Every `weekday` (Monday = 0) at the location from `start` to `end`, local wall time."""

    location_id: int = Field(ge=1)
    weekday: int = Field(ge=0, le=6)
    start: WallTime
    end: WallTime
    valid_from: date | None = None
    valid_until: date | None = None  # inclusive
    on_holidays: bool = False


class SetRulesAction(_Model):
    """Replace all weekly rules of the counsellor at once (an empty list closes the calendar)."""

    action: Literal["set_rules"] = "set_rules"
    counsellor_id: CounsellorId
    rules: list[RuleIn] = Field(max_length=100)


class AddExceptionAction(_Model):
    """An absence (whole days, or one day's start..end) or extra hours at a location on one day."""

    action: Literal["add_exception"] = "add_exception"
    counsellor_id: CounsellorId
    kind: Literal["absence", "extra_hours"]
    first_day: date
    last_day: date
    start: WallTime | None = None
    end: WallTime | None = None
    location_id: int | None = Field(default=None, ge=1)
    reason: FreeText | None = None


class RemoveExceptionAction(_Model):
    action: Literal["remove_exception"] = "remove_exception"
    counsellor_id: CounsellorId
    exception_id: int = Field(ge=1)


class CancelAction(_Model):
    action: Literal["cancel"] = "cancel"
    booking_id: UUID
    reason: FreeText | None = None


class OutcomeAction(_Model):
    """The client came (`attended`) or did not (`no_show`); only once the appointment has begun."""

    action: Literal["no_show", "attended"]
    booking_id: UUID
    reason: FreeText | None = None


class MoveAction(_Model):
    action: Literal["move"] = "move"
    booking_id: UUID
    slot_id: SlotId
    reason: FreeText | None = None


StaffAction = Annotated[
    WeekAction | BookingsAction | SetRulesAction | AddExceptionAction | RemoveExceptionAction | CancelAction
    | OutcomeAction | MoveAction,
    Field(discriminator="action"),
]
WRITES = frozenset({"set_rules", "add_exception", "remove_exception", "cancel", "no_show", "attended", "move"})


@register
class StaffRequested(Payload):
    """gateway → scheduler: a signed-in staff member asks or changes something in a calendar."""

    message_type = "staff.requested"
    message_version = 1
    request_id: UUID
    actor: Actor
    action: StaffAction
    reply_to: ReplyQueue


@register
class FeedRequested(Payload):
    """gateway → scheduler: the bookings for a counsellor's private calendar feed (the gateway checked the token)."""

    message_type = "feed.requested"
    message_version = 1
    request_id: UUID
    counsellor_id: CounsellorId
    date_from: date
    date_to: date
    reply_to: ReplyQueue


@register
class StaffAnswered(Payload):
    """scheduler → gateway: the answer to `staff.requested` or `feed.requested`. `status` is HTTP-like (200, 201,
    403, 404, 409, 422); `data` is one of the models below as a JSON object."""

    message_type = "staff.answered"
    message_version = 1
    request_id: UUID
    ok: bool
    status: int = Field(ge=200, le=599)
    code: str = Field(max_length=40)
    message: str = Field(max_length=500)
    data: dict[str, Any] = Field(default_factory=dict)


# --- what `data` holds -------------------------------------------------------------------------------------------


class StaffLocation(_Model):
    location_id: int
    alias: str
    kind: str


class StaffBooking(_Model):
    """An appointment as staff see it: never a phone number (the scheduler has none)."""

    booking_id: UUID
    status: AppointmentStatus
    start: AwareDatetime  # in the asked time zone, with offset
    end: AwareDatetime
    location: StaffLocation
    topic: str | None
    duration_minutes: int
    language: str
    channel: str
    needs_attention: bool
    status_reason: str | None = None


class StaffWindow(_Model):
    day: date
    start: AwareDatetime
    end: AwareDatetime
    location: StaffLocation
    source: Literal["rule", "extra_hours"]


class StaffException(_Model):
    exception_id: int
    kind: str
    first_day: date
    last_day: date
    start: WallTime | None = None
    end: WallTime | None = None
    location_id: int | None = None
    reason: str = ""


class WeekData(_Model):
    counsellor_id: int
    counsellor_alias: str
    week_start: date
    timezone: str
    windows: list[StaffWindow]
    bookings: list[StaffBooking]
    exceptions: list[StaffException]


class BookingsData(_Model):
    counsellor_id: int
    bookings: list[StaffBooking]


class RuleOut(RuleIn):
    rule_id: int


class RulesData(_Model):
    counsellor_id: int
    rules: list[RuleOut]


class ExceptionData(_Model):
    exception: StaffException
    # Confirmed appointments inside a new absence: flagged `needs_attention`, kept, listed here for staff to move.
    bookings_to_move: list[StaffBooking] = Field(default_factory=list)


class BookingChangeData(_Model):
    booking: StaffBooking
    alternatives: list[Slot] = Field(default_factory=list)


class FeedEvent(_Model):
    booking_id: UUID
    start: AwareDatetime  # UTC
    end: AwareDatetime
    location_alias: str
    location_address: str = ""  # the counsellor may see the street address; it never goes to a client's phone


class FeedData(_Model):
    counsellor_id: int
    events: list[FeedEvent]
