"""The delivery dashboard's queries: a period's deliveries counted, never loaded.

A settled day (ended SETTLE ago: no status callback is expected for it any more) is counted once into
delivery_day_counts and delivery_day_seconds, and a report reads those few thousand counts for it; the days not
settled yet (the last few) are counted from the deliveries, each figure one GROUP BY over the `deliveries_report`
index: by hour with a count per status (the daily series is made from the hours, as Europe/Berlin's offset is whole
hours, so one expression serves both databases), by status, language and error code, and the seconds from created
to delivered per whole second (the median is read from those counts instead of sorting the rows). A status that
changes later on a settled day forgets that day's counts (`forget_counted`). The failed list walks the partial
`deliveries_failed` index newest first. The only difference between the databases, the hour and the seconds, is in
`_hour` and `_seconds`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, Integer, and_, cast, delete, func, insert, literal, select, tuple_, update
from sqlmodel import Session

from notifier.tables import Delivery, DeliveryDay, DeliveryDayCount, DeliveryDaySeconds, Reminder
from shared.contracts.delivery_reports import STATUSES

_D = Delivery.__table__  # type: ignore[attr-defined]
_R = Reminder.__table__  # type: ignore[attr-defined]
_DAYS = DeliveryDay.__table__  # type: ignore[attr-defined]
_COUNTS = DeliveryDayCount.__table__  # type: ignore[attr-defined]
_SECONDS = DeliveryDaySeconds.__table__  # type: ignore[attr-defined]
BAD = ("failed", "undelivered")
# Status callbacks arrive within minutes to hours, reconciliation gives up after 15 minutes: a day that ended this
# long ago no longer changes (and if a very late callback does change it, the day is counted again).
SETTLE = timedelta(days=3)


def seconds_step(seconds: int) -> int:
    """A time to delivered as counted for a settled day: exact for the first 30 seconds (nearly all texts), then in
    steps of 5 s to two minutes, of 15 s to ten minutes, of a minute to an hour, of 10 minutes beyond: under a
    hundred counts a day, so a year's median reads some 30,000 rows instead of sorting a million."""
    if seconds < 30:
        return max(seconds, 0)
    step = 5 if seconds < 120 else 15 if seconds < 600 else 60 if seconds < 3600 else 600
    return seconds - seconds % step


@dataclass(frozen=True)
class Counted:
    status: str
    language: str
    error_code: str | None
    count: int


@dataclass
class Figures:
    """A period's counts, from settled days' counts or from the deliveries themselves. `errors` counts the failed
    and undelivered texts by error code ('' for none)."""

    statuses: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    by_day: dict[date, Counter[str]] = field(default_factory=dict)
    seconds: Counter[int] = field(default_factory=Counter)

    def add(self, counted: list[Counted]) -> Figures:
        for row in counted:
            self.statuses[row.status] += row.count
            self.languages[row.language] += row.count
            if row.status in BAD:
                self.errors[row.error_code or ""] += row.count
        return self


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

    def live(self, start: datetime, end: datetime, zone_of: Callable[[datetime], date]) -> Figures:
        """The figures counted from the deliveries themselves; `zone_of` gives an instant's business day."""
        figures = Figures().add(self.counted(start, end))
        for hour, counts in self.by_hour(start, end):
            figures.by_day.setdefault(zone_of(hour), Counter()).update(counts)
        figures.seconds.update(dict(self.seconds_to_delivered(start, end)))
        return figures

    def counted_days(self, first: date, end: date) -> set[date]:
        rows = self.session.execute(select(_DAYS.c.day).where(_DAYS.c.day >= first.isoformat(),
                                                              _DAYS.c.day < end.isoformat()))
        return {date.fromisoformat(day) for (day,) in rows}

    def count_day(self, day: date, start: datetime, end: datetime, now: datetime) -> None:
        """Count a settled day into the day tables (flushed, not committed)."""
        key = day.isoformat()
        for table in (_COUNTS, _SECONDS):
            self.session.execute(delete(table).where(table.c.day == key))
        figures = Figures().add(self.counted(start, end))
        rows = [{"day": key, "dimension": dimension, "value": value, "count": n}
                for dimension, counts in (("status", figures.statuses), ("language", figures.languages),
                                          ("error", figures.errors))
                for value, n in counts.items()]
        if rows:
            self.session.execute(insert(_COUNTS), rows)
        steps: Counter[int] = Counter()
        for seconds, n in self.seconds_to_delivered(start, end):
            steps[seconds_step(seconds)] += n
        if steps:
            self.session.execute(insert(_SECONDS), [{"day": key, "seconds": s, "count": n} for s, n in steps.items()])
        self.session.execute(insert(_DAYS).values(day=key, starts_at=start, ends_at=end, counted_at=now))

    def from_counted_days(self, first: date, end: date) -> Figures:
        """The figures of the counted days in [first, end): the days' status rows as they are (the series), summed
        in Python, which is cheaper than a second pass of the database over the same rows."""
        figures = Figures()
        by_dimension = {"status": figures.statuses, "language": figures.languages, "error": figures.errors}
        rows = self.session.execute(select(_COUNTS.c.day, _COUNTS.c.dimension, _COUNTS.c.value, _COUNTS.c.count)
                                    .where(_COUNTS.c.day >= first.isoformat(), _COUNTS.c.day < end.isoformat()))
        for day, dimension, value, n in rows:
            by_dimension[dimension][value] += n
            if dimension == "status":
                figures.by_day.setdefault(date.fromisoformat(day), Counter())[value] += n
        figures.seconds.update({int(s): int(n) for s, n in self.session.execute(
            select(_SECONDS.c.seconds, func.sum(_SECONDS.c.count))
            .where(_SECONDS.c.day >= first.isoformat(), _SECONDS.c.day < end.isoformat())
            .group_by(_SECONDS.c.seconds))})
        return figures

    def forget_counted(self, created_at: datetime) -> None:
        """A delivery of a counted day changed: that day is counted again when a report next needs it."""
        self.session.execute(delete(_DAYS).where(_DAYS.c.starts_at <= created_at, _DAYS.c.ends_at > created_at))

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

