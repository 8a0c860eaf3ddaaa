"""The words of every SMS, in the client's language, from the gettext catalogues in `notifier/locale`.

Discreet by design: when, where (a neutral alias), a link to change it and how to stop texts; no organisation name,
no topic, nothing a person reading a lock screen could connect with what the appointment is about. A language whose
catalogue is missing or broken is sent in English with an ERROR in the log, never as an empty or half-filled text.
"""

from __future__ import annotations

import io
import logging
import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import get_month_names
from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, read_po

from notifier.domain.sms_length import fold_to_gsm7, is_gsm7, segments

log = logging.getLogger(__name__)


def N_(msgid: str) -> str:
    """The marker `pybabel extract` looks for; the text itself is looked up at render time."""
    return msgid


MESSAGES: dict[str, str] = {
    # TRANSLATORS: Keep every text short and neutral: with a 40-letter place name and the link it must fit two SMS.
    # Never name the organisation or what the appointment is about. Keep {when}, {place}, {link} and the words
    # STOP and START as they are (they are what a client sends back).
    "confirmation": N_("Appointment confirmed: {when}, {place}. Change or cancel: {link} STOP = no more SMS"),
    "reminder": N_("Reminder: appointment {when}, {place}. Change or cancel: {link} STOP = no more SMS"),
    "rescheduled": N_("Appointment moved to {when}, {place}. Details: {link} STOP = no more SMS"),
    "cancelled": N_("Appointment cancelled: {when}. Book again: {link} STOP = no more SMS"),
    "opted_out": N_("You will get no more SMS from us. Send START to get them again."),
    "opted_in": N_("SMS are on again. Send STOP to stop them."),
}
# Replies in an SMS conversation (gateway.sms_conversation → `sms.reply_requested`). Each names the words the client
# may send back in the language's own words, as gateway/sms_keywords.py reads them.
REPLIES: dict[str, str] = {
    # TRANSLATORS: Replies to a client's text. As short and neutral as the texts above; {times} is a numbered list
    # of times and places, one a line. Write the words to send back (APPOINTMENT, CHANGE, CANCEL, HELP, YES, NO) in
    # capitals and in the words of your language that the gateway reads (gateway/sms_keywords.py).
    "reply_offer": N_("Free times, reply with the number:\n{times}"),
    "reply_offer_again": N_("That list has expired. Free times now, reply with the number:\n{times}"),
    "reply_taken": N_("Sorry, that time was just taken. Free times, reply with the number:\n{times}"),
    "reply_no_times": N_("No free times right now. Please try again later."),
    "reply_cannot_book": N_("No more bookings from this number right now. Please try again later."),
    "reply_confirm_cancel": N_("Cancel your appointment {when}, {place}? Reply YES or NO."),
    "reply_cancel_requested": N_("OK, your appointment {when} is being cancelled."),
    "reply_cancel_kept": N_("OK, your appointment {when}, {place} stays."),
    "reply_no_appointment": N_("No upcoming appointment for this number. Send APPOINTMENT to book one."),
    "reply_change_link": N_("Change your appointment {when} here: {link}"),
    "reply_move_offer": N_("Your appointment {when}. Other free times, reply with the number:\n{times}"),
    "reply_move_taken": N_(
        "Sorry, that time was just taken. Your appointment {when} stays. Free times, reply with the number:\n{times}"),
    "reply_move_kept": N_("Sorry, your appointment could not be moved. It stays {when}, {place}."),
    "reply_help": N_("Send APPOINTMENT for free times, CHANGE to change, CANCEL to cancel. STOP = no more SMS"),
    "reply_not_understood": N_("Sorry, we did not understand. Send APPOINTMENT for free times or HELP for help."),
    "reply_paused": N_("Too many messages. We will read your next ones in a few minutes."),
    # TRANSLATORS: The answer to STOP when the number still has an appointment: it stays booked unless cancelled.
    "reply_opted_out_booked": N_(
        "No more SMS from us. Your appointment {when} stays booked. Change or cancel: {link} START = SMS again"),
}
# A line of {times}: its number, when and where (the place's neutral alias).
_TIME_LINE = "{n}) {when}, {place}"
# TRANSLATORS: How a date and time read, e.g. "Di 15.07. 10:30". Use any of {weekday} (the short names below),
# {d} (5), {dd} (05), {mm} (07), {mon} (the month's short name) and {time} (24 h, 10:30). Numbers save space.
WHEN = N_("{weekday} {d} {mon} {time}")
# TRANSLATORS: Short weekday names, as in a calendar.
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))

KINDS: tuple[str, ...] = tuple(MESSAGES)
REPLY_KINDS: tuple[str, ...] = tuple(REPLIES)
MAX_SEGMENTS = 2
LANGUAGES: tuple[str, ...] = ("de", "en", "ro", "bg", "hu", "pl", "ru", "uk", "es", "th")
FALLBACK_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"

_WHEN_FIELDS = frozenset({"weekday", "d", "dd", "mm", "mon", "time"})
# The words a client sends back: a translation that loses one would tell them to send something we do not read.
_KEYWORDS = re.compile(r"\b(STOP|START)\b")
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class Rendered:
    language: str  # the language actually used
    body: str
    fell_back: bool  # True when the requested language failed and English was used
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int


class TemplateError(RuntimeError):
    """Not even the English text could be rendered: a defect in the shipped catalogue, never sent."""


class BrokenTranslation(Exception):
    """One language's text cannot be used; the reason names what is wrong, never the text itself."""


class Catalogues:
    """The translations, one Babel catalogue per language; a language without one is sent in English."""

    def __init__(self, by_language: Mapping[str, Catalog]) -> None:
        self._by_language = dict(by_language)

    @classmethod
    def from_directory(cls, root: Path) -> Catalogues:
        """Read `<root>/<language>/LC_MESSAGES/messages.po` for each supported language that has one.

        A file that does not parse is left out with an ERROR, so that language falls back to English.
        """
        loaded: dict[str, Catalog] = {}
        for language in LANGUAGES:
            path = root / language / "LC_MESSAGES" / f"{DOMAIN}.po"
            if not path.is_file():
                continue
            try:
                loaded[language] = read_po(io.BytesIO(path.read_bytes()), locale=language, abort_invalid=True)
            except (PoFileError, ValueError, UnicodeDecodeError):
                log.error("SMS catalogue for %s does not parse; texts in %s will be sent in English",
                          language, language)
        return cls(loaded)

    @property
    def languages(self) -> frozenset[str]:
        return frozenset(self._by_language)

    def translate(self, language: str, msgid: str) -> str:
        catalog = self._by_language.get(language)
        if catalog is None:
            raise BrokenTranslation("no catalogue")
        message = catalog.get(msgid)
        # A fuzzy entry is a guess gettext would not use either.
        if message is None or message.fuzzy or not isinstance(message.string, str) or not message.string.strip():
            raise BrokenTranslation("missing translation")
        return message.string


@cache
def shipped_catalogues() -> Catalogues:
    """The catalogues in the package, read once on first use (not at import)."""
    return Catalogues.from_directory(LOCALE_DIR)


def render(
    kind: str,
    language: str,
    starts_at: datetime | None,
    place: str | None,
    link: str | None,
    zone: ZoneInfo,
    *,
    signature: str = "",
    catalogues: Catalogues | None = None,
) -> Rendered:
    """The SMS of `kind` in `language`, or in English (fell_back=True, ERROR logged) if that language fails.

    Appointment kinds need `starts_at` (aware; shown in `zone`, 24 h), `place` and `link`; opted_out/opted_in take
    none. `signature`, if any, ends the text. Raises ValueError for an unknown kind or a missing value, and
    TemplateError if even English fails.
    """
    if kind not in MESSAGES:
        raise ValueError(f"unknown SMS kind {kind!r}; known: {', '.join(KINDS)}")
    given = {"when": starts_at, "place": place, "link": link}
    if missing := [name for name in sorted(_fields(MESSAGES[kind])) if given[name] is None]:
        raise ValueError(f"a {kind} text needs {', '.join(missing)}")
    if starts_at is not None and starts_at.tzinfo is None:
        raise ValueError("starts_at must be timezone-aware")
    if catalogues is None:
        catalogues = shipped_catalogues()
    return _with_fallback(kind, language, lambda lang: _render_in(
        catalogues, MESSAGES[kind], lang, starts_at, place, link, zone, signature))


def render_reply(
    kind: str,
    language: str,
    zone: ZoneInfo,
    *,
    times: Sequence[tuple[datetime, str]] = (),
    starts_at: datetime | None = None,
    place: str | None = None,
    link: str | None = None,
    also: str | None = None,
    signature: str = "",
    catalogues: Catalogues | None = None,
) -> Rendered:
    """A reply of an SMS conversation (REPLIES) in `language`, followed by the same in `also` if both fit two SMS
    (a client whose language is not known yet gets German and English). Of `times` (aware start, place alias) as
    many are listed, from the first, as fit two SMS, at least one. Falls back to English like `render`."""
    if kind not in REPLIES:
        raise ValueError(f"unknown reply kind {kind!r}; known: {', '.join(REPLY_KINDS)}")
    given = {"when": starts_at, "place": place, "link": link, "times": times or None}
    if missing := [name for name in sorted(_fields(REPLIES[kind])) if given[name] is None]:
        raise ValueError(f"a {kind} reply needs {', '.join(missing)}")
    if any(t.tzinfo is None for t, _ in times) or (starts_at is not None and starts_at.tzinfo is None):
        raise ValueError("times must be timezone-aware")
    shipped = catalogues if catalogues is not None else shipped_catalogues()

    def body_in(lang: str) -> str:
        counts = range(len(times), 0, -1) if times else range(0, -1, -1)
        # Both languages with fewer times first: a client whose language is unknown must be able to read it.
        second = also if also is not None and also != lang else None
        both = [(count, True) for count in counts] if second is not None else []
        body = ""
        for count, bilingual in [*both, *((count, False) for count in counts)]:
            body = _render_in(shipped, REPLIES[kind], lang, starts_at, place, link, zone, "", times[:count])
            if second is not None and bilingual:
                try:
                    body += "\n" + _render_in(shipped, REPLIES[kind], second, starts_at, place, link, zone, "",
                                              times[:count])
                except BrokenTranslation:
                    continue
            if segments(_signed(body, signature))[1] <= MAX_SEGMENTS:
                break
        return _signed(body, signature)

    return _with_fallback(kind, language, body_in)


def _signed(body: str, signature: str) -> str:
    return f"{body}\n{signature.strip()}" if signature.strip() else body


def _with_fallback(kind: str, language: str, body_in: Callable[[str], str]) -> Rendered:
    try:
        return _rendered(language, body_in(language), fell_back=False)
    except BrokenTranslation as broken:
        if language == FALLBACK_LANGUAGE:
            raise TemplateError(f"the English {kind} text cannot be rendered: {broken}") from None
        shown = language if _LANGUAGE_CODE.fullmatch(language) else "an unsupported language"
        log.error("%s text in %s cannot be rendered (%s); sent in English instead", kind, shown, broken)
    try:
        body = body_in(FALLBACK_LANGUAGE)
    except BrokenTranslation as broken:
        raise TemplateError(f"the English {kind} text cannot be rendered: {broken}") from None
    return _rendered(FALLBACK_LANGUAGE, body, fell_back=True)


# A fixed sample (a Tuesday in summer time) so the preview reads the same on every visit.
PREVIEW_STARTS_AT = datetime(2026, 7, 14, 10, 30, tzinfo=ZoneInfo("Europe/Berlin"))
PREVIEW_PLACE = "Stadtmitte 2"
PREVIEW_TOKEN = "AbCdEfGhIjKlMnOpQrStUv"  # noqa: S105 - a sample with the length of a real manage token


def preview_all(
    zone: ZoneInfo, signature: str, base_url: str, *, catalogues: Catalogues | None = None
) -> list[tuple[str, str, Rendered]]:
    """(kind, language, rendered) for every kind in every language, with sample values, for the admin preview."""
    link = f"{base_url.rstrip('/')}/m/{PREVIEW_TOKEN}"
    return [
        (kind, language, render(kind, language, PREVIEW_STARTS_AT, PREVIEW_PLACE, link, zone,
                                signature=signature, catalogues=catalogues))
        for kind in KINDS
        for language in LANGUAGES
    ]


def _render_in(
    catalogues: Catalogues,
    msgid: str,
    language: str,
    starts_at: datetime | None,
    place: str | None,
    link: str | None,
    zone: ZoneInfo,
    signature: str,
    times: Sequence[tuple[datetime, str]] = (),
) -> str:
    template = catalogues.translate(language, msgid)
    if _fields(template) != _fields(msgid):
        raise BrokenTranslation("placeholders differ from the English text")
    if _KEYWORDS.findall(template) != _KEYWORDS.findall(msgid):
        raise BrokenTranslation("STOP/START keyword missing")
    needed = _fields(msgid)
    when = _when(catalogues, language, starts_at.astimezone(zone)) if starts_at and "when" in needed else ""
    whens = [_when(catalogues, language, start.astimezone(zone)) for start, _ in times]
    places = [alias for _, alias in times]
    # One letter outside the GSM alphabet would send the whole text as UCS-2 (70 instead of 160 per segment):
    # in a language written in GSM letters, "Côte" in a place name or the signature is shown as "Cote".
    if is_gsm7(template) and is_gsm7(when) and all(is_gsm7(w) for w in whens):
        place, signature = fold_to_gsm7(place or ""), fold_to_gsm7(signature)
        places = [fold_to_gsm7(alias) for alias in places]
    lines = "\n".join(_TIME_LINE.format(n=n, when=w, place=p) for n, (w, p) in enumerate(zip(whens, places,
                                                                                                strict=True), 1))
    values = {"when": when, "place": place or "", "link": link or "", "times": lines}
    body = _format(template, values).strip()
    if not body:
        raise BrokenTranslation("empty result")
    return _signed(body, signature)


def _when(catalogues: Catalogues, language: str, local: datetime) -> str:
    pattern = catalogues.translate(language, WHEN)
    fields = _fields(pattern)
    if not fields <= _WHEN_FIELDS or "time" not in fields or not fields & {"d", "dd"} or not fields & {"mm", "mon"}:
        raise BrokenTranslation("date pattern needs {time}, a day and a month")
    values = {
        "weekday": catalogues.translate(language, WEEKDAYS[local.weekday()]),
        "d": str(local.day),
        "dd": f"{local.day:02d}",
        "mm": f"{local.month:02d}",
        "mon": str(get_month_names("abbreviated", locale=language)[local.month]) if "mon" in fields else "",
        "time": f"{local.hour:02d}:{local.minute:02d}",
    }
    return _format(pattern, values)


def _fields(template: str) -> frozenset[str]:
    """The named placeholders of a str.format template; anything else ({}, {0}, {a.b}, {a!r}) makes it broken."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        raise BrokenTranslation("malformed placeholder") from None
    names = set()
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise BrokenTranslation("malformed placeholder")
        names.add(name)
    return frozenset(names)


def _format(template: str, values: Mapping[str, str]) -> str:
    try:
        return template.format_map(values)
    except (KeyError, ValueError, IndexError):
        raise BrokenTranslation("placeholder does not format") from None


def _rendered(language: str, body: str, *, fell_back: bool) -> Rendered:
    encoding, count = segments(body)
    return Rendered(language=language, body=body, fell_back=fell_back, encoding=encoding, segments=count)
