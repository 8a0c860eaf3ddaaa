"""What an inbound SMS asks for: stop messages, start them again, or anything else (pure, no I/O).

Only a whole message counts as a command ("STOP", "Stopp!", " stop. "), never a word inside a sentence ("stop by
tomorrow?"), so an ordinary reply never silences a client by accident. Case, width, surrounding punctuation and emoji
and, in Latin script, diacritics do not matter (LEIRATKOZAS is LEIRATKOZÁS). The language of the word that matched
goes with the answer, so that the one confirmation is written in words the sender used; a word several languages
share (STOP, СТОП, START) has no language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Literal

Keyword = Literal["stop", "start", "other"]

# Opt-out words per language. Twilio's own standard set (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, and since
# 2025 OPTOUT and REVOKE) is honoured by carriers in North America; elsewhere it is on us, so each language carries
# the words its SMS services advertise ("Abmelden: STOPP an ...", "Pentru dezabonare ...", "Envía BAJA ...") and
# the imperative people type. Ordinary replies that only sometimes mean stop ("nein", "no", "NU", "NIE") are left out.
STOP_WORDS: Mapping[str, tuple[str, ...]] = {
    "de": ("STOP", "STOPP", "HALT", "ENDE", "ABMELDEN", "ABBESTELLEN", "AUSTRAGEN"),
    "en": ("STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT OUT", "REVOKE"),
    "ro": ("STOP", "DEZABONARE", "DEZABONEAZĂ", "DEZABONEAZĂ-MĂ"),
    "bg": ("СТОП", "STOP", "ОТПИСВАНЕ", "ОТПИШИ МЕ"),
    "hu": ("STOP", "LEIRATKOZÁS", "LEIRATKOZOM"),
    "pl": ("STOP", "WYPISZ", "WYPISZ MNIE", "REZYGNACJA", "REZYGNUJĘ"),
    "ru": ("СТОП", "STOP", "ОТПИСАТЬСЯ", "ОТПИСКА", "ОТПИШИТЕ МЕНЯ"),
    # Ukrainian is often typed on a Russian layout, which has no і: people use the Latin i instead.
    "uk": ("СТОП", "STOP", "ВІДПИСАТИСЯ", "ВIДПИСАТИСЯ", "ВІДПИСКА", "ВIДПИСКА"),
    "es": ("STOP", "BAJA", "DAR DE BAJA", "DARME DE BAJA", "PARAR", "ALTO", "DETENER", "CANCELAR"),
    # ยกเลิก (cancel) is what Thai operators ask subscribers to send.
    "th": ("หยุด", "STOP", "ยกเลิก"),
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


def _build_table() -> dict[str, tuple[Keyword, str | None]]:
    languages: dict[tuple[Keyword, str], set[str]] = {}
    for keyword, words in (("stop", STOP_WORDS), ("start", START_WORDS)):
        for language, listed in words.items():
            for word in listed:
                for variant in _variants(language, word):
                    languages.setdefault((keyword, normalise(variant)), set()).add(language)  # type: ignore[arg-type]
    table: dict[str, tuple[Keyword, str | None]] = {}
    for (keyword, text), used_by in languages.items():
        if text in table:
            raise ValueError(f"{text!r} is both a stop and a start word")
        table[text] = (keyword, next(iter(used_by)) if len(used_by) == 1 else None)
    return table


_TABLE = _build_table()


def classify(body: str) -> tuple[Keyword, str | None]:
    """("stop" | "start" | "other", the language of the matched word or None if several languages share it)."""
    text = normalise(body[: MAX_COMMAND_LENGTH * 4])
    if not text or len(text) > MAX_COMMAND_LENGTH:
        return "other", None
    found = _TABLE.get(text)
    if found is None:
        # "stop stop stop" is as clear as "stop"; a mixture ("stop start") is not.
        words = text.split(" ")
        if len(words) > 1 and len(set(words)) == 1:
            found = _TABLE.get(words[0])
    return found if found is not None else ("other", None)
