"""Existing appointments, indexed per counsellor so the slot engine asks "is this person free then?" in log time.

An appointment occupies its counsellor from `start - buffer_before` to `end + buffer_after` of its type (buffers
are the counsellor's preparation and note-taking time). Between two occupied stretches in different towns the
counsellor needs the travel time as well; phone and video have no town, so no travel is needed to or from them,
but they still may not overlap anything. An appointment at a location the setup no longer knows counts as being in
a town of its own: travel is always kept around it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.domain.calendar_setup import Absence, CalendarSetup
from scheduler.domain.wall_clock import local_date, midnight_minute, start_minute, utc_minute, utc_minute_ceil

_ELSEWHERE = "\x00unknown location"  # never equal to a real town


@dataclass(frozen=True)
class Appointment:
    ref: str  # the booking it belongs to, so staff can find it
    counsellor_id: int
    location_id: int
    start: datetime  # UTC
    end: datetime
    type_id: int | None = None  # whose buffers it keeps; None for none


def absence_span(absence: Absence, zone: ZoneInfo) -> tuple[int, int]:
    """The UTC minutes [from, until) an absence covers: whole local days, or the one day's time range."""
    if absence.start is not None and absence.end is not None:
        opens = start_minute(absence.first_day, absence.start.hour * 60 + absence.start.minute, zone)
        closes = start_minute(absence.first_day, absence.end.hour * 60 + absence.end.minute, zone)
        # A boundary inside the spring gap has no instant; widen to the whole day rather than guess.
        return (
            opens if opens is not None else midnight_minute(absence.first_day, zone),
            closes if closes is not None else midnight_minute(absence.first_day + timedelta(days=1), zone),
        )
    return midnight_minute(absence.first_day, zone), midnight_minute(absence.last_day + timedelta(days=1), zone)


def conflicting_appointments(
    absence: Absence, appointments: Iterable[Appointment], zone: ZoneInfo
) -> list[Appointment]:
    """The counsellor's appointments that fall (even partly) into a new absence, by start: staff move them."""
    begins, ends = absence_span(absence, zone)
    return sorted(
        (
            a
            for a in appointments
            if a.counsellor_id == absence.counsellor_id
            and utc_minute(a.start) < ends
            and utc_minute_ceil(a.end) > begins
        ),
        key=lambda a: (a.start, a.ref),
    )


class _Agenda:
    """One counsellor's occupied stretches, sorted by their padded start."""

    __slots__ = ("ends", "longest", "places", "starts")

    def __init__(self, stretches: list[tuple[int, int, str | None]]) -> None:
        stretches.sort()
        self.starts = [s for s, _, _ in stretches]
        self.ends = [e for _, e, _ in stretches]
        self.places = [p for _, _, p in stretches]
        self.longest = max((e - s for s, e, _ in stretches), default=0)


class Occupancy:
    """Appointments indexed per counsellor (padded stretches), per local day and per ISO week.

    `week_counts`, when given, are the appointments per (counsellor, ISO year, ISO week) counted elsewhere (the
    database counts whole weeks, so only the appointments near the searched days need to be passed); the weekly
    counts are then taken from it alone, and a week missing from it counts 0."""

    def __init__(self, appointments: Iterable[Appointment], setup: CalendarSetup, zone: ZoneInfo,
                 week_counts: Mapping[tuple[int, int, int], int] | None = None) -> None:
        index = setup.index
        buffers = {t.id: (t.buffer_before_minutes, t.buffer_after_minutes) for t in index.types.values()}
        places = index.places
        stretches: dict[int, list[tuple[int, int, str | None]]] = defaultdict(list)
        per_day: dict[tuple[int, date], int] = defaultdict(int)
        per_week: dict[tuple[int, int, int], int] = defaultdict(int)
        count_weeks = week_counts is None
        self.appointments = tuple(appointments)
        for appointment in self.appointments:
            cid = appointment.counsellor_id
            before, after = buffers.get(appointment.type_id, (0, 0)) if appointment.type_id is not None else (0, 0)
            start = utc_minute(appointment.start)
            end = utc_minute_ceil(appointment.end)
            stretches[cid].append((start - before, end + after, places.get(appointment.location_id, _ELSEWHERE)))
            day = local_date(start, zone)
            per_day[cid, day] += 1
            if count_weeks:
                year, week, _ = day.isocalendar()
                per_week[cid, year, week] += 1
        self._per_day = per_day
        self._per_week: Mapping[tuple[int, int, int], int] = per_week if week_counts is None else dict(week_counts)
        self._agendas = {cid: _Agenda(items) for cid, items in stretches.items()}

    def clashes(self, counsellor_id: int, start: int, end: int, place: str | None, travel: int) -> bool:
        """Whether the padded stretch [start, end) at `place` (None: no town) overlaps an appointment of the
        counsellor, or comes closer than `travel` minutes to one in another town."""
        agenda = self._agendas.get(counsellor_id)
        if agenda is None:
            return False
        reach = travel if place is not None else 0
        starts, ends, places = agenda.starts, agenda.ends, agenda.places
        i = bisect_left(starts, start - reach - agenda.longest)
        stop = bisect_left(starts, end + reach)
        while i < stop:
            s, e = starts[i], ends[i]
            if s < end and e > start:
                return True
            other = places[i]
            if place is not None and other is not None and other != place and s < end + travel and e > start - travel:
                return True
            i += 1
        return False

    def count_on(self, counsellor_id: int, day: date) -> int:
        return self._per_day.get((counsellor_id, day), 0)

    def count_in_week(self, counsellor_id: int, year: int, week: int) -> int:
        return self._per_week.get((counsellor_id, year, week), 0)
