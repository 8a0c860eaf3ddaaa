"""Which inbound texts stop or restart a client's messages, in each supported language, and which never do.

Issue "Lotse 3/6", "Opt-out": a missed STOP keeps texting a phone whose owner asked for quiet; a false one silences
a client who only answered. Only a whole message is a command.
"""

from __future__ import annotations

import pytest
from gateway.sms_keywords import START_WORDS, STOP_WORDS, classify
from pydantic import TypeAdapter

from shared.contracts.common import LanguageCode

LANGUAGES = ("de", "en", "ro", "bg", "hu", "pl", "ru", "uk", "es", "th")


@pytest.mark.parametrize(("text", "language"), [
    # de
    ("STOPP", "de"), ("Stopp!", "de"), ("halt", "de"), ("Ende.", "de"), ("ABMELDEN", "de"), ("abbestellen", "de"),
    ("Austragen", "de"),
    # en
    ("STOPALL", "en"), ("stop all", "en"), ("Unsubscribe", "en"), ("cancel", "en"), ("END", "en"), ("quit", "en"),
    ("opt-out", "en"), ("OPTOUT", "en"), ("Revoke", "en"),
    # ro, with and without diacritics
    ("DEZABONARE", "ro"), ("Dezabonează", "ro"), ("dezaboneaza", "ro"), ("dezabonează-mă", "ro"),
    ("Dezaboneaza-ma", "ro"),
    # bg
    ("отписване", "bg"), ("Отпиши ме", "bg"),
    # hu
    ("LEIRATKOZÁS", "hu"), ("leiratkozas", "hu"), ("Leiratkozom!", "hu"),
    # pl
    ("WYPISZ", "pl"), ("wypisz mnie", "pl"), ("Rezygnacja", "pl"), ("rezygnuję", "pl"), ("REZYGNUJE", "pl"),
    # ru
    ("ОТПИСАТЬСЯ", "ru"), ("отписка", "ru"), ("Отпишите меня", "ru"),
    # uk, also typed with a Latin i on a Russian layout
    ("ВІДПИСАТИСЯ", "uk"), ("відписатися", "uk"), ("ВIДПИСАТИСЯ", "uk"), ("відписка", "uk"),
    # es
    ("BAJA", "es"), ("¡Baja!", "es"), ("dar de baja", "es"), ("Darme de baja", "es"), ("parar", "es"), ("Alto", "es"),
    ("detener", "es"), ("Cancelar", "es"),
    # th, with the polite particles Thai messages end in
    ("หยุด", "th"), ("หยุดค่ะ", "th"), ("หยุด ครับ", "th"), ("ยกเลิก", "th"), ("ยกเลิกนะคะ", "th"),
])
def test_stop_words_of_each_language_stop_and_name_the_language(text: str, language: str) -> None:
    assert classify(text) == ("stop", language)


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop. ", "STOP!!!", "\"stop\"", "ｓｔｏｐ", "Stop 🛑", "STOP✋🏽",
                                  "stop stop", "STOP\n", "\u200bSTOP", "СТОП", "стоп", "Стоп!", "stop\u00a0"])
def test_stop_shared_by_several_languages_stops_without_a_language(text: str) -> None:
    assert classify(text) == ("stop", None)


@pytest.mark.parametrize(("text", "expected"), [
    ("START", ("start", None)), ("start", ("start", None)), ("Start!", ("start", None)),
    ("СТАРТ", ("start", None)), ("старт", ("start", None)),
    ("STARTEN", ("start", "de")), ("Unstop", ("start", "en")), ("ALTA", ("start", "es")), ("alta.", ("start", "es")),
    ("เริ่ม", ("start", "th")), ("เริ่มค่ะ", ("start", "th")),
])
def test_start_words_undo_an_opt_out(text: str, expected: tuple[str, str | None]) -> None:
    assert classify(text) == expected


@pytest.mark.parametrize("text", [
    "", "   ", "?!", "🛑", "stop by tomorrow?", "Please stop", "Bitte nicht mehr schreiben, stopp", "Stoppuhr",
    "stopped", "nonstop", "STOP START", "STOPP ENDE", "Endlich", "Halten Sie mir den Termin frei", "Baja California",
    "Yes", "Ja", "Sí", "OK", "Nein", "no", "NU", "NIE", "Anmelden", "abmelden?? ich komme doch",
    "cancel my appointment", "s t o p", "st0p", "alta calidad", "หยุดงาน", "Start um 10?", "stop" * 20,
])
def test_ordinary_texts_are_no_command(text: str) -> None:
    assert classify(text) == ("other", None)


def test_a_long_message_with_a_command_inside_is_no_command() -> None:
    assert classify("Hallo, ich kann am Donnerstag nicht. " * 40 + "STOP") == ("other", None)


def test_every_language_the_service_offers_has_stop_and_start_words() -> None:
    for words in (STOP_WORDS, START_WORDS):
        assert sorted(words) == sorted(LANGUAGES)
        for language in words:
            TypeAdapter(LanguageCode).validate_python(language)  # what sms.received may carry
    for language in LANGUAGES:
        assert classify(STOP_WORDS[language][0])[0] == "stop"
        assert classify(START_WORDS[language][0])[0] == "start"


def test_every_listed_word_classifies_as_its_own_keyword_and_a_language_that_lists_it() -> None:
    for keyword, table in (("stop", STOP_WORDS), ("start", START_WORDS)):
        for language, words in table.items():
            for word in words:
                found, named = classify(word)
                assert found == keyword, word
                assert named in (language, None), word
                if named is None:
                    assert sum(word.casefold() in (w.casefold() for w in ws) for ws in table.values()) > 1, word
