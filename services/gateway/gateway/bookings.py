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
from typing import Any, Literal
from uuid import UUID, uuid4

from sqlalchemy import Engine, Table, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from gateway.errors import (
    BookingNotFound,
    IdempotencyConflict,
    InvalidIdempotencyKey,
    InvalidPhone,
    NotCancellable,
    PreferencesNotChangeable,
)
from gateway.tables import BookingPreferences, BookingRequest
from shared.contracts import (
    BookingCancellationRequested,
    BookingRequested,
    ContactPreferences,
    ContactPreferencesChanged,
    ContactRegistered,
    Topic,
    wrap,
)
from shared.contracts.contacts import manage_token_context, phone_context
from shared.crypto import DataCipher, DecryptionError, new_token, token_hash
from shared.outbox import add_to_outbox
from shared.phones import InvalidPhoneNumber, normalise_phone
from shared.unit_of_work import transaction

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# What people write in a phone number. `phonenumbers` would also read letters as keypad digits (0151-CALLME), which
# turns a typo into someone else's number; a number for SMS has no letters.
PHONE_CHARACTERS = re.compile(r"[\d\s+()./-]+")
IDEMPOTENCY_WINDOW = timedelta(hours=24)

BOOKINGS: Table = BookingRequest.__table__  # type: ignore[attr-defined]
_INSERT_BOOKING = insert(BOOKINGS)  # built once (its cache key too): every accepted booking runs it
PREFERENCES: Table = BookingPreferences.__table__  # type: ignore[attr-defined]
DEFAULT_PREFERENCES = ContactPreferences()

Status = Literal["pending", "confirmed", "rejected", "cancelled"]

REASON_MESSAGES = {
    "slot_taken": "This time was just taken by someone else. Please choose another time.",
    "unknown_slot": "This time is not offered. Please choose a time from the list.",
    "slot_in_past": "This time has passed or is too soon. Please choose a later time.",
    "language_not_offered": "This time is not available in the chosen language. Please choose another time.",
    "topic_not_offered": "This time is not offered for the chosen topic. Please choose another time.",
    "counsellor_absent": "Nobody is there at this time after all. Please choose another time.",
}


@dataclass(frozen=True)
class NewBooking:
    slot_id: str
    phone: str
    language: str
    channel: Literal["web", "sms"]
    topic: Topic | None = None
    preferences: ContactPreferences = field(default_factory=ContactPreferences)


@dataclass(frozen=True)
class Accepted:
    booking_id: UUID
    status: Status
    manage_token: str
    replayed: bool


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
                 clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.cipher = cipher
        self.announce = announce  # wakes the outbox relay after a commit
        self.clock = clock

    def request(self, booking: NewBooking, idempotency_key: str | None) -> Accepted:
        key = check_idempotency_key(idempotency_key)
        if not PHONE_CHARACTERS.fullmatch(booking.phone):
            raise InvalidPhone("A phone number may only contain digits, spaces and + - ( ) / . characters.")
        try:
            phone = normalise_phone(booking.phone)
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
        }
        contact = ContactRegistered(
            booking_id=booking_id,
            phone=self.cipher.encrypt(phone, phone_context(booking_id)),
            manage_token=self.cipher.encrypt(token, manage_token_context(booking_id)),
            language=booking.language,
            preferences=booking.preferences,
        )
        # The preferences go to the notifier alone: the scheduler decides the calendar, not who gets which text.
        requested = BookingRequested(booking_id=booking_id, slot_id=booking.slot_id, topic=booking.topic,
                                     language=booking.language, channel=booking.channel)
        try:
            # Core statements in one transaction (the accept path is hot): the row and its two outgoing messages
            # commit together. The contact goes first so that it normally reaches the notifier before the
            # confirmation.
            with transaction(self.engine) as session:
                connection = session.connection()
                connection.execute(_INSERT_BOOKING, row)
                if booking.preferences != DEFAULT_PREFERENCES:
                    connection.execute(insert(PREFERENCES), {
                        "booking_id": str(booking_id), "updated_at": now,
                        "preferences_json": booking.preferences.model_dump_json()})
                add_to_outbox(session, wrap(contact, booking_id, now), wrap(requested, booking_id, now))
        except IntegrityError:
            # The same Idempotency-Key arrived twice at once and the other request committed first.
            replay = self._replay(key, fingerprint) if key else None
            if replay is None:
                raise
            return replay
        self.announce()
        return Accepted(booking_id, "pending", token, replayed=False)

    def _replay(self, key: str, fingerprint: str) -> Accepted | None:
        with Session(self.engine) as session:
            row = session.exec(select(BookingRequest).where(BookingRequest.idempotency_key == key)).first()
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
        with Session(self.engine) as session:
            row = self._find(session, token)
            return _view(row, _preferences(session, row.booking_id))

    def change_preferences(self, token: str, preferences: ContactPreferences) -> BookingView:
        """Store the client's new choices and announce them to the notifier, in one transaction."""
        with Session(self.engine) as session:
            row = self._find(session, token, lock=True)  # two changes at once: one after the other, none lost
            if row.status not in ("pending", "confirmed"):
                raise PreferencesNotChangeable(
                    "This booking is cancelled or was not confirmed, so no texts will be sent for it.")
            now = self.clock()
            stored = session.get(BookingPreferences, row.booking_id)
            if stored is None:
                stored = BookingPreferences(booking_id=row.booking_id, preferences_json="")
            stored.preferences_json, stored.updated_at = preferences.model_dump_json(), now
            session.add(stored)
            changed = ContactPreferencesChanged(booking_id=UUID(row.booking_id), preferences=preferences)
            add_to_outbox(session, wrap(changed, row.booking_id, now))
            session.commit()
            view = _view(row, preferences)
        self.announce()
        return view

    def cancel(self, token: str) -> BookingView:
        with Session(self.engine) as session:
            row = self._find(session, token)
            if row.status == "cancelled":
                return _view(row, _preferences(session, row.booking_id))
            if row.status == "rejected":
                raise NotCancellable("This booking was not confirmed, so there is nothing to cancel.")
            now = self.clock()
            row.status, row.reason, row.updated_at = "cancelled", None, now
            session.add(row)
            cancel = BookingCancellationRequested(booking_id=UUID(row.booking_id), by="client")
            add_to_outbox(session, wrap(cancel, row.booking_id, now))
            session.commit()
            view = _view(row, _preferences(session, row.booking_id))
        self.announce()
        return view

    def _find(self, session: Session, token: str, lock: bool = False) -> BookingRequest:
        row = None
        if 16 <= len(token) <= 64:
            query = select(BookingRequest).where(BookingRequest.manage_token_hash == token_hash(token))
            row = session.exec(query.with_for_update() if lock else query).first()
        if row is None:
            raise BookingNotFound("No booking was found for this link. It may have expired.")
        return row

    def forget_replay_tokens(self) -> int:
        """After a day a retry gets a new booking; the sealed token is dropped."""
        cutoff = self.clock() - IDEMPOTENCY_WINDOW
        with Session(self.engine) as session:
            result = session.exec(
                update(BookingRequest)
                .where(col(BookingRequest.created_at) < cutoff, col(BookingRequest.manage_token_ciphertext).isnot(None))
                .values(manage_token_ciphertext=None)
            )
            session.commit()
            return int(result.rowcount or 0)


def _fingerprinted(booking: NewBooking, phone: str) -> list[object]:
    """What makes two requests the same. Default preferences add nothing, so a key stored before preferences
    existed still matches its retry, and an explicit {"reminders": true} is the same request as none."""
    fields: list[object] = [booking.slot_id, phone, booking.language, booking.channel, booking.topic]
    if booking.preferences != DEFAULT_PREFERENCES:
        fields.append(booking.preferences.model_dump(mode="json"))
    return fields


def _preferences(session: Session, booking_id: str) -> ContactPreferences:
    stored = session.get(BookingPreferences, booking_id)
    if stored is None:
        return DEFAULT_PREFERENCES
    return ContactPreferences.model_validate_json(stored.preferences_json)


def _view(row: BookingRequest, preferences: ContactPreferences) -> BookingView:
    return BookingView(
        booking_id=UUID(row.booking_id),
        status=row.status,  # type: ignore[arg-type]
        reason=row.reason,
        message=REASON_MESSAGES.get(row.reason or ""),
        slot=json.loads(row.slot_json) if row.slot_json else None,
        alternatives=json.loads(row.alternatives_json) if row.alternatives_json else [],
        language=row.language,
        preferences=preferences,
    )
