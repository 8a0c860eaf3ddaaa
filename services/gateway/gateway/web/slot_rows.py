"""What a slot looks like on a page: its day, time and place in the client's language, grouped by day."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, get_date_format

from gateway.web.texts import text
from shared.contracts import Mode, PublicLocation, Slot


@dataclass(frozen=True)
class SlotRow:
    slot_id: str
    day: str
    time: str
    place: str


@dataclass(frozen=True)
class Day:
    label: str
    slots: list[SlotRow]


def place_label(location: PublicLocation, mode: Mode, lang: str) -> str:
    how = text(lang, f"mode.{mode.value}")
    if mode in (Mode.phone, Mode.video):
        return how
    return f"{location.alias} ({how})"


# English dates as read in Europe ("Monday, 3 March"), not in the US.
DATE_LOCALE = {"en": "en_GB"}


@cache
def day_pattern(lang: str) -> str:
    """The locale's full date pattern (CLDR) without the year and era: a weekday, the day and the month."""
    pattern = get_date_format("full", locale=DATE_LOCALE.get(lang, lang)).pattern
    pattern = re.sub(r"\s*G+", "", pattern)
    return re.sub(r"(\s*'[^']*')?[,\s]*y+(\s*'[^']*')?\.?", "", pattern).strip(" ,")


def day_label(day: date, lang: str) -> str:
    """"Montag, 3. März", "Monday, 3 March", "วันจันทร์ที่ 3 มีนาคม": in the language's own order and words."""
    label = format_date(day, day_pattern(lang), locale=DATE_LOCALE.get(lang, lang))
    return label[:1].upper() + label[1:]


def slot_row(slot: Slot, lang: str, zone: ZoneInfo) -> SlotRow:
    start = slot.start.astimezone(zone)
    return SlotRow(slot.slot_id, day_label(start.date(), lang),
                   start.strftime("%H:%M"), place_label(slot.location, slot.mode, lang))


def days_of(slots: list[Slot], lang: str, zone: ZoneInfo) -> list[Day]:
    days: dict[str, list[SlotRow]] = {}
    for slot in sorted(slots, key=lambda s: s.start):
        row = slot_row(slot, lang, zone)
        days.setdefault(row.day, []).append(row)
    return [Day(label, rows) for label, rows in days.items()]


def places_of(slots: list[Slot], lang: str) -> list[tuple[int, str]]:
    seen: dict[int, tuple[bool, str]] = {}
    for slot in slots:
        remote = slot.location.kind in (Mode.phone, Mode.video)
        seen.setdefault(slot.location.location_id, (remote, place_label(slot.location, slot.location.kind, lang)))
    return [(place_id, label) for place_id, (_remote, label) in sorted(seen.items(), key=lambda item: item[1])]
