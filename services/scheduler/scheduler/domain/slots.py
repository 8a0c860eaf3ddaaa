"""Turning weekly opening hours (local wall-clock times) into bookable slots (UTC instants).

Rules are written in Europe/Berlin time: "Mondays 10:00-14:00" means 10:00 local in winter and in summer. On the
night clocks go forward a wall time may not exist (02:30 on the last Sunday of March): it is never offered. On
the night they go back a wall time exists twice (02:30 on the last Sunday of October): it is offered once, the
first time (fold=0).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_SLOT_ID = re.compile(r"^s1-(\d{1,9})-(\d{1,9})-(\d{8,12})$")


class InvalidSlotId(ValueError):
    """Not a slot id this scheduler issues."""


@dataclass(frozen=True)
class WeeklyWindow:
    """A counsellor is at a location on a weekday between two local wall-clock times, offering slots."""

    counsellor_id: int
    location_id: int
    weekday: int  # Monday = 0
    opens: time
    closes: time
    slot_minutes: int
    duration_minutes: int

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) to 6 (Sunday)")
        if self.closes <= self.opens:
            raise ValueError("a window must close after it opens, on the same day")
        if not 0 < self.duration_minutes <= self.slot_minutes:
            raise ValueError("an appointment must be shorter than or as long as the slot step")


@dataclass(frozen=True, order=True)
class CandidateSlot:
    start: datetime  # UTC
    end: datetime  # UTC
    counsellor_id: int
    location_id: int

    @property
    def slot_id(self) -> str:
        return make_slot_id(self.counsellor_id, self.location_id, self.start)


def make_slot_id(counsellor_id: int, location_id: int, start: datetime) -> str:
    return f"s1-{counsellor_id}-{location_id}-{int(start.timestamp()) // 60}"


def parse_slot_id(slot_id: str) -> tuple[int, int, datetime]:
    match = _SLOT_ID.fullmatch(slot_id)
    if match is None:
        raise InvalidSlotId(slot_id)
    counsellor_id, location_id, minutes = (int(g) for g in match.groups())
    return counsellor_id, location_id, datetime.fromtimestamp(minutes * 60, UTC)


def local_instant(day: date, wall: time, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a local wall-clock time, or None where that time does not exist (clocks go forward)."""
    local = datetime.combine(day, wall, tzinfo=zone)  # fold=0: the first of two, when clocks go back
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


def expand(windows: Iterable[WeeklyWindow], first: date, last: date, zone: ZoneInfo) -> Iterator[CandidateSlot]:
    """Every slot the windows offer on the local dates first..last (inclusive), in no particular order."""
    by_weekday: dict[int, list[WeeklyWindow]] = {}
    for window in windows:
        by_weekday.setdefault(window.weekday, []).append(window)
    day = first
    while day <= last:
        for window in by_weekday.get(day.weekday(), ()):
            yield from _window_slots(window, day, zone)
        day += timedelta(days=1)


def _window_slots(window: WeeklyWindow, day: date, zone: ZoneInfo) -> Iterator[CandidateSlot]:
    step = timedelta(minutes=window.slot_minutes)
    length = timedelta(minutes=window.duration_minutes)
    wall = datetime.combine(day, window.opens)
    closes = datetime.combine(day, window.closes)
    # Real durations: on the night clocks go forward, 01:00 + 90 min is 03:30, so check the closing instant too.
    closes_at = datetime.combine(day, window.closes, tzinfo=zone).astimezone(UTC)
    while wall + length <= closes:
        start = local_instant(day, wall.time(), zone)
        if start is not None and start + length <= closes_at:
            yield CandidateSlot(start, start + length, window.counsellor_id, window.location_id)
        wall += step


def bookable(
    candidates: Iterable[CandidateSlot],
    taken: set[tuple[int, datetime]],
    now: datetime,
    min_notice: timedelta,
) -> list[CandidateSlot]:
    """Free slots no earlier than now + notice, sorted by start; a slot instant is offered once."""
    earliest = now + min_notice
    seen: set[tuple[int, datetime]] = set()
    result = []
    for slot in sorted(candidates):
        key = (slot.counsellor_id, slot.start)
        if slot.start < earliest or key in taken or key in seen:
            continue
        seen.add(key)
        result.append(slot)
    return result


def nearest(slots: Iterable[CandidateSlot], to: datetime, count: int = 3) -> list[CandidateSlot]:
    return sorted(sorted(slots, key=lambda s: (abs(s.start - to), s.start))[:count])
