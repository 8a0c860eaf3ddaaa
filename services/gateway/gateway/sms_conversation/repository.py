"""The SQL of SMS conversations (gateway tables sms_conversations, sms_inbound), on the session of a unit of work."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from gateway.sms_conversation.machine import Appointment, Conversation, Offer
from gateway.tables import BookingRequest, SmsConversation, SmsInbound
from shared.contracts import Envelope, Slot
from shared.outbox import add_to_outbox

_INBOUND = SmsInbound.__table__  # type: ignore[attr-defined]


class ConversationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def first_time(self, message_sid: str, now: datetime) -> bool:
        """Records the SID; False when it was handled before (Twilio retried the webhook)."""
        # Run under the number's lock (GatewayRepository.lock_subjects): a retry arriving at the same moment on
        # another replica waits for this transaction and then finds the SID.
        if self.session.get(SmsInbound, message_sid) is not None:
            return False
        self.session.connection().execute(insert(_INBOUND), {"message_sid": message_sid, "received_at": now})
        return True

    def row(self, phone_hash: str) -> SmsConversation | None:
        return self.session.exec(select(SmsConversation).where(SmsConversation.phone_hash == phone_hash)).first()

    def row_waiting_for(self, booking_id: str) -> SmsConversation | None:
        return self.session.exec(select(SmsConversation)
                                 .where(SmsConversation.pending_booking_id == booking_id)).first()

    def save(self, row: SmsConversation) -> None:
        self.session.add(row)

    def next_appointment(self, phone_hash: str, now: datetime) -> Appointment | None:
        """The number's next confirmed appointment that has not begun."""
        found = self.session.exec(
            select(BookingRequest)
            .where(col(BookingRequest.phone_hash) == phone_hash, col(BookingRequest.status) == "confirmed",
                   col(BookingRequest.starts_at) > now)
            .order_by(col(BookingRequest.starts_at))).first()
        if found is None or found.starts_at is None or found.slot_json is None:
            return None
        place = Slot.model_validate_json(found.slot_json).location.alias
        return Appointment(found.booking_id, found.starts_at, place)

    def add_messages(self, *envelopes: Envelope) -> None:
        add_to_outbox(self.session, *envelopes)

    def purge(self, ended_before: datetime) -> int:
        """Conversations (and their sealed numbers) and handled SIDs older than `ended_before` go."""
        # A booking still waiting for its decision a day later is not the client's conversation any more.
        done = self.session.exec(delete(SmsConversation).where(col(SmsConversation.expires_at) < ended_before))
        self.session.exec(delete(SmsInbound).where(col(SmsInbound.received_at) < ended_before))
        return int(done.rowcount or 0)


def conversation_of(row: SmsConversation) -> Conversation:
    context = json.loads(row.context_json) if row.context_json else {}
    offers = tuple(Offer(o["slot_id"], datetime.fromisoformat(o["starts_at"]), o["place"], o.get("language", "de"),
                         o.get("conversation", "own_language"))
                   for o in context.get("offers", ()))
    shown = context.get("appointment")
    appointment = None
    if shown is not None and row.booking_id is not None:
        appointment = Appointment(row.booking_id, datetime.fromisoformat(shown["starts_at"]), shown["place"])
    return Conversation(state=row.state, language=row.language, offers=offers,  # type: ignore[arg-type]
                        appointment=appointment, expires_at=row.expires_at, not_understood_at=row.not_understood_at,
                        moving=context.get("moving"))


def store(row: SmsConversation, conversation: Conversation, now: datetime) -> None:
    """Write the conversation into its row (the times and appointment shown, as JSON)."""
    context: dict[str, object] = {}
    if conversation.offers:
        context["offers"] = [{"slot_id": o.slot_id, "starts_at": o.starts_at.isoformat(), "place": o.place,
                              "language": o.language, "conversation": o.conversation} for o in conversation.offers]
    if conversation.moving is not None:
        context["moving"] = conversation.moving
    if conversation.appointment is not None:
        context["appointment"] = {"starts_at": conversation.appointment.starts_at.isoformat(),
                                  "place": conversation.appointment.place}
    row.state = conversation.state
    row.language = conversation.language
    row.context_json = json.dumps(context) if context else None
    row.booking_id = conversation.appointment.booking_id if conversation.appointment else None
    row.expires_at = conversation.expires_at or now
    row.not_understood_at = conversation.not_understood_at
    row.updated_at = now
