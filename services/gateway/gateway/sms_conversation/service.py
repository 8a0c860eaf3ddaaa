"""Running an SMS conversation: each inbound text (its MessageSid once) is counted against the number's limit, read
by the state machine, and answered through the notifier (`sms.reply_requested` in the outbox). A booking goes the
web's way (`BookingService.request`, channel "sms", the MessageSid as its idempotency key), and so do a
cancellation and a move (`booking.move_requested`); the confirmation with the manage link, the notice of the
cancellation and the "moved" notice are the notifier's usual ones.

The number is seen here only to seal it for the notifier and to take its keyed hash; logs name the reply kind and
the state, never the number or the text.

A text is handled at most once: its MessageSid is recorded (with the count against the limit) before the search or
booking it leads to, so a retry is never answered twice; a gateway that dies between the two leaves that one text
unanswered, and the client sends it again. The booking it leads to is idempotent on the MessageSid all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session

from gateway.bookings import BookingService, NewBooking
from gateway.errors import (
    BookingNotFound,
    InvalidPhone,
    InvalidSearch,
    NotCancellable,
    NotMovable,
    RefusedPhone,
    SchedulerUnavailable,
    Throttled,
)
from gateway.limits import MINUTE, ClientLimits
from gateway.repository import GatewayRepository
from gateway.slots import SlotClient
from gateway.sms_conversation.machine import (
    MAX_OFFERS,
    Appointment,
    Conversation,
    Offer,
    Step,
    offered,
    respond,
)
from gateway.sms_conversation.repository import ConversationRepository, conversation_of, store
from gateway.sms_keywords import Intent
from gateway.tables import SmsConversation
from shared.contracts import BookingMoveRefused, BookingRejected, Envelope, Slot, wrap
from shared.contracts import Conversation as Conversation_
from shared.contracts.sms import OfferedTime, SmsReplyRequested, conversation_context
from shared.crypto import DataCipher
from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
_REPLY_IDS = uuid5(NAMESPACE_URL, "https://lotse/sms-replies")
_SCOPE = "sms-tel-m"  # rate_events scope: texts per number and minute
DEFAULT_LANGUAGE = "de"  # a booking needs a language; the service's own


@dataclass(frozen=True)
class ConversationPolicy:
    timeout: timedelta = timedelta(minutes=15)
    texts_per_minute: int = 10
    pause: timedelta = timedelta(minutes=10)
    search_days: int = 14  # how far ahead free times are looked for


class SmsConversations:
    def __init__(self, engine: Engine, cipher: DataCipher, announce: Callable[[], None],
                 clock: Callable[[], datetime], limits: ClientLimits, bookings: BookingService, slots: SlotClient,
                 policy: ConversationPolicy, zone: ZoneInfo) -> None:
        self.uow = UnitOfWork(engine, ConversationRepository)
        self.cipher = cipher
        self.announce = announce
        self.clock = clock
        self.limits = limits
        self.bookings = bookings
        self.slots = slots
        self.policy = policy
        self.zone = zone

    def receive(self, message_sid: str, phone: str, intent: Intent) -> None:
        """Answer one inbound text (not STOP/START: see `forget`)."""
        subject = self.limits.phone_subject(phone)
        now = self.clock()
        with self.uow() as repository:
            GatewayRepository(repository.session).lock_subjects([subject])
            if not repository.first_time(message_sid, now):
                log.info("inbound sms repeated by twilio: answered the first time only")
                return
            row = repository.row(subject) or self._new_row(subject, now)
            if row.paused_until is not None and now < row.paused_until:
                repository.save(row)
                log.info("inbound sms not read: the number is paused")
                return
            if self._over_limit(repository, subject, now):
                row.paused_until = now + self.policy.pause
                self._reply(repository, row, phone, message_sid, Step(conversation_of(row), reply="paused"), now)
                log.info("inbound sms: too many a minute from one number, paused")
                return
            conversation = conversation_of(row)
            about_appointment = intent.kind in ("change", "cancel") or (
                intent.kind == "number" and conversation.state == "offered_move")
            appointment = repository.next_appointment(subject, now) if about_appointment else None
        step = respond(conversation, intent, now, self.policy.timeout, appointment)
        pending: str | None = None
        if step.offer_kind == "move_offer" and step.appointment is not None:
            step = offered(step.conversation, self._times_to_move_to(now, step.appointment), step.offer_kind)
        elif step.offer_kind is not None:
            step = offered(step.conversation, self._free_times(now, step.conversation.language), step.offer_kind)
        elif step.book is not None:
            pending, step = self._book(step, phone, message_sid, subject)
        elif step.cancel is not None:
            step = self._cancel(step, step.cancel, subject)
        elif step.move is not None:
            step = self._move(step, step.move, subject)
        with self.uow() as repository:
            GatewayRepository(repository.session).lock_subjects([subject])
            row = repository.row(subject) or self._new_row(subject, now)
            if pending is not None:
                row.pending_booking_id = pending
            store(row, step.conversation, now)
            self._reply(repository, row, phone, message_sid, step, now)
        log.info("inbound sms answered: intent=%s reply=%s state=%s", intent.kind, step.reply or "-",
                 step.conversation.state)

    def forget(self, phone: str) -> None:
        """STOP or START: whatever the conversation was in the middle of is over."""
        subject = self.limits.phone_subject(phone)
        with self.uow() as repository:
            row = repository.row(subject)
            if row is not None:
                store(row, Conversation(language=row.language), self.clock())
                repository.save(row)

    def answer_refused(self, envelope: Envelope, session: Session, now: datetime) -> None:
        """In the gateway's consumer transaction: a booking asked for by SMS was refused (the time was taken between
        the list and the answer). The client is told so with the scheduler's nearest free times."""
        rejected = envelope.payload_as(BookingRejected)
        repository = ConversationRepository(session)
        row = repository.row_waiting_for(str(rejected.booking_id))
        if row is None:
            return
        row.pending_booking_id = None
        conversation = conversation_of(row)
        conversation = Conversation(language=conversation.language, expires_at=now + self.policy.timeout,
                                    not_understood_at=conversation.not_understood_at)
        # The scheduler's alternatives are for the language the refused booking asked in: book them in it too.
        refused = GatewayRepository(session).booking(rejected.booking_id)
        booked_in = refused.language if refused is not None else DEFAULT_LANGUAGE
        held: Conversation_ = "mediator" if refused is not None and refused.conversation == "mediator" \
            else "own_language"
        offers = [Offer(s.slot_id, s.start, s.location.alias, booked_in, held)
                  for s in rejected.alternatives if s.start > now]
        step = offered(conversation, offers, "taken")
        store(row, step.conversation, now)
        repository.save(row)
        if step.reply is not None:
            repository.add_messages(self._envelope(row, row.phone_ciphertext, f"rejected:{rejected.booking_id}",
                                                   step, now))
        log.info("sms booking refused: reply=%s", step.reply)

    def answer_move_refused(self, envelope: Envelope, session: Session, now: datetime) -> None:
        """In the gateway's consumer transaction: a move asked by SMS was refused; the appointment keeps its time.
        The client is told so, with the scheduler's nearest free times when the time was taken meanwhile. A move
        asked on the manage page (or an older one) is not the conversation's: the page says why."""
        refused = envelope.payload_as(BookingMoveRefused)
        booking = GatewayRepository(session).booking(refused.booking_id)
        repository = ConversationRepository(session)
        row = repository.row(booking.phone_hash) if booking is not None and booking.phone_hash else None
        if booking is None or row is None or conversation_of(row).moving != str(refused.move_id):
            return
        conversation = conversation_of(row)
        appointment = None
        if booking.status == "confirmed" and booking.starts_at is not None and booking.slot_json is not None:
            appointment = Appointment(booking.booking_id, booking.starts_at,
                                      Slot.model_validate_json(booking.slot_json).location.alias)
        conversation = Conversation(language=conversation.language, appointment=appointment,
                                    expires_at=now + self.policy.timeout,
                                    not_understood_at=conversation.not_understood_at)
        offers = [Offer(s.slot_id, s.start, s.location.alias, booking.language) for s in refused.alternatives
                  if s.start > now]
        if appointment is None:
            step = Step(conversation, reply="no_appointment")
        elif refused.reason == "slot_taken" and offers:
            step = offered(conversation, offers, "move_taken")
        else:
            step = Step(replace(conversation, appointment=None), reply="move_kept", appointment=appointment)
        store(row, step.conversation, now)
        repository.save(row)
        if step.reply is not None:
            repository.add_messages(self._envelope(row, row.phone_ciphertext, f"move-refused:{refused.move_id}",
                                                   step, now))
        log.info("sms move refused: reply=%s", step.reply)

    def purge(self) -> int:
        with self.uow() as repository:
            return repository.purge(self.clock() - timedelta(days=1))

    # --- the steps that reach other parts ---------------------------------------------------------------------

    def _free_times(self, now: datetime, language: str | None) -> list[Offer]:
        """The next free times with a counsellor who speaks the client's language; if none does (or none is free),
        with any counsellor and a language mediator, booked in the client's language all the same: a client who
        writes Thai can book, and every text about it comes in Thai."""
        today = now.astimezone(self.zone).date()
        own = language or DEFAULT_LANGUAGE
        conversations: tuple[Conversation_, ...] = ("own_language", "mediator")
        for conversation in conversations:
            try:
                slots = self.slots.search(today, today + timedelta(days=self.policy.search_days - 1),
                                          language=own if conversation == "own_language" else None)
            except (SchedulerUnavailable, InvalidSearch):
                log.warning("sms conversation: the calendar did not answer; told the client no times for now")
                return []
            offers = _first_times(slots, now, own, conversation)
            if offers:
                return offers
        return []

    def _times_to_move_to(self, now: datetime, appointment: Appointment) -> list[Offer]:
        """The next free times the appointment may move to (the scheduler's search for the booking: its topic,
        language and conversation, its own time left out), as the manage page lists them."""
        today = now.astimezone(self.zone).date()
        try:
            slots = self.slots.search(today, today + timedelta(days=self.policy.search_days - 1),
                                      for_booking=UUID(appointment.booking_id))
        except (SchedulerUnavailable, InvalidSearch):
            log.warning("sms conversation: the calendar did not answer; told the client where to change instead")
            return []
        return _first_times(slots, now, DEFAULT_LANGUAGE, "own_language")

    def _book(self, step: Step, phone: str, message_sid: str, subject: str) -> tuple[str | None, Step]:
        assert step.book is not None
        try:
            accepted = self.bookings.request(NewBooking(step.book.slot_id, phone, step.book.language, "sms",
                                                        conversation=step.book.conversation),
                                             idempotency_key=f"sms-{message_sid}", client=f"sms:{subject}")
        except Throttled:
            return None, Step(step.conversation, reply="cannot_book")
        except (InvalidPhone, RefusedPhone):
            log.info("sms booking refused: the number is not one we text")
            return None, Step(step.conversation)
        # The confirmation (with the manage link) is the notifier's, as for a booking made on the page.
        return str(accepted.booking_id), step

    def _cancel(self, step: Step, appointment: Appointment, subject: str) -> Step:
        try:
            self.bookings.cancel_booking(appointment.booking_id, client=f"sms:{subject}")
        except Throttled:
            return Step(step.conversation, reply="cannot_book")
        except (BookingNotFound, NotCancellable):
            return Step(step.conversation, reply="no_appointment")
        return step

    def _move(self, step: Step, offer: Offer, subject: str) -> Step:
        """The web's move: held by the scheduler before the old time goes; its "moved" notice is the answer, a
        refusal is answered by `answer_move_refused` (the move's id is kept in the conversation for that)."""
        assert step.appointment is not None
        try:
            move_id = self.bookings.move_booking(step.appointment.booking_id, offer.slot_id, client=f"sms:{subject}")
        except Throttled:
            return Step(step.conversation, reply="cannot_book")
        except (BookingNotFound, NotMovable):
            return Step(step.conversation, reply="no_appointment")
        return Step(replace(step.conversation, moving=str(move_id)))

    # --- rows and replies ----------------------------------------------------------------------------------------

    def _new_row(self, subject: str, now: datetime) -> SmsConversation:
        return SmsConversation(conversation_id=str(uuid4()), phone_hash=subject, phone_ciphertext="", state="idle",
                               expires_at=now, updated_at=now)

    def _over_limit(self, repository: ConversationRepository, subject: str, now: datetime) -> bool:
        gateway = GatewayRepository(repository.session)
        if len(gateway.rate_event_times(_SCOPE, subject, now - MINUTE)) >= self.policy.texts_per_minute:
            return True
        gateway.add_rate_events([(_SCOPE, subject)], now)
        return False

    def _reply(self, repository: ConversationRepository, row: SmsConversation, phone: str, message_sid: str,
               step: Step, now: datetime) -> None:
        # Sealed afresh with each text: the notifier's key may have changed since the conversation began.
        row.phone_ciphertext = self.cipher.seal_for_notifier(phone, conversation_context(row.conversation_id))
        repository.save(row)
        if step.reply is not None:
            repository.add_messages(self._envelope(row, row.phone_ciphertext, message_sid, step, now))
        repository.session.flush()

    def _envelope(self, row: SmsConversation, sealed: str, cause: str, step: Step, now: datetime) -> Envelope:
        assert step.reply is not None
        shown = step.appointment
        reply = SmsReplyRequested(
            conversation_id=UUID(row.conversation_id), phone=sealed, kind=step.reply,
            language=step.conversation.language,
            times=tuple(OfferedTime(starts_at=o.starts_at, place=o.place) for o in step.conversation.offers)
            if step.reply in ("offer", "offer_again", "taken", "move_offer", "move_taken") else (),
            appointment=OfferedTime(starts_at=shown.starts_at, place=shown.place) if shown else None,
            booking_id=UUID(shown.booking_id) if shown and step.reply == "change_link" else None)
        # One reply per inbound text (or refusal): a retry that got this far writes the same message id again.
        message_id = uuid5(_REPLY_IDS, f"{cause}:{step.reply}")
        return wrap(reply, row.conversation_id, now).model_copy(update={"message_id": message_id})




def _first_times(slots: list[Slot], now: datetime, language: str, conversation: Conversation_) -> list[Offer]:
    offers: list[Offer] = []
    seen: set[tuple[datetime, str]] = set()
    for slot in sorted(slots, key=lambda s: s.start):
        # Two counsellors free at the same time and place are one choice for the client.
        if slot.start <= now or (slot.start, slot.location.alias) in seen:
            continue
        seen.add((slot.start, slot.location.alias))
        offers.append(Offer(slot.slot_id, slot.start, slot.location.alias, language, conversation))
        if len(offers) == MAX_OFFERS:
            break
    return offers
