"""Queries over the audit log (gateway.staff.audit); the only module that builds its SQL. The statements are the
same on PostgreSQL and SQLite: the append-only rule is the database's (migration 0007), not this module's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Integer, literal, select, tuple_
from sqlmodel import Session, col, delete

from gateway.staff.tables import StaffAuditEntry, StaffAuditPurge
from shared.db import UtcDateTime


@dataclass(frozen=True)
class AuditFilter:
    """Which rows: each given field narrows; `since` inclusive, `until` exclusive."""

    staff_id: int | None = None
    username: str | None = None
    action: str | None = None
    target_kind: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


# A position in the newest-first order: the (at, id) of the last row shown.
Position = tuple[datetime, int]


class AuditRow(NamedTuple):
    """A row as read: plain values, not a mapped object (an export reads tens of thousands; building ORM objects
    for them took two thirds of its time in bench/audit_queries.py)."""

    id: int
    at: datetime
    staff_id: int | None
    username: str | None
    username_hash: str | None
    action: str
    target_kind: str | None
    target_id: str | None
    outcome: str
    source: str
    detail_json: str | None


_E = StaffAuditEntry
_COLUMNS = (col(_E.id), col(_E.at), col(_E.staff_id), col(_E.username), col(_E.username_hash), col(_E.action),
            col(_E.target_kind), col(_E.target_id), col(_E.outcome), col(_E.source), col(_E.detail_json))


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: StaffAuditEntry) -> None:
        self.session.add(row)

    def newest_first(self, where: AuditFilter, after: Position | None, limit: int) -> list[AuditRow]:
        """Rows of the filter, newest first, after `after` in that order (keyset: no OFFSET, so a deep page costs
        what the first one costs)."""
        entry = StaffAuditEntry
        query = select(*_COLUMNS)
        for column, value in ((entry.staff_id, where.staff_id), (entry.username, where.username),
                              (entry.action, where.action), (entry.target_kind, where.target_kind),
                              (entry.target_id, where.target_id)):
            if value is not None:
                query = query.where(col(column) == value)
        if where.since is not None:
            query = query.where(col(entry.at) >= where.since)
        if where.until is not None:
            query = query.where(col(entry.at) < where.until)
        if after is not None:
            # A row comparison, which both databases answer from the (…, at, id) indexes.
            query = query.where(tuple_(col(entry.at), col(entry.id))
                                < tuple_(literal(after[0], UtcDateTime()), literal(after[1], Integer())))
        query = query.order_by(col(entry.at).desc(), col(entry.id).desc()).limit(limit)
        return [AuditRow._make(row) for row in self.session.connection().execute(query)]

    def delete_older_than(self, cutoff: datetime) -> int:
        """The retention purge: the permission row lets the database's trigger allow exactly this delete, and goes
        again before the transaction commits."""
        self.session.add(StaffAuditPurge(purge_before=cutoff))
        self.session.flush()
        removed = self.session.exec(delete(StaffAuditEntry).where(col(StaffAuditEntry.at) < cutoff))
        self.session.exec(delete(StaffAuditPurge).where(col(StaffAuditPurge.purge_before) == cutoff))
        return int(removed.rowcount or 0)
