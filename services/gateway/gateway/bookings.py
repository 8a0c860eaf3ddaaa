"""Booking requests as the gateway sees them: accept, look up by manage token, cancel. Decides no calendar.

A booking is accepted (202) as soon as it is stored with its two outgoing messages in one transaction; the
scheduler decides later and the status follows. The phone number is validated here, sealed for the notifier
and forgotten: only the notifier can open it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID, uuid4

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from gateway.booking_views import DEFAULT_PREFERENCES, BookingView, Status, view_of
from gateway.errors import (
    BookingNotFound,
    IdempotencyConflict,
    InvalidIdempotencyKey,
    InvalidPhone,
    NotCancellable,
    NotErasableYet,
    NotMovable,
    PreferencesNotChangeable,
    RefusedPhone,
)
from gateway.limits import BOOK_WORDS, CANCEL_WORDS, ClientLimits
from gateway.moves import MoveState
from gateway.repository import GatewayRepository
from gateway.tables import BookingRequest
from shared.contracts import (
    BookingCancellationRequested,
    BookingMoveRequested,
    BookingRequested,
    ClientErasureRequested,
    ContactPreferences,
    ContactPreferencesChanged,
    ContactRegistered,
    Conversation,
    Topic,
    wrap,
)
from shared.contracts.contacts import manage_token_context, phone_context
from shared.crypto import DataCipher, DecryptionError, new_token, token_hash
from shared.phones import InvalidPhoneNumber, RefusedDestination, check_destination, normalise_phone
from shared.unit_of_work import UnitOfWork

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# What people write in a phone number. `phonenumbers` would also read letters as keypad digits (0151-CALLME), which
# turns a typo into someone else's number; a number for SMS has no letters.
PHONE_CHARACTERS = re.compile(r"[\d\s+()./-]+")
IDEMPOTENCY_WINDOW = timedelta(hours=24)
MOVE_WORDS = "Too many changes were made from this connection or for this phone number. Please try again later."


@dataclass(frozen=True)
class NewBooking:
    slot_id: str
    phone: str
    language: str
    channel: Literal["web", "sms"]
    topic: Topic | None = None
    preferences: ContactPreferences = field(default_factory=ContactPreferences)
    conversation: Conversation = "own_language"


@dataclass(frozen=True)
class Accepted:
    booking_id: UUID
    status: Status
    manage_token: str
    replayed: bool


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.match(key):
        raise InvalidIdempotencyKey(
            "The Idempotency-Key header must be 8 to 64 letters, digits, '-' or '_' (a UUID works)."
        )
    return key


class BookingService:
    def __init__(self, engine: Engine, cipher: DataCipher, announce: Callable[[], None],
                 clock: Callable[[], datetime], limits: ClientLimits,
                 allowed_countries: tuple[str, ...] = ("DE",)) -> None:
        self.uow = UnitOfWork(engine, GatewayRepository)
        self.cipher = cipher
        self.announce = announce  # wakes the outbox relay after a commit
        self.clock = clock
        self.limits = limits
        self.allowed_countries = allowed_countries

    def request(self, booking: NewBooking, idempotency_key: str | None, client: str = "unknown") -> Accepted:
        """Accept a booking from `client` (its address, gateway.forwarding): RefusedPhone for a number we do not
        text, TooManyRequests / TooManyAppointments past a limit (gateway.limits), nothing stored then."""
        key = check_idempotency_key(idempotency_key)
        if not PHONE_CHARACTERS.fullmatch(booking.phone):
            raise InvalidPhone("A phone number may only contain digits, spaces and + - ( ) / . characters.")
        try:
            phone = normalise_phone(booking.phone)
            check_destination(phone, self.allowed_countries)
        except RefusedDestination as exc:
            raise RefusedPhone(str(exc)) from None
        except InvalidPhoneNumber as exc:
            raise InvalidPhone(str(exc)) from None
        fingerprint = self.cipher.lookup_hash(json.dumps(_fingerprinted(booking, phone), default=str))
        if key is not None:
            replay = self._replay(key, fingerprint)
            if replay is not None:
                return replay

        booking_id = uuid4()
        token = new_token()
        now = self.clock()
        phone_subject = self.limits.phone_subject(phone)
        row = {
            "booking_id": str(booking_id),
            "manage_token_hash": token_hash(token),
            "idempotency_key": key,
            "request_fingerprint": fingerprint,
            "manage_token_ciphertext": self.cipher.encrypt(token, f"replay:{booking_id}") if key else None,
            "status": "pending",
            "language": booking.language,
            "channel": booking.channel,
            "created_at": now,
            "updated_at": now,
            "phone_hash": phone_subject,
            "starts_at": None,
            "conversation": booking.conversation,
        }
        contact = ContactRegistered(
            booking_id=booking_id,
            phone=self.cipher.seal_for_notifier(phone, phone_context(booking_id)),
            manage_token=self.cipher.seal_for_notifier(token, manage_token_context(booking_id)),
            language=booking.language,
            preferences=booking.preferences,
        )
        # The preferences go to the notifier alone: the scheduler decides the calendar, not who gets which text.
        requested = BookingRequested(booking_id=booking_id, slot_id=booking.slot_id, topic=booking.topic,
                                     language=booking.language, channel=booking.channel,
                                     conversation=booking.conversation)
        try:
            # The row and its two outgoing messages commit together. The contact goes first so that it normally
            # reaches the notifier before the confirmation.
            with self.uow() as repository:
                self.limits.take(repository, self.limits.booking, BOOK_WORDS, client, phone_subject, now)
                self.limits.check_appointments(repository, phone_subject, now)
                repository.add_booking(row, None if booking.preferences == DEFAULT_PREFERENCES else booking.preferences,
                                       [wrap(contact, booking_id, now), wrap(requested, booking_id, now)])
        except IntegrityError:
            # The same Idempotency-Key arrived twice at once and the other request committed first.
            replay = self._replay(key, fingerprint) if key else None
            if replay is None:
                raise
            return replay
        self.announce()
        return Accepted(booking_id, "pending", token, replayed=False)

    def _replay(self, key: str, fingerprint: str) -> Accepted | None:
        with self.uow() as repository:
            row = repository.booking_by_idempotency_key(key)
        if row is None:
            return None
        if row.request_fingerprint != fingerprint:
            raise IdempotencyConflict("This Idempotency-Key was already used for a different booking request.")
        if row.manage_token_ciphertext is None:
            raise IdempotencyConflict("This Idempotency-Key has expired; send the request with a new key.")
        try:
            token = self.cipher.decrypt(row.manage_token_ciphertext, f"replay:{row.booking_id}")
        except DecryptionError:
            raise IdempotencyConflict("This Idempotency-Key can no longer be replayed; use a new key.") from None
        return Accepted(UUID(row.booking_id), row.status, token, replayed=True)  # type: ignore[arg-type]

    def view(self, token: str) -> BookingView:
        with self.uow() as repository:
            row = _find(repository, token)
            return view_of(row, repository.preferences(row.booking_id))

    def change_preferences(self, token: str, preferences: ContactPreferences) -> BookingView:
        """Store the client's new choices and announce them to the notifier, in one transaction."""
        with self.uow() as repository:
            row = _find(repository, token, for_update=True)  # two changes at once: one after the other, none lost
            if row.status not in ("pending", "confirmed"):
                raise PreferencesNotChangeable(
                    "This booking is cancelled or was not confirmed, so no texts will be sent for it.")
            now = self.clock()
            repository.save_preferences(row.booking_id, preferences, now)
            changed = ContactPreferencesChanged(booking_id=UUID(row.booking_id), preferences=preferences)
            repository.add_messages(wrap(changed, row.booking_id, now))
        self.announce()
        return view_of(row, preferences)

    def cancel(self, token: str, client: str = "unknown") -> BookingView:
        with self.uow() as repository:
            row = _find(repository, token)
            preferences = repository.preferences(row.booking_id)
            self._cancel(repository, row, client)
        self.announce()
        return view_of(row, preferences)

    def cancel_booking(self, booking_id: str, client: str) -> None:
        """Cancel by booking id, for a client known otherwise than by the link (their number, by SMS)."""
        with self.uow() as repository:
            row = repository.booking(booking_id)
            if row is None:
                raise BookingNotFound("No booking was found.")
            self._cancel(repository, row, client)
        self.announce()

    def _cancel(self, repository: GatewayRepository, row: BookingRequest, client: str) -> None:
        if row.status == "cancelled":
            return
        if row.status == "rejected":
            raise NotCancellable("This booking was not confirmed, so there is nothing to cancel.")
        now = self.clock()
        # Every cancellation texts the number a notice: counted per address and per number like bookings.
        self.limits.take(repository, self.limits.cancel, CANCEL_WORDS, client, row.phone_hash, now)
        row.status, row.reason, row.updated_at = "cancelled", None, now
        repository.save_booking(row)
        cancel = BookingCancellationRequested(booking_id=UUID(row.booking_id), by="client")
        repository.add_messages(wrap(cancel, row.booking_id, now))

    def move(self, token: str, slot_id: str, client: str = "unknown") -> BookingView:
        """Ask the scheduler to move a confirmed booking to `slot_id`: the request and its message commit together,
        the booking shows the move as pending until the scheduler answers (`booking.rescheduled` with this move's
        id, or `booking.move_refused`: the old time stays). A move asked while another is pending replaces it."""
        with self.uow() as repository:
            row = _find(repository, token, for_update=True)
            preferences = repository.preferences(row.booking_id)
            self._move(repository, row, slot_id, client)
        self.announce()
        return view_of(row, preferences)

    def move_booking(self, booking_id: str, slot_id: str, client: str) -> UUID:
        """`move` by booking id, for a client known otherwise than by the link (their number, by SMS): the move's
        id, which the scheduler's answer carries."""
        with self.uow() as repository:
            row = repository.booking(booking_id, for_update=True)
            if row is None:
                raise BookingNotFound("No booking was found.")
            move_id = self._move(repository, row, slot_id, client)
        self.announce()
        return move_id

    def _move(self, repository: GatewayRepository, row: BookingRequest, slot_id: str, client: str) -> UUID:
        if row.status != "confirmed":
            raise NotMovable("Only a confirmed appointment can be moved; this one is "
                             f"{'still being decided' if row.status == 'pending' else row.status}.")
        now = self.clock()
        # Every move texts the number a notice, like a cancellation: counted with them.
        self.limits.take(repository, self.limits.cancel, MOVE_WORDS, client, row.phone_hash, now)
        move_id = uuid4()
        row.move_json = MoveState(move_id=move_id, slot_id=slot_id, status="pending").model_dump_json()
        row.updated_at = now
        repository.save_booking(row)
        requested = BookingMoveRequested(booking_id=UUID(row.booking_id), move_id=move_id, slot_id=slot_id)
        repository.add_messages(wrap(requested, row.booking_id, now))
        return move_id

    def erase(self, token: str) -> None:
        """The client deletes their data: the booking request (token hash, idempotency key and fingerprint, the
        sealed replay token, slot, choices about texts) goes in the transaction that writes `client.erasure_requested`
        for the scheduler (which cancels the appointment if it is still to come) and the notifier (which deletes the
        number). From then on the link finds nothing. Not while the scheduler is still deciding: its decision
        would then hold a slot for a client who is gone (the page refreshes itself until it is decided)."""
        with self.uow() as repository:
            row = _find(repository, token, for_update=True)
            if row.status == "pending":
                raise NotErasableYet("This booking is still being decided; please try again in a moment.")
            now = self.clock()
            repository.delete_booking(row)
            erased = ClientErasureRequested(booking_id=UUID(row.booking_id))
            # A fresh correlation id: the booking id must not live on in the messages' logs after an erasure.
            repository.add_messages(wrap(erased, str(uuid4()), now))
        self.announce()

    def forget_replay_tokens(self) -> int:
        """After a day a retry gets a new booking; the sealed token is dropped."""
        with self.uow() as repository:
            return repository.forget_replay_tokens(created_before=self.clock() - IDEMPOTENCY_WINDOW)


def _find(repository: GatewayRepository, token: str, for_update: bool = False) -> BookingRequest:
    row = None
    if 16 <= len(token) <= 64:
        row = repository.booking_by_token_hash(token_hash(token), for_update=for_update)
    if row is None:
        raise BookingNotFound("No booking was found for this link. It may have expired.")
    return row


def _fingerprinted(booking: NewBooking, phone: str) -> list[object]:
    """What makes two requests the same. Default preferences add nothing, so a key stored before preferences
    existed still matches its retry, and an explicit {"reminders": true} is the same request as none."""
    fields: list[object] = [booking.slot_id, phone, booking.language, booking.channel, booking.topic]
    if booking.preferences != DEFAULT_PREFERENCES:
        fields.append(booking.preferences.model_dump(mode="json"))
    if booking.conversation != "own_language":
        fields.append(booking.conversation)
    return fields
