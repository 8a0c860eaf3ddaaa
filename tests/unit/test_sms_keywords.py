"""Which inbound texts stop or restart a client's messages, in each supported language, and which never do; and what
the other texts of an SMS conversation ask for (book, change, cancel, help, yes, no, a number from a list).

Issue "Lotse 3/6", "Opt-out": a missed STOP keeps texting a phone whose owner asked for quiet; a false one silences
a client who only answered. Only a whole message is a command. Issue "Lotse 6/7", "Booking by SMS": "Termin",
"appointment", "programare", "час" or "1" ask for times; cancelling never means opting out.
"""

from __future__ import annotations

import pytest
from gateway.sms_keywords import (
    BOOK_WORDS,
    CANCEL_WORDS,
    CHANGE_WORDS,
    HELP_WORDS,
    NO_WORDS,
    START_WORDS,
    STOP_WORDS,
    YES_WORDS,
    Intent,
    classify,
    read,
)
from pydantic import TypeAdapter

from shared.contracts.common import LanguageCode

LANGUAGES = ("de", "en", "ro", "bg", "hu", "pl", "ru", "uk", "es", "th")


@pytest.mark.parametrize(("text", "language"), [
    # de
    ("STOPP", "de"), ("Stopp!", "de"), ("halt", "de"), ("Ende.", "de"), ("ABMELDEN", "de"), ("abbestellen", "de"),
    ("Austragen", "de"),
    # en
    ("STOPALL", "en"), ("stop all", "en"), ("Unsubscribe", "en"), ("END", "en"), ("quit", "en"),
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
    ("detener", "es"),
    # th, with the polite particles Thai messages end in
    ("หยุด", "th"), ("หยุดค่ะ", "th"), ("หยุด ครับ", "th"),
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


# --- the SMS conversation ---------------------------------------------------------------------------------------

CONVERSATION_TABLES = (("book", BOOK_WORDS), ("change", CHANGE_WORDS), ("cancel", CANCEL_WORDS),
                       ("help", HELP_WORDS), ("yes", YES_WORDS), ("no", NO_WORDS))


@pytest.mark.parametrize(("text", "expected"), [
    # the words of the issue and of each language's reply texts (notifier/locale)
    ("Termin", Intent("book")), ("TERMIN!", Intent("book")), ("appointment", Intent("book", "en")),
    ("programare", Intent("book", "ro")), ("час", Intent("book", "bg")), ("Időpont", Intent("book", "hu")),
    ("IDOPONT", Intent("book", "hu")), ("wizyta", Intent("book", "pl")), ("Запись", Intent("book", "ru")),
    ("запис", Intent("book", "uk")), ("cita", Intent("book", "es")), ("นัด", Intent("book", "th")),
    ("นัดค่ะ", Intent("book", "th")),
    ("ÄNDERN", Intent("change", "de")), ("aendern", Intent("other")), ("change", Intent("change", "en")),
    ("schimbare", Intent("change", "ro")), ("промяна", Intent("change", "bg")), ("modositas", Intent("change", "hu")),
    ("zmiana", Intent("change", "pl")), ("изменить", Intent("change", "ru")), ("змінити", Intent("change", "uk")),
    ("cambiar", Intent("change", "es")), ("เปลี่ยน", Intent("change", "th")),
    ("ABSAGEN", Intent("cancel", "de")), ("Cancel", Intent("cancel", "en")), ("anulare", Intent("cancel", "ro")),
    ("отмяна", Intent("cancel", "bg")), ("lemondas", Intent("cancel", "hu")), ("anuluj", Intent("cancel", "pl")),
    ("отмена", Intent("cancel", "ru")), ("скасувати", Intent("cancel", "uk")), ("Cancelar", Intent("cancel", "es")),
    ("ยกเลิก", Intent("cancel", "th")), ("ยกเลิกนะคะ", Intent("cancel", "th")),
    ("HILFE", Intent("help", "de")), ("help", Intent("help", "en")), ("ajutor", Intent("help", "ro")),
    ("помощ", Intent("help", "bg")), ("segitseg", Intent("help", "hu")), ("pomoc", Intent("help", "pl")),
    ("помощь", Intent("help", "ru")), ("допомога", Intent("help", "uk")), ("ayuda", Intent("help", "es")),
    ("ช่วย", Intent("help", "th")),
    ("ja", Intent("yes", "de")), ("YES", Intent("yes", "en")), ("igen", Intent("yes", "hu")),
    ("Sí", Intent("yes", "es")),
    ("да", Intent("yes")), ("так", Intent("yes", "uk")), ("ใช่", Intent("yes", "th")), ("OK", Intent("yes")),
    ("nein", Intent("no", "de")), ("NU", Intent("no", "ro")), ("не", Intent("no", "bg")), ("nem", Intent("no", "hu")),
    ("nie", Intent("no", "pl")), ("нет", Intent("no", "ru")), ("ні", Intent("no", "uk")), ("no", Intent("no")),
    ("ไม่", Intent("no", "th")),
])
def test_each_language_asks_in_its_own_words_and_names_its_language(text: str, expected: Intent) -> None:
    assert read(text) == expected


@pytest.mark.parametrize(("text", "number"), [
    ("1", 1), ("2", 2), (" 3. ", 3), ("#4", 4), ("Nr. 5", 5), ("no 2", 2), ("２", 2), ("๓", 3), ("9", 9),
])
def test_a_number_from_a_list_is_read_in_any_script(text: str, number: int) -> None:
    assert read(text) == Intent("number", None, number)


@pytest.mark.parametrize("text", ["0", "10", "123", "12.5", "+4915112345678", "1 2", "1 oder 2"])
def test_what_is_no_choice_of_a_list_is_not_read_as_one(text: str) -> None:
    assert read(text).kind == "other"


@pytest.mark.parametrize(("text", "kind", "language"), [
    ("Hallo, ich hätte gern einen Termin", "book", "de"), ("Hi! I want to book, please.", "book", "en"),
    ("I need to cancel my appointment", "cancel", "en"), ("Termin absagen bitte", "cancel", "de"),
    ("Kann ich den Termin verschieben?", "change", "de"), ("Quiero una cita por favor", "book", "es"),
    ("อยากนัดค่ะ", "book", "th"), ("ยกเลิกนัดค่ะ", "cancel", "th"), ("Hilfe bitte", "help", "de"),
])
def test_a_short_sentence_with_one_request_in_it_is_that_request(text: str, kind: str, language: str) -> None:
    assert read(text) == Intent(kind, language)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [
    "change or cancel?", "Kann ich Donnerstag später kommen?", "hello", "asdf qwer", "🙂", "", "Hallo " * 30 + "Termin",
    "yes I want to change and cancel", "stop by tomorrow?",
])
def test_a_text_with_no_request_or_several_is_not_understood(text: str) -> None:
    assert read(text).kind == "other"


@pytest.mark.parametrize("text", ["CANCEL", "cancel", "Cancelar", "ยกเลิก", "ABSAGEN", "отмена", "anulare"])
def test_cancel_never_means_stop(text: str) -> None:
    assert classify(text) == ("other", None)
    assert read(text).kind == "cancel"


def test_every_language_has_words_for_each_request_and_each_word_reads_as_its_request() -> None:
    for kind, table in CONVERSATION_TABLES:
        assert sorted(table) == sorted(LANGUAGES), kind
        for language, words in table.items():
            for word in words:
                found = read(word)
                assert found.kind == kind, word
                assert found.language in (language, None), word
                if found.language is None:  # only a word several languages share has none
                    assert sum(word.casefold() in (w.casefold() for w in ws) for ws in table.values()) > 1, word


# The words each language's reply texts tell the client to send (notifier/locale/<language>/messages.po).
WORDS_IN_REPLIES = {
    "de": ("TERMIN", "ÄNDERN", "ABSAGEN", "HILFE", "JA", "NEIN"),
    "en": ("APPOINTMENT", "CHANGE", "CANCEL", "HELP", "YES", "NO"),
    "ro": ("PROGRAMARE", "SCHIMBARE", "ANULARE", "AJUTOR", "DA", "NU"),
    "bg": ("ЧАС", "ПРОМЯНА", "ОТМЯНА", "ПОМОЩ", "ДА", "НЕ"),
    "hu": ("IDOPONT", "MODOSITAS", "LEMONDAS", "SEGITSEG", "IGEN", "NEM"),
    "pl": ("WIZYTA", "ZMIANA", "ANULUJ", "POMOC", "TAK", "NIE"),
    "ru": ("ЗАПИСЬ", "ИЗМЕНИТЬ", "ОТМЕНА", "ПОМОЩЬ", "ДА", "НЕТ"),
    "uk": ("ЗАПИС", "ЗМІНИТИ", "СКАСУВАТИ", "ДОПОМОГА", "ТАК", "НІ"),
    "es": ("CITA", "CAMBIAR", "CANCELAR", "AYUDA", "SI", "NO"),
    "th": ("นัด", "เปลี่ยน", "ยกเลิก", "ช่วย", "ใช่", "ไม่"),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_words_a_reply_tells_the_client_to_send_are_read_back(language: str) -> None:
    from notifier.domain.texts import REPLIES, shipped_catalogues

    catalogue = shipped_catalogues()
    replies = " ".join(catalogue.translate(language, msgid) for msgid in REPLIES.values())
    for (kind, _table), word in zip(CONVERSATION_TABLES, WORDS_IN_REPLIES[language], strict=True):
        assert word in replies, (language, word)
        assert read(word).kind == kind, (language, word)
