"""Queries over the audit log (gateway.staff.audit); the only module that builds its SQL. The statements are the
same on PostgreSQL and SQLite: the append-only rule is the database's (migration 0005), not this module's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, literal, tuple_
from sqlmodel import Session, col, delete, select

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


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: StaffAuditEntry) -> None:
        self.session.add(row)

    def newest_first(self, where: AuditFilter, after: Position | None, limit: int) -> list[StaffAuditEntry]:
        """Rows of the filter, newest first, after `after` in that order (keyset: no OFFSET, so a deep page costs
        what the first one costs)."""
        entry = StaffAuditEntry
        query = select(entry)
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
        return list(self.session.exec(query).all())

    def delete_older_than(self, cutoff: datetime) -> int:
        """The retention purge: the permission row lets the database's trigger allow exactly this delete, and goes
        again before the transaction commits."""
        self.session.add(StaffAuditPurge(purge_before=cutoff))
        self.session.flush()
        removed = self.session.exec(delete(StaffAuditEntry).where(col(StaffAuditEntry.at) < cutoff))
        self.session.exec(delete(StaffAuditPurge).where(col(StaffAuditPurge.purge_before) == cutoff))
        return int(removed.rowcount or 0)
