"""The staff audit log: who did what to personal data or configuration, when, from where, with what outcome.

Where the gateway makes the change (sign-in, password, calendar feeds, accounts) the row is written in the change's
own transaction (`write`, or a service given an `AuditNote`): no change without its row, no row without its change.
Where the scheduler decides (calendars, bookings, setup), the request and its answer, refusal or silence are
recorded once the asking is over (`record`). Reads of personal data are recorded like changes.

The database refuses to change or delete rows (migration 0007); `purge` removes those older than the retention
(AUDIT_RETENTION_DAYS), the one delete the database allows. A row holds no reason's text, no message, no token and
never a typed username that matched no account (that may be a password): only a keyed hash of it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from sqlalchemy import Engine
from sqlmodel import Session

from gateway.errors import GatewayError, SchedulerUnavailable
from gateway.staff.audit_repository import AuditFilter, AuditRepository, AuditRow, Position
from gateway.staff.tables import StaffAuditEntry
from shared.clock import Clock, system_clock
from shared.unit_of_work import UnitOfWork

DEFAULT_RETENTION = timedelta(days=400)
MAX_DETAIL_CHARS = 1000


class Action(StrEnum):
    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT = "sign_out"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - the name of an action
    ACCOUNT_CREATED = "account_created"
    ACCOUNT_DEACTIVATED = "account_deactivated"
    ACCOUNT_UNLOCKED = "account_unlocked"
    ACCOUNT_REACTIVATED = "account_reactivated"
    PASSWORD_LINK_ISSUED = "password_link_issued"  # noqa: S105 - the name of an action
    PASSWORD_RESET = "password_reset"  # noqa: S105 - by a one-time link
    TWO_FACTOR_ENROLMENT_STARTED = "two_factor_enrolment_started"
    TWO_FACTOR_ENABLED = "two_factor_enabled"
    TWO_FACTOR_DISABLED = "two_factor_disabled"
    RECOVERY_CODES_RENEWED = "recovery_codes_renewed"
    TWO_FACTOR_RESET = "two_factor_reset"  # by an admin, for another account
    ACCOUNTS_READ = "accounts_read"
    CALENDAR_READ = "calendar_read"
    BOOKINGS_READ = "bookings_read"
    BOOKING_READ = "booking_read"  # one appointment, by its booking (the move picker, the number reveal)
    RULES_READ = "rules_read"
    RULES_REPLACED = "rules_replaced"
    EXCEPTION_ADDED = "exception_added"
    EXCEPTION_REMOVED = "exception_removed"
    BOOKING_CANCELLED = "booking_cancelled"
    BOOKING_NO_SHOW = "booking_no_show"
    BOOKING_ATTENDED = "booking_attended"
    BOOKING_MOVED = "booking_moved"
    TYPES_READ = "types_read"
    TYPE_CREATED = "type_created"
    TYPE_UPDATED = "type_updated"
    COUNSELLOR_UPDATED = "counsellor_updated"
    LOCATION_UPDATED = "location_updated"
    COUNSELLORS_READ = "counsellors_read"
    COUNSELLOR_CREATED = "counsellor_created"
    LOCATIONS_READ = "locations_read"
    LOCATION_CREATED = "location_created"
    FEED_ISSUED = "feed_issued"
    FEED_REVOKED = "feed_revoked"
    # A counsellor was shown (or refused) the client's number of a phone appointment; the row never holds it.
    CONTACT_NUMBER_SHOWN = "contact_number_shown"
    DELIVERY_REPORT_READ = "delivery_report_read"
    FAILED_DELIVERIES_READ = "failed_deliveries_read"
    DELIVERY_RETRIED = "delivery_retried"
    DEAD_LETTERS_READ = "dead_letters_read"
    DEAD_LETTER_REQUEUED = "dead_letter_requeued"
    DEAD_LETTER_DISCARDED = "dead_letter_discarded"
    AUDIT_READ = "audit_read"
    AUDIT_EXPORTED = "audit_exported"
    # The gateway refused a signed-in staff member a route (an admin's, another counsellor's calendar).
    ACCESS_REFUSED = "access_refused"


class Outcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"
    # The scheduler did not answer in time: a change may still have been made.
    UNANSWERED = "unanswered"


class TargetKind(StrEnum):
    ACCOUNT = "account"
    BOOKING = "booking"
    COUNSELLOR = "counsellor"
    LOCATION = "location"
    APPOINTMENT_TYPE = "appointment_type"
    DELIVERY = "delivery"
    DEAD_LETTER = "dead_letter"


# Codes, counts, days and field names only: never free text a person typed.
DetailValue = str | int | bool | None | Sequence[str]
Detail = Mapping[str, DetailValue]


@dataclass(frozen=True)
class Actor:
    """Who acted, and from where: the account and its username at the time, or (a failed sign-in of a username no
    account has) only a keyed hash of what was typed."""

    staff_id: int | None
    username: str | None
    source: str
    username_hash: str | None = None


@dataclass(frozen=True)
class Event:
    action: Action
    outcome: Outcome = Outcome.OK
    target_kind: TargetKind | None = None
    target_id: str | int | UUID | None = None
    detail: Detail = field(default_factory=dict)


@dataclass(frozen=True)
class AuditNote:
    """What a service writes into the log inside the transaction of the change it makes."""

    actor: Actor
    event: Event


# An operator at the server's shell (`python -m gateway create-admin` and the like).
COMMAND_LINE = Actor(staff_id=None, username=None, source="cli")


class InvalidAuditQuery(GatewayError):
    code, status = "invalid_audit_query", 422

    def __init__(self, message: str, code: str = "invalid_audit_query") -> None:
        super().__init__(message)
        self.code = code


def encode_cursor(position: Position) -> str:
    at, row_id = position
    return base64.urlsafe_b64encode(f"{at.astimezone(UTC).isoformat()}|{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Position:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at_text, id_text = text.split("|")
        at = datetime.fromisoformat(at_text)
        row_id = int(id_text)
        if at.tzinfo is None or row_id < 1:
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidAuditQuery("The cursor is not one this list gave; start again without it.",
                                "invalid_cursor") from None
    return at, row_id


def _detail_json(detail: Detail) -> str | None:
    if not detail:
        return None
    text = json.dumps({key: list(value) if isinstance(value, (list, tuple)) else value
                       for key, value in detail.items()}, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= MAX_DETAIL_CHARS else json.dumps({"truncated": True})


def _row(at: datetime, actor: Actor, event: Event) -> StaffAuditEntry:
    return StaffAuditEntry(
        at=at, staff_id=actor.staff_id, username=actor.username, username_hash=actor.username_hash,
        action=event.action.value, outcome=event.outcome.value,
        target_kind=event.target_kind.value if event.target_kind else None,
        target_id=None if event.target_id is None else str(event.target_id),
        source=actor.source[:64], detail_json=_detail_json(event.detail))


class AuditLog:
    def __init__(self, engine: Engine, clock: Clock = system_clock, retention: timedelta = DEFAULT_RETENTION,
                 name_hash: Callable[[str], str] | None = None) -> None:
        self.uow = UnitOfWork(engine, AuditRepository)
        self.clock = clock
        self.retention = retention
        # Keyed (the gateway passes its data key's lookup hash): a hash of a typed password must not be open to a
        # dictionary. Without a key, one of this process's own: the hashes group attempts until it restarts.
        key = secrets.token_bytes(32)
        self._name_hash = name_hash or (lambda value: hmac.new(key, value.encode(), hashlib.sha256).hexdigest())

    def hash_of_typed_username(self, typed: str) -> str:
        return self._name_hash(f"lotse-staff-audit-username:{typed}")[:32]

    def write(self, session: Session, actor: Actor, event: Event) -> None:
        """A row in the caller's transaction: it commits with the change it records, or not at all."""
        AuditRepository(session).add(_row(self.clock(), actor, event))

    def write_note(self, session: Session, note: AuditNote | None) -> None:
        if note is not None:
            self.write(session, note.actor, note.event)

    def record(self, actor: Actor, event: Event) -> None:
        """A row in a transaction of its own (a read, or what the scheduler answered)."""
        with self.uow() as repository:
            repository.add(_row(self.clock(), actor, event))

    @contextmanager
    def recording(self, actor: Actor, event: Event) -> Iterator[None]:
        """Records the event once what the block asks of another service is over: ok; refused (a GatewayError,
        its code in the detail); or unanswered (no answer in time: a change may still have been made)."""
        # Until an answer comes: the broker may be away, or the request never got out.
        outcome, code = Outcome.UNANSWERED, "no_answer"
        try:
            yield
            outcome, code = Outcome.OK, ""
        except GatewayError as failed:
            outcome = Outcome.UNANSWERED if isinstance(failed, SchedulerUnavailable) else Outcome.REFUSED
            code = failed.code
            raise
        finally:
            self.record(actor, event if not code
                        else replace(event, outcome=outcome, detail={**event.detail, "code": code}))

    def page(self, where: AuditFilter, after: Position | None, limit: int) -> tuple[list[AuditRow], Position | None]:
        """At most `limit` rows, newest first, and the position to continue from (None: this was the last)."""
        with self.uow() as repository:
            rows = repository.newest_first(where, after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, _position(rows[-1]) if more else None

    def every_row(self, where: AuditFilter, batch: int = 5000) -> Iterator[AuditRow]:
        """Every row of the filter, newest first, read in batches of a transaction each (an export does not hold a
        connection while the client reads)."""
        after: Position | None = None
        while True:
            rows, after = self.page(where, after, batch)
            yield from rows
            if after is None:
                return

    def purge(self) -> int:
        """Removes rows older than the retention; how many."""
        with self.uow() as repository:
            return repository.delete_older_than(self.clock() - self.retention)


def _position(row: AuditRow) -> Position:
    return row.at, row.id
