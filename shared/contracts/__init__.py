"""Message contracts: a versioned envelope and one typed payload model per message type."""

from shared.contracts.bookings import (
    BookingAttended,
    BookingCancellationRequested,
    BookingCancelled,
    BookingConfirmed,
    BookingMoveRefused,
    BookingMoveRequested,
    BookingNoShow,
    BookingRejected,
    BookingRequested,
    BookingRescheduled,
    Conversation,
    Meeting,
)
from shared.contracts.common import Mode, PublicLocation, Slot, Topic
from shared.contracts.contact_numbers import ContactNumberAnswered, ContactNumberRequested
from shared.contracts.contacts import ContactPreferences, ContactPreferencesChanged, ContactRegistered, SafeWindow
from shared.contracts.deliveries import ContactUnreachable, DeliveryStatusReported, SmsReceived
from shared.contracts.delivery_reports import (
    DeliveriesReported,
    DeliveriesReportRequested,
    DeliveryRetried,
    DeliveryRetryRequested,
    FailedDeliveriesListed,
    FailedDeliveriesRequested,
)
from shared.contracts.envelope import Envelope, Payload, UnknownMessage, WrongPayload, parse, wrap
from shared.contracts.erasure import ClientErasureRequested
from shared.contracts.health import RoleHeartbeat
from shared.contracts.previews import SmsPreview, SmsPreviewed, SmsPreviewRequested
from shared.contracts.slots import QueryError, SlotsOffered, SlotsRequested
from shared.contracts.sms import OfferedTime, SmsReplyRequested
from shared.contracts.staff import CounsellorRequested, FeedRequested, StaffAnswered, StaffRequested

__all__ = [
    "BookingAttended",
    "BookingCancellationRequested",
    "BookingCancelled",
    "BookingConfirmed",
    "BookingMoveRefused",
    "BookingMoveRequested",
    "BookingNoShow",
    "BookingRejected",
    "BookingRequested",
    "BookingRescheduled",
    "ClientErasureRequested",
    "ContactNumberAnswered",
    "ContactNumberRequested",
    "ContactPreferences",
    "ContactPreferencesChanged",
    "ContactRegistered",
    "ContactUnreachable",
    "Conversation",
    "CounsellorRequested",
    "DeliveriesReportRequested",
    "DeliveriesReported",
    "DeliveryRetried",
    "DeliveryRetryRequested",
    "DeliveryStatusReported",
    "Envelope",
    "FailedDeliveriesListed",
    "FailedDeliveriesRequested",
    "FeedRequested",
    "Meeting",
    "Mode",
    "OfferedTime",
    "Payload",
    "PublicLocation",
    "QueryError",
    "RoleHeartbeat",
    "SafeWindow",
    "Slot",
    "SlotsOffered",
    "SlotsRequested",
    "SmsPreview",
    "SmsPreviewRequested",
    "SmsPreviewed",
    "SmsReceived",
    "SmsReplyRequested",
    "StaffAnswered",
    "StaffRequested",
    "Topic",
    "UnknownMessage",
    "WrongPayload",
    "parse",
    "wrap",
]
