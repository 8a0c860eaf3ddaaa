"""Request and response bodies of the public API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.contracts import ContactPreferences, Conversation, Mode, Slot, Topic
from shared.contracts.common import SLOT_ID_PATTERN, LanguageCode

# The scheduler's ids (counsellors, locations, types, exceptions) are 1 to this; checked at the edge so that another
# number is a 422 naming the rule, not a message the scheduler's contract refuses.
MAX_ID = 2_000_000_000
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description=f"1 to {MAX_ID}")]
# A counsellor's alias as a search may name it: the contract's free text (no "+", at most four digits), 1 to 40.
COUNSELLOR_ALIAS_PATTERN = r"^[^0-9+]*([0-9][^0-9+]*){0,4}$"
LANGUAGES = ("de", "en", "ro", "bg", "hu", "pl", "ru", "uk", "es", "th")
# A slot id ends in its start as minutes since 1970; one past year 9998 is no slot and no date the scheduler can read.
LAST_SLOT_MINUTE = int(datetime(9999, 1, 1, tzinfo=UTC).timestamp()) // 60


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slot_id: str = Field(min_length=1, max_length=64, pattern=SLOT_ID_PATTERN)
    phone: str = Field(min_length=3, max_length=32)
    language: LanguageCode
    channel: Literal["web"] = "web"
    topic: Topic | None = None
    # Optional: whether to send reminders, and when texts are safe to receive. Goes to the notifier only.
    preferences: ContactPreferences = ContactPreferences()
    # Optional: a counsellor who speaks `language` (own_language), or German/English with a language mediator.
    conversation: Conversation = "own_language"

    @field_validator("slot_id")
    @classmethod
    def _start_is_a_date(cls, value: str) -> str:
        if int(value.rsplit("-", 1)[1]) >= LAST_SLOT_MINUTE:
            raise ValueError("slot start out of range")
        return value


class BookingAccepted(BaseModel):
    booking_id: UUID
    status: str
    manage_token: str
    manage_url: str


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slot_id: str = Field(min_length=1, max_length=64, pattern=SLOT_ID_PATTERN,
                         description="a free slot from GET /v1/slots (the same topic as the booking)")

    @field_validator("slot_id")
    @classmethod
    def _start_is_a_date(cls, value: str) -> str:
        return BookingIn._start_is_a_date(value)


class MoveOut(BaseModel):
    """The client's latest move: pending until the scheduler decides; refused keeps the old time and says why."""

    status: Literal["pending", "moved", "refused"]
    slot_id: str = Field(description="the slot asked for")
    reason: str | None = Field(default=None, description="why it was refused, for a program")
    message: str | None = Field(default=None, description="why it was refused, as a sentence")
    alternatives: list[Slot] = []


class MeetingOut(BaseModel):
    """How to meet, only once confirmed (never in an SMS): office — `address` and `directions` (how to get in);
    outreach — `directions` (how the place is agreed); phone — the counsellor calls the number given, at the slot's
    start; video — `video_url`, a link made for this appointment alone."""

    mode: Mode
    address: str | None = None
    directions: str | None = None
    video_url: str | None = None
    starts_at: datetime | None = Field(default=None, description="for phone: when the counsellor calls")


class BookingStatus(BaseModel):
    booking_id: UUID
    status: Literal["pending", "confirmed", "rejected", "cancelled"]
    reason: str | None = None
    message: str | None = None
    slot: dict[str, Any] | None = None
    alternatives: list[dict[str, Any]] = []
    preferences: ContactPreferences = ContactPreferences()
    conversation: Conversation = "own_language"
    move: MoveOut | None = None
    meeting: MeetingOut | None = None


class SlotList(BaseModel):
    slots: list[Slot]


class Problem(BaseModel):
    """Every error the API answers, whatever its status: a sentence for a person and a code for a program."""

    model_config = ConfigDict(json_schema_extra={"example": {"detail": "There is nothing at this address.",
                                                            "code": "not_found"}})
    detail: str = Field(description="what went wrong and what to do, as a sentence")
    code: str = Field(description="what went wrong, for a program")


_MEANING = {
    400: "the body cannot be read (not UTF-8), or a header is malformed",
    401: "not signed in",
    403: "not allowed (another counsellor's calendar, an admin's task, or a missing CSRF header)",
    404: "nothing at this address",
    409: "refused in the current state",
    410: "the link has expired or was used already",
    413: "the request body is too large",
    415: "the body is not of the expected media type",
    422: "the request does not pass the checks; the sentence names the field",
    423: "locked after too many failures; see Retry-After",
    429: "too many attempts; see Retry-After",
    431: "too many request headers, or too large ones",
    503: "a part of the system (database, broker or calendar) is away for now; see Retry-After",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for these statuses, each a Problem."""
    return {status: {"model": Problem, "description": _MEANING[status]} for status in statuses}


# What any route may answer whatever it does: its input refused, headers refused before routing, or a database,
# broker or scheduler away.
COMMON_PROBLEMS = problems(422, 431, 503)
