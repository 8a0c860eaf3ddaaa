"""When each message may go out: quiet hours, the client's safe window, and reminder times that move earlier, never
later and never into the night. Pure Python: aware datetimes in, UTC datetimes out.

Decisions pinned by tests/unit/test_reminder_planning.py:

- Minute resolution. A UTC minute is allowed or not as a whole, judged by the local wall-clock minute it starts at
  (so 20:59:59 is still 20:59). Planned due times have seconds zeroed; a search backwards rounds down, a search
  forwards rounds up, so a result never lies outside the bound it was asked for.
- Half-open local windows, end exclusive. Quiet hours 21:00-08:00 are quiet from 21:00 up to but not including
  08:00: 20:59 and 08:00 may send, 21:00 and 07:59 may not. A safe window 10:00-18:00 allows 10:00 to 17:59.
  Quiet hours may span midnight (start > end) or not (13:00-14:00); start == end means no quiet hours.
- Wall-clock rules, absolute offsets. Quiet hours and safe windows (weekday included) are read on the local clock of
  the zone, both passes of a repeated autumn hour alike; an hour skipped in spring simply is not there. A reminder
  `offset` minutes before the start is exactly that many absolute minutes before it (UTC arithmetic): the offset is
  lead time, and a 24 h policy applied as "same wall time yesterday" would give 23 or 25 hours of notice and treat
  1440 differently from 120. On the Sunday clocks go forward, the 24 h reminder for 10:00 arrives at 09:00 Saturday;
  on the Sunday they go back, at 11:00.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from shared.contracts.contacts import WEEKDAYS, ContactPreferences

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
# How far a reminder may move earlier looking for a moment the client allows: far enough to reach a window on a
# single weekday; a reminder pushed back further than a week reminds of nothing.
MAX_SHIFT = timedelta(days=7)
# Two reminders this close (or closer) after moving say the same thing twice; see _collapse.
COLLAPSE_WITHIN = timedelta(minutes=60)
NOTICE_KINDS = ("rescheduled", "cancelled")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class QuietHours:
    """Local wall-clock minutes when nothing but a confirmation goes out; may span midnight (default 21:00-08:00)."""

    start: time
    end: time

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if value.tzinfo is not None or value.second or value.microsecond:
                raise ValueError(f"Quiet hours are local wall-clock minutes (HH:MM) without an offset, not {value}.")

    @classmethod
    def parse(cls, start: str, end: str) -> QuietHours:
        return cls(_parse_hhmm(start, "start"), _parse_hhmm(end, "end"))

    def covers(self, minute_of_day: int) -> bool:
        start, end = _minute_of_day(self.start), _minute_of_day(self.end)
        if start == end:
            return False
        if start < end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end


@dataclass(frozen=True)
class Rules:
    """Everything that decides whether a moment is fit for a text to this client."""

    zone: ZoneInfo
    quiet: QuietHours
    preferences: ContactPreferences


@dataclass(frozen=True)
class Planned:
    """One message to send: `key` is stable per booking so re-planning can upsert or cancel by it."""

    key: str
    kind: str
    due_at: datetime
    not_after: datetime


def may_send_at(at: datetime, rules: Rules) -> bool:
    """Outside quiet hours and, if the client gave a safe window, inside it (local weekday and time)."""
    local = _utc(at, "at").astimezone(rules.zone)
    minute = local.hour * 60 + local.minute
    if rules.quiet.covers(minute):
        return False
    window = rules.preferences.safe_window
    if window is None:
        return True
    opens, closes = _minute_of_day(window.start), _minute_of_day(window.end)
    return WEEKDAYS[local.weekday()] in window.days and opens <= minute < closes


def latest_allowed_at_or_before(at: datetime, rules: Rules, not_before: datetime) -> datetime | None:
    """The latest allowed minute starting at or before `at` and not before `not_before`, or None."""
    top, bottom = _floor_minute(_utc(at, "at")), _ceil_minute(_utc(not_before, "not_before"))
    if top < bottom:
        return None
    if may_send_at(top, rules):
        return top
    points = _change_points(bottom, top, rules)
    candidate = top
    while candidate >= bottom:
        if may_send_at(candidate, rules):
            return candidate
        segment = bisect_right(points, candidate) - 1
        if segment < 0:
            return None
        # Nothing changes between two change points: the whole stretch back to this one is disallowed too.
        candidate = points[segment] - MINUTE
    return None


def earliest_allowed_at_or_after(at: datetime, rules: Rules, not_after: datetime) -> datetime | None:
    """The earliest allowed minute starting at or after `at` and not after `not_after`, or None."""
    bottom, top = _ceil_minute(_utc(at, "at")), _floor_minute(_utc(not_after, "not_after"))
    if bottom > top:
        return None
    if may_send_at(bottom, rules):
        return bottom
    points = _change_points(bottom, top, rules)
    candidate = bottom
    while candidate <= top:
        if may_send_at(candidate, rules):
            return candidate
        following = bisect_right(points, candidate)
        if following == len(points):
            return None
        candidate = points[following]
    return None


def plan_confirmation(now: datetime, starts_at: datetime) -> Planned:
    """At once, whatever the windows and preferences: the client has just asked for it. The dispatcher must not
    recheck it against the windows."""
    return Planned("confirmation", "confirmation", _floor_minute(_utc(now, "now")), _utc(starts_at, "starts_at"))


def plan_reminders(starts_at: datetime, offsets_minutes: Sequence[int], now: datetime, rules: Rules) -> list[Planned]:
    """One reminder per offset, moved earlier into an allowed moment; those that would be due at or before `now` are
    dropped (a reminder is never sent late, nor before it was planned), then near neighbours collapse. Sorted by
    due time."""
    start, now = _utc(starts_at, "starts_at"), _utc(now, "now")
    for offset in offsets_minutes:
        if offset <= 0:
            raise ValueError(f"A reminder offset is a positive number of minutes before the start, not {offset}.")
    if not rules.preferences.reminders:
        return []
    candidates: list[tuple[int, Planned]] = []
    for offset in sorted(set(offsets_minutes)):
        nominal = _floor_minute(start - timedelta(minutes=offset))
        if nominal <= now:
            continue
        due = latest_allowed_at_or_before(nominal, rules, not_before=max(nominal - MAX_SHIFT, now))
        if due is None or due <= now:
            continue
        candidates.append((offset, Planned(f"reminder-{offset}", "reminder", due, start)))
    return _collapse(candidates)


def plan_notice(kind: str, now: datetime, not_after: datetime, rules: Rules) -> Planned | None:
    """A reschedule or cancellation notice at the earliest allowed moment from now (the current minute if it is
    allowed); None if there is none before `not_after` or the client chose no texts beyond the confirmation."""
    if kind not in NOTICE_KINDS:
        raise ValueError(f"A notice is one of {', '.join(NOTICE_KINDS)}, not {kind!r}.")
    now, limit = _utc(now, "now"), _utc(not_after, "not_after")
    if not rules.preferences.reminders or now > limit:
        return None
    due = _floor_minute(now) if may_send_at(now, rules) else earliest_allowed_at_or_after(now, rules, limit)
    if due is None:
        return None
    return Planned(kind, kind, due, limit)


def recheck(planned_due: datetime, not_after: datetime, now: datetime, rules: Rules) -> datetime | None:
    """For the dispatcher holding a row: when to send it. Exactly `now` means send now; a later moment means move the
    row there (the windows changed, or the dispatcher was held up into the night); None means skip it, because the
    next allowed moment is past `not_after` (never into the night, never late). A row not yet due keeps its time
    if that is allowed."""
    due, limit, now = _utc(planned_due, "planned_due"), _utc(not_after, "not_after"), _utc(now, "now")
    moment = max(due, now)
    if moment > limit:
        return None
    if may_send_at(moment, rules):
        return moment
    return earliest_allowed_at_or_after(moment, rules, limit)


def _collapse(candidates: list[tuple[int, Planned]]) -> list[Planned]:
    """Of reminders within COLLAPSE_WITHIN of each other keep the one closest to the appointment (on a tie, the one
    with the smaller offset). Moving earlier can stack reminders (a 12 h and a 2 h reminder for 09:00 both land on
    20:59): two texts within the hour tell the client nothing new, and each extra text on a shared phone is one
    more thing someone may ask about. The later one is kept because it is the better nudge to set off."""
    kept: list[Planned] = []
    for _, planned in sorted(candidates, key=lambda item: (-item[1].due_at.timestamp(), item[0])):
        if kept and kept[-1].due_at - planned.due_at <= COLLAPSE_WITHIN:
            continue
        kept.append(planned)
    return sorted(kept, key=lambda planned: planned.due_at)


def _change_points(low: datetime, high: datetime, rules: Rules) -> list[datetime]:
    """Sorted UTC minutes at which may_send_at can change its answer, covering [low, high] with a day to spare on
    each side."""
    boundaries = {0, _minute_of_day(rules.quiet.start), _minute_of_day(rules.quiet.end)}
    window = rules.preferences.safe_window
    if window is not None:
        boundaries |= {_minute_of_day(window.start), _minute_of_day(window.end)}
    key = tuple(sorted(boundary for boundary in boundaries if boundary < _MINUTES_PER_DAY))
    points: set[datetime] = set()
    day, last = low.astimezone(rules.zone).date() - DAY, high.astimezone(rules.zone).date() + DAY
    while day <= last:
        points.update(_change_points_of_day(rules.zone, day, key))
        day += DAY
    return sorted(points)


@lru_cache(maxsize=4096)
def _change_points_of_day(zone: ZoneInfo, day: date, boundaries: tuple[int, ...]) -> tuple[datetime, ...]:
    """Where the local clock reaches a boundary on `day` (on both passes through a repeated hour), and where the zone's
    offset changes before the next midnight, because there the clock jumps over or back across a boundary without
    reaching it. The same for every booking, so kept: the dispatcher asks about the same few days all day."""
    points: set[datetime] = set()
    for on_day, minutes in ((day, boundaries), (day + DAY, (0,))):
        for minute in minutes:
            wall = datetime.combine(on_day, time(minute // 60, minute % 60), tzinfo=zone)
            for fold in (0, 1):
                points.add(_ceil_minute(wall.replace(fold=fold).astimezone(UTC)))
    ordered = sorted(points)
    # Neighbours are less than a day apart and so hold one offset change at most; find it to the minute.
    for before, after in pairwise(ordered):
        if _offset(before, zone) != _offset(after, zone):
            points.add(_first_minute_with_offset_of(after, before, zone))
    return tuple(points)


def _first_minute_with_offset_of(after: datetime, before: datetime, zone: ZoneInfo) -> datetime:
    target = _offset(after, zone)
    low, high = before, after  # low has the old offset, high the new one
    while high - low > MINUTE:
        middle = low + ((high - low) // MINUTE // 2) * MINUTE
        if _offset(middle, zone) == target:
            high = middle
        else:
            low = middle
    return high


def _offset(at: datetime, zone: ZoneInfo) -> timedelta | None:
    return at.astimezone(zone).utcoffset()


def _utc(at: datetime, name: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime; a naive one cannot be placed in time.")
    return at.astimezone(UTC)


def _floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _ceil_minute(at: datetime) -> datetime:
    floor = _floor_minute(at)
    return floor if floor == at else floor + MINUTE


def _minute_of_day(value: time) -> int:
    """Rounded up, so a boundary with seconds takes effect from the first whole minute at or after it."""
    minute = value.hour * 60 + value.minute
    return minute + 1 if value.second or value.microsecond else minute


def _parse_hhmm(value: str, name: str) -> time:
    match = _HHMM.match(value)
    if match is None:
        raise ValueError(f"Quiet hours {name} must be a time as HH:MM (00:00 to 23:59), not {value!r}.")
    return time(int(match.group(1)), int(match.group(2)))
