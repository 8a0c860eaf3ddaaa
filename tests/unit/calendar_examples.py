"""Small calendars for the engine's tests: Rostock and Schwerin offices, a phone line, three counsellors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.domain.availability import Criteria, OfferedSlot, SearchSettings, find_slots
from scheduler.domain.calendar_setup import (
    Absence,
    AppointmentType,
    CalendarSetup,
    Counsellor,
    ExtraHours,
    Kind,
    Location,
    LocationClosure,
    WeeklyRule,
)
from scheduler.domain.occupancy import Appointment, Occupancy

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY, SATURDAY, SUNDAY = 0, 5, 6
ALL_KINDS: frozenset[Kind] = frozenset({"office", "outreach", "phone", "video"})

ROSTOCK, SCHWERIN, ROSTOCK_2, PHONE, OUTREACH, VIDEO = 1, 2, 3, 4, 5, 6
ANNA, BOGDAN, CHLOE = 1, 2, 3
HEALTH = 1  # appointment type id: health, 60 minutes, every mode

LOCATIONS = (
    Location(ROSTOCK, "Rostock", "office"),
    Location(SCHWERIN, "Schwerin", "office"),
    Location(ROSTOCK_2, "Rostock", "office"),
    Location(PHONE, "", "phone"),
    Location(OUTREACH, "Wismar", "outreach"),
    Location(VIDEO, "", "video"),
)
EVERYWHERE = frozenset(loc.id for loc in LOCATIONS)


def counsellor(
    cid: int = ANNA,
    languages: Iterable[str] = ("de", "en"),
    topics: Iterable[str] = ("health", "career"),
    location_ids: Iterable[int] = EVERYWHERE,
    daily_cap: int | None = None,
    active: bool = True,
) -> Counsellor:
    alias = {ANNA: "Anna", BOGDAN: "Bogdan", CHLOE: "Chloe"}.get(cid, f"C{cid}")
    return Counsellor(cid, alias, frozenset(languages), frozenset(topics), frozenset(location_ids), active, daily_cap)


def health(
    duration: int = 60,
    before: int = 0,
    after: int = 0,
    notice: int = 0,
    horizon: int = 400,
    modes: frozenset[Kind] = ALL_KINDS,
    type_id: int = HEALTH,
) -> AppointmentType:
    return AppointmentType(type_id, "health", duration, modes, before, after, notice, horizon)


def rule(
    weekday: int = MONDAY,
    start: time = time(9, 0),
    end: time = time(12, 0),
    location_id: int = ROSTOCK,
    counsellor_id: int = ANNA,
    **extra: object,
) -> WeeklyRule:
    return WeeklyRule(counsellor_id, location_id, weekday, start, end, **extra)  # type: ignore[arg-type]


def make_setup(
    rules: Sequence[WeeklyRule] = (),
    counsellors: Sequence[Counsellor] | None = None,
    types: Sequence[AppointmentType] | None = None,
    absences: Sequence[Absence] = (),
    extra_hours: Sequence[ExtraHours] = (),
    closures: Sequence[LocationClosure] = (),
    locations: Sequence[Location] = LOCATIONS,
) -> CalendarSetup:
    return CalendarSetup(
        locations=tuple(locations),
        counsellors=tuple(counsellors if counsellors is not None else [counsellor()]),
        types=tuple(types if types is not None else [health()]),
        rules=tuple(rules),
        absences=tuple(absences),
        extra_hours=tuple(extra_hours),
        closures=tuple(closures),
    )


def berlin(day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    """The UTC instant of a local wall-clock time."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN, fold=fold).astimezone(UTC)


def booked(
    day: date,
    hour: int,
    minute: int = 0,
    minutes: int = 60,
    counsellor_id: int = ANNA,
    location_id: int = ROSTOCK,
    type_id: int | None = HEALTH,
    ref: str = "b",
) -> Appointment:
    start = berlin(day, hour, minute)
    return Appointment(ref, counsellor_id, location_id, start, start + timedelta(minutes=minutes), type_id)


NOW = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)  # well before every date the tests search


def search(
    setup: CalendarSetup,
    first: date,
    last: date | None = None,
    appointments: Sequence[Appointment] = (),
    now: datetime = NOW,
    settings: SearchSettings | None = None,
    topic: str = "health",
    **criteria: object,
) -> list[OfferedSlot]:
    settings = settings or SearchSettings()
    occupancy = Occupancy(appointments, setup, settings.zone)
    return find_slots(
        setup,
        occupancy,
        Criteria(topic=topic, **criteria),  # type: ignore[arg-type]
        first,
        last or first,
        now,
        settings,
    )


def walls(slots: Iterable[OfferedSlot]) -> list[time]:
    return [s.start.astimezone(BERLIN).time() for s in slots]


def hhmm(*texts: str) -> list[time]:
    return [time.fromisoformat(t) for t in texts]
