"""Slot search over the stored calendar: the bridge between the tables and the pure slot rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler import repository
from scheduler.domain.slots import CandidateSlot, bookable, expand
from scheduler.tables import Counsellor, Location
from shared.contracts import Mode, PublicLocation, Slot


@dataclass(frozen=True)
class SearchCriteria:
    date_from: date
    date_to: date
    topic: str | None = None
    language: str | None = None
    location_id: int | None = None
    mode: str | None = None
    counsellor_ids: frozenset[int] | None = None


@dataclass
class Calendar:
    """What a search needs to know besides the tables: the business time zone, the clock and the notice."""

    zone: ZoneInfo
    min_notice: timedelta

    def free_slots(self, session: Session, criteria: SearchCriteria, now: datetime) -> list[CandidateSlot]:
        people = repository.counsellors(session, criteria.language, criteria.topic)
        if criteria.counsellor_ids is not None:
            people = {cid: c for cid, c in people.items() if cid in criteria.counsellor_ids}
        if not people:
            return []
        places = repository.locations(session)
        windows = [
            w
            for w in repository.windows(session, set(people), criteria.location_id)
            if criteria.mode is None or places[w.location_id].kind == criteria.mode
        ]
        first = max(criteria.date_from, now.astimezone(self.zone).date())
        candidates = list(expand(windows, first, criteria.date_to, self.zone))
        if not candidates:
            return []
        start = min(c.start for c in candidates)
        end = max(c.start for c in candidates) + timedelta(seconds=1)
        taken = repository.taken_slots(session, start, end)
        return bookable(candidates, taken, now, self.min_notice)

    def describe(self, session: Session, slots: list[CandidateSlot]) -> list[Slot]:
        places = repository.locations(session)
        people = repository.counsellors(session, None, None)
        return [describe_slot(slot, places[slot.location_id], people[slot.counsellor_id], self.zone)
                for slot in slots if slot.counsellor_id in people]


def describe_slot(slot: CandidateSlot, place: Location, person: Counsellor, zone: ZoneInfo) -> Slot:
    assert place.id is not None
    return Slot(
        slot_id=slot.slot_id,
        start=slot.start.astimezone(zone),
        end=slot.end.astimezone(zone),
        location=PublicLocation(location_id=place.id, town=place.town, kind=Mode(place.kind), alias=place.alias),
        mode=Mode(place.kind),
        counsellor=person.alias,
    )
