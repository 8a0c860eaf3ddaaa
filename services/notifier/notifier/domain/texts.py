"""The words of every SMS, per language. Discreet by design: when, where (a neutral alias), how to change it.

No organisation name, no topic, nothing a person reading a lock screen could connect with counselling.
German and English for now; other languages fall back to English until their catalogues exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

TEMPLATES: dict[str, dict[str, str]] = {
    "confirmation": {
        "de": "Termin bestätigt: {when}, {place}. Ändern oder absagen: {link}",
        "en": "Appointment confirmed: {when}, {place}. Change or cancel: {link}",
    },
}
# Babel patterns: short weekday, day, short month, 24 h time; the same shape in every language.
WHEN_PATTERN = {"de": "EEE d. MMM, HH:mm", "en": "EEE d MMM, HH:mm"}
FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True)
class Rendered:
    language: str
    body: str


def render(kind: str, language: str, starts_at: datetime, place: str, link: str, zone: ZoneInfo) -> Rendered:
    templates = TEMPLATES[kind]
    if language not in templates:
        language = FALLBACK_LANGUAGE
    when = format_datetime(starts_at.astimezone(zone), WHEN_PATTERN[language], locale=language)
    body = templates[language].format(when=when, place=place, link=link)
    if not body.strip():
        raise ValueError(f"template {kind}/{language} rendered empty")
    return Rendered(language, body)
