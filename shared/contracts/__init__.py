"""Message contracts: a versioned envelope and one typed payload model per message type."""

from shared.contracts.bookings import (
    BookingCancellationRequested,
    BookingCancelled,
    BookingConfirmed,
    BookingRejected,
    BookingRequested,
)
from shared.contracts.common import Mode, PublicLocation, Slot, Topic
from shared.contracts.contacts import ContactRegistered
from shared.contracts.envelope import Envelope, Payload, UnknownMessage, parse, wrap
from shared.contracts.slots import SlotsOffered, SlotsRequested

__all__ = [
    "BookingCancellationRequested",
    "BookingCancelled",
    "BookingConfirmed",
    "BookingRejected",
    "BookingRequested",
    "ContactRegistered",
    "Envelope",
    "Mode",
    "Payload",
    "PublicLocation",
    "Slot",
    "SlotsOffered",
    "SlotsRequested",
    "Topic",
    "UnknownMessage",
    "parse",
    "wrap",
]
