"""SMS texts: local Berlin time, the place alias and the link, nothing that reveals what the appointment is about,
and short enough for two SMS segments."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from notifier.domain.texts import FALLBACK_LANGUAGE, TEMPLATES, render
from notifier.tables import BookingFacts

from shared.contracts.common import LanguageCode, Topic
from shared.crypto import new_token

BERLIN = ZoneInfo("Europe/Berlin")
PLACE = "Rostock 1"
LINK = "https://termine.example.org/m/" + "Ab3_x-Yz9Q" * 2 + "Qw"  # the shape of PUBLIC_BASE_URL/m/<token>

TEMPLATE_CASES = [(kind, language) for kind, by_language in TEMPLATES.items() for language in by_language]
CASE_IDS = [f"{kind}-{language}" for kind, language in TEMPLATE_CASES]

# Words that would tell a person glancing at a lock screen what the appointment is about or who sends it.
REVEALING = {
    "counsel", "beratung", "berater", "sex", "prostitu", "ausstieg", "exit", "health", "gesundheit",
    "gesundheitsamt", "boss", "lotse", "sexarbeit", "escort", "rotlicht", "bordell", "hure", "therap", "klinik",
    "clinic", "hiv", "std", "sti", "test", "aids", "doctor", "arzt", "opfer", "victim", "trafficking", "menschenhandel",
    "polizei", "police", "sozial", "social", "amt",
} | {topic.value for topic in Topic}  # the topic is never shown on the client's phone

# GSM 03.38: the basic character set (one septet each) and its extension table (escape + one septet).
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")


def sms_segments(text: str) -> int:
    """How many SMS a text is sent as: GSM-7 160 septets alone, 153 per part; otherwise UCS-2 70 / 67 units."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        septets = [2 if c in GSM7_EXTENSION else 1 for c in text]
        if sum(septets) <= 160:
            return 1
        segments, used = 1, 0
        for size in septets:  # an escape pair is never split across two parts
            if used + size > 153:
                segments, used = segments + 1, 0
            used += size
        return segments
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def sample_instants() -> list[datetime]:
    """09:05 local on the 7th of every month of 2026 and on 1-6 June: every month name and every weekday name."""
    local = [datetime(2026, month, 7, 9, 5, tzinfo=BERLIN) for month in range(1, 13)]
    local += [datetime(2026, 6, day, 9, 5, tzinfo=BERLIN) for day in range(1, 7)]
    assert {d.weekday() for d in local} == set(range(7))
    return [d.astimezone(UTC) for d in local]


def supported_client_languages() -> list[str]:
    """The languages the contracts let a client choose, read from the LanguageCode pattern."""
    pattern = LanguageCode.__metadata__[0].pattern
    alternatives = re.fullmatch(r"\^\((.*)\)\$", pattern)
    assert alternatives is not None, pattern
    return alternatives.group(1).split("|")


# --- the segment counter this file relies on -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters count twice
        ("€" * 81, 2),
        ("a" * 152 + "€" + "a" * 153, 3),  # the escape pair does not fit at the end of the first part
        ("Grüße" + "a" * 155, 1),  # ü and ß are in the GSM alphabet
        ("Ł" * 70, 1),
        ("Ł" * 71, 2),
        ("Ł" * 134, 2),
        ("Ł" * 135, 3),
        ("a" * 69 + "😀", 2),  # an emoji is two UTF-16 units
    ],
)
def test_segment_counter_knows_gsm7_and_ucs2_limits(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


# --- time, place, link -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "language"), TEMPLATE_CASES, ids=CASE_IDS)
@pytest.mark.parametrize(
    ("local", "utc_wall"),
    [
        (datetime(2026, 1, 15, 10, 30, tzinfo=BERLIN), "09:30"),  # winter, UTC+1
        (datetime(2026, 7, 15, 10, 30, tzinfo=BERLIN), "08:30"),  # summer, UTC+2
    ],
    ids=["winter", "summer"],
)
def test_text_shows_the_time_in_berlin_not_in_utc(kind: str, language: str, local: datetime, utc_wall: str) -> None:
    body = render(kind, language, local.astimezone(UTC), PLACE, LINK, BERLIN).body

    assert "10:30" in body
    assert utc_wall not in body
    assert re.search(r"\b15\b", body)


@pytest.mark.parametrize(("kind", "language"), TEMPLATE_CASES, ids=CASE_IDS)
def test_text_shows_the_berlin_date_when_it_differs_from_the_utc_date(kind: str, language: str) -> None:
    starts_at = datetime(2026, 7, 15, 22, 30, tzinfo=UTC)  # 00:30 on the 16th in Berlin

    body = render(kind, language, starts_at, PLACE, LINK, BERLIN).body

    assert "00:30" in body
    assert re.search(r"\b16\b", body)
    assert not re.search(r"\b15\b", body)


@pytest.mark.parametrize(("kind", "language"), TEMPLATE_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("fold", [0, 1])
def test_both_half_past_twos_of_the_autumn_night_read_as_half_past_two(kind: str, language: str, fold: int) -> None:
    starts_at = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=fold).astimezone(UTC)

    assert "02:30" in render(kind, language, starts_at, PLACE, LINK, BERLIN).body


@pytest.mark.parametrize(("kind", "language"), TEMPLATE_CASES, ids=CASE_IDS)
def test_text_contains_the_place_alias_and_the_link_verbatim(kind: str, language: str) -> None:
    place = "Café Linde"
    link = "https://t.example.org/m/" + new_token()

    body = render(kind, language, datetime(2026, 5, 4, 12, 0, tzinfo=UTC), place, link, BERLIN).body

    assert place in body
    assert link in body
    assert body.count(link) == 1


@pytest.mark.parametrize(("kind", "language"), TEMPLATE_CASES, ids=CASE_IDS)
def test_rendered_text_names_its_language(kind: str, language: str) -> None:
    assert render(kind, language, datetime(2026, 5, 4, 12, 0, tzinfo=UTC), PLACE, LINK, BERLIN).language == language


def test_german_and_english_texts_differ() -> None:
    starts_at = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
    for kind in TEMPLATES:
        assert render(kind, "de", starts_at, PLACE, LINK, BERLIN).body != render(
            kind, "en", starts_at, PLACE, LINK, BERLIN
        ).body


# --- discretion ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "language"), TEMPLATE_CASES, ids=CASE_IDS)
def test_no_text_contains_a_revealing_word_in_any_month_or_weekday(kind: str, language: str) -> None:
    found = {}
    for starts_at in sample_instants():
        body = render(kind, language, starts_at, PLACE, LINK, BERLIN).body
        without_our_inputs = body.replace(PLACE, " ").replace(LINK, " ").lower()
        # Short words only at the edge of a word ("sti" is not found in "Institut"), longer ones anywhere.
        hits = {w for w in REVEALING if re.search(rf"\b{re.escape(w)}|{re.escape(w)}\b", without_our_inputs)}
        hits |= {w for w in REVEALING if len(w) >= 5 and w in without_our_inputs}
        if hits:
            found[body] = hits

    assert found == {}


@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_templates_use_only_the_when_place_and_link_placeholders(kind: str) -> None:
    for template in TEMPLATES[kind].values():
        assert set(re.findall(r"{(\w*)}", template)) <= {"when", "place", "link"}


# --- languages -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_every_template_exists_in_the_fallback_language(kind: str) -> None:
    assert FALLBACK_LANGUAGE in TEMPLATES[kind]


@pytest.mark.parametrize("language", [*supported_client_languages(), "xx", ""])
def test_language_without_a_template_falls_back_to_english(language: str) -> None:
    starts_at = datetime(2026, 7, 15, 8, 30, tzinfo=UTC)
    for kind, by_language in TEMPLATES.items():
        if language in by_language:
            continue
        rendered = render(kind, language, starts_at, PLACE, LINK, BERLIN)
        english = render(kind, "en", starts_at, PLACE, LINK, BERLIN)

        assert rendered.language == "en"
        assert rendered.body == english.body


def test_client_languages_include_some_without_a_template() -> None:
    # Otherwise the fallback test above checks nothing but "xx" and "".
    assert set(supported_client_languages()) - {lang for by_language in TEMPLATES.values() for lang in by_language}


# --- length ----------------------------------------------------------------------------------------------------


def longest_place_alias() -> int:
    [limit] = [m.max_length for m in BookingFacts.model_fields["place_alias"].metadata if hasattr(m, "max_length")]
    return int(limit)


@pytest.mark.parametrize(("kind", "language"), TEMPLATE_CASES, ids=CASE_IDS)
@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:8000", "https://termine.beispiel-stadt-verwaltung.de"],
    ids=["embedded", "long-domain"],
)
def test_every_text_fits_two_sms_with_the_longest_alias_and_a_real_token(
    kind: str, language: str, base_url: str
) -> None:
    # The longest alias the notifier stores, with letters from outside ASCII that GSM-7 still has.
    alias = ("Neubrandenburg Süd-Ost " * 3)[: longest_place_alias()]
    link = f"{base_url}/m/{new_token()}"
    worst = {}
    for starts_at in sample_instants():
        body = render(kind, language, starts_at, alias, link, BERLIN).body
        worst[body] = sms_segments(body)

    assert max(worst.values()) <= 2, max(worst, key=worst.__getitem__)


@pytest.mark.parametrize(("kind", "language"), TEMPLATE_CASES, ids=CASE_IDS)
def test_template_words_stay_in_the_gsm_alphabet(kind: str, language: str) -> None:
    # One character outside GSM-7 halves what fits in a segment (160 -> 70).
    for starts_at in sample_instants():
        body = render(kind, language, starts_at, PLACE, LINK, BERLIN).body
        outside = {c for c in body if c not in GSM7_BASIC and c not in GSM7_EXTENSION}
        assert outside == set(), (body, outside)


def test_starts_at_in_another_time_zone_is_converted_not_reinterpreted() -> None:
    new_york = datetime(2026, 7, 15, 4, 30, tzinfo=ZoneInfo("America/New_York"))  # 10:30 in Berlin

    body = render("confirmation", "en", new_york, PLACE, LINK, BERLIN).body

    assert "10:30" in body
    assert "04:30" not in body
