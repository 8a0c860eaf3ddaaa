"""What a slot looks like on a page: its day, time and place in the client's language; the days with free times,
one day's times by place in screens of at most MAX_CHOICES, alternatives by day."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, get_date_format

from gateway.web.texts import text
from shared.contracts import Mode, PublicLocation, Slot

# Never more radio buttons than this on one screen: a longer list is read out, scrolled and mis-tapped.
MAX_CHOICES = 20


@dataclass(frozen=True)
class SlotRow:
    slot_id: str
    day: str
    time: str
    place: str


@dataclass(frozen=True)
class Group:
    """Radio buttons under one legend: the times at one place, or (alternatives) the times of one day."""

    legend: str
    slots: list[SlotRow]


@dataclass(frozen=True)
class DayChoice:
    iso: str  # the form value, 2025-03-03
    label: str
    count: int


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


def local_day(slot: Slot, zone: ZoneInfo) -> date:
    return slot.start.astimezone(zone).date()


def days_with_times(slots: list[Slot], lang: str, zone: ZoneInfo) -> list[DayChoice]:
    """The days that have a free time, in order, each with how many."""
    counts: dict[date, int] = {}
    for slot in slots:
        counts[local_day(slot, zone)] = counts.get(local_day(slot, zone), 0) + 1
    return [DayChoice(day.isoformat(), day_label(day, lang), count) for day, count in sorted(counts.items())]


def parts_of_day(slots: list[Slot], day: date, zone: ZoneInfo) -> list[list[Slot]]:
    """The day's times in order, cut into screens of at most MAX_CHOICES (earlier screens hold earlier times)."""
    ordered = sorted((slot for slot in slots if local_day(slot, zone) == day), key=lambda s: (s.start, s.slot_id))
    return [ordered[i:i + MAX_CHOICES] for i in range(0, len(ordered), MAX_CHOICES)]


def groups_by_place(slots: list[Slot], lang: str, zone: ZoneInfo) -> list[Group]:
    """One day's times under the place they are at (places in the order of their first time)."""
    places: dict[str, list[SlotRow]] = {}
    for slot in sorted(slots, key=lambda s: s.start):
        row = slot_row(slot, lang, zone)
        places.setdefault(row.place, []).append(SlotRow(row.slot_id, row.day, row.time, ""))
    return [Group(label, rows) for label, rows in places.items()]


def groups_by_day(slots: list[Slot], lang: str, zone: ZoneInfo) -> list[Group]:
    """Times on several days (the alternatives after a refusal): under their day, each with its place."""
    days: dict[str, list[SlotRow]] = {}
    for slot in sorted(slots, key=lambda s: s.start)[:MAX_CHOICES]:
        row = slot_row(slot, lang, zone)
        days.setdefault(row.day, []).append(row)
    return [Group(label, rows) for label, rows in days.items()]


def places_of(slots: list[Slot], lang: str) -> list[tuple[int, str]]:
    seen: dict[int, tuple[bool, str]] = {}
    for slot in slots:
        remote = slot.location.kind in (Mode.phone, Mode.video)
        seen.setdefault(slot.location.location_id, (remote, place_label(slot.location, slot.location.kind, lang)))
    return [(place_id, label) for place_id, (_remote, label) in sorted(seen.items(), key=lambda item: item[1])]


def picker_screen(found: list[Slot], day: date | None, part: int, chosen: str, lang: str,
                  zone: ZoneInfo) -> dict[str, Any]:
    """What a time picker shows of the free times `found`: the days with times (and the first free time) until a day
    is chosen or the chosen time names one; then that day's times grouped by place, one screen (`part`) of at most a
    screenful, the one holding the chosen time if there is one. The values move.html takes, the client's and the
    staff's."""
    by_id = {slot.slot_id: slot for slot in found}
    if chosen in by_id:
        day = local_day(by_id[chosen], zone)
    parts = parts_of_day(found, day, zone) if day else []
    if day is None or not parts:
        ordered = sorted(found, key=lambda s: (s.start, s.slot_id))
        return {"days": days_with_times(found, lang, zone),
                "first_free": slot_row(ordered[0], lang, zone) if ordered else None}
    part = min(part, len(parts) - 1)
    if chosen in by_id:
        part = next(index for index, screen in enumerate(parts) if by_id[chosen] in screen)
    return {"groups": groups_by_place(parts[part], lang, zone), "day": day.isoformat(), "part": part,
            "last_part": len(parts) - 1, "day_label": day_label(day, lang)}
