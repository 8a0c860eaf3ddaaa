"""SMS texts: local Berlin time, the place alias and the link, how to stop texts, nothing that reveals what the
appointment is about or who sends it, in every client language, and short enough for two SMS segments."""

from __future__ import annotations

import io
import logging
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from notifier.domain.sms_length import is_gsm7, segments
from notifier.domain.texts import (
    FALLBACK_LANGUAGE,
    KINDS,
    LANGUAGES,
    LOCALE_DIR,
    MESSAGES,
    REPLIES,
    WEEKDAYS,
    WHEN,
    Catalogues,
    TemplateError,
    preview_all,
    render,
    shipped_catalogues,
)
from notifier.settings import MAX_SMS_BASE_URL_AND_SIGNATURE, NotifierSettings
from notifier.tables import BookingFacts

from shared.contracts.common import LanguageCode, Topic
from shared.crypto import new_token
from shared.settings import ConfigurationError, load_settings

BERLIN = ZoneInfo("Europe/Berlin")
PLACE = "Rostock 1"
LINK = "https://termine.example.org/m/" + "Ab3_x-Yz9Q" * 2 + "Qw"  # the shape of PUBLIC_BASE_URL/m/<token>

APPOINTMENT_KINDS = ("confirmation", "reminder", "rescheduled", "cancelled")
PLACE_KINDS = ("confirmation", "reminder", "rescheduled")  # a cancellation names the time only
GSM7_LANGUAGES = ("de", "en", "ro", "hu", "pl", "es")
UCS2_LANGUAGES = ("bg", "ru", "uk", "th")

ALL = [(kind, language) for kind in KINDS for language in LANGUAGES]
APPOINTMENTS = [(kind, language) for kind in APPOINTMENT_KINDS for language in LANGUAGES]
WITH_PLACE = [(kind, language) for kind in PLACE_KINDS for language in LANGUAGES]


def ids(cases: list[tuple[str, str]]) -> list[str]:
    return [f"{kind}-{language}" for kind, language in cases]


def text(kind: str, language: str, starts_at: datetime | None = None, place: str = PLACE, link: str = LINK,
         **options: object) -> str:
    when = starts_at or datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    return render(kind, language, when, place, link, BERLIN, **options).body  # type: ignore[arg-type]


def sample_instants() -> list[datetime]:
    """09:05 local on the 7th of every month of 2026 and on 1-6 June: every month name and every weekday name."""
    local = [datetime(2026, month, 7, 9, 5, tzinfo=BERLIN) for month in range(1, 13)]
    local += [datetime(2026, 6, day, 9, 5, tzinfo=BERLIN) for day in range(1, 7)]
    assert {d.weekday() for d in local} == set(range(7))
    return [d.astimezone(UTC) for d in local]


def supported_client_languages() -> list[str]:
    """The languages the contracts let a client choose, read from the LanguageCode pattern."""
    pattern = get_args(LanguageCode)[1].pattern
    alternatives = re.fullmatch(r"\^\((.*)\)\$", pattern)
    assert alternatives is not None, pattern
    return alternatives.group(1).split("|")


def test_the_six_kinds_exist_in_every_language_a_client_may_choose() -> None:
    assert set(KINDS) == {"confirmation", "reminder", "rescheduled", "cancelled", "opted_out", "opted_in"}
    assert set(LANGUAGES) == set(supported_client_languages())
    assert shipped_catalogues().languages == set(LANGUAGES)


# --- time, place, link -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "language"), APPOINTMENTS, ids=ids(APPOINTMENTS))
@pytest.mark.parametrize(
    ("local", "utc_wall"),
    [
        (datetime(2026, 1, 15, 10, 30, tzinfo=BERLIN), "09:30"),  # winter, UTC+1
        (datetime(2026, 7, 15, 10, 30, tzinfo=BERLIN), "08:30"),  # summer, UTC+2
    ],
    ids=["winter", "summer"],
)
def test_text_shows_the_time_in_berlin_not_in_utc(kind: str, language: str, local: datetime, utc_wall: str) -> None:
    body = text(kind, language, local.astimezone(UTC))

    assert "10:30" in body
    assert utc_wall not in body
    assert re.search(r"\b15\b", body)


@pytest.mark.parametrize(("kind", "language"), APPOINTMENTS, ids=ids(APPOINTMENTS))
def test_text_shows_the_berlin_date_when_it_differs_from_the_utc_date(kind: str, language: str) -> None:
    body = text(kind, language, datetime(2026, 7, 15, 22, 30, tzinfo=UTC))  # 00:30 on the 16th in Berlin

    assert "00:30" in body
    assert re.search(r"\b16\b", body)
    assert not re.search(r"\b15\b", body)


@pytest.mark.parametrize(("kind", "language"), APPOINTMENTS, ids=ids(APPOINTMENTS))
@pytest.mark.parametrize("fold", [0, 1])
def test_both_half_past_twos_of_the_autumn_night_read_as_half_past_two(kind: str, language: str, fold: int) -> None:
    starts_at = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=fold).astimezone(UTC)

    assert "02:30" in text(kind, language, starts_at)


@pytest.mark.parametrize(("kind", "language"), APPOINTMENTS, ids=ids(APPOINTMENTS))
def test_starts_at_in_another_time_zone_is_converted_not_reinterpreted(kind: str, language: str) -> None:
    new_york = datetime(2026, 7, 15, 4, 30, tzinfo=ZoneInfo("America/New_York"))  # 10:30 in Berlin

    body = text(kind, language, new_york)

    assert "10:30" in body
    assert "04:30" not in body


@pytest.mark.parametrize(("kind", "language"), WITH_PLACE, ids=ids(WITH_PLACE))
def test_text_contains_the_place_alias_verbatim(kind: str, language: str) -> None:
    assert "Café Linde" in text(kind, language, place="Café Linde")


@pytest.mark.parametrize(("kind", "language"), APPOINTMENTS, ids=ids(APPOINTMENTS))
def test_text_carries_the_manage_link_once_and_how_to_stop_texts(kind: str, language: str) -> None:
    link = "https://t.example.org/m/" + new_token()

    body = text(kind, language, link=link)

    assert body.count(link) == 1
    assert re.search(rf"{re.escape(link)}(\s|$)", body)  # nothing glued to the link that a phone would take along
    assert re.search(r"\bSTOP\b", body)


@pytest.mark.parametrize("language", LANGUAGES)
def test_opt_out_confirmation_says_how_to_start_again_and_nothing_about_an_appointment(language: str) -> None:
    body = render("opted_out", language, None, None, None, BERLIN).body

    assert re.search(r"\bSTART\b", body)
    assert "http" not in body
    assert not re.search(r"\d", body)


@pytest.mark.parametrize("language", LANGUAGES)
def test_opt_in_confirmation_says_how_to_stop_again(language: str) -> None:
    body = render("opted_in", language, None, None, None, BERLIN).body

    assert re.search(r"\bSTOP\b", body)
    assert "http" not in body


@pytest.mark.parametrize(("kind", "language"), ALL, ids=ids(ALL))
def test_shipped_catalogues_render_every_kind_without_falling_back(kind: str, language: str) -> None:
    rendered = render(kind, language, datetime(2026, 5, 4, 12, 0, tzinfo=UTC), PLACE, LINK, BERLIN)

    assert rendered.language == language
    assert rendered.fell_back is False
    assert (rendered.encoding, rendered.segments) == segments(rendered.body)


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != FALLBACK_LANGUAGE])
def test_each_language_says_it_in_its_own_words(language: str) -> None:
    for kind in KINDS:
        assert text(kind, language) != text(kind, FALLBACK_LANGUAGE), kind


def test_every_text_in_the_code_has_a_translation_in_every_catalogue_and_the_template_is_current() -> None:
    in_code = {*MESSAGES.values(), *REPLIES.values(), WHEN, *WEEKDAYS}
    template = read_po(io.BytesIO((LOCALE_DIR / "messages.pot").read_bytes()))
    assert {m.id for m in template if m.id} == in_code  # run pybabel extract (services/notifier/babel.cfg)
    for language in LANGUAGES:
        catalog = read_po(io.BytesIO((LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").read_bytes()))
        untranslated = {msgid for msgid in in_code if not (m := catalog.get(msgid)) or m.fuzzy or not m.string}
        assert untranslated == set(), language


def test_signature_ends_the_text_when_set() -> None:
    assert text("reminder", "de", signature="Ihr Team").endswith("\nIhr Team")
    assert not text("reminder", "de", signature="").endswith("\n")


@pytest.mark.parametrize("language", GSM7_LANGUAGES)
def test_gsm_languages_show_a_place_with_letters_outside_gsm_in_plain_letters_and_stay_gsm7(language: str) -> None:
    rendered = render("reminder", language, datetime(2026, 5, 4, 12, 0, tzinfo=UTC), "Côte Þing", LINK, BERLIN,
                      signature="Grüße, Łukasz")

    assert "Cote Thing" in rendered.body
    assert rendered.body.endswith("Grüße, Lukasz")
    assert rendered.encoding == "GSM-7"


@pytest.mark.parametrize("language", UCS2_LANGUAGES)
def test_ucs2_languages_show_a_place_with_accents_as_it_is(language: str) -> None:
    assert "Côte Þing" in text("reminder", language, place="Côte Þing")


# --- discretion ------------------------------------------------------------------------------------------------

# Words that would tell a person glancing at a lock screen what the appointment is about or who sends it, in every
# client language: counselling/advice, sex (work), prostitution, exit/leaving, health office/clinic/doctor/test,
# police, social work, the organisation's names and the topics. Lower case; with and without diacritics where SMS
# spelling drops them.
ORGANISATION = {"lotse", "boss", "лотсе", "лоцман", "босс", "ลอตเซ"}
TOPIC_CODES = {topic.value for topic in Topic}
REVEALING: dict[str, set[str]] = {
    "en": {"counsel", "advice", "advis", "sex", "prostitut", "escort", "exit", "leaving", "health", "clinic",
           "doctor", "test", "police", "social", "welfare", "hiv", "std", "sti", "aids", "therap", "brothel", "victim",
           "trafficking", "career", "safety", "psychosocial"},
    "de": {"beratung", "berater", "sexarbeit", "sex", "prostitu", "ausstieg", "aussteig", "gesundheit", "amt",
           "klinik", "arzt", "ärzt", "praxis", "test", "polizei", "sozial", "rotlicht", "bordell", "opfer", "hure",
           "beruf", "karriere", "sicherheit", "psychosozial"},
    "ro": {"consilier", "sfat", "sex", "prostitu", "iesire", "ieșire", "sanatate", "sănătate", "clinic", "medic",
           "doctor", "test", "politi", "poliți", "social", "cariera", "carieră", "siguranta", "siguranța",
           "psihosocial"},
    "bg": {"консулт", "съвет", "секс", "проститу", "изход", "напуска", "здрав", "клиник", "лекар", "доктор", "тест",
           "полиц", "социал", "кариер", "безопас", "психосоц"},
    "hu": {"tanacs", "tanács", "szex", "prostitu", "kilep", "kilép", "egeszseg", "egészség", "klinik", "orvos",
           "rendelo", "rendelő", "teszt", "rendor", "rendőr", "szocial", "szociál", "karrier", "biztonsag",
           "biztonság", "pszichoszoc"},
    "pl": {"porad", "doradz", "seks", "prostytu", "wyjsc", "wyjść", "wyjscie", "zdrow", "przychodni", "klinik",
           "lekarz", "test", "policj", "socjal", "spoleczn", "społeczn", "karier", "bezpiecz", "psychospo"},
    "ru": {"консульт", "совет", "секс", "проститу", "выход", "уход", "здоров", "клиник", "врач", "доктор", "тест",
           "полиц", "социал", "карьер", "безопас", "психосоц"},
    "uk": {"консульт", "порад", "секс", "проститу", "вихід", "вийти", "здоров", "клінік", "лікар", "доктор", "тест",
           "поліц", "соціал", "кар'єр", "карʼєр", "безпек", "психосоц"},
    "es": {"asesor", "consej", "orientaci", "sexo", "sexual", "prostitu", "salida", "salud", "clinic", "clínic",
           "medic", "médic", "doctor", "prueba", "test", "polic", "social", "carrera", "seguridad", "psicosocial"},
    "th": {"ปรึกษา", "เพศ", "ค้าประเวณี", "โสเภณี", "ออกจาก", "สุขภาพ", "คลินิก", "หมอ", "แพทย์", "ตรวจ", "ตำรวจ",
           "สังคม", "อาชีพ", "ความปลอดภัย", "จิตสังคม"},
}
EVERY_REVEALING_WORD = set().union(*REVEALING.values()) | ORGANISATION | TOPIC_CODES
THAI = re.compile(r"[\u0e00-\u0e7f]")


def revealing_words_in(body: str) -> set[str]:
    lowered = body.lower()
    found = set()
    for word in EVERY_REVEALING_WORD:
        # Short Latin/Cyrillic words only at the edge of a word ("sti" is not found in "Institut"); longer ones and
        # Thai (written without spaces between words) anywhere.
        if len(word) >= 5 or THAI.search(word):
            hit = word in lowered
        else:
            hit = re.search(rf"\b{re.escape(word)}|{re.escape(word)}\b", lowered) is not None
        if hit:
            found.add(word)
    return found


def test_the_denylist_covers_every_language_and_finds_what_it_should() -> None:
    assert set(REVEALING) == set(LANGUAGES)
    assert revealing_words_in("Ihre Beratung im Gesundheitsamt") == {"beratung", "gesundheit", "amt"}
    assert revealing_words_in("Консультация в клинике") == {"консульт", "клиник"}
    assert revealing_words_in("นัดตรวจสุขภาพ") == {"ตรวจ", "สุขภาพ"}
    assert revealing_words_in("Termin im Institut, Damtor") == set()  # "sti" and "amt" only at a word's edge


@pytest.mark.parametrize(("kind", "language"), ALL, ids=ids(ALL))
def test_no_text_contains_a_revealing_word_in_any_month_or_weekday(kind: str, language: str) -> None:
    found = {}
    for starts_at in sample_instants():
        body = text(kind, language, starts_at, place=PLACE, link=LINK)
        hits = revealing_words_in(body.replace(PLACE, " ").replace(LINK, " "))
        if hits:
            found[body] = hits

    assert found == {}


def test_sender_id_and_signature_are_neutral_by_default() -> None:
    sender = NotifierSettings.model_fields["sms_sender_id"].default
    signature = NotifierSettings.model_fields["sms_signature"].default

    assert sender and revealing_words_in(sender) == set()
    assert revealing_words_in(signature) == set()


# --- length ----------------------------------------------------------------------------------------------------


def longest_place_alias() -> int:
    [limit] = [m.max_length for m in BookingFacts.model_fields["place_alias"].metadata if hasattr(m, "max_length")]
    return int(limit)


def base_url_of(length: int) -> str:
    return ("https://t" + "x" * length)[: length - 3] + ".de"


def worst_segments(kind: str, language: str, base_url: str, signature: str = "") -> int:
    # The longest alias the notifier stores, with letters from outside ASCII (and one outside GSM-7, folded away in
    # the GSM languages).
    alias = ("Neubrandenburg Süd Ost Côte " * 3)[: longest_place_alias()]
    link = f"{base_url}/m/{new_token()}"
    return max(segments(text(kind, language, starts_at, alias, link, signature=signature))[1]
               for starts_at in sample_instants())


def test_worst_case_alias_is_as_long_as_the_scheduler_allows() -> None:
    assert longest_place_alias() == 40


@pytest.mark.parametrize(("kind", "language"), ALL, ids=ids(ALL))
@pytest.mark.parametrize(
    ("base_url", "signature"),
    [
        ("http://127.0.0.1:65535", ""),  # the embedded default with the longest port
        (base_url_of(MAX_SMS_BASE_URL_AND_SIGNATURE), ""),
        (base_url_of(MAX_SMS_BASE_URL_AND_SIGNATURE - 8), "Termine"),  # 7 letters and the line break
    ],
    ids=["embedded", "longest-url", "url-and-signature"],
)
def test_every_text_fits_two_sms_with_the_longest_alias_and_link_settings_allow(
    kind: str, language: str, base_url: str, signature: str
) -> None:
    settings = load_settings(NotifierSettings, public_base_url=base_url, sms_signature=signature)
    assert settings.public_base_url == base_url

    assert worst_segments(kind, language, base_url, signature) <= 2


def test_the_settings_limit_on_link_and_signature_is_no_stricter_than_the_texts_need() -> None:
    one_more = base_url_of(MAX_SMS_BASE_URL_AND_SIGNATURE + 1)

    assert max(worst_segments(kind, language, one_more) for kind, language in ALL) == 3


@pytest.mark.parametrize(
    ("base_url", "signature"),
    [(base_url_of(MAX_SMS_BASE_URL_AND_SIGNATURE + 1), ""), (base_url_of(MAX_SMS_BASE_URL_AND_SIGNATURE - 7),
                                                             "Termine")],
)
def test_settings_refuse_a_link_and_signature_too_long_for_two_sms(base_url: str, signature: str) -> None:
    with pytest.raises(ConfigurationError, match=r"PUBLIC_BASE_URL .* SMS_SIGNATURE .* two SMS segments"):
        load_settings(NotifierSettings, public_base_url=base_url, sms_signature=signature)


@pytest.mark.parametrize(("kind", "language"), [(k, lang) for k in KINDS for lang in GSM7_LANGUAGES])
def test_texts_in_latin_script_languages_stay_in_the_gsm_alphabet(kind: str, language: str) -> None:
    # One character outside GSM-7 halves what fits in a segment (160 -> 70).
    for starts_at in sample_instants():
        body = text(kind, language, starts_at)
        assert is_gsm7(body), (body, {c for c in body if not is_gsm7(c)})


# --- a language that fails falls back to English, loudly ---------------------------------------------------------


def write_catalogue(root: Path, language: str, change: Callable[[Catalog], None] | None = None) -> None:
    """Copy the shipped catalogue of `language` into `root`, changed by `change`."""
    source = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    target = root / language / "LC_MESSAGES" / "messages.po"
    target.parent.mkdir(parents=True, exist_ok=True)
    if change is None:
        shutil.copy(source, target)
        return
    catalog = read_po(io.BytesIO(source.read_bytes()), locale=language)
    change(catalog)
    buffer = io.BytesIO()
    write_po(buffer, catalog)
    target.write_bytes(buffer.getvalue())


def german_with(msgid: str, msgstr: str | None, *, fuzzy: bool = False) -> Callable[[Catalog], None]:
    def change(catalog: Catalog) -> None:
        if msgstr is None:
            del catalog[msgid]
        else:
            catalog[msgid].string = msgstr
            if fuzzy:
                catalog[msgid].flags.add("fuzzy")

    return change


CONFIRMATION = MESSAGES["confirmation"]
BROKEN_GERMAN = {
    "msgid-missing": german_with(CONFIRMATION, None),
    "empty": german_with(CONFIRMATION, ""),
    "fuzzy": german_with(CONFIRMATION, "Termin: {when}, {place} {link} STOP = keine SMS", fuzzy=True),
    "unknown-placeholder": german_with(CONFIRMATION, "Termin: {wann}, {place} {link} STOP = keine SMS"),
    "unclosed-placeholder": german_with(CONFIRMATION, "Termin: {when, {place} {link} STOP = keine SMS"),
    "positional-placeholder": german_with(CONFIRMATION, "Termin: {0}, {place} {link} STOP = keine SMS"),
    "attribute-placeholder": german_with(CONFIRMATION, "Termin: {when.__class__}, {place} {link} STOP = keine SMS"),
    "link-dropped": german_with(CONFIRMATION, "Termin: {when}, {place}. STOP = keine SMS"),
    "stop-dropped": german_with(CONFIRMATION, "Termin: {when}, {place} {link} Abmelden = keine SMS"),
    "date-pattern-broken": german_with(WHEN, "{wochentag} {time}"),
    "date-pattern-without-day": german_with(WHEN, "{weekday} {time}"),
    "weekday-missing": german_with(WEEKDAYS[0], None),  # 4 May 2026 is a Monday
}


@pytest.fixture
def alerts(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.ERROR, logger="notifier.domain.texts")
    return caplog


def assert_alert_names_kind_and_language_only(alerts: pytest.LogCaptureFixture, kind: str, language: str,
                                              body: str) -> None:
    [record] = [r for r in alerts.records if r.levelno == logging.ERROR]
    message = record.getMessage()
    assert kind in message and language in message
    assert LINK not in message and PLACE not in message and body not in message
    assert not re.search(r"\d", message)  # no time, no number of any kind


@pytest.mark.parametrize("broken", list(BROKEN_GERMAN))
def test_broken_translation_is_sent_in_english_with_an_alert(
    broken: str, tmp_path: Path, alerts: pytest.LogCaptureFixture
) -> None:
    write_catalogue(tmp_path, "en")
    write_catalogue(tmp_path, "de", BROKEN_GERMAN[broken])
    catalogues = Catalogues.from_directory(tmp_path)

    rendered = render("confirmation", "de", datetime(2026, 5, 4, 12, 0, tzinfo=UTC), PLACE, LINK, BERLIN,
                      catalogues=catalogues)

    assert rendered.fell_back is True
    assert rendered.language == "en"
    assert rendered.body == text("confirmation", "en")
    assert_alert_names_kind_and_language_only(alerts, "confirmation", "de", rendered.body)


def test_language_without_a_catalogue_is_sent_in_english_with_an_alert(
    tmp_path: Path, alerts: pytest.LogCaptureFixture
) -> None:
    write_catalogue(tmp_path, "en")

    rendered = render("reminder", "th", datetime(2026, 5, 4, 12, 0, tzinfo=UTC), PLACE, LINK, BERLIN,
                      catalogues=Catalogues.from_directory(tmp_path))

    assert (rendered.language, rendered.fell_back) == ("en", True)
    assert_alert_names_kind_and_language_only(alerts, "reminder", "th", rendered.body)


@pytest.mark.parametrize(
    "content",
    [b'msgid "Mon"\nmsgstr "pn"\nmsgstd "x"\n', b'msgid "Mon"\n', b'msgid "Mon"\nmsgstr "\xff\xfe"\n'],
    ids=["misspelt-keyword", "msgstr-missing", "not-utf-8"],
)
def test_catalogue_that_does_not_parse_leaves_its_language_in_english(
    content: bytes, tmp_path: Path, alerts: pytest.LogCaptureFixture
) -> None:
    write_catalogue(tmp_path, "en")
    broken = tmp_path / "pl" / "LC_MESSAGES" / "messages.po"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(content)

    catalogues = Catalogues.from_directory(tmp_path)
    rendered = render("opted_in", "pl", None, None, None, BERLIN, catalogues=catalogues)

    assert catalogues.languages == {"en"}
    assert (rendered.language, rendered.fell_back) == ("en", True)
    assert any("pl" in r.getMessage() and "parse" in r.getMessage() for r in alerts.records)


@pytest.mark.parametrize("language", ["xx", "", "+4915112345678"])
def test_unsupported_language_is_sent_in_english_and_the_alert_repeats_no_number(
    language: str, alerts: pytest.LogCaptureFixture
) -> None:
    rendered = render("opted_out", language, None, None, None, BERLIN)

    assert (rendered.language, rendered.fell_back) == ("en", True)
    assert "4915112345678" not in alerts.text
    assert "opted_out" in alerts.text


def test_broken_english_raises_instead_of_sending_an_empty_text(tmp_path: Path) -> None:
    write_catalogue(tmp_path, "de")
    write_catalogue(tmp_path, "en", lambda catalog: setattr(catalog[CONFIRMATION], "string", ""))
    catalogues = Catalogues.from_directory(tmp_path)

    for language in ("de", "en"):
        rendered = render("reminder", language, datetime(2026, 5, 4, 12, 0, tzinfo=UTC), PLACE, LINK, BERLIN,
                          catalogues=catalogues)
        assert rendered.body  # the other kinds still work
    write_catalogue(tmp_path, "de", german_with(CONFIRMATION, None))
    german_broken_too = Catalogues.from_directory(tmp_path)
    for catalogues_, language in ((catalogues, "en"), (german_broken_too, "de")):
        with pytest.raises(TemplateError, match="English confirmation"):
            render("confirmation", language, datetime(2026, 5, 4, 12, 0, tzinfo=UTC), PLACE, LINK, BERLIN,
                   catalogues=catalogues_)


def test_catalogues_can_be_handed_in_without_files() -> None:
    english = Catalog(locale="en")
    english.add(MESSAGES["opted_in"], "Texts on. STOP to stop.")

    rendered = render("opted_in", "en", None, None, None, BERLIN, catalogues=Catalogues({"en": english}))

    assert rendered.body == "Texts on. STOP to stop."


# --- bad calls -------------------------------------------------------------------------------------------------


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown SMS kind"):
        render("greeting", "de", None, None, None, BERLIN)


@pytest.mark.parametrize("missing", ["starts_at", "place", "link"])
def test_appointment_text_without_its_time_place_or_link_is_refused(missing: str) -> None:
    values: dict[str, object] = {"starts_at": datetime(2026, 5, 4, 12, 0, tzinfo=UTC), "place": PLACE, "link": LINK}
    values[missing] = None

    with pytest.raises(ValueError, match="needs"):
        render("reminder", "de", zone=BERLIN, **values)  # type: ignore[arg-type]


def test_naive_start_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        render("reminder", "de", datetime(2026, 5, 4, 12, 0), PLACE, LINK, BERLIN)


# --- admin preview ---------------------------------------------------------------------------------------------


def test_preview_shows_every_kind_in_every_language_in_its_own_words() -> None:
    preview = preview_all(BERLIN, "", "https://termine.example.org")

    assert sorted((kind, language) for kind, language, _ in preview) == sorted(ALL)
    assert all(rendered.language == language and not rendered.fell_back for _, language, rendered in preview)
    for kind, _, rendered in preview:
        assert ("https://termine.example.org/m/" in rendered.body) == (kind in APPOINTMENT_KINDS)
        assert rendered.segments <= 2


def test_preview_uses_the_signature_and_zone_it_is_given() -> None:
    preview = {(kind, language): r for kind, language, r in preview_all(ZoneInfo("UTC"), "Termine", "https://t.de/")}

    assert preview[("reminder", "de")].body.endswith("\nTermine")
    assert "08:30" in preview[("reminder", "de")].body  # the sample 10:30 Berlin summer time, shown in UTC
    assert "https://t.de/m/" in preview[("reminder", "de")].body
