"""Every SQL statement of the notifier, over one session (a unit of work's transaction); what differs between
PostgreSQL and SQLite is decided here, once.

Callers get rows (the table classes) and change them; the session writes them at its commit. The statements that run
for every booking or every message are Core, built once: the ORM's identity map and unit of work were about half of
the notifier's CPU under load there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, exists, func, insert, literal, not_, text, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, delete, select

from notifier.tables import BookingFacts, Contact, Delivery, OptOut, Reminder, SmsBudgetDay
from shared.contracts import Envelope
from shared.db import InsertIfAbsent
from shared.outbox import add_to_outbox

_CONTACTS = Contact.__table__  # type: ignore[attr-defined]
_FACTS = BookingFacts.__table__  # type: ignore[attr-defined]
_OPT_OUTS = OptOut.__table__  # type: ignore[attr-defined]
_REMINDERS = Reminder.__table__  # type: ignore[attr-defined]
_DELIVERIES = Delivery.__table__  # type: ignore[attr-defined]

# What a new contact needs to know, in one round trip: whether it is known already, whether its number said STOP,
# and the booking's facts if the confirmation came first (a row of NULLs if not).
_CONTACT_CONTEXT = (
    select_columns(
        exists().where(_CONTACTS.c.booking_id == bindparam("booking_id")).label("contact_known"),
        exists().where(_OPT_OUTS.c.phone_hash == bindparam("phone_hash"), _OPT_OUTS.c.opted_out)
        .label("opted_out"),
        *_FACTS.c)
    .select_from(select_columns(literal(1).label("one")).subquery("one")
                 .outerjoin(_FACTS, _FACTS.c.booking_id == bindparam("booking_id"))))
_INSERT_CONTACT = insert(_CONTACTS)
# A replayed confirmation finds its facts there and inserts nothing: one statement instead of a look-up first.
_INSERT_FACTS = InsertIfAbsent(_FACTS, _FACTS.c.booking_id)
_MOVE_PURGE = (update(_CONTACTS).where(_CONTACTS.c.booking_id == bindparam("contact_booking_id"))
               .values(purge_after=bindparam("new_purge_after")).returning(*_CONTACTS.c))
# RETURNING makes SQLAlchemy send the rows as one multi-row INSERT (its "insertmanyvalues"); without it, a list
# of rows is an executemany, one statement per row on the server.
_INSERT_REMINDERS = insert(_REMINDERS).returning(_REMINDERS.c.id)
# A delivery's status moves forward only (deliveries.RANK); the provider's answer sets it where a status callback
# applied meanwhile has not moved it further already.
_DELIVERY_ACCEPTED = (update(_DELIVERIES).where(_DELIVERIES.c.id == bindparam("d_id"))
                      .values(provider_sid=bindparam("sid"), to_masked=bindparam("masked"),
                              segments=bindparam("segs"), updated_at=bindparam("now")))
_REMINDER_SENT = (update(_REMINDERS).where(_REMINDERS.c.id == bindparam("r_id"))
                  .values(status="sent", outcome=None))

_SENDER_LOCK = 0x4C6F747367  # one paced sending loop per notifier database
_BOOKING_LOCKS = 0x4C6F7442  # the key space (int4) of the per-booking transaction locks
_BUDGET_LOCK = 0x4C6F747368  # one claim at a time counts against the daily budget
# Failures decided before the provider was asked (SEND_REFUSALS in notifier.dispatch.outcomes): no text left.
NOT_SENT_CODES = ("destination", "render")
_BUDGET_DAYS: Any = SmsBudgetDay.__table__  # type: ignore[attr-defined]
_INSERT_BUDGET_DAY = InsertIfAbsent(_BUDGET_DAYS, _BUDGET_DAYS.c.day)


@dataclass(frozen=True)
class ContactContext:
    """What registering a contact depends on (see `contact_context`)."""

    known: bool
    opted_out: bool
    facts: BookingFacts | None


@dataclass(frozen=True)
class Accepted:
    """The provider took a message: what its delivery row records."""

    delivery_id: int
    reminder_id: int
    provider_sid: str
    status: str  # ours (deliveries.PROVIDER_STATUS), not the provider's
    to_masked: str
    segments: int


class NotifierRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgres = session.get_bind().dialect.name == "postgresql"

    # --- any row ---------------------------------------------------------------------------------------------------

    def save(self, *rows: Contact | BookingFacts | Reminder | Delivery | OptOut) -> None:
        """Written at the commit (or the next flush)."""
        self.session.add_all(rows)

    def flush(self) -> None:
        """Writes what was saved now: new rows get their ids, and later queries see the changes."""
        self.session.flush()

    def announce(self, envelope: Envelope) -> None:
        """Published by the relay once this transaction commits (the outbox)."""
        add_to_outbox(self.session, envelope)

    def serialize_booking(self, booking_id: str) -> None:
        """Until this transaction ends, another transaction about the same booking waits here. The messages about
        one booking come from two services (contact.registered from the gateway, booking.confirmed from the
        scheduler) and two workers may handle them at once: each plans the texts only when it sees the other's row,
        so in two concurrent transactions neither would see it and nothing would be planned. On SQLite every
        transaction already holds the write lock from its start (BEGIN IMMEDIATE, shared/db.py)."""
        if self.postgres:
            self.session.execute(text("SELECT pg_advisory_xact_lock(:ns, hashtext(:booking))"),
                                 {"ns": _BOOKING_LOCKS, "booking": booking_id})

    # --- contacts, booking facts, opt-outs -------------------------------------------------------------------------

    def contact(self, booking_id: str) -> Contact | None:
        return self.session.get(Contact, booking_id)

    def facts(self, booking_id: str) -> BookingFacts | None:
        return self.session.get(BookingFacts, booking_id)

    def opt_out(self, phone_hash: str) -> OptOut | None:
        return self.session.get(OptOut, phone_hash)

    def contact_context(self, booking_id: str, phone_hash: str) -> ContactContext:
        """Whether the booking's contact is known, whether its number said STOP, and the booking's facts if the
        confirmation came first: one statement."""
        found = self.session.connection().execute(
            _CONTACT_CONTEXT, {"booking_id": booking_id, "phone_hash": phone_hash}).mappings().one()
        facts = (BookingFacts(**{c.name: found[c.name] for c in _FACTS.c}) if found["booking_id"] is not None
                 else None)
        return ContactContext(bool(found["contact_known"]), bool(found["opted_out"]), facts)

    def add_contact(self, contact: Contact) -> None:
        self.session.connection().execute(_INSERT_CONTACT, contact.model_dump())

    def add_facts_if_absent(self, facts: BookingFacts) -> bool:
        """False if the booking's facts are there already (a replayed confirmation)."""
        return bool(_INSERT_FACTS(self.session.connection(), facts.model_dump()))

    def keep_contact_until(self, booking_id: str, purge_after: datetime) -> Contact | None:
        """The contact, now kept until `purge_after`; None if the booking has no contact (yet)."""
        row = self.session.connection().execute(
            _MOVE_PURGE, {"contact_booking_id": booking_id, "new_purge_after": purge_after}).mappings().first()
        return Contact(**row) if row is not None else None

    def delete_contact(self, booking_id: str) -> None:
        self.session.exec(delete(Contact).where(col(Contact.booking_id) == booking_id))

    def contacts_with_phone(self, phone_hash: str) -> list[Contact]:
        return list(self.session.exec(select(Contact).where(Contact.phone_hash == phone_hash)))

    def latest_language(self, phone_hash: str) -> str | None:
        """The language of the number's latest booking."""
        contact = self.session.exec(select(Contact).where(Contact.phone_hash == phone_hash)
                                    .order_by(col(Contact.created_at).desc())).first()
        return contact.language if contact else None

    def upcoming_bookings_of(self, phone_hash: str, now: datetime) -> list[tuple[Contact, BookingFacts]]:
        """The number's confirmed bookings that have not begun."""
        return list(self.session.exec(
            select(Contact, BookingFacts).join(BookingFacts, col(BookingFacts.booking_id) == Contact.booking_id)
            .where(Contact.phone_hash == phone_hash, BookingFacts.status == "confirmed",
                   col(BookingFacts.starts_at) > now)).all())

    # --- messages (reminders) --------------------------------------------------------------------------------------

    def reminder(self, reminder_id: int) -> Reminder | None:
        return self.session.get(Reminder, reminder_id)

    def reminders_of(self, booking_id: str) -> dict[str, Reminder]:
        """Every message of the booking, by key."""
        return {row.key: row for row in self.session.exec(select(Reminder).where(Reminder.booking_id == booking_id))}

    def pending_reminders_of(self, booking_id: str, kinds: Iterable[str] | None = None) -> list[Reminder]:
        query = select(Reminder).where(Reminder.booking_id == booking_id, Reminder.status == "pending")
        if kinds is not None:
            query = query.where(col(Reminder.kind).in_(list(kinds)))
        return list(self.session.exec(query))

    def add_reminders(self, rows: list[dict[str, Any]]) -> None:
        """New pending messages, as one multi-row statement (every booking's first plan comes through here)."""
        self.session.connection().execute(_INSERT_REMINDERS, rows)

    def due_reminders(self, now: datetime, limit: int) -> list[Reminder]:
        """Pending messages due by `now`, oldest due first. On PostgreSQL rows another dispatcher holds are passed
        over (FOR UPDATE SKIP LOCKED); SQLite's write lock (BEGIN IMMEDIATE) keeps a second dispatcher out."""
        query = (select(Reminder).where(Reminder.status == "pending", col(Reminder.due_at) <= now)
                 .order_by(col(Reminder.due_at), col(Reminder.id)).limit(limit))
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        return list(self.session.exec(query))

    # --- the daily text budget (notifier.dispatch.budget) ---------------------------------------------------------

    def lock_budget(self) -> None:
        """Claims that count against the budget, one transaction at a time across processes (PostgreSQL; SQLite's
        write lock already does it), so two loops cannot both spend the last of it."""
        if self.postgres:
            self.session.connection().execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _BUDGET_LOCK})

    def texts_handed_over(self, start: datetime, end: datetime) -> int:
        """Deliveries made in [start, end), but for those failed before the provider was asked."""
        return int(self.session.exec(
            select(func.count()).select_from(Delivery)
            .where(col(Delivery.created_at) >= start, col(Delivery.created_at) < end,
                   not_(and_(col(Delivery.status) == "failed", col(Delivery.error_code).in_(NOT_SENT_CODES))))
        ).one())

    def record_budget_reached(self, day: str, budget: int, now: datetime) -> bool:
        """True the first time for this day (in any process)."""
        return bool(_INSERT_BUDGET_DAY(self.session.connection(), {"day": day, "budget": budget, "reached_at": now}))

    def reminders_by_id(self, ids: list[int]) -> dict[int, Reminder]:
        return {r.id or 0: r for r in self.session.exec(select(Reminder).where(col(Reminder.id).in_(ids)))}

    def contacts_of(self, booking_ids: list[str]) -> dict[str, Contact]:
        if not booking_ids:
            return {}
        return {c.booking_id: c for c in self.session.exec(
            select(Contact).where(col(Contact.booking_id).in_(booking_ids)))}

    def facts_of(self, booking_ids: list[str]) -> dict[str, BookingFacts]:
        if not booking_ids:
            return {}
        return {f.booking_id: f for f in self.session.exec(
            select(BookingFacts).where(col(BookingFacts.booking_id).in_(booking_ids)))}

    def opted_out_among(self, phone_hashes: list[str]) -> set[str]:
        if not phone_hashes:
            return set()
        return set(self.session.exec(select(OptOut.phone_hash).where(
            col(OptOut.phone_hash).in_(phone_hashes), OptOut.opted_out == True)))  # noqa: E712

    # --- deliveries ------------------------------------------------------------------------------------------------

    def deliveries_by_id(self, ids: list[int]) -> dict[int, Delivery]:
        """Locked on PostgreSQL: a status callback applied meanwhile is not overwritten."""
        query = select(Delivery).where(col(Delivery.id).in_(ids))
        if self.postgres:
            query = query.with_for_update()
        return {d.id or 0: d for d in self.session.exec(query)}

    def delivery_reported(self, ref: str | None, provider_sid: str) -> Delivery | None:
        """The delivery a status callback is about: by the ref in its URL, else by the provider's SID. Locked on
        PostgreSQL: the dispatcher recording the provider's answer at the same moment must not overwrite it."""
        for column, value in ((Delivery.ref, ref), (Delivery.provider_sid, provider_sid)):
            if value is None:
                continue
            query = select(Delivery).where(column == value)
            found = self.session.exec(query.with_for_update() if self.postgres else query).first()
            if found is not None:
                return found
        return None

    def mark_requested(self, delivery_ids: list[int], now: datetime) -> set[int]:
        """From here on each outcome is unknown until the provider answers. Conditional, so that it and a release
        by reconciliation cannot both win; returns the ids this call won."""
        won = self.session.connection().execute(update(_DELIVERIES).where(
            _DELIVERIES.c.id.in_(delivery_ids), _DELIVERIES.c.status == "queued",
            _DELIVERIES.c.requested_at.is_(None),
        ).values(requested_at=now).returning(_DELIVERIES.c.id))
        return {int(row[0]) for row in won}

    def record_accepted(self, accepted: list[Accepted], now: datetime, lower_than: dict[str, list[str]]) -> None:
        """The provider took these messages: a few statements for the whole batch, no rows loaded. A delivery moves
        to its status only from one of `lower_than[status]` (a status callback applied meanwhile wins)."""
        connection = self.session.connection()
        connection.execute(_DELIVERY_ACCEPTED, [
            {"d_id": a.delivery_id, "sid": a.provider_sid, "masked": a.to_masked, "segs": a.segments, "now": now}
            for a in accepted])
        by_status: dict[str, list[int]] = {}
        for a in accepted:
            by_status.setdefault(a.status, []).append(a.delivery_id)
        for status, ids in by_status.items():
            connection.execute(update(_DELIVERIES).where(
                _DELIVERIES.c.id.in_(ids), _DELIVERIES.c.status.in_(lower_than[status])).values(
                status=status, **({"delivered_at": now} if status == "delivered" else {})))
        connection.execute(_REMINDER_SENT, [{"r_id": a.reminder_id} for a in accepted])

    def unsettled(self, older_than: datetime, limit: int) -> list[Delivery]:
        """Deliveries whose send never reported back and whose message still waits for an answer (`sending`). One
        given up (`unknown`) stays `queued` for a late callback but is not returned again, or 50 of them would fill
        every reconciliation run and starve the newer ones."""
        return self._queued(older_than, limit, requested=True)

    def never_requested(self, older_than: datetime, limit: int) -> list[Delivery]:
        """Claimed by a dispatcher that stopped before it asked the provider: these messages never left."""
        return self._queued(older_than, limit, requested=False)

    def _queued(self, older_than: datetime, limit: int, requested: bool) -> list[Delivery]:
        asked = col(Delivery.requested_at).is_not(None) if requested else col(Delivery.requested_at).is_(None)
        return list(self.session.exec(
            select(Delivery).join(Reminder, col(Reminder.id) == col(Delivery.reminder_id))
            .where(Delivery.status == "queued", asked, col(Delivery.created_at) < older_than,
                   Reminder.status == "sending")
            .order_by(col(Delivery.created_at)).limit(limit)))

    def give_back(self, delivery_id: int, now: datetime) -> bool:
        """The delivery failed as `not_sent`, unless it was requested meanwhile (then its outcome is unknown and
        it stays): returns whether this call won."""
        won = self.session.connection().execute(update(_DELIVERIES).where(
            _DELIVERIES.c.id == delivery_id, _DELIVERIES.c.status == "queued", _DELIVERIES.c.requested_at.is_(None),
        ).values(status="failed", error_code="not_sent", updated_at=now))
        return bool(won.rowcount == 1)

    def erase_booking(self, booking_id: str) -> int:
        """The client asked for their data to go: the contact (sealed number and manage link) and the booking's
        facts (time, place) are deleted, what was still to be sent is cancelled, and what was sent keeps only its
        history for admins (status, times), not the masked number. Returns the number of contacts deleted (0 for
        a booking already erased or never known)."""
        deleted = self.session.exec(delete(Contact).where(col(Contact.booking_id) == booking_id))
        self.session.exec(delete(BookingFacts).where(col(BookingFacts.booking_id) == booking_id))
        connection = self.session.connection()
        connection.execute(
            update(_REMINDERS).where(_REMINDERS.c.booking_id == booking_id, _REMINDERS.c.status == "pending")
            .values(status="cancelled", outcome="erased_by_client"))
        connection.execute(
            update(_REMINDERS).where(_REMINDERS.c.booking_id == booking_id, _REMINDERS.c.phone_ciphertext.is_not(None))
            .values(phone_ciphertext=None, phone_context=None))
        connection.execute(
            update(_DELIVERIES).where(_DELIVERIES.c.booking_id == booking_id, _DELIVERIES.c.to_masked != "")
            .values(to_masked=""))
        return int(deleted.rowcount or 0)

    # --- retention -------------------------------------------------------------------------------------------------

    def purge_expired(self, now: datetime) -> int:
        """Contacts past their purge date are deleted, and the sealed numbers of answers to STOP/START once those
        answers are settled; the masked number on a delivery goes with its contact, the delivery's history stays
        for admins. Returns the number of contacts deleted."""
        result = self.session.exec(delete(Contact).where(col(Contact.purge_after) < now))
        connection = self.session.connection()
        connection.execute(
            update(_REMINDERS).where(_REMINDERS.c.phone_ciphertext.is_not(None),
                                     _REMINDERS.c.not_after < now - timedelta(days=1),
                                     _REMINDERS.c.status != "sending")
            .values(phone_ciphertext=None, phone_context=None, params=None))
        connection.execute(
            update(_DELIVERIES).where(
                _DELIVERIES.c.to_masked != "",
                (_DELIVERIES.c.booking_id.is_not(None) & _DELIVERIES.c.booking_id.not_in(
                    select_columns(_CONTACTS.c.booking_id))) |
                (_DELIVERIES.c.booking_id.is_(None) & (_DELIVERIES.c.created_at < now - timedelta(days=1))))
            .values(to_masked=""))
        return int(result.rowcount or 0)


@contextmanager
def sender_lock(engine: Engine) -> Iterator[bool]:
    """Whether this process may run the paced sending loop: on PostgreSQL a session-level advisory lock, held on a
    connection of its own (outside any transaction) until the block ends; SQLite has one process only."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _SENDER_LOCK}).scalar())
        try:
            yield got
        finally:
            if got:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _SENDER_LOCK})


# --- key rotation (notifier.rotation): every column that holds a sealed value ------------------------------------


@dataclass(frozen=True)
class SealedColumn:
    table: Any
    key: str  # the primary key column, walked in order
    column: str
    context: str  # "phone" or "manage_token" (bound to the booking id, the key), or "row" (the row's phone_context)


@dataclass(frozen=True)
class SealedValue:
    key: Any
    sealed: str
    context: str | None = None


SEALED_COLUMNS = (
    SealedColumn(_CONTACTS, "booking_id", "phone_ciphertext", "phone"),
    SealedColumn(_CONTACTS, "booking_id", "manage_token_ciphertext", "manage_token"),
    SealedColumn(_REMINDERS, "id", "phone_ciphertext", "row"),
)


def sealed_not_under(connection: Connection, column: SealedColumn, key_id: str, after: Any, limit: int
                     ) -> list[SealedValue]:
    """The next `limit` values of the column (by primary key, after `after`) not sealed under `key_id`."""
    table, prefix = column.table, f"v1.{key_id}."
    sealed = table.c[column.column]
    wanted = [table.c[column.key], sealed] + ([table.c.phone_context] if column.context == "row" else [])
    query = (select_columns(*wanted)
             .where(sealed.is_not(None), func.substr(sealed, 1, len(prefix)) != prefix)
             .order_by(table.c[column.key]).limit(limit))
    if after is not None:
        query = query.where(table.c[column.key] > after)
    return [SealedValue(*row) for row in connection.execute(query)]


def replace_sealed(connection: Connection, column: SealedColumn, changes: list[tuple[SealedValue, str]]) -> int:
    """Write each new value where the row still holds the value read (compare-and-set); the number written."""
    table = column.table
    statement = (update(table).where(table.c[column.key] == bindparam("k"),
                                     table.c[column.column] == bindparam("old"))
                 .values({column.column: bindparam("new")}))
    written = 0
    for value, new in changes:  # one by one: an executemany's rowcount is not reliable on every driver
        written += connection.execute(statement, {"k": value.key, "old": value.sealed, "new": new}).rowcount or 0
    return written


def key_usage(connection: Connection) -> dict[str, int]:
    """How many stored values are sealed under each key id, over every sealed column."""
    usage: dict[str, int] = {}
    for column in SEALED_COLUMNS:
        sealed = column.table.c[column.column]
        for (value,) in connection.execute(select_columns(sealed).where(sealed.is_not(None))):
            kid = value.split(".")[1] if value.count(".") == 3 else "?"
            usage[kid] = usage.get(kid, 0) + 1
    return usage
