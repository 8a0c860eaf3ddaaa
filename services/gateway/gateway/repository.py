"""Queries over the gateway's tables (booking requests, the client's choices, feed tokens, the outbox); the only
module here, besides the staff accounts' own, that builds SQL.

A repository lives inside one transaction: `UnitOfWork(engine, GatewayRepository)` opens it, and the consumer's
handlers get one on the session of the message they handle. The same statements serve PostgreSQL and SQLite: a row
read `for_update` is locked FOR UPDATE on PostgreSQL, and on SQLite every transaction holds the database's write
lock from its first statement (BEGIN IMMEDIATE, shared.db), which SQLAlchemy's SQLite dialect leaves FOR UPDATE to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, or_, text, update
from sqlmodel import Session, col, select

from gateway.tables import BookingPreferences, BookingRequest, CounsellorFeed, RateEvent
from shared.contracts import ContactPreferences, Envelope
from shared.outbox import add_to_outbox

BOOKINGS: Table = BookingRequest.__table__  # type: ignore[attr-defined]
PREFERENCES: Table = BookingPreferences.__table__  # type: ignore[attr-defined]
# Built once (their cache keys too): every accepted booking runs the first, every decision the gateway follows the
# second (the columns to set come with the parameters).
_INSERT_BOOKING = insert(BOOKINGS)
_DECIDE = update(BOOKINGS).where(BOOKINGS.c.booking_id == bindparam("decided_booking_id"),
                                 BOOKINGS.c.status == "pending")


class GatewayRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- booking requests --------------------------------------------------------------------------------------

    def add_booking(self, row: dict[str, Any], preferences: ContactPreferences | None,
                    messages: list[Envelope]) -> None:
        """A new booking request, its choices (None: the defaults, no row) and its outgoing messages, as Core
        statements: the accept path is hot. IntegrityError when its Idempotency-Key is already taken."""
        connection = self.session.connection()
        connection.execute(_INSERT_BOOKING, row)
        if preferences is not None:
            connection.execute(insert(PREFERENCES), {"booking_id": row["booking_id"], "updated_at": row["created_at"],
                                                     "preferences_json": preferences.model_dump_json()})
        add_to_outbox(self.session, *messages)

    def booking(self, booking_id: object, for_update: bool = False) -> BookingRequest | None:
        return self.session.get(BookingRequest, str(booking_id), with_for_update=for_update)

    def booking_by_idempotency_key(self, key: str) -> BookingRequest | None:
        return self.session.exec(select(BookingRequest).where(BookingRequest.idempotency_key == key)).first()

    def booking_by_token_hash(self, manage_token_hash: str, for_update: bool = False) -> BookingRequest | None:
        query = select(BookingRequest).where(BookingRequest.manage_token_hash == manage_token_hash)
        return self.session.exec(query.with_for_update() if for_update else query).first()

    def delete_booking(self, row: BookingRequest) -> None:
        """The booking request and its choices about texts (booking_preferences goes with it, ON DELETE CASCADE;
        deleted here too, for a database without foreign keys enforced)."""
        preferences = self.session.get(BookingPreferences, row.booking_id)
        if preferences is not None:
            self.session.delete(preferences)
        self.session.delete(row)

    def save_booking(self, row: BookingRequest) -> None:
        self.session.add(row)

    def decide_pending(self, booking_id: object, **values: object) -> None:
        """One UPDATE … WHERE status = 'pending' (no look-up first): a booking cancelled by the client meanwhile,
        or unknown here, is left alone."""
        self.session.connection().execute(_DECIDE, {"decided_booking_id": str(booking_id), **values})

    def forget_replay_tokens(self, created_before: datetime) -> int:
        result = self.session.exec(
            update(BookingRequest)
            .where(col(BookingRequest.created_at) < created_before,
                   col(BookingRequest.manage_token_ciphertext).isnot(None))
            .values(manage_token_ciphertext=None)
        )
        return int(result.rowcount or 0)

    # --- the client's choices about texts ----------------------------------------------------------------------

    def preferences(self, booking_id: str) -> ContactPreferences | None:
        """The stored choices; None when the booking has the defaults (no row)."""
        stored = self.session.get(BookingPreferences, booking_id)
        return None if stored is None else ContactPreferences.model_validate_json(stored.preferences_json)

    def save_preferences(self, booking_id: str, preferences: ContactPreferences, now: datetime) -> None:
        stored = self.session.get(BookingPreferences, booking_id)
        if stored is None:
            stored = BookingPreferences(booking_id=booking_id, preferences_json="")
        stored.preferences_json, stored.updated_at = preferences.model_dump_json(), now
        self.session.add(stored)

    # --- limits on the public booking path (gateway.limits) ----------------------------------------------------

    def lock_subjects(self, subjects: list[str]) -> None:
        """Serialise the check-and-count of one subject across transactions (two replicas, one database), so a
        burst cannot pass a limit by being checked in parallel. PostgreSQL: transaction-scoped advisory locks, in
        a fixed order; SQLite: every transaction already holds the write lock from its first statement."""
        connection = self.session.connection()
        if connection.dialect.name != "postgresql":
            return
        for subject in sorted(set(subjects)):
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:subject, 7))"),
                               {"subject": subject})

    def add_rate_events(self, events: list[tuple[str, str]], at: datetime) -> None:
        if events:
            self.session.connection().execute(insert(RateEvent.__table__),  # type: ignore[attr-defined]
                                              [{"scope": scope, "subject": subject, "at": at}
                                               for scope, subject in events])

    def rate_event_times(self, scope: str, subject: str, since: datetime) -> list[datetime]:
        """When `subject` was counted in `scope` after `since`, oldest first."""
        return list(self.session.exec(
            select(RateEvent.at)
            .where(col(RateEvent.scope) == scope, col(RateEvent.subject) == subject, col(RateEvent.at) > since)
            .order_by(col(RateEvent.at))
        ).all())

    def delete_rate_events_until(self, moment: datetime) -> int:
        result = self.session.exec(delete(RateEvent).where(col(RateEvent.at) <= moment))
        return int(result.rowcount or 0)

    def upcoming_starts(self, phone_hash: str, now: datetime) -> list[datetime | None]:
        """The starts of this number's bookings that hold or may get a slot and have not begun (None: pending,
        not decided yet), earliest first with the pending ones last."""
        starts = self.session.exec(
            select(BookingRequest.starts_at)
            .where(col(BookingRequest.phone_hash) == phone_hash,
                   or_(col(BookingRequest.status) == "pending",
                       (col(BookingRequest.status) == "confirmed") & (col(BookingRequest.starts_at) > now)))
        ).all()
        return sorted(starts, key=lambda start: (start is None, start or now))

    # --- counsellors' calendar feeds ---------------------------------------------------------------------------

    def feed(self, counsellor_id: int) -> CounsellorFeed | None:
        return self.session.get(CounsellorFeed, counsellor_id)

    def save_feed(self, feed: CounsellorFeed) -> None:
        self.session.add(feed)

    def delete_feed(self, feed: CounsellorFeed) -> None:
        self.session.delete(feed)

    def counsellor_for_feed(self, token_hash: str) -> int | None:
        return self.session.exec(select(CounsellorFeed.counsellor_id)
                                 .where(col(CounsellorFeed.token_hash) == token_hash)).first()

    # --- messages out, and the database itself -----------------------------------------------------------------

    def add_messages(self, *envelopes: Envelope) -> None:
        """One INSERT; IntegrityError when a message id is already waiting in the outbox."""
        add_to_outbox(self.session, *envelopes)

    def ping(self) -> None:
        self.session.connection().execute(text("SELECT 1"))
