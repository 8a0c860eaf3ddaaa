"""What staff set up: locations, counsellors, appointment types, weekly rules and dated exceptions, and the checks
that refuse a setup the slot engine could not honour (each a `CalendarError` with a code and a sentence).

Weekly rules and exception windows are local wall-clock times in the business zone (Europe/Berlin). A window lies
within one local day: it may not reach or cross midnight. Checks on a single record run when it is built; checks
that need the whole picture (overlaps, who serves where, shortest duration) run in `validate_setup`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time, timedelta
from functools import cached_property
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduler.domain.wall_clock import MINUTES_PER_DAY, wall_minutes

Kind = Literal["office", "outreach", "phone", "video"]
KINDS: frozenset[str] = frozenset(get_args(Kind))
PHYSICAL_KINDS: frozenset[str] = frozenset({"office", "outreach"})  # a place in a town; phone and video are not
# The neutral type booked when a client leaves the topic open ("prefer not to say"); every counsellor offers it.
GENERAL_TOPIC = "general"
DEFAULT_TOPICS: frozenset[str] = frozenset({"career", "health", "safety_legal", "psychosocial"})
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_LONGEST_NIGHT_WINDOW = 12 * 60  # an end before the start is read as "across midnight" if the night is this short


# --- errors ----------------------------------------------------------------------------------------------------


class CalendarError(ValueError):
    """A calendar setup or search the engine refuses; `code` for machines, `message` for people."""

    code: str = "calendar_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidWindow(CalendarError):
    code = "window_ends_before_start"  # or window_across_midnight, window_not_whole_minutes, invalid_weekday


class OverlappingRules(CalendarError):
    code = "overlapping_rules"


class LocationNotServed(CalendarError):
    code = "location_not_served"


class WindowTooShort(CalendarError):
    code = "window_too_short"


class UnknownTimezone(CalendarError):
    code = "unknown_timezone"


class InvalidDateRange(CalendarError):
    code = "range_reversed"  # or range_too_long, beyond_horizon, validity_reversed


class UnknownReference(CalendarError):
    code = "unknown_reference"  # unknown_topic, unknown_kind, unknown_location, unknown_counsellor, duplicate_id


class InvalidSetting(CalendarError):
    code = "invalid_setting"  # a duration, buffer, notice, horizon, cap, step or travel time out of range


def resolve_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # "Europe" is a directory of the tz database
        raise UnknownTimezone(f"{name!r} is not a time zone name; use an IANA name such as 'Europe/Berlin'.") from exc


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def check_window(start: time, end: time, what: str) -> tuple[int, int]:
    """The window as minutes after local midnight, or InvalidWindow saying what is wrong with it."""
    for wall in (start, end):
        if wall.second or wall.microsecond or wall.tzinfo is not None:
            raise InvalidWindow(
                f"{what}: times are local wall-clock hours and minutes, without seconds or time zone ({wall}).",
                "window_not_whole_minutes",
            )
    opens, closes = wall_minutes(start), wall_minutes(end)
    if closes == opens:
        raise InvalidWindow(
            f"{what}: the window {_hhmm(opens)}–{_hhmm(closes)} is empty; the end must be after the start."
        )
    if closes < opens:
        if MINUTES_PER_DAY - opens + closes <= _LONGEST_NIGHT_WINDOW:
            raise InvalidWindow(
                f"{what}: the window {_hhmm(opens)}–{_hhmm(closes)} runs across midnight; "
                f"split it into one window before and one after midnight (the last may end at 23:59).",
                "window_across_midnight",
            )
        raise InvalidWindow(f"{what}: the window ends at {_hhmm(closes)}, before it starts at {_hhmm(opens)}.")
    return opens, closes


def _positive(value: int, what: str, minimum: int = 1) -> None:
    if value < minimum:
        raise InvalidSetting(f"{what} must be at least {minimum}, not {value}.")


# --- what staff set up -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    id: int
    town: str
    kind: Kind
    active: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UnknownReference(
                f"Location {self.id}: kind {self.kind!r} is none of {', '.join(sorted(KINDS))}.", "unknown_kind"
            )

    @property
    def place(self) -> str | None:
        """The town a counsellor has to travel to, or None for phone and video (no travel to or from them)."""
        return self.town.strip().casefold() if self.kind in PHYSICAL_KINDS else None


@dataclass(frozen=True)
class Counsellor:
    id: int
    alias: str
    languages: frozenset[str]
    topics: frozenset[str]
    location_ids: frozenset[int]
    active: bool = True
    daily_cap: int | None = None  # most appointments in one local day; None for no limit

    def __post_init__(self) -> None:
        if self.daily_cap is not None:
            _positive(self.daily_cap, f"Counsellor {self.alias}: the daily cap")


@dataclass(frozen=True)
class AppointmentType:
    id: int
    topic: str
    duration_minutes: int
    modes: frozenset[Kind]
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    min_notice_minutes: int = 60
    horizon_days: int = 90

    def __post_init__(self) -> None:
        what = f"Appointment type {self.id} ({self.topic})"
        _positive(self.duration_minutes, f"{what}: the duration in minutes")
        _positive(self.buffer_before_minutes, f"{what}: the buffer before", minimum=0)
        _positive(self.buffer_after_minutes, f"{what}: the buffer after", minimum=0)
        _positive(self.min_notice_minutes, f"{what}: the minimum notice in minutes", minimum=0)
        _positive(self.horizon_days, f"{what}: the booking horizon in days")
        if not self.modes:
            raise InvalidSetting(f"{what}: allow at least one mode ({', '.join(sorted(KINDS))}).")
        unknown = set(self.modes) - KINDS
        if unknown:
            raise UnknownReference(f"{what}: unknown mode(s) {', '.join(sorted(unknown))}.", "unknown_kind")


@dataclass(frozen=True)
class WeeklyRule:
    """Every `weekday` (Monday = 0) the counsellor is at the location from `start` to `end`, local time."""

    counsellor_id: int
    location_id: int
    weekday: int
    start: time
    end: time
    valid_from: date | None = None
    valid_until: date | None = None  # inclusive
    on_holidays: bool = False  # True: this window stays open on public holidays

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise InvalidWindow(
                f"Rule for counsellor {self.counsellor_id}: weekday {self.weekday} is not 0 (Monday) to 6 (Sunday).",
                "invalid_weekday",
            )
        check_window(self.start, self.end, self.describe())
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise InvalidDateRange(
                f"{self.describe()}: valid until {self.valid_until} is before valid from {self.valid_from}.",
                "validity_reversed",
            )

    def describe(self) -> str:
        return (
            f"{WEEKDAYS[self.weekday] if 0 <= self.weekday <= 6 else self.weekday} "
            f"{self.start:%H:%M}–{self.end:%H:%M} at location {self.location_id}"
        )

    def applies_on(self, day: date) -> bool:
        return (
            day.weekday() == self.weekday
            and (self.valid_from is None or self.valid_from <= day)
            and (self.valid_until is None or day <= self.valid_until)
        )

    @property
    def minutes(self) -> tuple[int, int]:
        return wall_minutes(self.start), wall_minutes(self.end)


@dataclass(frozen=True)
class ExtraHours:
    """Hours beyond the weekly rules: the counsellor is at the location on one date. Open even on a holiday."""

    counsellor_id: int
    location_id: int
    day: date
    start: time
    end: time

    def __post_init__(self) -> None:
        check_window(self.start, self.end, self.describe())

    def describe(self) -> str:
        return f"extra hours {self.day} {self.start:%H:%M}–{self.end:%H:%M} at location {self.location_id}"

    @property
    def minutes(self) -> tuple[int, int]:
        return wall_minutes(self.start), wall_minutes(self.end)


@dataclass(frozen=True)
class Absence:
    """Leave or sickness: whole local days first..last, or on a single day only start..end."""

    counsellor_id: int
    first_day: date
    last_day: date
    start: time | None = None
    end: time | None = None
    reason: str = "leave"

    def __post_init__(self) -> None:
        what = f"Absence of counsellor {self.counsellor_id} from {self.first_day} to {self.last_day}"
        if self.last_day < self.first_day:
            raise InvalidDateRange(f"{what}: the last day is before the first.")
        if (self.start is None) != (self.end is None):
            raise InvalidWindow(f"{what}: give both a start and an end time, or neither for whole days.",
                                "absence_time_incomplete")
        if self.start is not None and self.end is not None:
            if self.first_day != self.last_day:
                raise InvalidWindow(f"{what}: a time range is only possible on a single day.",
                                    "absence_time_over_several_days")
            check_window(self.start, self.end, what)


@dataclass(frozen=True)
class LocationClosure:
    """A location is closed on the local dates first..last (renovation, a team day): nobody is offered there."""

    location_id: int
    first_day: date
    last_day: date

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise InvalidDateRange(
                f"Closure of location {self.location_id} from {self.first_day} to {self.last_day}: "
                "the last day is before the first."
            )

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


@dataclass(frozen=True)
class CalendarSetup:
    locations: tuple[Location, ...]
    counsellors: tuple[Counsellor, ...]
    types: tuple[AppointmentType, ...]
    rules: tuple[WeeklyRule, ...]
    absences: tuple[Absence, ...] = ()
    extra_hours: tuple[ExtraHours, ...] = ()
    closures: tuple[LocationClosure, ...] = ()
    topics: frozenset[str] = DEFAULT_TOPICS

    @cached_property
    def index(self) -> SetupIndex:
        return SetupIndex(self)


class SetupIndex:
    """Look-ups the engine needs many times per search, built once per setup."""

    def __init__(self, setup: CalendarSetup) -> None:
        self.locations = {loc.id: loc for loc in setup.locations}
        self.places = {loc.id: loc.place for loc in setup.locations}
        self.counsellors = {c.id: c for c in setup.counsellors}
        self.types = {t.id: t for t in setup.types}
        self.type_for: dict[tuple[str, str], AppointmentType] = {}
        for kind_type in setup.types:
            for mode in kind_type.modes:
                self.type_for.setdefault((kind_type.topic, mode), kind_type)
        self.rules: dict[tuple[int, int], list[WeeklyRule]] = defaultdict(list)
        for rule in setup.rules:
            self.rules[rule.counsellor_id, rule.weekday].append(rule)
        self.extra: dict[tuple[int, date], list[ExtraHours]] = defaultdict(list)
        for extra in setup.extra_hours:
            self.extra[extra.counsellor_id, extra.day].append(extra)
        self.absences: dict[int, list[Absence]] = defaultdict(list)
        for absence in setup.absences:
            self.absences[absence.counsellor_id].append(absence)
        self.closures: dict[int, list[LocationClosure]] = defaultdict(list)
        for closure in setup.closures:
            self.closures[closure.location_id].append(closure)

    def closed(self, location_id: int, day: date) -> bool:
        return any(c.covers(day) for c in self.closures.get(location_id, ()))


# --- whole-setup checks ----------------------------------------------------------------------------------------


def _duplicates(ids: Iterable[int]) -> list[int]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _validity_overlaps(a: WeeklyRule, b: WeeklyRule) -> bool:
    start = max(a.valid_from or date.min, b.valid_from or date.min)
    end = min(a.valid_until or date.max, b.valid_until or date.max)
    return start <= end


def validate_setup(setup: CalendarSetup) -> None:
    """Raise the first CalendarError found in the setup (see `setup_problems` for all of them)."""
    problems = setup_problems(setup)
    if problems:
        raise problems[0]


def setup_problems(setup: CalendarSetup) -> list[CalendarError]:
    """Every problem of the setup that needs more than one record to see, in a stable order."""
    problems: list[CalendarError] = []
    for name, ids in (
        ("location", [x.id for x in setup.locations]),
        ("counsellor", [x.id for x in setup.counsellors]),
        ("appointment type", [x.id for x in setup.types]),
    ):
        for dup in _duplicates(ids):
            problems.append(UnknownReference(f"Two {name}s have the id {dup}.", "duplicate_id"))
    locations = {x.id: x for x in setup.locations}
    counsellors = {x.id: x for x in setup.counsellors}

    for counsellor in setup.counsellors:
        for topic in sorted(counsellor.topics - setup.topics):
            problems.append(UnknownReference(
                f"Counsellor {counsellor.alias} offers topic {topic!r}, which is not one of the topics "
                f"({', '.join(sorted(setup.topics))}).", "unknown_topic"))
        for location_id in sorted(counsellor.location_ids - locations.keys()):
            problems.append(UnknownReference(
                f"Counsellor {counsellor.alias} serves location {location_id}, which does not exist.",
                "unknown_location"))

    seen_type: dict[tuple[str, str], AppointmentType] = {}
    for kind_type in setup.types:
        if kind_type.topic not in setup.topics:
            problems.append(UnknownReference(
                f"Appointment type {kind_type.id} has topic {kind_type.topic!r}, which is not one of the topics "
                f"({', '.join(sorted(setup.topics))}).", "unknown_topic"))
        for mode in sorted(kind_type.modes):
            other = seen_type.setdefault((kind_type.topic, mode), kind_type)
            if other is not kind_type:
                problems.append(UnknownReference(
                    f"Appointment types {other.id} and {kind_type.id} both offer {kind_type.topic} by {mode}; "
                    "a search by topic and mode must find one type.", "ambiguous_type"))

    shortest = min((t.duration_minutes for t in setup.types), default=0)

    def check_placement(counsellor_id: int, location_id: int, minutes: tuple[int, int], what: str) -> None:
        counsellor = counsellors.get(counsellor_id)
        if counsellor is None:
            problems.append(UnknownReference(f"{what}: counsellor {counsellor_id} does not exist.",
                                             "unknown_counsellor"))
            return
        if location_id not in locations:
            problems.append(UnknownReference(f"{what}: location {location_id} does not exist.", "unknown_location"))
        elif location_id not in counsellor.location_ids:
            problems.append(LocationNotServed(
                f"{what}: counsellor {counsellor.alias} does not serve location {location_id} "
                f"(serves {', '.join(map(str, sorted(counsellor.location_ids))) or 'none'})."))
        if minutes[1] - minutes[0] < shortest:
            problems.append(WindowTooShort(
                f"{what}: {minutes[1] - minutes[0]} minutes is shorter than the shortest appointment "
                f"({shortest} minutes); no appointment would fit."))

    by_person_day: dict[tuple[int, int], list[WeeklyRule]] = defaultdict(list)
    for rule in setup.rules:
        check_placement(rule.counsellor_id, rule.location_id, rule.minutes, f"Rule {rule.describe()}")
        for earlier in by_person_day[rule.counsellor_id, rule.weekday]:
            if _overlap(earlier.minutes, rule.minutes) and _validity_overlaps(earlier, rule):
                problems.append(OverlappingRules(
                    f"Counsellor {rule.counsellor_id}: rule {rule.describe()} overlaps rule {earlier.describe()}; "
                    "one person cannot keep two windows at the same time."))
        by_person_day[rule.counsellor_id, rule.weekday].append(rule)

    for extra in setup.extra_hours:
        check_placement(extra.counsellor_id, extra.location_id, extra.minutes, f"Counsellor {extra.counsellor_id} "
                        f"{extra.describe()}")
        same_day = [r for r in by_person_day[extra.counsellor_id, extra.day.weekday()] if r.applies_on(extra.day)]
        others: list[tuple[str, int, tuple[int, int]]] = [(r.describe(), r.location_id, r.minutes) for r in same_day]
        others += [(e.describe(), e.location_id, e.minutes) for e in setup.extra_hours
                   if e is not extra and e.counsellor_id == extra.counsellor_id and e.day == extra.day]
        for described, location_id, minutes in others:
            # At the same location extra hours may extend a rule; somewhere else they would need two people.
            if location_id != extra.location_id and _overlap(minutes, extra.minutes):
                problems.append(OverlappingRules(
                    f"Counsellor {extra.counsellor_id}: {extra.describe()} overlaps {described} at another "
                    "location; one person cannot be in two places."))

    for absence in setup.absences:
        if absence.counsellor_id not in counsellors:
            problems.append(UnknownReference(
                f"An absence names counsellor {absence.counsellor_id}, who does not exist.", "unknown_counsellor"))
    for closure in setup.closures:
        if closure.location_id not in locations:
            problems.append(UnknownReference(
                f"A closure names location {closure.location_id}, which does not exist.", "unknown_location"))
    return problems


def check_date_range(first_day: date, last_day: date, max_days: int) -> None:
    if last_day < first_day:
        raise InvalidDateRange(f"The range ends on {last_day}, before it starts on {first_day}.")
    days = (last_day - first_day).days + 1
    if days > max_days:
        raise InvalidDateRange(
            f"The range {first_day} to {last_day} spans {days} days; at most {max_days} days can be searched.",
            "range_too_long")


def check_horizon(last_day: date, today: date, horizon_days: int) -> None:
    limit = today + timedelta(days=horizon_days)
    if last_day > limit:
        raise InvalidDateRange(
            f"Appointments of this kind can be booked at most {horizon_days} days ahead (until {limit}); "
            f"the range ends on {last_day}.", "beyond_horizon")
