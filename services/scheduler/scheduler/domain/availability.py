"""The calendar engine: free slots for a request, a re-check of one slot at booking time, and nearby alternatives.

Pure functions over the setup (`calendar_setup`), the existing appointments (`occupancy`) and a `now`; no clock,
no database. Rules are local wall-clock times in the business zone; slots come out as UTC instants.

Decisions, so the rest of the system can rely on them:

* Public holidays of Mecklenburg-Vorpommern close every weekly rule, whatever the location kind (office,
  outreach, phone, video): counsellors do not work on public holidays, and a phone line is staffed by the same
  people as an office. A rule with `on_holidays=True` stays open (a holiday outreach round, a hotline). Extra
  hours are dated on purpose and stay open on a holiday; a location closure closes everything, extra hours too.
* A slot starts every `step_minutes` of local wall-clock time from its window's start and must end, in real
  minutes, by the window's end. A wall time that does not exist (02:30 on 2026-03-29) is never offered; one that
  exists twice (02:30 on 2026-10-25) is offered once, at its first occurrence.
* A slot occupies [start - buffer_before, end + buffer_after] against existing appointments, plus the travel time
  towards appointments in another town (phone and video have no town). An absence blocks the appointment time
  itself; a slot touching an absence at either end is still offered.
* "Any counsellor" offers one slot per (start, location): the client chooses a place, not a person. Among the
  counsellors free then, the one with the fewest appointments that ISO week gets it, ties broken round-robin.
  With one named counsellor every free slot of that person is offered.
* The booking horizon counts from today's local date: with 14 days, today + 14 is the last bookable date. A
  search range over the horizon of every type it could use, or over `max_range_days`, is refused, not cut.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from scheduler.domain.calendar_setup import (
    KINDS,
    AppointmentType,
    CalendarError,
    CalendarSetup,
    Counsellor,
    InvalidSetting,
    Location,
    SetupIndex,
    UnknownReference,
    check_date_range,
    check_horizon,
    resolve_zone,
)
from scheduler.domain.fairness import RoundRobin
from scheduler.domain.occupancy import Occupancy, absence_span
from scheduler.domain.public_holidays import is_public_holiday
from scheduler.domain.wall_clock import (
    end_minute,
    fixed_offset_base,
    instant,
    local_date,
    start_minute,
    utc_minute,
    utc_minute_ceil,
)
from shared.contracts.limits import MAX_RANGE_DAYS

Reason = Literal[
    "unknown_slot", "slot_in_past", "slot_taken", "language_not_offered", "topic_not_offered", "counsellor_absent"
]

_SLOT_ID = re.compile(r"s2-(0|[1-9][0-9]{0,8})-(0|[1-9][0-9]{0,8})-(0|[1-9][0-9]{0,8})-([1-9][0-9]{7,11})")


class InvalidSlotId(CalendarError):
    code = "invalid_slot_id"


@dataclass(frozen=True)
class SearchSettings:
    timezone: str = "Europe/Berlin"
    step_minutes: int = 30
    travel_minutes: int = 60
    max_range_days: int = MAX_RANGE_DAYS

    def __post_init__(self) -> None:
        resolve_zone(self.timezone)
        if self.step_minutes < 1:
            raise InvalidSetting(f"The slot step must be at least 1 minute, not {self.step_minutes}.")
        if self.travel_minutes < 0:
            raise InvalidSetting(f"The travel time cannot be negative ({self.travel_minutes} minutes).")
        if self.max_range_days < 1:
            raise InvalidSetting(f"The longest search range must be at least 1 day, not {self.max_range_days}.")

    @property
    def zone(self) -> ZoneInfo:
        return resolve_zone(self.timezone)  # ZoneInfo caches instances by name


DEFAULT_SETTINGS = SearchSettings()


@dataclass(frozen=True)
class Criteria:
    topic: str
    language: str | None = None
    location_id: int | None = None
    mode: str | None = None  # a location kind
    counsellor_id: int | None = None  # None: any counsellor


@dataclass(frozen=True)
class SlotKey:
    counsellor_id: int
    location_id: int
    type_id: int
    start: datetime  # UTC


@dataclass(frozen=True)
class OfferedSlot:
    start: datetime  # UTC
    end: datetime
    location_id: int
    counsellor_id: int
    type_id: int

    @property
    def slot_id(self) -> str:
        return make_slot_id(self.counsellor_id, self.location_id, self.type_id, self.start)


@dataclass(frozen=True)
class Verdict:
    """The answer of `check`: no reason means the slot can be booked."""

    reason: Reason | None
    message: str
    slot: OfferedSlot | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def by_start(slot: OfferedSlot) -> tuple[datetime, int, int]:
    """The order slots are offered in: by start, then location, then counsellor."""
    return slot.start, slot.location_id, slot.counsellor_id


def make_slot_id(counsellor_id: int, location_id: int, type_id: int, start: datetime) -> str:
    return f"s2-{counsellor_id}-{location_id}-{type_id}-{utc_minute(start)}"


def parse_slot_id(slot_id: str) -> SlotKey:
    """The parts of a slot id this engine issued; InvalidSlotId for anything else (no padding, no other form)."""
    match = _SLOT_ID.fullmatch(slot_id)
    if match is None:
        raise InvalidSlotId("This is not a slot id the scheduler issues.")
    counsellor_id, location_id, type_id, minute = (int(g) for g in match.groups())
    return SlotKey(counsellor_id, location_id, type_id, instant(minute))


# --- the search --------------------------------------------------------------------------------------------------


class _Context:
    """What one search or check needs at hand; built per call, never kept."""

    def __init__(self, setup: CalendarSetup, occupancy: Occupancy, now: datetime, settings: SearchSettings) -> None:
        self.index: SetupIndex = setup.index
        self.occupancy = occupancy
        self.zone = settings.zone
        self.step = settings.step_minutes
        self.travel = settings.travel_minutes
        self.now = utc_minute_ceil(now)  # a slot at 10:00 is in the past at 10:00:30
        self.today = now.astimezone(self.zone).date()
        self._absences: dict[int, list[tuple[int, int]]] = {}
        self._horizons: dict[int, date] = {}

    def _last_day(self, kind: AppointmentType) -> date:
        last = self._horizons.get(kind.id)
        if last is None:
            last = self._horizons[kind.id] = self.today + timedelta(days=kind.horizon_days)
        return last

    def absences(self, counsellor_id: int) -> list[tuple[int, int]]:
        spans = self._absences.get(counsellor_id)
        if spans is None:
            spans = [absence_span(a, self.zone) for a in self.index.absences.get(counsellor_id, ())]
            self._absences[counsellor_id] = spans
        return spans

    def absent(self, counsellor_id: int, start: int, end: int) -> bool:
        return any(s < end and e > start for s, e in self.absences(counsellor_id))

    def openings(
        self, counsellor: Counsellor, day: date, places: dict[int, tuple[Location, AppointmentType]]
    ) -> list[tuple[int, AppointmentType, Sequence[int]]]:
        """(location id, type, start minutes) of the slots the counsellor's windows give on a local day, after
        holidays, closures, absences, notice and horizon, before existing appointments."""
        index = self.index
        holiday = is_public_holiday(day)
        windows: list[tuple[int, int, int]] = [
            (rule.location_id, *rule.minutes)
            for rule in index.rules.get((counsellor.id, day.weekday()), ())
            if rule.location_id in places and rule.applies_on(day) and (rule.on_holidays or not holiday)
        ]
        windows += [(e.location_id, *e.minutes) for e in index.extra.get((counsellor.id, day), ())
                    if e.location_id in places]
        if not windows:
            return []
        base = fixed_offset_base(day, self.zone)
        absences = self.absences(counsellor.id)
        step = self.step
        found: list[tuple[int, AppointmentType, Sequence[int]]] = []
        for location_id, opens, closes in windows:
            kind = places[location_id][1]
            if day > self._last_day(kind) or (location_id in index.closures and index.closed(location_id, day)):
                continue
            earliest = self.now + kind.min_notice_minutes
            length = kind.duration_minutes
            starts: Sequence[int]
            if base is not None:  # one offset all day: the starts are an arithmetic progression
                first = base + opens
                if earliest > first:
                    first += -(-(earliest - first) // step) * step
                starts = range(first, base + closes - length + 1, step)
            else:
                closing = end_minute(day, closes, self.zone)
                starts = [
                    start
                    for wall in range(opens, closes - length + 1, step)
                    if (start := start_minute(day, wall, self.zone)) is not None
                    and start >= earliest
                    and start + length <= closing
                ]
            if absences:
                starts = [s for s in starts if not any(a < s + length and b > s for a, b in absences)]
            if starts:
                found.append((location_id, kind, starts))
        return found

    def free(self, counsellor_id: int, start: int, end: int, location: Location, kind: AppointmentType) -> bool:
        return not self.occupancy.clashes(
            counsellor_id,
            start - kind.buffer_before_minutes,
            end + kind.buffer_after_minutes,
            location.place,
            self.travel,
        )

    def places_for(self, counsellor: Counsellor, places: dict[int, tuple[Location, AppointmentType]]
                   ) -> dict[int, tuple[Location, AppointmentType]]:
        return {lid: p for lid, p in places.items() if lid in counsellor.location_ids}


def _matching_places(index: SetupIndex, criteria: Criteria) -> dict[int, tuple[Location, AppointmentType]]:
    """Active locations fitting the criteria, each with the appointment type the topic has there."""
    places = {}
    for location in index.locations.values():
        if not location.active:
            continue
        if criteria.location_id is not None and location.id != criteria.location_id:
            continue
        if criteria.mode is not None and location.kind != criteria.mode:
            continue
        kind = index.type_for.get((criteria.topic, location.kind))
        if kind is not None:
            places[location.id] = (location, kind)
    return places


def _matching_counsellors(index: SetupIndex, criteria: Criteria) -> list[Counsellor]:
    return [
        c
        for c in index.counsellors.values()
        if c.active
        and criteria.topic in c.topics
        and (criteria.language is None or criteria.language in c.languages)
        and (criteria.counsellor_id is None or c.id == criteria.counsellor_id)
    ]


def _check_criteria(setup: CalendarSetup, criteria: Criteria) -> None:
    index = setup.index
    if criteria.topic not in setup.topics:
        raise UnknownReference(f"{criteria.topic!r} is not a topic; topics are {', '.join(sorted(setup.topics))}.",
                               "unknown_topic")
    if criteria.mode is not None and criteria.mode not in KINDS:
        raise UnknownReference(f"{criteria.mode!r} is not a mode; modes are {', '.join(sorted(KINDS))}.",
                               "unknown_kind")
    if criteria.location_id is not None and criteria.location_id not in index.locations:
        raise UnknownReference(f"There is no location {criteria.location_id}.", "unknown_location")
    if criteria.counsellor_id is not None and criteria.counsellor_id not in index.counsellors:
        raise UnknownReference(f"There is no counsellor {criteria.counsellor_id}.", "unknown_counsellor")


def find_slots(
    setup: CalendarSetup,
    occupancy: Occupancy,
    criteria: Criteria,
    first_day: date,
    last_day: date,
    now: datetime,
    settings: SearchSettings = DEFAULT_SETTINGS,
    *,
    cursor: int | None = None,
) -> list[OfferedSlot]:
    """Free slots on the local dates first_day..last_day, sorted by start (then location).

    Raises CalendarError for an unknown topic, mode, location or counsellor, a reversed range, a range longer
    than `settings.max_range_days`, or one ending after the longest horizon of the types it could use. `cursor`
    fixes the round-robin turn instead of deriving it from each slot's start.
    """
    _check_criteria(setup, criteria)
    check_date_range(first_day, last_day, settings.max_range_days)
    context = _Context(setup, occupancy, now, settings)
    places = _matching_places(context.index, criteria)
    if not places:
        return []
    check_horizon(last_day, context.today, max(kind.horizon_days for _, kind in places.values()))
    return _search(context, criteria, places, max(first_day, context.today), last_day, cursor)


def _search(
    context: _Context,
    criteria: Criteria,
    places: dict[int, tuple[Location, AppointmentType]],
    first_day: date,
    last_day: date,
    cursor: int | None,
) -> list[OfferedSlot]:
    people = _matching_counsellors(context.index, criteria)
    rotation = RoundRobin(c.id for c in people)
    serving = [(c, served) for c in people if (served := context.places_for(c, places))]
    occupancy, travel, step = context.occupancy, context.travel, context.step
    # per location: buffer before, duration, buffer after, town, type id
    shapes = {
        lid: (kind.buffer_before_minutes, kind.duration_minutes, kind.buffer_after_minutes, loc.place, kind.id)
        for lid, (loc, kind) in places.items()
    }
    found: list[tuple[int, int, int, int, int]] = []  # start, location, counsellor, type, end
    day = first_day
    while day <= last_day:
        # Who could take each (start, location), before looking at their appointments: the clash check is the
        # dear part, so it runs in fairness order and stops at the first person free.
        groups: dict[int, dict[int, list[int]]] = {}  # location -> start -> counsellors
        for counsellor, served in serving:
            if counsellor.daily_cap is not None and occupancy.count_on(counsellor.id, day) >= counsellor.daily_cap:
                continue
            for location_id, _, starts in context.openings(counsellor, day, served):
                at = groups.setdefault(location_id, {})
                for start in starts:
                    group = at.get(start)
                    if group is None:
                        at[start] = [counsellor.id]
                    else:
                        group.append(counsellor.id)
        if groups:
            year, week, _ = day.isocalendar()
            load = {c.id: occupancy.count_in_week(c.id, year, week) for c, _ in serving}.__getitem__
            for location_id, at in groups.items():
                before, length, after, place, type_id = shapes[location_id]
                for start, group in at.items():
                    if len(group) > 1:
                        group = rotation.ordered(group, load, cursor if cursor is not None else start // step)
                    for counsellor_id in group:
                        if not occupancy.clashes(counsellor_id, start - before, start + length + after, place, travel):
                            found.append((start, location_id, counsellor_id, type_id, start + length))
                            break
        day += timedelta(days=1)
    found.sort()
    return [OfferedSlot(instant(s), instant(e), lid, cid, tid) for s, lid, cid, tid, e in found]


# --- at booking time -------------------------------------------------------------------------------------------


def check(
    setup: CalendarSetup,
    occupancy: Occupancy,
    slot_id: str,
    now: datetime,
    *,
    language: str | None,
    topic: str | None = None,
    settings: SearchSettings = DEFAULT_SETTINGS,
) -> Verdict:
    """Whether the slot can still be booked now by someone speaking `language` (about `topic`, if given);
    `language` None: any counsellor will do (the conversation goes through a language mediator)."""
    try:
        key = parse_slot_id(slot_id)
    except InvalidSlotId:
        return Verdict("unknown_slot", "This is not a slot the scheduler offered.")
    index = setup.index
    counsellor = index.counsellors.get(key.counsellor_id)
    location = index.locations.get(key.location_id)
    kind = index.types.get(key.type_id)
    if (
        counsellor is None
        or location is None
        or kind is None
        or not counsellor.active
        or not location.active
        or location.kind not in kind.modes
    ):
        return Verdict("unknown_slot", "This slot is not offered (any more).")
    context = _Context(setup, occupancy, now, settings)
    start = utc_minute(key.start)
    end = start + kind.duration_minutes
    slot = OfferedSlot(key.start, instant(end), location.id, counsellor.id, kind.id)
    if start < context.now:
        return Verdict("slot_in_past", "This slot has already begun.", slot)
    if start < context.now + kind.min_notice_minutes:
        return Verdict("slot_in_past", f"This slot starts in less than {kind.min_notice_minutes} minutes.", slot)
    if (topic is not None and topic != kind.topic) or kind.topic not in counsellor.topics:
        return Verdict("topic_not_offered", "This slot is not for this topic.", slot)
    if language is not None and language not in counsellor.languages:
        return Verdict("language_not_offered", "The counsellor of this slot does not speak this language.", slot)
    if context.absent(counsellor.id, start, end):
        return Verdict("counsellor_absent", "The counsellor is away at this time.", slot)
    day = local_date(start, context.zone)
    places = context.places_for(counsellor, {location.id: (location, kind)})
    if not any(start in starts for _, _, starts in context.openings(counsellor, day, places)):
        return Verdict("unknown_slot", "This slot is not offered (any more).", slot)
    if counsellor.daily_cap is not None and occupancy.count_on(counsellor.id, day) >= counsellor.daily_cap:
        return Verdict("slot_taken", "The counsellor's day is fully booked.", slot)
    if not context.free(counsellor.id, start, end, location, kind):
        return Verdict("slot_taken", "This slot has just been taken.", slot)
    return Verdict(None, "The slot is free.", slot)


def alternatives(
    setup: CalendarSetup,
    occupancy: Occupancy,
    criteria: Criteria,
    wanted: datetime,
    now: datetime,
    settings: SearchSettings = DEFAULT_SETTINGS,
    *,
    count: int = 3,
    days_around: int = 7,
) -> list[OfferedSlot]:
    """Up to `count` free slots nearest to `wanted` (ties: the earlier), sorted by start; searched within
    `days_around` local days of it, never past the horizon. Never raises for a range: it only narrows it."""
    _check_criteria(setup, criteria)
    context = _Context(setup, occupancy, now, settings)
    places = _matching_places(context.index, criteria)
    if not places or count < 1:
        return []
    wanted_day = wanted.astimezone(context.zone).date()
    horizon = max(kind.horizon_days for _, kind in places.values())
    first = max(context.today, wanted_day - timedelta(days=days_around))
    last = min(
        wanted_day + timedelta(days=days_around),
        context.today + timedelta(days=horizon),
        first + timedelta(days=settings.max_range_days - 1),
    )
    if last < first:
        return []
    free = _search(context, criteria, places, first, last, None)
    nearest = sorted(free, key=lambda s: (abs(s.start - wanted), s.start, s.location_id))[:count]
    return sorted(nearest, key=by_start)
