"""Staff calendar questions and changes: a request/reply between gateway and scheduler, answered on the asker's
reply queue. The scheduler decides and re-checks who may do what; the gateway only signs staff in.

No field can hold a phone number: the scheduler never has one, and staff reasons are `FreeText` (at most four
digits, no "+").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from shared.contracts.bookings import DEFAULT_REMINDER_OFFSETS, ReminderOffsets
from shared.contracts.common import FreeText, LanguageCode, Slot, SlotId
from shared.contracts.envelope import Payload, register
from shared.contracts.limits import HORIZON_DAYS

# Local wall-clock hours and minutes in the business time zone, "09:30".
WallTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
# An IANA zone name such as "Europe/Berlin": letters, "_", "-" and "/", no digits (nothing that could be a number).
ZoneName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]{1,32}(/[A-Za-z_-]{1,32}){0,2}$")]
ReplyQueue = Annotated[str, StringConstraints(pattern=r"^gateway\.replies\.[0-9a-f]{12}$")]
CounsellorId = Annotated[int, Field(ge=1, le=2_000_000_000)]
AppointmentStatus = Literal["confirmed", "cancelled", "no_show", "attended"]
# A topic code as staff name it on an appointment type or a counsellor: "career", "safety_legal".
TopicCode = Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,40}$")]
ModeName = Literal["office", "outreach", "phone", "video"]
# A location's neutral alias (what an SMS shows): letters, digits and spaces, at most four digits, no "+".
_ALIAS_CHARS = "A-Za-zÄÖÜäöüßÀ-ÖØ-öø-ÿ "
LocationAlias = Annotated[str, StringConstraints(
    min_length=2, max_length=40, pattern=rf"^[{_ALIAS_CHARS}]*([0-9][{_ALIAS_CHARS}]*){{0,4}}$")]
# A town: letters, spaces, "-", "." and "'" (Frankfurt (Oder) is "Frankfurt-Oder"), no digits.
TownName = Annotated[str, StringConstraints(min_length=2, max_length=80, pattern=rf"^[{_ALIAS_CHARS}.'-]+$")]
# A reminder policy's limits, as `shared.contracts.bookings.ReminderOffsets` (which booking messages carry).
REMINDER_OFFSET_MIN, REMINDER_OFFSET_MAX, MAX_REMINDERS = 15, 20160, 5


def reminder_policy(offsets: Sequence[int]) -> tuple[int, ...]:
    """The policy as stored and announced (largest offset, i.e. the earliest reminder, first); ValueError with a
    sentence naming the limit for one that breaks it. An empty policy means no reminders."""
    if len(offsets) > MAX_REMINDERS:
        raise ValueError(f"A type may have at most {MAX_REMINDERS} reminders, not {len(offsets)}.")
    for minutes in offsets:
        if isinstance(minutes, bool) or not REMINDER_OFFSET_MIN <= minutes <= REMINDER_OFFSET_MAX:
            raise ValueError(f"Each reminder must be {REMINDER_OFFSET_MIN} to {REMINDER_OFFSET_MAX} minutes (14 days) "
                             f"before the start, not {minutes}.")
    repeated = sorted({minutes for minutes in offsets if list(offsets).count(minutes) > 1})
    if repeated:
        raise ValueError(f"Each reminder time may be given once; {repeated[0]} minutes is given more than once.")
    return tuple(sorted(offsets, reverse=True))


# What an admin may set on an appointment type: the booking messages' limits, and no time twice.
ReminderPolicy = Annotated[ReminderOffsets, AfterValidator(reminder_policy)]


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


class BookingAction(_Model):
    """One booking's appointment, whatever its week, with its counsellor (added later, additively: a page about one
    booking, such as the move picker or the number reveal, found it by reading a week and could not tell another
    counsellor's booking from one in another week). A counsellor may read only their own; an admin any."""

    action: Literal["booking"] = "booking"
    booking_id: UUID
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


class RulesAction(_Model):
    """The counsellor's weekly rules as stored, and the places they may use (added later: a form edits the rules
    as they are, dates and holidays included, rather than as a week shows them)."""

    action: Literal["rules"] = "rules"
    counsellor_id: CounsellorId


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


# --- admin only: appointment types, counsellors, locations --------------------------------------------------------


class TypesAction(_Model):
    """Every appointment type, active or not (any signed-in staff member may read them)."""

    action: Literal["types"] = "types"


Duration = Annotated[int, Field(ge=10, le=240)]
Buffer = Annotated[int, Field(ge=0, le=120)]
Notice = Annotated[int, Field(ge=0, le=10080)]
Horizon = Annotated[int, Field(ge=1, le=HORIZON_DAYS)]
Modes = Annotated[list[ModeName], Field(min_length=1, max_length=4)]


class CreateTypeAction(_Model):
    action: Literal["create_type"] = "create_type"
    topic: TopicCode
    duration_minutes: Duration
    modes: Modes
    buffer_before_minutes: Buffer = 0
    buffer_after_minutes: Buffer = 0
    min_notice_minutes: Notice = 60
    horizon_days: Horizon = 90
    active: bool = True
    reminder_offsets_minutes: ReminderPolicy = DEFAULT_REMINDER_OFFSETS


class UpdateTypeAction(_Model):
    """Change the given fields of an appointment type (None: unchanged)."""

    action: Literal["update_type"] = "update_type"
    type_id: int = Field(ge=1, le=2_000_000_000)
    topic: TopicCode | None = None
    duration_minutes: Duration | None = None
    modes: Modes | None = None
    buffer_before_minutes: Buffer | None = None
    buffer_after_minutes: Buffer | None = None
    min_notice_minutes: Notice | None = None
    horizon_days: Horizon | None = None
    active: bool | None = None
    # () turns reminders off for the type. Bookings confirmed before keep the reminders they were announced with.
    reminder_offsets_minutes: ReminderPolicy | None = None


class UpdateCounsellorAction(_Model):
    """Change the given fields of a counsellor (None: unchanged; `daily_cap` only when `change_daily_cap`, where
    None means no limit)."""

    action: Literal["update_counsellor"] = "update_counsellor"
    counsellor_id: CounsellorId
    languages: list[LanguageCode] | None = Field(default=None, min_length=1, max_length=10)
    topics: list[TopicCode] | None = Field(default=None, max_length=20)
    location_ids: list[Annotated[int, Field(ge=1, le=2_000_000_000)]] | None = Field(default=None, max_length=50)
    active: bool | None = None
    change_daily_cap: bool = False
    daily_cap: int | None = Field(default=None, ge=1, le=20)


# What an admin writes for clients holding a booking (address, how to get in, how the place is agreed): digits are
# fine (house numbers, postcodes, a bell), a "+" is not (no phone number may reach the scheduler).
LocationText = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^+＋]*$")]


class UpdateLocationAction(_Model):
    action: Literal["update_location"] = "update_location"
    location_id: int = Field(ge=1, le=2_000_000_000)
    active: bool | None = None
    alias: LocationAlias | None = None
    address: Annotated[LocationText, Field(max_length=200)] | None = None
    directions: LocationText | None = None


class CounsellorsAction(_Model):
    """Every counsellor, active or not (admins only: languages, topics and caps are the office's planning, and no
    counsellor page needs another's)."""

    action: Literal["counsellors"] = "counsellors"


class LocationsAction(_Model):
    """Every location, active or not, with address and directions (admins only, like the counsellors)."""

    action: Literal["locations"] = "locations"


class CreateCounsellorAction(_Model):
    """A new counsellor (active), with the same input rules as `UpdateCounsellorAction`; the alias is unique."""

    action: Literal["create_counsellor"] = "create_counsellor"
    alias: LocationAlias  # a first name or another alias, as clients see it; the same characters as a place's
    languages: list[LanguageCode] = Field(min_length=1, max_length=10)
    topics: list[TopicCode] = Field(default_factory=list, max_length=20)
    location_ids: list[Annotated[int, Field(ge=1, le=2_000_000_000)]] = Field(default_factory=list, max_length=50)
    daily_cap: int | None = Field(default=None, ge=1, le=20)


class CreateLocationAction(_Model):
    """A new location (active), with the same input rules as `UpdateLocationAction`; the alias is unique."""

    action: Literal["create_location"] = "create_location"
    town: TownName  # where a counsellor travels to (travel time between towns); the pages show the alias instead
    kind: ModeName
    alias: LocationAlias
    address: Annotated[LocationText, Field(max_length=200)] = ""
    directions: LocationText = ""


StaffAction = Annotated[
    WeekAction | BookingsAction | BookingAction | RulesAction | SetRulesAction | AddExceptionAction
    | RemoveExceptionAction | CancelAction | OutcomeAction | MoveAction | TypesAction | CreateTypeAction
    | UpdateTypeAction | UpdateCounsellorAction | UpdateLocationAction | CounsellorsAction | LocationsAction
    | CreateCounsellorAction | CreateLocationAction,
    Field(discriminator="action"),
]
WRITES = frozenset({"set_rules", "add_exception", "remove_exception", "cancel", "no_show", "attended", "move",
                    "create_type", "update_type", "update_counsellor", "update_location", "create_counsellor",
                    "create_location"})
# Writes only an admin may make (checked in the gateway and again in the scheduler).
ADMIN_WRITES = frozenset({"create_type", "update_type", "update_counsellor", "update_location", "create_counsellor",
                          "create_location"})
# Reads only an admin may make (checked in the gateway and again in the scheduler).
ADMIN_READS = frozenset({"counsellors", "locations"})


@register
class StaffRequested(Payload):
    """gateway → scheduler: a signed-in staff member asks or changes something in a calendar.

    The actions counsellors, locations, create_counsellor, create_location and booking were added to v1 later,
    without a new version: a new member of the action union changes nothing a v1 message already held, and every
    earlier message still parses. A scheduler older than its gateway cannot read a request with a new action (it is
    dead-lettered and the gateway answers 503 as for a late answer), so the scheduler is deployed first, as for any
    new action."""

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
class CounsellorRequested(Payload):
    """gateway → scheduler: is there a counsellor with this id (`python -m gateway create-staff` asks before it
    links an account to a calendar)? Answered with a `CounsellorAnswer` or refused as unknown."""

    message_type = "counsellor.requested"
    message_version = 1
    request_id: UUID
    counsellor_id: CounsellorId
    reply_to: ReplyQueue


# --- what an answer holds ------------------------------------------------------------------------------------------


class StaffLocation(_Model):
    location_id: int
    alias: str
    kind: str


class ContactProblem(_Model):
    """Texts to the client cannot arrive (the notifier's `contact.unreachable`): staff reach them another way."""

    # As contact.unreachable reports them, or erased_by_client: the client deleted their data from the manage page
    # (staff see that it happened, not what was there).
    reason: Literal["invalid_number", "unreachable", "opted_out", "erased_by_client"]
    error_code: str | None = None  # Twilio's, such as "21211" (invalid 'To' number)
    since: AwareDatetime  # first reported, in the asked time zone


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
    contact_problem: ContactProblem | None = None  # None: nothing known against texting the client
    # own_language: the counsellor speaks the client's language; mediator: German or English with a mediator.
    conversation: Literal["own_language", "mediator"] = "own_language"


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


class BookingData(_Model):
    counsellor_id: int
    counsellor_alias: str
    booking: StaffBooking


class RuleOut(RuleIn):
    rule_id: int


class RulesData(_Model):
    counsellor_id: int
    rules: list[RuleOut]
    # Added later (optional): the locations the counsellor serves, which a rule may name; set by the "rules" read.
    locations: list[StaffLocation] = Field(default_factory=list)


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


class AppointmentTypeData(_Model):
    type_id: int
    topic: str
    duration_minutes: int
    modes: list[str]
    buffer_before_minutes: int
    buffer_after_minutes: int
    min_notice_minutes: int
    horizon_days: int
    active: bool
    # Minutes before the start, largest first; [] for none. Applies to bookings confirmed or moved from now on.
    reminder_offsets_minutes: list[int] = Field(default_factory=lambda: list(DEFAULT_REMINDER_OFFSETS))


class TypesData(_Model):
    types: list[AppointmentTypeData]


class CounsellorData(_Model):
    counsellor_id: int
    alias: str
    languages: list[str]
    topics: list[str]
    location_ids: list[int]
    active: bool
    daily_cap: int | None


class LocationData(_Model):
    location_id: int
    town: str
    kind: str
    alias: str
    active: bool
    address: str = ""
    directions: str = ""


class CounsellorsData(_Model):
    counsellors: list[CounsellorData]  # by alias


class LocationsData(_Model):
    locations: list[LocationData]  # by town, then alias


# --- the answer: one model per operation, or a refusal ------------------------------------------------------------


class WeekAnswer(_Model):
    operation: Literal["week"] = "week"
    data: WeekData


class BookingsAnswer(_Model):
    operation: Literal["bookings"] = "bookings"
    data: BookingsData


class BookingAnswer(_Model):
    operation: Literal["booking"] = "booking"
    data: BookingData


class RulesAnswer(_Model):
    operation: Literal["set_rules", "rules"] = "set_rules"
    data: RulesData


class ExceptionAnswer(_Model):
    operation: Literal["add_exception", "remove_exception"]
    data: ExceptionData


class BookingChangeAnswer(_Model):
    operation: Literal["cancel", "no_show", "attended", "move"]
    data: BookingChangeData


class TypesAnswer(_Model):
    operation: Literal["types"] = "types"
    data: TypesData


class AppointmentTypeAnswer(_Model):
    operation: Literal["create_type", "update_type"]
    data: AppointmentTypeData


class CounsellorAnswer(_Model):
    operation: Literal["update_counsellor", "counsellor", "create_counsellor"]
    data: CounsellorData


class LocationAnswer(_Model):
    operation: Literal["update_location", "create_location"] = "update_location"
    data: LocationData


class CounsellorsAnswer(_Model):
    operation: Literal["counsellors"] = "counsellors"
    data: CounsellorsData


class LocationsAnswer(_Model):
    operation: Literal["locations"] = "locations"
    data: LocationsData


class FeedAnswer(_Model):
    operation: Literal["feed"] = "feed"
    data: FeedData


class AlreadyDone(_Model):
    """A write whose request id was carried out before (a redelivered request): nothing changed this time."""

    operation: Literal["already_done"] = "already_done"


# CounsellorsAnswer, LocationsAnswer and BookingAnswer were added later to staff.answered v2: only a gateway that asks
# the new actions gets them, so no asker meets an operation it does not know.
StaffResult = Annotated[
    WeekAnswer | BookingsAnswer | RulesAnswer | ExceptionAnswer | BookingChangeAnswer | TypesAnswer
    | AppointmentTypeAnswer | CounsellorAnswer | LocationAnswer | FeedAnswer | AlreadyDone | CounsellorsAnswer
    | LocationsAnswer | BookingAnswer,
    Field(discriminator="operation"),
]


class RefusalKind(StrEnum):
    """Why the scheduler refused, in kinds the asker can act on (the gateway maps each to an HTTP status)."""

    FORBIDDEN = "forbidden"  # not this staff member's calendar, or an admin's change
    UNKNOWN = "unknown"  # no such counsellor, booking, exception, appointment type or location
    CONFLICT = "conflict"  # the booking's state or the calendar stands against it now (taken, begun, not confirmed)
    INVALID = "invalid"  # the request would make a calendar the engine cannot honour, or breaks a rule of input
    FAILED = "failed"  # something broke in the scheduler; nothing was changed


class StaffRefusal(_Model):
    kind: RefusalKind
    code: str = Field(max_length=40)  # what exactly, for programs: "slot_taken", "overlapping_rules", ...
    # A move to a taken slot: up to three nearest free ones.
    alternatives: list[Slot] = Field(default_factory=list)


@register
class StaffAnswered(Payload):
    """scheduler → gateway: the answer to `staff.requested`, `feed.requested` or `counsellor.requested`: what was
    asked for or done (`answer`), or why not (`refusal`), and a sentence for a person.

    v2 replaced v1's HTTP-like status and untyped `data`. No upgrade from v1: an answer lives only on its asker's
    own reply queue, which goes with the asker's process, and only as long as the asker waits (seconds); a v1
    answer met during a deploy is unreadable to the asker, who says so (503) as for a late one."""

    message_type = "staff.answered"
    message_version = 2
    request_id: UUID
    message: str = Field(max_length=500)
    answer: StaffResult | None = None
    refusal: StaffRefusal | None = None

    @model_validator(mode="after")
    def _answer_or_refusal(self) -> StaffAnswered:
        if (self.answer is None) == (self.refusal is None):
            raise ValueError("a staff answer holds either an answer or a refusal")
        return self
