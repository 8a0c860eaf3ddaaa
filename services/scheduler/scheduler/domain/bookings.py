"""Why a booking is refused, as our own errors with a reason code the client sees translated."""

from __future__ import annotations

from typing import Literal

Reason = Literal["slot_taken", "unknown_slot", "slot_in_past", "language_not_offered"]


class BookingRefused(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason: Reason = reason
