"""The stored calendar searched and checked: the bridge between the tables (`repository`) and the pure engine
(`domain.availability`), and the slots described as clients may see them (neutral alias, Europe/Berlin times)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from scheduler import repository
from scheduler.domain import availability
from scheduler.domain.availability import Criteria, OfferedSlot, SearchSettings, Verdict, by_start
from scheduler.domain.calendar_setup import (
    GENERAL_TOPIC,
    Absence,
    CalendarError,
    UnknownReference,
    check_date_range,
)
from scheduler.domain.occupancy import Occupancy, conflicting_appointments
from scheduler.repository import SetupCache, StoredCalendar
from scheduler.tables import Appointment, AvailabilityException
from shared.contracts import Mode, PublicLocation, Slot


@dataclass(frozen=True)
class SearchCriteria:
    date_from: date
    date_to: date
    topic: str | None = None  # None: the neutral general type (every topic where a calendar has none)
    language: str | None = None  # None: any counsellor (a conversation with a language mediator)
    location_id: int | None = None
    mode: str | None = None
    counsellor: str | None = None  # a counsellor's alias; None: any counsellor
    exclude_booking: str | None = None  # a booking being moved: its own time does not count as taken


@dataclass(frozen=True)
class Calendar:
    """What a search needs besides the tables: the engine's settings (business time zone, step, travel), and the
    process's cache of the setup (checked against the database's calendar version on every load)."""

    settings: SearchSettings
    cache: SetupCache = field(default_factory=SetupCache, compare=False, repr=False)

    @property
    def zone(self) -> ZoneInfo:
        return self.settings.zone

    def today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def load(self, session: Session, now: datetime, version: int | None = None) -> StoredCalendar:
        """The setup as of the session's view of the calendar version: cached, reloaded when the version moved.
        `version`: the version already read in this transaction (with the counsellor's lock), if any."""
        return self.cache.get(session, self.today(now) - timedelta(days=1), version)

    def occupancy(self, session: Session, stored: StoredCalendar, first_day: date, last_day: date,
                  exclude_booking: str | None = None, *, counsellor_id: int | None = None,
                  weeks: bool = True) -> Occupancy:
        """Appointments for slots on first..last_day; see `repository.load_occupancy`."""
        return repository.load_occupancy(session, stored.setup, self.zone, first_day, last_day, exclude_booking,
                                         counsellor_id, weeks)

    def free_slots(self, session: Session, criteria: SearchCriteria, now: datetime) -> tuple[StoredCalendar,
                                                                                             list[OfferedSlot]]:
        """Free slots sorted by start; CalendarError (with a sentence) for a query the engine refuses."""
        stored = self.load(session, now)
        counsellor_id = None
        if criteria.counsellor is not None:
            person = next((c for c in stored.counsellors.values() if c.alias == criteria.counsellor), None)
            if person is None:
                raise UnknownReference(f"There is no counsellor {criteria.counsellor!r}.", "unknown_counsellor")
            counsellor_id = person.id
        topics = [criteria.topic] if criteria.topic else open_topic(stored)
        first = max(criteria.date_from, self.today(now))
        if criteria.date_to < first:
            check_date_range(criteria.date_from, criteria.date_to, self.settings.max_range_days)
            return stored, []
        occupancy = self.occupancy(session, stored, first, criteria.date_to, criteria.exclude_booking,
                                   counsellor_id=counsellor_id)
        found: dict[tuple[datetime, int], OfferedSlot] = {}
        refused: CalendarError | None = None
        searched = 0
        for topic in topics:
            wanted = Criteria(topic=topic, language=criteria.language, location_id=criteria.location_id,
                              mode=criteria.mode, counsellor_id=counsellor_id)
            try:
                slots = availability.find_slots(stored.setup, occupancy, wanted, criteria.date_from,
                                                criteria.date_to, now, self.settings)
            except CalendarError as error:
                if criteria.topic or error.code != "beyond_horizon":
                    raise
                refused = error
                continue  # without a topic, a type with a shorter horizon just offers less
            searched += 1
            for slot in slots:
                # With several topics the same person and time would appear once per topic: one is enough.
                found.setdefault((slot.start, slot.location_id) if counsellor_id is None
                                 else (slot.start, slot.counsellor_id), slot)
        if refused is not None and searched == 0:
            raise refused  # every type's horizon ends before the range does
        return stored, sorted(found.values(), key=by_start)

    def check(self, session: Session, stored: StoredCalendar, slot_id: str, now: datetime, *, language: str | None,
              topic: str | None, exclude_booking: str | None = None) -> Verdict:
        try:
            key = availability.parse_slot_id(slot_id)
        except availability.InvalidSlotId:
            return Verdict("unknown_slot", "This is not a slot the scheduler offered.")
        day = key.start.astimezone(self.zone).date()
        # Only the slot's counsellor, the day and its neighbours (buffers, travel, the daily cap); a check does
        # not weigh fairness, so no week is counted.
        occupancy = self.occupancy(session, stored, day, day, exclude_booking, counsellor_id=key.counsellor_id,
                                   weeks=False)
        return availability.check(stored.setup, occupancy, slot_id, now, language=language, topic=topic,
                                  settings=self.settings)

    def alternatives(self, session: Session, stored: StoredCalendar, slot: OfferedSlot, now: datetime, *,
                     language: str | None, exclude_booking: str | None = None) -> list[OfferedSlot]:
        """Up to three free slots nearest the wanted one, same topic and place, any counsellor."""
        kind = stored.setup.index.types.get(slot.type_id)
        if kind is None:
            return []
        day = slot.start.astimezone(self.zone).date()
        occupancy = self.occupancy(session, stored, day - timedelta(days=8), day + timedelta(days=8),
                                   exclude_booking)
        criteria = Criteria(topic=kind.topic, language=language, location_id=slot.location_id)
        found = availability.alternatives(stored.setup, occupancy, criteria, slot.start, now, self.settings)
        return [s for s in found if s.slot_id != slot.slot_id]

    def describe(self, stored: StoredCalendar, slots: list[OfferedSlot]) -> list[Slot]:
        return [describe_slot(stored, slot, self.zone) for slot in slots]


def open_topic(stored: StoredCalendar) -> list[str]:
    """What a search with the topic left open looks for: the neutral general type, never another topic's (whose
    length and reminders would not fit). A calendar without an active general type (an admin switched it off)
    offers every topic, as before it existed."""
    topics = {t.topic for t in stored.setup.types}
    return [GENERAL_TOPIC] if GENERAL_TOPIC in topics else sorted(topics)


def conversation_language(language: str, conversation: str) -> str | None:
    """The language a counsellor must speak: the client's own, or none in particular with a language mediator."""
    return None if conversation == "mediator" else language


def describe_slot(stored: StoredCalendar, slot: OfferedSlot, zone: ZoneInfo) -> Slot:
    place = stored.locations[slot.location_id]
    assert place.id is not None
    return Slot(
        slot_id=slot.slot_id,
        start=slot.start.astimezone(zone),
        end=slot.end.astimezone(zone),
        location=PublicLocation(location_id=place.id, town=place.town, kind=Mode(place.kind), alias=place.alias),
        mode=Mode(place.kind),
        counsellor=stored.counsellors[slot.counsellor_id].alias,
    )


def enter_absence(session: Session, absence: Absence, zone: ZoneInfo, now: datetime) -> list[Appointment]:
    """Record leave or sickness and, in the same transaction, flag the counsellor's confirmed appointments that
    fall into it (`needs_attention`): they are returned for staff to move, never dropped. The caller commits."""
    session.add(AvailabilityException(kind="absence", counsellor_id=absence.counsellor_id,
                                      first_day=absence.first_day, last_day=absence.last_day, starts=absence.start,
                                      ends=absence.end, reason=absence.reason, created_at=now))
    start, end = repository.day_bounds(absence.first_day, absence.last_day, zone)
    rows = {row.booking_id: row for row in repository.confirmed_of_counsellor(session, absence.counsellor_id,
                                                                               start, end)}
    conflicting = conflicting_appointments(absence, [repository.held(row) for row in rows.values()], zone)
    flagged = []
    for held in conflicting:
        row = rows[held.ref]
        row.needs_attention = True
        row.updated_at = now
        session.add(row)
        flagged.append(row)
    session.flush()
    return flagged
