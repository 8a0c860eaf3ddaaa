"""What a slot looks like on a page: its day, time and place in the client's language, grouped by day."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from babel.dates import format_date

from gateway.web.texts import TEXTS
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
    texts = TEXTS[lang]
    if mode in (Mode.phone, Mode.video):
        return texts[f"mode.{mode.value}"]
    return f"{location.alias} ({texts[f'mode.{mode.value}']})"


def slot_row(slot: Slot, lang: str, zone: ZoneInfo) -> SlotRow:
    start = slot.start.astimezone(zone)
    return SlotRow(slot.slot_id, format_date(start.date(), TEXTS[lang]["date_pattern"], locale=lang),
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
