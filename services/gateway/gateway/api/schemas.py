"""Request and response bodies of the public API."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import Slot, Topic
from shared.contracts.common import SLOT_ID_PATTERN, LanguageCode

LANGUAGES = ("de", "en", "ro", "bg", "hu", "pl", "ru", "uk", "es", "th")


class BookingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slot_id: str = Field(min_length=1, max_length=64, pattern=SLOT_ID_PATTERN)
    phone: str = Field(min_length=3, max_length=32)
    language: LanguageCode
    channel: Literal["web"] = "web"
    topic: Topic | None = None


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


class SlotList(BaseModel):
    slots: list[Slot]


class Problem(BaseModel):
    detail: str
    code: str
