"""A client's move of their booking as the gateway follows it: asked (pending), carried out (moved) or refused with
the scheduler's reason; stored as JSON with the booking request. Only the latest move counts."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import Slot
from shared.contracts.common import SlotId

MoveStatus = Literal["pending", "moved", "refused"]

MOVE_REASON_MESSAGES = {
    "slot_taken": "The new time was just taken by someone else. Your appointment keeps its time.",
    "unknown_slot": "The new time is not offered. Your appointment keeps its time.",
    "slot_in_past": "The new time has passed or is too soon. Your appointment keeps its time.",
    "language_not_offered": "The new time is not available in your language. Your appointment keeps its time.",
    "topic_not_offered": "The new time is not offered for this kind of appointment. Your appointment keeps its time.",
    "counsellor_absent": "Nobody is there at the new time after all. Your appointment keeps its time.",
    "not_confirmed": "This appointment is no longer booked, so it cannot be moved.",
    "unknown_booking": "This appointment is no longer booked, so it cannot be moved.",
}


class MoveState(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    move_id: UUID
    slot_id: SlotId
    status: MoveStatus
    reason: str | None = None
    alternatives: list[Slot] = Field(default_factory=list)

    @classmethod
    def of(cls, stored: str | None) -> MoveState | None:
        return None if stored is None else cls.model_validate_json(stored)

    def decided(self, status: MoveStatus, reason: str | None = None,
                alternatives: list[Slot] | None = None) -> MoveState:
        return MoveState(move_id=self.move_id, slot_id=self.slot_id, status=status, reason=reason,
                         alternatives=alternatives or [])

    @property
    def message(self) -> str | None:
        return MOVE_REASON_MESSAGES.get(self.reason or "")
