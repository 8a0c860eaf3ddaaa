"""What staff send, checked before the scheduler is asked: bodies, reasons, wall times, zones and ranges. A bad
value is `InvalidStaffInput` (422) with a sentence naming it."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from gateway.api.schemas import MAX_ID
from gateway.errors import GatewayError
from shared.contracts.common import FreeText
from shared.contracts.limits import HORIZON_DAYS, MAX_RANGE_DAYS
from shared.contracts.staff import ZoneName

_WALL_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
# How far back (and, for rules, ahead) staff may name a day: about ten years.
HISTORY_DAYS = 3660


class InvalidStaffInput(GatewayError):
    code, status = "invalid_request", 422

    def __init__(self, message: str, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.code = code


class NoCalendar(GatewayError):
    code, status = "no_calendar", 404


class NoFeed(GatewayError):
    """A feed to stop that was never issued or is stopped already (the calendar itself exists)."""

    code, status = "no_feed", 404


class RuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    location_id: int = Field(ge=1, le=MAX_ID)
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
    location_id: int | None = Field(default=None, ge=1, le=MAX_ID, description="for extra hours")
    reason: str | None = Field(default=None, max_length=200)


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=200)


class MoveBody(ReasonBody):
    slot_id: str = Field(min_length=1, max_length=64)


_REASON = TypeAdapter(FreeText)
_ZONE = TypeAdapter(ZoneName)


def reason(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return _REASON.validate_python(value.strip())
    except ValidationError:
        raise InvalidStaffInput("The reason may have at most 200 characters, at most four digits and no '+' "
                                "(it must not hold a phone number).", "invalid_reason") from None


def wall(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not _WALL_TIME.match(value):
        raise InvalidStaffInput(f"{what} must be a time of day as HH:MM, such as 09:30 (00:00 to 23:59).",
                                "invalid_time")
    return value


def zone(value: str) -> str:
    try:
        _ZONE.validate_python(value)
        ZoneInfo(value)
    except (ValidationError, ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidStaffInput("The timezone is not a time zone name; use an IANA name such as 'Europe/Berlin'.",
                                "unknown_timezone") from None
    return value


def today(zone_name: str) -> date:
    return datetime.now(ZoneInfo(zone_name)).date()


def check_day(day: date, today: date, what: str) -> date:
    """A day staff name, within the years a calendar is kept for: far dates are mistakes, and the arithmetic on
    them (weeks, time zones, holidays) would leave what a date can hold."""
    earliest, latest = today - timedelta(days=HISTORY_DAYS), today + timedelta(days=HISTORY_DAYS)
    if not earliest <= day <= latest:
        raise InvalidStaffInput(f"{what} must be a day from {earliest} to {latest}.", "date_out_of_range")
    return day


def check_range(first: date, last: date, today: date) -> None:
    check_day(first, today, "The first day")
    if last < first:
        raise InvalidStaffInput(f"The range ends on {last}, before it starts on {first}.", "range_reversed")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise InvalidStaffInput(f"A range may cover at most {MAX_RANGE_DAYS} days; this one covers "
                                f"{(last - first).days + 1}.", "range_too_long")
    if last > today + timedelta(days=HORIZON_DAYS):
        raise InvalidStaffInput(f"A range may reach at most {HORIZON_DAYS} days ahead (until "
                                f"{today + timedelta(days=HORIZON_DAYS)}).", "beyond_horizon")
