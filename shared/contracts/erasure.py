"""A client's request to have their data deleted (the manage page's "delete my data")."""

from __future__ import annotations

from uuid import UUID

from shared.contracts.envelope import Payload, register


@register
class ClientErasureRequested(Payload):
    """gateway → scheduler, notifier: the client of this booking asked for their data to be deleted.

    The gateway has deleted its booking request in the transaction that wrote this message. The scheduler cancels
    the appointment if it is still to come (announcing nothing: nobody is left to tell) and cuts it loose from
    the booking id; the notifier deletes the contact (sealed number and manage link), cancels what was still to be
    sent and blanks the personal parts of what was sent. Each acts once per message (inbox) and does nothing for a
    booking it does not know, so a redelivered or late message is harmless."""

    message_type = "client.erasure_requested"
    message_version = 1
    booking_id: UUID
