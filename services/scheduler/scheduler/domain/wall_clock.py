"""Local wall-clock times (a date and minutes after midnight in the business zone) as UTC minute numbers.

The calendar engine counts time in whole minutes since the Unix epoch (UTC): integers compare and add fast, and a
minute is the finest grain any rule, slot or buffer has. On an ordinary day local time is UTC plus one fixed
offset, so a wall time converts with one subtraction; only the two days a year the offset changes take the slow
path through zoneinfo. A wall time that does not exist (clocks go forward) has no instant; one that exists twice
(clocks go back) means its first occurrence (fold=0).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
MINUTES_PER_DAY = 1440


def wall_minutes(wall: time) -> int:
    return wall.hour * 60 + wall.minute


def _seconds(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return moment.timestamp()


def utc_minute(moment: datetime) -> int:
    """Whole minutes since the epoch, rounded down."""
    return int(_seconds(moment) // 60)


def utc_minute_ceil(moment: datetime) -> int:
    """Whole minutes since the epoch, rounded up (the end of an interval given to the second stays covered)."""
    return -int(-_seconds(moment) // 60)


def instant(minute: int) -> datetime:
    return EPOCH + timedelta(minutes=minute)


def local_date(minute: int, zone: ZoneInfo) -> date:
    return _local_date_of_quarter(minute // 15, zone)


@lru_cache(maxsize=65536)
def _local_date_of_quarter(quarter: int, zone: ZoneInfo) -> date:
    # Every UTC offset and every offset change of the tz database falls on a quarter hour, so all minutes of one
    # UTC quarter hour share their local date.
    return instant(quarter * 15).astimezone(zone).date()


@lru_cache(maxsize=8192)
def fixed_offset_base(day: date, zone: ZoneInfo) -> int | None:
    """UTC minute of local midnight when the whole local day has one offset, else None (a DST change day)."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    following = day + timedelta(days=1)
    next_midnight = datetime(following.year, following.month, following.day, tzinfo=zone)
    offset = midnight.utcoffset()
    if offset is None or offset != next_midnight.utcoffset():
        return None
    return (day.toordinal() - _EPOCH_ORDINAL) * MINUTES_PER_DAY - int(offset.total_seconds() // 60)


def start_minute(day: date, wall: int, zone: ZoneInfo) -> int | None:
    """The UTC minute a local wall time starts at: None where it does not exist; the first of two where it repeats."""
    base = fixed_offset_base(day, zone)
    if base is not None:
        return base + wall
    local = datetime(day.year, day.month, day.day, wall // 60, wall % 60, tzinfo=zone)
    moment = local.astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return utc_minute(moment)


def end_minute(day: date, wall: int, zone: ZoneInfo) -> int:
    """The UTC minute a window closing at a local wall time closes: the earlier reading where the time is ambiguous.

    A closing time that does not exist (inside the spring gap) or exists twice (autumn) has two readings; taking the
    earlier one never lets an appointment run past what staff meant by the closing time.
    """
    base = fixed_offset_base(day, zone)
    if base is not None:
        return base + wall
    naive = datetime(day.year, day.month, day.day, wall // 60, wall % 60)
    return min(utc_minute(naive.replace(tzinfo=zone, fold=fold)) for fold in (0, 1))


def midnight_minute(day: date, zone: ZoneInfo) -> int:
    """The UTC minute a local date begins (midnight exists on every day in Europe/Berlin)."""
    return utc_minute(datetime(day.year, day.month, day.day, tzinfo=zone))
