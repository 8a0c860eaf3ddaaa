"""Request and response bodies of the public API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.contracts import ContactPreferences, Slot, Topic
from shared.contracts.common import SLOT_ID_PATTERN, LanguageCode

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


class BookingStatus(BaseModel):
    booking_id: UUID
    status: Literal["pending", "confirmed", "rejected", "cancelled"]
    reason: str | None = None
    message: str | None = None
    slot: dict[str, Any] | None = None
    alternatives: list[dict[str, Any]] = []
    preferences: ContactPreferences = ContactPreferences()


class SlotList(BaseModel):
    slots: list[Slot]


class Problem(BaseModel):
    detail: str
    code: str
