"""A booking request as its client sees it (JSON API and manage page): status, the scheduler's reason in a
sentence, the slot or the alternatives offered, and the client's choices about texts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from gateway.moves import MoveState
from gateway.tables import BookingRequest
from shared.contracts import ContactPreferences, Meeting

Status = Literal["pending", "confirmed", "rejected", "cancelled"]
DEFAULT_PREFERENCES = ContactPreferences()

REASON_MESSAGES = {
    "slot_taken": "This time was just taken by someone else. Please choose another time.",
    "unknown_slot": "This time is not offered. Please choose a time from the list.",
    "slot_in_past": "This time has passed or is too soon. Please choose a later time.",
    "language_not_offered": "This time is not available in the chosen language. Please choose another time.",
    "topic_not_offered": "This time is not offered for the chosen topic. Please choose another time.",
    "counsellor_absent": "Nobody is there at this time after all. Please choose another time.",
}


@dataclass(frozen=True)
class BookingView:
    booking_id: UUID
    status: Status
    reason: str | None
    message: str | None
    slot: dict[str, Any] | None
    alternatives: list[dict[str, Any]]
    language: str
    preferences: ContactPreferences = DEFAULT_PREFERENCES
    move: MoveState | None = None
    meeting: Meeting | None = None  # only while confirmed: how to meet is for a booking holder
    conversation: str = "own_language"


def view_of(row: BookingRequest, preferences: ContactPreferences | None) -> BookingView:
    """`preferences` None: the booking has the defaults."""
    return BookingView(
        booking_id=UUID(row.booking_id),
        status=row.status,  # type: ignore[arg-type]
        reason=row.reason,
        message=REASON_MESSAGES.get(row.reason or ""),
        slot=json.loads(row.slot_json) if row.slot_json else None,
        alternatives=json.loads(row.alternatives_json) if row.alternatives_json else [],
        language=row.language,
        preferences=DEFAULT_PREFERENCES if preferences is None else preferences,
        move=MoveState.of(row.move_json),
        meeting=Meeting.model_validate_json(row.meeting_json) if row.meeting_json and row.status == "confirmed"
        else None,
        conversation=row.conversation,
    )
