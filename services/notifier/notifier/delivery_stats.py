"""The delivery dashboard's queries: a period's deliveries counted, never loaded.

Each figure is one GROUP BY over the `deliveries_report` index (created_at first, then every column the figures
read, so PostgreSQL answers from the index alone): by hour and status (the daily series is made from the hours,
as Europe/Berlin's offset is whole hours, so one expression serves both databases), by status, language and error
code, and the seconds from created to delivered counted per whole second (the median is read from those counts,
exact to the second, instead of sorting a year of rows). The failed list walks the partial `deliveries_failed`
index newest first. The only difference between the databases, the hour and the seconds, is in `_hour` and
`_seconds`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Integer, and_, cast, func, literal, select, tuple_, update
from sqlmodel import Session

from notifier.tables import Delivery, Reminder
from shared.contracts.delivery_reports import STATUSES

_D = Delivery.__table__  # type: ignore[attr-defined]
_R = Reminder.__table__  # type: ignore[attr-defined]
BAD = ("failed", "undelivered")


@dataclass(frozen=True)
class Counted:
    status: str
    language: str
    error_code: str | None
    count: int


@dataclass(frozen=True)
class FailedRow:
    id: int
    created_at: datetime
    status: str
    language: str
    to_masked: str
    error_code: str | None
    retried_at: datetime | None
    reminder_id: int
    attempt: int
    kind: str
    reminder_status: str
    not_after: datetime
    reminder_attempts: int


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _hour(session: Session) -> ColumnElement[object]:
    if _is_sqlite(session):
        return func.substr(_D.c.created_at, 1, 13)  # naive UTC text: 'YYYY-MM-DD HH'
    return func.date_trunc("hour", _D.c.created_at)


def _seconds(session: Session) -> ColumnElement[int]:
    if _is_sqlite(session):
        return cast(func.round((func.julianday(_D.c.delivered_at) - func.julianday(_D.c.created_at)) * 86400),
                    Integer)
    return cast(func.round(func.extract("epoch", _D.c.delivered_at - _D.c.created_at)), Integer)


def _as_instant(hour: object) -> datetime:
    if isinstance(hour, datetime):
        return hour.astimezone(UTC) if hour.tzinfo else hour.replace(tzinfo=UTC)
    return datetime.strptime(str(hour), "%Y-%m-%d %H").replace(tzinfo=UTC)


class DeliveryStats:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _in(self, start: datetime, end: datetime) -> ColumnElement[bool]:
        return and_(_D.c.created_at >= start, _D.c.created_at < end)

    def by_hour(self, start: datetime, end: datetime) -> list[tuple[datetime, dict[str, int]]]:
        """Per hour (UTC) with texts, how many of them have each status: one row per hour, at most 8,784 a year."""
        hour = _hour(self.session).label("hour")
        counts = [func.count().filter(_D.c.status == status) for status in STATUSES]
        rows = self.session.execute(select(hour, *counts).where(self._in(start, end)).group_by(hour))
        return [(_as_instant(h), dict(zip(STATUSES, n, strict=True))) for h, *n in rows]

    def counted(self, start: datetime, end: datetime) -> list[Counted]:
        rows = self.session.execute(
            select(_D.c.status, _D.c.language, _D.c.error_code, func.count()).where(self._in(start, end))
            .group_by(_D.c.status, _D.c.language, _D.c.error_code))
        return [Counted(status, language, code, count) for status, language, code, count in rows]

    def seconds_to_delivered(self, start: datetime, end: datetime) -> list[tuple[int, int]]:
        seconds = _seconds(self.session).label("seconds")
        rows = self.session.execute(
            select(seconds, func.count()).where(self._in(start, end), _D.c.status == "delivered",
                                                _D.c.delivered_at.is_not(None))
            .group_by(seconds))
        return [(int(s), int(n)) for s, n in rows]

    def last_with(self, start: datetime, end: datetime, codes: list[str]) -> datetime | None:
        found: datetime | None = self.session.execute(
            select(func.max(_D.c.created_at)).where(self._in(start, end), _D.c.status.in_(BAD),
                                                    _D.c.error_code.in_(codes))).scalar()
        return found

    def failed(self, start: datetime, end: datetime, limit: int,
               before: tuple[datetime, int] | None = None) -> list[FailedRow]:
        """Newest first; `before` is where the previous page ended (created_at, id)."""
        query = (select(_D.c.id, _D.c.created_at, _D.c.status, _D.c.language, _D.c.to_masked, _D.c.error_code,
                        _D.c.retried_at, _D.c.reminder_id, _D.c.attempt, _R.c.kind, _R.c.status,
                        _R.c.not_after, _R.c.attempts)
                 .join(_R, _R.c.id == _D.c.reminder_id)
                 .where(self._in(start, end), _D.c.status.in_(BAD)))
        if before is not None:
            query = query.where(tuple_(_D.c.created_at, _D.c.id) < tuple_(literal(before[0], _D.c.created_at.type),
                                                                            literal(before[1])))
        rows = self.session.execute(query.order_by(_D.c.created_at.desc(), _D.c.id.desc()).limit(limit))
        return [FailedRow(*row) for row in rows]

    def failed_one(self, delivery_id: int) -> FailedRow | None:
        row = self.session.execute(
            select(_D.c.id, _D.c.created_at, _D.c.status, _D.c.language, _D.c.to_masked, _D.c.error_code,
                   _D.c.retried_at, _D.c.reminder_id, _D.c.attempt, _R.c.kind, _R.c.status, _R.c.not_after,
                   _R.c.attempts)
            .join(_R, _R.c.id == _D.c.reminder_id).where(_D.c.id == delivery_id)).first()
        return None if row is None else FailedRow(*row)

    def claim_retry(self, delivery_id: int, reminder_id: int, now: datetime) -> bool:
        """Mark the delivery retried and make its message due now, if nobody did so first (a request delivered
        twice, two admins at once): the conditional UPDATE lets exactly one through."""
        marked = self.session.execute(update(_D).where(_D.c.id == delivery_id, _D.c.retried_at.is_(None))
                                      .values(retried_at=now))
        if marked.rowcount != 1:  # type: ignore[attr-defined]
            return False
        self.session.execute(update(_R).where(_R.c.id == reminder_id, _R.c.status == "failed")
                             .values(status="pending", due_at=now, outcome="retry:staff"))
        return True

