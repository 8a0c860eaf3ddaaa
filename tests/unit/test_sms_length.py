"""Segment counting: what a text costs on the network, GSM-7 where every character allows it, UCS-2 otherwise."""

from __future__ import annotations

import pytest
from notifier.domain.sms_length import fold_to_gsm7, is_gsm7, segments
from pydantic import TypeAdapter, ValidationError

from shared.contracts.staff import LocationAlias


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters count twice
        ("€" * 81, 2),
        ("a" * 152 + "€" + "a" * 153, 3),  # the escape pair does not fit at the end of the first part
        ("a" * 151 + "€" + "a" * 153, 2),  # ... but exactly fills it here
        ("Grüße" + "a" * 155, 1),  # ü and ß are in the GSM alphabet
        ("{}[]~|^\\" + "a" * 144, 1),  # 8 extension characters = 16 septets
        ("{}[]~|^\\" + "a" * 145, 2),
    ],
)
def test_gsm7_texts_fit_160_alone_and_153_per_part(text: str, expected: int) -> None:
    assert segments(text) == ("GSM-7", expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ł" * 70, 1),
        ("Ł" * 71, 2),
        ("Ł" * 134, 2),
        ("Ł" * 135, 3),
        ("я" * 70, 1),  # Cyrillic
        ("я" * 71, 2),
        ("ก" * 134, 2),  # Thai
        ("ก" * 135, 3),
        ("นั" * 35, 1),  # a Thai vowel mark is a code unit of its own
        ("นั" * 36, 2),
        ("a" * 69 + "😀", 2),  # an emoji is two UTF-16 units
        ("😀" * 35, 1),
        ("😀" * 36, 2),
        ("Ł" * 66 + "😀" + "Ł" * 65, 2),  # the pair moves whole to the second part ...
        ("Ł" * 66 + "😀" + "Ł" * 66, 3),  # ... which is then one unit too long
        ("a" * 159 + "ç", 3),  # lower-case ç is not in GSM-7: 160 UCS-2 units
    ],
)
def test_ucs2_texts_fit_70_alone_and_67_per_part(text: str, expected: int) -> None:
    assert segments(text) == ("UCS-2", expected)


@pytest.mark.parametrize("text", ["Ç", "é", "Ñ", "ß", "\n", "@", "€"])
def test_gsm_letters_keep_a_text_in_gsm7(text: str) -> None:
    assert is_gsm7("Termin " + text)


@pytest.mark.parametrize("text", ["ș", "ț", "ą", "ő", "á", "`", "Я", "😀"])
def test_one_character_outside_gsm_makes_the_text_ucs2(text: str) -> None:
    assert segments("a" * 100 + text)[0] == "UCS-2"


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Côte Ouest", "Cote Ouest"), ("Þórshöfn", "Thorshöfn"), ("Straße Süd", "Straße Süd"), ("çÇ", "cÇ"),
     ("Łódź", "Lodz"), ("Ред 1", "Ред 1")],
)
def test_folding_replaces_letters_outside_gsm_by_their_plain_form(text: str, folded: str) -> None:
    assert fold_to_gsm7(text) == folded


def test_every_letter_a_place_alias_may_hold_folds_into_gsm7() -> None:
    alias = TypeAdapter(LocationAlias)
    allowed = []
    for code in range(0x20, 0x250):
        try:
            alias.validate_python("ab" + chr(code))
        except ValidationError:
            continue
        allowed.append(chr(code))

    assert "ô" in allowed and "Þ" in allowed  # the alias really allows letters outside GSM-7
    assert [c for c in allowed if not is_gsm7(fold_to_gsm7(c))] == []
