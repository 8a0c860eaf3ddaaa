"""Demo calendar for a newcomer: five towns of Mecklenburg-Vorpommern, phone and video, four counsellors, the four
appointment types and the neutral general one, weekly rules.

Loaded only into an empty calendar, so a restart never duplicates it and real data is never touched.
"""

from __future__ import annotations

import logging
from datetime import time

from sqlalchemy import Engine

from scheduler import repository
from scheduler.tables import (
    AppointmentType,
    AvailabilityRule,
    Counsellor,
    CounsellorLocation,
    Location,
    format_offsets,
)
from shared.unit_of_work import transaction

log = logging.getLogger(__name__)

LOCATIONS = [
    # town, kind, neutral alias (what an SMS shows), address and directions (only on a confirmed booking's page)
    ("Rostock", "office", "Rostock 1", "Beispielstraße 1, 18055 Rostock",
     "Hintereingang im Hof, Klingel \"Büro 3\", 2. Stock."),
    ("Schwerin", "office", "Schwerin 1", "Beispielweg 2, 19053 Schwerin", "Klingel \"Büro 2\", Erdgeschoss."),
    ("Neubrandenburg", "office", "Neubrandenburg 1", "Beispielplatz 3, 17033 Neubrandenburg",
     "Seiteneingang links, bitte klingeln."),
    ("Greifswald", "office", "Greifswald 1", "Beispielgasse 4, 17489 Greifswald", "Klingel \"Praxis\", 1. Stock."),
    ("Stralsund", "outreach", "Stralsund 1", "wechselnder Ort, wird mitgeteilt",
     "Den Treffpunkt machen wir mit Ihnen aus: Sie hören vor dem Termin von uns."),
    ("", "phone", "Telefon", "", ""),
    ("", "video", "Video", "", ""),
]

ALL_MODES = "office,outreach,phone,video"
TYPES = [
    # topic, minutes, modes, buffer before, buffer after, minimum notice (minutes), horizon (days),
    # reminders (minutes before the start)
    # Reorientation is planned months ahead: a week's notice too, then the day before and two hours before.
    ("career", 50, ALL_MODES, 0, 10, 60, 240, (10080, 1440, 120)),
    ("health", 45, ALL_MODES, 5, 10, 60, 90, (1440, 120)),
    # Often arranged at short notice, by phone: the day before and one hour before.
    ("safety", 60, ALL_MODES, 0, 15, 60, 90, (1440, 60)),
    ("psychosocial", 50, "office,phone,video", 10, 10, 60, 90, (1440, 60)),
    # The neutral type a client gets who leaves the topic open (every counsellor offers it; admins set it).
    ("general", 45, ALL_MODES, 0, 10, 60, 90, (1440, 120)),
]

COUNSELLORS = [
    ("Anna", "de,en,ro", "career,health,safety,psychosocial"),
    ("Bogdan", "de,ro,bg,ru", "career,safety"),
    ("Csilla", "de,hu,en", "health,psychosocial"),
    ("Dana", "de,en,pl,uk", "career,health,safety"),
]

# counsellor alias -> [(location alias, weekdays, opens, closes)]
RULES: dict[str, list[tuple[str, tuple[int, ...], str, str]]] = {
    "Anna": [("Rostock 1", (0, 2), "09:00", "16:00"), ("Telefon", (4,), "10:00", "14:00")],
    "Bogdan": [("Schwerin 1", (1,), "09:00", "15:00"), ("Stralsund 1", (3,), "12:00", "18:00"),
               ("Telefon", (4,), "09:00", "12:00")],
    "Csilla": [("Neubrandenburg 1", (0, 3), "10:00", "16:00"), ("Video", (2,), "14:00", "19:00")],
    "Dana": [("Greifswald 1", (1, 4), "09:00", "15:00"), ("Rostock 1", (3,), "10:00", "17:00")],
}


def seed(engine: Engine) -> bool:
    """Returns True when demo data was loaded, False when the calendar already had counsellors."""
    with transaction(engine) as session:
        if repository.any_counsellor(session):
            return False
        places = {}
        for town, kind, alias, address, directions in LOCATIONS:
            place = Location(town=town or alias, kind=kind, alias=alias, address=address, directions=directions)
            session.add(place)
            places[alias] = place
        people = {}
        for alias, languages, topics in COUNSELLORS:
            person = Counsellor(alias=alias, languages=languages, topics=topics)
            session.add(person)
            people[alias] = person
        for topic, minutes, modes, before, after, notice, horizon, reminders in TYPES:
            session.add(AppointmentType(topic=topic, duration_minutes=minutes, modes=modes,
                                        buffer_before_minutes=before, buffer_after_minutes=after,
                                        min_notice_minutes=notice, horizon_days=horizon,
                                        reminder_offsets_minutes=format_offsets(reminders)))
        session.flush()
        for alias, rules in RULES.items():
            person_id = people[alias].id
            assert person_id is not None
            for place_id in sorted({places[place_alias].id for place_alias, *_ in rules}):  # type: ignore[type-var]
                assert place_id is not None
                session.add(CounsellorLocation(counsellor_id=person_id, location_id=place_id))
            for place_alias, weekdays, opens, closes in rules:
                place_id = places[place_alias].id
                assert place_id is not None
                for weekday in weekdays:
                    session.add(AvailabilityRule(counsellor_id=person_id, location_id=place_id, weekday=weekday,
                                                 starts=_wall(opens), ends=_wall(closes)))
    log.info("demo calendar loaded")
    return True


def _wall(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))
