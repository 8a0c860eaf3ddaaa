"""Messages to the notifier alone: how to reach a client, encrypted end to end through the broker."""

from __future__ import annotations

from datetime import time
from typing import Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.common import Ciphertext, LanguageCode
from shared.contracts.envelope import Payload, register, register_upgrade

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

PHONE_CONTEXT = "contact.phone"
MANAGE_TOKEN_CONTEXT = "contact.manage_token"  # noqa: S105 - a label, not a secret


def phone_context(booking_id: UUID) -> str:
    return f"{PHONE_CONTEXT}:{booking_id}"


def manage_token_context(booking_id: UUID) -> str:
    return f"{MANAGE_TOKEN_CONTEXT}:{booking_id}"


class SafeWindow(BaseModel):
    """When texts are safe to receive, as the client says: these weekdays, from `start` to `end` local time."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    days: tuple[Weekday, ...] = Field(min_length=1, max_length=7)
    start: time
    end: time

    @model_validator(mode="after")
    def _sensible(self) -> Self:
        if len(set(self.days)) != len(self.days):
            raise ValueError("each weekday at most once")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("local wall-clock times without an offset")
        if self.start >= self.end:
            raise ValueError("the window must end after it starts, on the same day")
        return self


class ContactPreferences(BaseModel):
    """What the client decided is safe: reminders at all, and if so when. The confirmation they asked for is sent
    regardless."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    reminders: bool = True
    safe_window: SafeWindow | None = None


@register
class ContactRegistered(Payload):
    """gateway → notifier: the phone (E.164) and manage token of a booking, each AES-GCM sealed, and the client's
    choices about reminders. v2 added `preferences` (a v1 message is read with the defaults)."""

    message_type = "contact.registered"
    message_version = 2
    booking_id: UUID
    phone: Ciphertext
    manage_token: Ciphertext
    language: LanguageCode
    preferences: ContactPreferences = ContactPreferences()


register_upgrade("contact.registered", 1)


@register
class ContactPreferencesChanged(Payload):
    """gateway → notifier: the client changed their reminder choices on the manage page."""

    message_type = "contact.preferences_changed"
    message_version = 1
    booking_id: UUID
    preferences: ContactPreferences
