"""What a booking operation decided, as plain values. The operation changes the tables and returns one of these;
each caller maps it to what it sends: the message handlers to an outbox message, the staff answers to a reply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from shared.contracts import Payload, Slot
from shared.contracts.bookings import RejectionReason

# Why a slot cannot be given to a booking (a new one or one being moved).
SlotRefusal = RejectionReason
# Why a change to an existing booking was refused: a slot reason for its new time, or one about the booking.
ChangeRefusal = SlotRefusal | Literal["unknown_booking", "not_confirmed", "not_started"]


@dataclass(frozen=True)
class Confirmed:
    """A new booking holds its slot; `BookingConfirmed` was written with the appointment (one statement)."""

    slot: Slot


@dataclass(frozen=True)
class Changed:
    """The booking changed; `event` announces it (cancelled, rescheduled, no-show, attended)."""

    event: Payload


@dataclass(frozen=True)
class Unchanged:
    """Nothing to do: the booking was decided before, already cancelled, or the outcome already recorded."""


Why = TypeVar("Why", SlotRefusal, ChangeRefusal)


@dataclass(frozen=True)
class Refused(Generic[Why]):
    """Nothing changed, and why; for a taken slot up to three nearest free ones."""

    reason: Why
    alternatives: tuple[Slot, ...] = ()


BookingDecision = Confirmed | Refused[SlotRefusal] | Unchanged
ChangeDecision = Changed | Refused[ChangeRefusal] | Unchanged
