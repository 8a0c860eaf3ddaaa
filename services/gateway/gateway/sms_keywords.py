"""What an inbound SMS asks for (pure, no I/O): stop or start texts, book, change or cancel an appointment, help,
yes or no to a question, a number from a list, or anything else.

Only a whole message counts as STOP or START ("STOP", "Stopp!", " stop. "), never a word inside a sentence ("stop by
tomorrow?"), so an ordinary reply never silences a client by accident. Booking, changing, cancelling and help are
also read from a short sentence that holds exactly one of their words ("Hallo, ich hätte gern einen Termin"): each
is answered with a question or a list, never acted on blindly. Case, width, surrounding punctuation and emoji and, in
Latin script, diacritics do not matter (LEIRATKOZAS is LEIRATKOZÁS). The language of the word that matched goes with
the answer, so that the reply is written in words the sender used; a word several languages share (STOP, СТОП,
TERMIN, NO) has no language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Keyword = Literal["stop", "start", "other"]
IntentKind = Literal["stop", "start", "book", "change", "cancel", "help", "yes", "no", "number", "other"]

# Opt-out words per language. Twilio's own standard set (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, and since
# 2025 OPTOUT and REVOKE) is honoured by carriers in North America; elsewhere it is on us, so each language carries
# the words its SMS services advertise ("Abmelden: STOPP an ...", "Pentru dezabonare ...", "Envía BAJA ...") and
# the imperative people type. Ordinary replies that only sometimes mean stop ("nein", "no", "NU", "NIE") are left out.
# So are the words for cancel (CANCEL, CANCELAR, ยกเลิก): on an appointment line they mean the appointment, and a
# client who cancels must not lose their texts (nor keep an appointment they meant to give up).
STOP_WORDS: Mapping[str, tuple[str, ...]] = {
    "de": ("STOP", "STOPP", "HALT", "ENDE", "ABMELDEN", "ABBESTELLEN", "AUSTRAGEN"),
    "en": ("STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "END", "QUIT", "OPTOUT", "OPT OUT", "REVOKE"),
    "ro": ("STOP", "DEZABONARE", "DEZABONEAZĂ", "DEZABONEAZĂ-MĂ"),
    "bg": ("СТОП", "STOP", "ОТПИСВАНЕ", "ОТПИШИ МЕ"),
    "hu": ("STOP", "LEIRATKOZÁS", "LEIRATKOZOM"),
    "pl": ("STOP", "WYPISZ", "WYPISZ MNIE", "REZYGNACJA", "REZYGNUJĘ"),
    "ru": ("СТОП", "STOP", "ОТПИСАТЬСЯ", "ОТПИСКА", "ОТПИШИТЕ МЕНЯ"),
    # Ukrainian is often typed on a Russian layout, which has no і: people use the Latin i instead.
    "uk": ("СТОП", "STOP", "ВІДПИСАТИСЯ", "ВIДПИСАТИСЯ", "ВІДПИСКА", "ВIДПИСКА"),
    "es": ("STOP", "BAJA", "DAR DE BAJA", "DARME DE BAJA", "PARAR", "ALTO", "DETENER"),
    "th": ("หยุด", "STOP"),
}
# Opt-in words. Deliberately narrow: a wrong START turns messages back on for a phone whose owner asked for quiet,
# while a missed one costs a second text (the confirmation names START). So no YES/JA/SI, and no ANMELDEN, which
# on an appointment line may just as well mean "I want an appointment".
START_WORDS: Mapping[str, tuple[str, ...]] = {
    "de": ("START", "STARTEN"),
    "en": ("START", "UNSTOP"),
    "ro": ("START",),
    "bg": ("СТАРТ", "START"),
    "hu": ("START",),
    "pl": ("START",),
    "ru": ("СТАРТ", "START"),
    "uk": ("СТАРТ", "START"),
    "es": ("START", "ALTA"),
    "th": ("เริ่ม", "START"),
}
# What a client types to ask for a time. The bare "1" works in every language (the service's flyer says
# "Termin / appointment / 1"). Words shared by several languages (TERMIN: de and pl) carry no language.
BOOK_WORDS: Mapping[str, tuple[str, ...]] = {
    "de": ("TERMIN", "TERMINE", "BUCHEN", "TERMIN BUCHEN", "NEUER TERMIN", "ICH MÖCHTE EINEN TERMIN",
           "ICH HÄTTE GERN EINEN TERMIN", "ICH BRAUCHE EINEN TERMIN"),
    "en": ("APPOINTMENT", "BOOK", "BOOKING", "NEW APPOINTMENT", "I WANT TO BOOK", "I WANT AN APPOINTMENT",
           "I NEED AN APPOINTMENT", "BOOK APPOINTMENT"),
    "ro": ("PROGRAMARE", "PROGRAMARI", "REZERVARE", "PROGRAMEAZA", "VREAU O PROGRAMARE", "PROGRAMARE NOUA"),
    "bg": ("ЧАС", "ЗАПИСВАНЕ", "СРЕЩА", "ИСКАМ ЧАС", "ЗАПАЗИ ЧАС", "ЗАПАЗВАНЕ НА ЧАС"),
    "hu": ("IDŐPONT", "FOGLALÁS", "IDŐPONTFOGLALÁS", "IDŐPONTOT KÉREK", "BEJELENTKEZÉS"),
    "pl": ("TERMIN", "WIZYTA", "UMÓW", "UMÓW WIZYTĘ", "REZERWACJA", "CHCĘ WIZYTĘ", "CHCĘ SIĘ UMÓWIĆ"),
    "ru": ("ЗАПИСЬ", "ЗАПИСАТЬСЯ", "ВСТРЕЧА", "ПРИЁМ", "ХОЧУ ЗАПИСАТЬСЯ", "НУЖНА ЗАПИСЬ"),
    "uk": ("ЗАПИС", "ЗАПИСАТИСЯ", "ЗУСТРІЧ", "ПРИЙОМ", "ВІЗИТ", "ХОЧУ ЗАПИСАТИСЯ"),
    "es": ("CITA", "RESERVAR", "RESERVA", "PEDIR CITA", "QUIERO UNA CITA", "NECESITO UNA CITA"),
    "th": ("นัด", "จอง", "นัดหมาย", "ขอนัด", "จองคิว", "อยากนัด"),
}
CHANGE_WORDS: Mapping[str, tuple[str, ...]] = {
    "de": ("ÄNDERN", "VERSCHIEBEN", "TERMIN ÄNDERN", "TERMIN VERSCHIEBEN", "UMBUCHEN"),
    "en": ("CHANGE", "MOVE", "RESCHEDULE", "CHANGE APPOINTMENT"),
    "ro": ("SCHIMBARE", "SCHIMBA", "MODIFICARE", "MODIFICA", "MUTA"),
    "bg": ("ПРОМЯНА", "ПРОМЕНИ", "ПРЕМЕСТИ", "ПРОМЕНИ ЧАСА"),
    "hu": ("MÓDOSÍTÁS", "MÓDOSÍT", "ÁTHELYEZÉS", "VÁLTOZTATÁS"),
    "pl": ("ZMIANA", "ZMIEŃ", "PRZENIEŚ", "ZMIEŃ TERMIN"),
    "ru": ("ИЗМЕНИТЬ", "ИЗМЕНЕНИЕ", "ПЕРЕНЕСТИ", "ПЕРЕНОС"),
    "uk": ("ЗМІНИТИ", "ЗМІНА", "ПЕРЕНЕСТИ ЗАПИС", "ЗМIНИТИ", "ЗМIНА"),
    "es": ("CAMBIAR", "CAMBIO", "CAMBIAR CITA", "MOVER"),
    "th": ("เปลี่ยน", "เลื่อน", "เปลี่ยนนัด", "เลื่อนนัด"),
}
CANCEL_WORDS: Mapping[str, tuple[str, ...]] = {
    "de": ("ABSAGEN", "STORNIEREN", "TERMIN ABSAGEN", "STORNO", "ABSAGE"),
    "en": ("CANCEL", "CANCEL APPOINTMENT", "CANCELLATION"),
    "ro": ("ANULARE", "ANULEAZĂ", "ANULEZ", "ANULEAZĂ PROGRAMAREA"),
    "bg": ("ОТМЯНА", "ОТКАЖИ", "ОТКАЗВАМ", "ОТМЕНИ ЧАСА"),
    "hu": ("LEMONDÁS", "LEMOND", "LEMONDOM", "TÖRLÉS"),
    "pl": ("ODWOŁAJ", "ODWOŁANIE", "ANULUJ", "ODWOŁUJĘ"),
    "ru": ("ОТМЕНА", "ОТМЕНИТЬ", "ОТМЕНИТЬ ЗАПИСЬ"),
    "uk": ("СКАСУВАТИ", "СКАСУВАННЯ", "ВІДМІНИТИ", "ВIДМIНИТИ"),
    "es": ("CANCELAR", "ANULAR", "CANCELAR CITA", "ANULAR CITA"),
    "th": ("ยกเลิก", "ยกเลิกนัด"),
}
HELP_WORDS: Mapping[str, tuple[str, ...]] = {
    "de": ("HILFE", "INFO"),
    "en": ("HELP", "INFO"),
    "ro": ("AJUTOR", "INFO"),
    "bg": ("ПОМОЩ", "ИНФО"),
    "hu": ("SEGÍTSÉG", "SÚGÓ", "INFO"),
    "pl": ("POMOC", "INFO"),
    "ru": ("ПОМОЩЬ", "ИНФО"),
    "uk": ("ДОПОМОГА", "ІНФО"),
    "es": ("AYUDA", "INFO"),
    "th": ("ช่วย", "ช่วยเหลือ"),
}
# Answers to "cancel the appointment at …?" only; anywhere else they are not understood.
YES_WORDS: Mapping[str, tuple[str, ...]] = {
    "de": ("JA", "OK", "JAWOHL", "JA BITTE"), "en": ("YES", "Y", "OK", "YES PLEASE"), "ro": ("DA", "OK"),
    "bg": ("ДА", "OK"), "hu": ("IGEN", "OK"), "pl": ("TAK", "OK"), "ru": ("ДА", "OK"),
    "uk": ("ТАК", "OK"), "es": ("SÍ", "SI", "OK"), "th": ("ใช่", "ตกลง", "OK"),
}
NO_WORDS: Mapping[str, tuple[str, ...]] = {
    "de": ("NEIN", "NEE"), "en": ("NO", "N", "NOPE"), "ro": ("NU",), "bg": ("НЕ",), "hu": ("NEM",),
    "pl": ("NIE",), "ru": ("НЕТ",), "uk": ("НІ", "НI"), "es": ("NO",), "th": ("ไม่", "ไม่ใช่"),
}
# The words a reply text tells the client to send, per language: the first of each list above that is the language's
# own (tests/unit/test_sms_keywords.py checks that every one of them is read back as what it stands for).
_WORDS_BY_INTENT: tuple[tuple[IntentKind, Mapping[str, tuple[str, ...]]], ...] = (
    ("stop", STOP_WORDS), ("start", START_WORDS), ("book", BOOK_WORDS), ("change", CHANGE_WORDS),
    ("cancel", CANCEL_WORDS), ("help", HELP_WORDS), ("yes", YES_WORDS), ("no", NO_WORDS))
# Read from inside a short sentence as well; STOP/START and yes/no only as the whole message.
_FOUND_IN_SENTENCES: frozenset[IntentKind] = frozenset({"book", "change", "cancel", "help"})
LANGUAGES: tuple[str, ...] = tuple(STOP_WORDS)
# Answers with a number from a list: "2", "2.", "#2", "Nr. 2", Thai or fullwidth digits.
MAX_CHOICE = 9
# Thai messages usually end in a polite particle (ค่ะ, ครับ …); "หยุดค่ะ" is still just "stop".
POLITE_ENDINGS: Mapping[str, tuple[str, ...]] = {"th": ("ค่ะ", "คะ", "ครับ", "คับ", "นะคะ", "นะครับ", "จ้า")}

# Longer than any command with its particles; longer messages are conversation, not commands.
MAX_COMMAND_LENGTH = 40
_INNER_SPACE = re.compile(r"[\s\u2010-\u2015_-]+")  # "opt-out", "STOP  ALL"
_LATIN_FOLDS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ı": "i"})  # letters NFD does not decompose


def normalise(text: str) -> str:
    """The comparable form of a message: NFKC, casefolded, trimmed of punctuation, symbols and emoji at both ends,
    inner spaces and dashes as one space, and Latin letters without their diacritics."""
    text = unicodedata.normalize("NFKC", text).casefold()
    start, end = 0, len(text)
    while start < end and _is_edge_noise(text[start]):
        start += 1
    while end > start and _is_edge_noise(text[end - 1]):
        end -= 1
    text = _INNER_SPACE.sub(" ", text[start:end])
    return _strip_latin_diacritics(text)


def _is_edge_noise(char: str) -> bool:
    category = unicodedata.category(char)
    # Marks are kept unless they dress an emoji (U+FE0F after ✋, skin tones are Sk): Thai vowels are marks too.
    return category[0] in "PSZC" or "\ufe00" <= char <= "\ufe0f" or char == "\u200d"


def _strip_latin_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    kept: list[str] = []
    base_is_latin = False
    for char in decomposed:
        if unicodedata.combining(char):
            # Only Latin letters lose their accents; Cyrillic й/ї and Thai vowel signs are letters of their own.
            if not base_is_latin:
                kept.append(char)
            continue
        base_is_latin = "LATIN" in unicodedata.name(char, "")
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept)).translate(_LATIN_FOLDS)


def _variants(language: str, word: str) -> Iterable[str]:
    yield word
    for ending in POLITE_ENDINGS.get(language, ()):
        yield word + ending
        yield f"{word} {ending}"


@dataclass(frozen=True)
class Intent:
    kind: IntentKind
    language: str | None = None  # the language of the matched word; None when several share it, or no word
    number: int | None = None  # kind "number": 1..MAX_CHOICE


def _build_table() -> dict[str, tuple[IntentKind, str | None]]:
    languages: dict[tuple[IntentKind, str], set[str]] = {}
    for kind, words in _WORDS_BY_INTENT:
        for language, listed in words.items():
            for word in listed:
                for variant in _variants(language, word):
                    languages.setdefault((kind, normalise(variant)), set()).add(language)
    table: dict[str, tuple[IntentKind, str | None]] = {}
    for (kind, text), used_by in languages.items():
        if text in table:
            raise ValueError(f"{text!r} means both {table[text][0]} and {kind}")
        table[text] = (kind, next(iter(used_by)) if len(used_by) == 1 else None)
    return table


_TABLE = _build_table()
# The words found inside a sentence, longest first (so that "termin absagen" is cancel, not book).
_SENTENCE_WORDS = sorted(((text, found) for text, found in _TABLE.items() if found[0] in _FOUND_IN_SENTENCES
                          ), key=lambda item: -len(item[0]))
_THAI = re.compile(r"[\u0e00-\u0e7f]")
_CHOICE = re.compile(r"^(?:#|nr|no|n|num)?\s?\.?\s?(\d{1,2})$")
# Longer than any sentence that asks for one thing; longer texts are conversation we do not read.
MAX_SENTENCE_LENGTH = 80


def read(body: str) -> Intent:
    """What the message asks for (see the module's docstring); Intent("other") when it is not clear."""
    text = normalise(body[: MAX_SENTENCE_LENGTH * 4])
    if not text or len(text) > MAX_SENTENCE_LENGTH:
        return Intent("other")
    if len(text) <= MAX_COMMAND_LENGTH:
        found = _TABLE.get(text)
        if found is None:
            # "stop stop stop" is as clear as "stop"; a mixture ("stop start") is not.
            words = text.split(" ")
            if len(words) > 1 and len(set(words)) == 1:
                found = _TABLE.get(words[0])
        if found is not None:
            return Intent(*found)
        choice = _choice(text)
        if choice is not None:
            return Intent("number", None, choice)
    return _in_sentence(text)


def classify(body: str) -> tuple[Keyword, str | None]:
    """("stop" | "start" | "other", the language of the matched word or None if several languages share it)."""
    intent = read(body)
    if intent.kind in ("stop", "start"):
        return intent.kind, intent.language
    return "other", None


def _choice(text: str) -> int | None:
    digits = "".join(str(unicodedata.digit(char)) if unicodedata.digit(char, None) is not None else char
                     for char in text)
    match = _CHOICE.match(digits)
    if match is None:
        return None
    number = int(match.group(1))
    return number if 1 <= number <= MAX_CHOICE else None


def _in_sentence(text: str) -> Intent:
    """Exactly one kind of request among the sentence's words (Thai, written without spaces: among its letters)."""
    text = "".join(" " if unicodedata.category(char)[0] in "PS" else char for char in text)
    padded = f" {text} "
    found: dict[IntentKind, str | None] = {}
    for word, (kind, language) in _SENTENCE_WORDS:
        hit = word in text if _THAI.search(word) else f" {word} " in padded
        if hit:
            # The longer word wins its place: "termin absagen" hides the "termin" inside it.
            text = text.replace(word, " ")
            padded = f" {text} "
            found.setdefault(kind, language)
    if len(found) == 2 and "book" in found and ("change" in found or "cancel" in found):
        # "cancel my appointment": the word for appointment names what is to be cancelled.
        del found["book"]
    if len(found) != 1:
        return Intent("other")
    kind, language = next(iter(found.items()))
    return Intent(kind, language)
